// The shadow model both fuzz targets check kitalloc against: every block the allocator handed
// out and has not got back, filled with a pattern derived from the block's id. Checked here,
// whichever layer is under test:
//   - a new block is not null, is aligned as asked and holds at least the bytes asked for;
//   - no two live blocks overlap (header word included);
//   - a block's contents survive until it is freed, and across a resize or move up to the
//     smaller of its old usable size and its new request.
// Every usable byte (not just those requested) carries the pattern: the caller may use them,
// so allocator metadata in that range is caught too. Each block also names its owner (a private
// heap of the C ABI's, 0 for the main heap): blocks of a dropped heap leave the model at once,
// those of a merged heap change owner.
// HandleShadow does the same for relocatable handles (kit_handle_*): a byte-for-byte copy of
// each handle's block, checked wherever compaction moved it, and the address it is pinned at
// while locked.
#pragma once

#include "fuzz_input.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <utility>
#include <vector>

// The pattern loops run over megabytes per operation. Neither sanitizer nor coverage
// instrumentation adds anything there: the model checks every byte it reads itself, and the
// memory is the allocator's (ASan cannot tell its blocks apart anyway).
#define KIT_FUZZ_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined", "coverage")))

namespace kit::fuzz {

// A small block keeps its header word before its payload. It belongs to the block's extent, so
// a payload covering a neighbour's header counts as an overlap.
inline constexpr size_t kHeaderBytes = 4;

// Where a block's extent begins: `header_bytes` before its payload, but a large block (32 KiB
// and more, page-aligned) is a page run of its own, its header in the page map: nothing before.
inline uintptr_t extent_begin(const void* payload, size_t usable, size_t header_bytes) {
  auto address = reinterpret_cast<uintptr_t>(payload);
  bool large = usable >= (32u << 10) && address % (uintptr_t(1) << 16) == 0;
  return address - (large ? 0 : header_bytes);
}

struct LiveBlock {
  unsigned char* payload;
  size_t requested; // bytes asked for
  size_t usable;    // bytes the allocator says the block holds: all of them carry the pattern
  uint64_t id;      // picks the pattern; kept when the block is resized or moved
  uint32_t owner;   // the heap it belongs to: 0 the main heap (or the only one)
};

// Word k of block `id`'s pattern: a per-block seed (splitmix64's finalizer, so that
// neighbouring ids give unrelated seeds) plus k times an odd constant, so that each word of a
// block differs and a copy shifted by any number of words is caught. Cheap enough to fill and
// check megabytes per operation.
KIT_FUZZ_UNINSTRUMENTED inline uint64_t pattern_seed(uint64_t id) {
  uint64_t z = id * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
KIT_FUZZ_UNINSTRUMENTED inline uint64_t pattern_word(uint64_t seed, size_t word_index) {
  return seed + word_index * 0xD1B54A32D192ED03ull;
}

// Byte i of a block's pattern is byte i % 8 of pattern_word(seed, i / 8) as stored in memory.
// (__builtin_memcpy: the targets build with -fno-builtin, which would make memcpy a call.)
KIT_FUZZ_UNINSTRUMENTED inline unsigned char pattern_byte(uint64_t seed, size_t i) {
  uint64_t word = pattern_word(seed, i / 8);
  unsigned char bytes[8];
  __builtin_memcpy(bytes, &word, 8);
  return bytes[i % 8];
}

KIT_FUZZ_UNINSTRUMENTED inline void fill_pattern(unsigned char* payload, uint64_t id, size_t from,
                                                 size_t to) {
  uint64_t seed = pattern_seed(id);
  size_t i = from;
  for (; i < to && i % 8 != 0; ++i)
    payload[i] = pattern_byte(seed, i);
  for (; to - i >= 8; i += 8) {
    uint64_t word = pattern_word(seed, i / 8);
    __builtin_memcpy(payload + i, &word, 8);
  }
  for (; i < to; ++i)
    payload[i] = pattern_byte(seed, i);
}

// The first byte in [0, to) that differs from the pattern, or `to`.
KIT_FUZZ_UNINSTRUMENTED inline size_t first_pattern_mismatch(const unsigned char* payload,
                                                             uint64_t id, size_t to) {
  uint64_t seed = pattern_seed(id);
  size_t i = 0;
  for (; to - i >= 8; i += 8) {
    uint64_t word;
    __builtin_memcpy(&word, payload + i, 8);
    if (word != pattern_word(seed, i / 8))
      break;
  }
  for (; i < to; ++i)
    if (payload[i] != pattern_byte(seed, i))
      return i;
  return to;
}

// The first non-zero byte in [0, to), or `to`.
KIT_FUZZ_UNINSTRUMENTED inline size_t first_nonzero(const unsigned char* payload, size_t to) {
  size_t i = 0;
  for (; to - i >= 8; i += 8) {
    uint64_t word;
    __builtin_memcpy(&word, payload + i, 8);
    if (word != 0)
      break;
  }
  for (; i < to; ++i)
    if (payload[i] != 0)
      return i;
  return to;
}

class ShadowModel {
public:
  explicit ShadowModel(OperationTally& tally) : tally_(tally) {}

  size_t size() const { return blocks_.size(); }
  bool empty() const { return blocks_.empty(); }
  const LiveBlock& at(size_t index) const { return blocks_[index]; }
  // A live block chosen by an input value (the model must not be empty).
  size_t pick(uint32_t selector) const { return selector % blocks_.size(); }

  // A block the allocator just handed out: checks it and fills it with a new pattern.
  const LiveBlock& add(void* payload, size_t requested, size_t usable, size_t alignment,
                       uint32_t owner = 0) {
    LiveBlock block{static_cast<unsigned char*>(payload), requested, usable, next_id_++, owner};
    check_new(block, alignment);
    claim_extent(block);
    fill_pattern(block.payload, block.id, 0, block.usable);
    blocks_.push_back(block);
    return blocks_.back();
  }

  // Verifies block `index` and forgets it: the caller frees it next.
  LiveBlock remove(size_t index) {
    LiveBlock block = blocks_[index];
    verify(index);
    extents_.erase(extent_begin(block));
    blocks_[index] = blocks_.back();
    blocks_.pop_back();
    return block;
  }

  // Block `index` now holds `requested` bytes at `payload` (where it was, or moved): its first
  // min(old usable, requested) bytes must have survived. The rest gets the pattern.
  const LiveBlock& resize(size_t index, void* payload, size_t requested, size_t usable,
                          size_t alignment) {
    LiveBlock& block = blocks_[index];
    size_t preserved = block.usable < requested ? block.usable : requested;
    extents_.erase(extent_begin(block));
    block.payload = static_cast<unsigned char*>(payload);
    block.requested = requested;
    block.usable = usable;
    check_new(block, alignment);
    claim_extent(block);
    require_pattern(block, preserved, "after a resize");
    fill_pattern(block.payload, block.id, preserved, block.usable);
    return block;
  }

  // Block `index` must be untouched (e.g. a failed realloc of it).
  void verify(size_t index) const { require_pattern(blocks_[index], blocks_[index].usable, ""); }

  // Forgets every block without checking: the allocator state they lived in is gone.
  void clear() {
    blocks_.clear();
    extents_.clear();
  }

  // Verifies and forgets every block whose owner `gone(owner)` names (a dropped heap and the
  // heaps under it); returns them, in no particular order.
  template <typename Gone> std::vector<LiveBlock> remove_owned(Gone gone) {
    std::vector<LiveBlock> removed;
    for (size_t index = blocks_.size(); index-- > 0;)
      if (gone(blocks_[index].owner))
        removed.push_back(remove(index));
    return removed;
  }

  // Blocks of heap `from` now belong to heap `to` (a merge).
  void change_owner(uint32_t from, uint32_t to) {
    for (LiveBlock& block : blocks_)
      if (block.owner == from)
        block.owner = to;
  }

  // Whether [begin, end) overlaps a live block's extent (header included).
  bool overlaps(uintptr_t begin, uintptr_t end) const {
    auto after = extents_.lower_bound(begin);
    if (after != extents_.end() && after->first < end)
      return true;
    return after != extents_.begin() && std::prev(after)->second > begin;
  }

private:
  static uintptr_t extent_begin(const LiveBlock& block) {
    return kit::fuzz::extent_begin(block.payload, block.usable, kHeaderBytes);
  }
  static uintptr_t extent_end(const LiveBlock& block) {
    return reinterpret_cast<uintptr_t>(block.payload) + block.usable;
  }

  void check_new(const LiveBlock& block, size_t alignment) const {
    if (block.payload == nullptr)
      tally_.fail("a successful call returned NULL");
    if (reinterpret_cast<uintptr_t>(block.payload) % alignment != 0)
      tally_.fail("block %p is not aligned to %zu", static_cast<void*>(block.payload), alignment);
    if (block.usable < block.requested)
      tally_.fail("block %p holds %zu bytes, %zu were asked for", static_cast<void*>(block.payload),
                  block.usable, block.requested);
  }

  void claim_extent(const LiveBlock& block) {
    uintptr_t begin = extent_begin(block);
    uintptr_t end = extent_end(block);
    auto after = extents_.lower_bound(begin);
    if (after != extents_.end() && after->first < end)
      tally_.fail("block [%#zx, %#zx) overlaps live block [%#zx, %#zx)", size_t(begin), size_t(end),
                  size_t(after->first), size_t(after->second));
    if (after != extents_.begin() && std::prev(after)->second > begin)
      tally_.fail("block [%#zx, %#zx) overlaps live block [%#zx, %#zx)", size_t(begin), size_t(end),
                  size_t(std::prev(after)->first), size_t(std::prev(after)->second));
    extents_.emplace(begin, end);
  }

  void require_pattern(const LiveBlock& block, size_t bytes, const char* when) const {
    size_t mismatch = first_pattern_mismatch(block.payload, block.id, bytes);
    if (mismatch != bytes)
      tally_.fail("contents of block #%llu (%zu bytes asked, %zu usable, at %p) changed %s at "
                  "byte %zu",
                  static_cast<unsigned long long>(block.id), block.requested, block.usable,
                  static_cast<void*>(block.payload), when, mismatch);
  }

  OperationTally& tally_;
  std::vector<LiveBlock> blocks_;
  std::map<uintptr_t, uintptr_t> extents_; // live blocks as [header, end of usable bytes)
  uint64_t next_id_ = 1;
};

// Relocatable handles: what each live handle's block must hold (a copy, byte for byte) and
// where it is pinned while locked. A handle block may move whenever no lock is held, so its
// contents are compared wherever kit_handle_lock finds it.
struct LiveHandle {
  uint32_t handle;
  size_t requested;
  size_t usable;
  uint32_t locks;
  unsigned char* pinned; // the address while locks > 0
  std::vector<unsigned char> copy;
};

// Handle blocks carry a header and the handle's index before the payload (8 bytes).
inline constexpr size_t kHandleHeaderBytes = 8;
inline constexpr size_t kHandleAlignment = 16;

class HandleShadow {
public:
  explicit HandleShadow(OperationTally& tally) : tally_(tally) {}

  size_t size() const { return handles_.size(); }
  bool empty() const { return handles_.empty(); }
  LiveHandle& at(size_t index) { return handles_[index]; }
  const LiveHandle& at(size_t index) const { return handles_[index]; }
  size_t pick(uint32_t selector) const { return selector % handles_.size(); }
  bool is_live(uint32_t handle) const {
    for (const LiveHandle& live : handles_)
      if (live.handle == handle)
        return true;
    return false;
  }
  uint32_t locked_count() const {
    uint32_t count = 0;
    for (const LiveHandle& live : handles_)
      count += live.locks > 0;
    return count;
  }

  // A handle just handed out, its block at payload (locked by the caller): checks it and
  // fills the block and its copy with a new pattern.
  void add(uint32_t handle, size_t requested, size_t usable, unsigned char* payload) {
    if (handle == 0)
      tally_.fail("kit_handle_alloc returned 0 as a handle");
    if (is_live(handle))
      tally_.fail("kit_handle_alloc returned handle %#x, which is live", handle);
    check_address(handle, payload);
    if (usable < requested)
      tally_.fail("handle %#x holds %zu bytes, %zu were asked for", handle, usable, requested);
    LiveHandle live{handle, requested, usable, 0, nullptr, std::vector<unsigned char>(usable)};
    fill_pattern(live.copy.data(), next_id_++, 0, usable);
    std::memcpy(payload, live.copy.data(), usable);
    handles_.push_back(std::move(live));
  }

  // The block of handle `index`, as a lock just returned it: aligned, where it is pinned if it
  // was locked, and holding its copy.
  void verify(size_t index, const unsigned char* payload, const char* when) const {
    const LiveHandle& live = handles_[index];
    check_address(live.handle, payload);
    if (live.locks > 0 && payload != live.pinned)
      tally_.fail("handle %#x moved from %p to %p while locked (%s)", live.handle,
                  static_cast<void*>(live.pinned), static_cast<const void*>(payload), when);
    size_t mismatch = first_difference(payload, live.copy.data(), live.usable);
    if (mismatch != live.usable)
      tally_.fail("contents of handle %#x (%zu bytes asked, %zu usable, at %p) changed %s at byte "
                  "%zu",
                  live.handle, live.requested, live.usable, static_cast<const void*>(payload), when,
                  mismatch);
  }

  // Writes `length` bytes of `value` at `offset` into the block (locked by the caller) and the
  // copy; both are clipped to the block.
  void write(size_t index, unsigned char* payload, size_t offset, size_t length,
             unsigned char value) {
    LiveHandle& live = handles_[index];
    if (live.usable == 0)
      return;
    offset %= live.usable;
    if (length > live.usable - offset)
      length = live.usable - offset;
    std::memset(payload + offset, value, length);
    std::memset(live.copy.data() + offset, value, length);
  }

  // Forgets handle `index` (the caller freed it).
  LiveHandle remove(size_t index) {
    LiveHandle live = std::move(handles_[index]);
    handles_[index] = std::move(handles_.back());
    handles_.pop_back();
    return live;
  }

private:
  void check_address(uint32_t handle, const unsigned char* payload) const {
    if (payload == nullptr)
      tally_.fail("kit_handle_lock(%#x) of a live handle returned NULL", handle);
    if (reinterpret_cast<uintptr_t>(payload) % kHandleAlignment != 0)
      tally_.fail("handle %#x's block %p is not 16-byte aligned", handle,
                  static_cast<const void*>(payload));
  }

  KIT_FUZZ_UNINSTRUMENTED static size_t first_difference(const unsigned char* a,
                                                         const unsigned char* b, size_t to) {
    for (size_t i = 0; i < to; ++i)
      if (a[i] != b[i])
        return i;
    return to;
  }

  OperationTally& tally_;
  std::vector<LiveHandle> handles_;
  uint64_t next_id_ = uint64_t(1) << 40; // patterns unlike any malloc block's
};

} // namespace kit::fuzz
