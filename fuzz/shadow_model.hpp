// The shadow model both fuzz targets check kitalloc against: every block the allocator handed
// out and has not got back, filled with a pattern derived from the block's id. Checked here,
// whichever layer is under test:
//   - a new block is not null, is aligned as asked and holds at least the bytes asked for;
//   - no two live blocks overlap (header word included);
//   - a block's contents survive until it is freed, and across a resize or move up to the
//     smaller of its old usable size and its new request.
// Every usable byte (not just those requested) carries the pattern: the caller may use them,
// so allocator metadata in that range is caught too.
#pragma once

#include "fuzz_input.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <vector>

// The pattern loops run over megabytes per operation. Neither sanitizer nor coverage
// instrumentation adds anything there: the model checks every byte it reads itself, and the
// memory is the allocator's (ASan cannot tell its blocks apart anyway).
#define KIT_FUZZ_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined", "coverage")))

namespace kit::fuzz {

// Both layers keep one word before each payload: a small block's header, a large block's
// marker. It belongs to the block's extent, so a payload covering a neighbour's header counts
// as an overlap.
inline constexpr size_t kHeaderBytes = 4;

struct LiveBlock {
  unsigned char* payload;
  size_t requested; // bytes asked for
  size_t usable;    // bytes the allocator says the block holds: all of them carry the pattern
  uint64_t id;      // picks the pattern; kept when the block is resized or moved
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
  const LiveBlock& add(void* payload, size_t requested, size_t usable, size_t alignment) {
    LiveBlock block{static_cast<unsigned char*>(payload), requested, usable, next_id_++};
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

private:
  static uintptr_t extent_begin(const LiveBlock& block) {
    return reinterpret_cast<uintptr_t>(block.payload) - kHeaderBytes;
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

} // namespace kit::fuzz
