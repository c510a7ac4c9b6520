// Fuzz target: the whole C ABI (kit_malloc ... kit_malloc_usable_size, private heaps,
// relocatable handles and compaction) on the global native heap, capped at a 32 MiB maximum so
// that large blocks (32 KiB .. 4 MiB) run it out of memory. Each input decodes a sequence of
// calls checked against the shadow models (blocks with the heap that owns each; handles with a
// copy of each block), kit_check() and the figures of every heap; at its end every block and
// handle is freed, every private heap dropped, and the figures checked. Each input starts on a
// restarted heap (kit_native_heap_restart: fresh memory, nothing of the inputs before), so a
// finding replays from its input alone. Some inputs run on memory that grows by a fifth at
// least, as Emscripten's; some have other code grow memory after each growth of kitalloc's (see
// LLVMFuzzerTestOneInput).
//
// Private heaps all live under one root heap per input (created first, dropped last): merges
// never reach the main heap, so the end of an input tells the main heap's blocks apart.
//
// Input: operations, each an opcode byte and its operands (see run_operation). Seeds:
// fuzz/make_corpus.sh.
#include "../native-tests/heap_figures.hpp" // global(), pages_in_use(), same_shape()
#include "../src/heap.hpp"                  // the native heap's controls
#include "kitalloc.h"
#include "kitalloc/handle.hpp"
#include "kitalloc/simple_allocator.hpp"

#include "fuzz_input.hpp"
#include "shadow_model.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

using kit::fuzz::first_nonzero;
using kit::fuzz::HandleShadow;
using kit::fuzz::InputDecoder;
using kit::fuzz::LiveBlock;
using kit::fuzz::LiveHandle;
using kit::fuzz::OperationTally;
using kit::fuzz::ShadowModel;

namespace {

OperationTally tally("fuzz-c-abi");
uint64_t out_of_memory_results = 0; // printed at exit: shows the OOM paths were exercised

constexpr size_t kHeapLimitBytes = size_t(32) << 20;
// Memory "other code" may grow between kitalloc's growths, in an input: the native heap's
// maximum is raised by what it took, so kitalloc keeps kHeapLimitBytes.
constexpr size_t kForeignLimitBytes = size_t(64) << 20;
size_t foreign_bytes = 0;     // this input's
size_t foreign_pages_all = 0; // every input's, for the summary at exit
uint32_t grow_calls_seen = 0; // kitalloc's growths when other code last grew memory
// That memory, filled with a byte of its own: kitalloc must never write it.
struct ForeignRange {
  unsigned char* start;
  size_t bytes;
  unsigned char fill;
};
std::vector<ForeignRange> foreign_ranges;
constexpr size_t kPageBytes = size_t(1) << kit::kPageShift;
constexpr size_t kInitialPages = 2; // the native heap starts as a module does, with two pages
constexpr size_t kDefaultAlignment = alignof(max_align_t);
constexpr size_t kLargestAlignment = size_t(1) << kit::kMaxAlignBits;
constexpr size_t kLargestLargeRequest = size_t(4) << 20;
// The page map's run once memory outgrows the first map (8 MiB; one page maps 256 MiB).
constexpr size_t kMapPages = 1;
constexpr size_t kLargeHandleBytes = 32764; // handles from this size on are page runs
// Small regions are never given back to the page store, so one input holding many small
// blocks would leave less room for large blocks in every later input. Small requests that
// would pass this many live bytes are skipped.
constexpr size_t kSmallLiveBytesCap = size_t(4) << 20;
// Handles and private heaps: bounds that keep one input's state small enough to check at every
// step (and its memory within the maximum most of the time).
constexpr size_t kHandleBytesCap = size_t(4) << 20;
constexpr size_t kMaxHandles = 512;
constexpr uint32_t kMaxLocks = 64;
constexpr size_t kMaxHeaps = 12; // live private heaps, the root included
constexpr uint32_t kMainHeap = 0;
constexpr uint32_t kRootHeap = 1;
constexpr uint32_t kHandleIndexBits = 20;
constexpr uint32_t kHandleIndexMask = (1u << kHandleIndexBits) - 1;

bool is_large(size_t size) { return size > kit::kMaxAllocBytes; }

size_t round_up(size_t value, size_t grain) { return (value + grain - 1) / grain * grain; }

// Mostly tiny and small requests; some either side of the 32 KiB boundary, large ones up to
// 4 MiB, and large ones just below a page multiple (a run filled to its last byte).
size_t decode_size(InputDecoder& input) {
  switch (input.byte() % 8) {
  case 0:
  case 1:
  case 2:
    return input.byte();
  case 3:
    return input.u16() % 4096;
  case 4:
    return input.u16() % (kit::kMaxAllocBytes + 1);
  case 5:
    return kit::kMaxAllocBytes - 63 + input.byte() % 128;
  case 6:
    return kit::kMaxAllocBytes + 1 + input.u24() % kLargestLargeRequest;
  default: // a run filled to its last byte, or nearly
    return (1 + input.byte() % 64) * kPageBytes - input.byte() % 8;
  }
}

// Handles: mostly small, some up to the small-block limit, a few large (32 KiB .. 160 KiB).
size_t decode_handle_size(InputDecoder& input) {
  switch (input.byte() % 8) {
  case 0:
  case 1:
  case 2:
  case 3:
    return input.byte();
  case 4:
  case 5:
    return input.u16() % 4096;
  case 6:
    return input.u16() % (kit::kMaxAllocBytes + 1);
  default:
    return kit::kMaxAllocBytes + 1 + size_t(input.u16()) * 2;
  }
}

// Mostly valid alignments (1 .. 64 KiB), otherwise invalid ones.
size_t decode_alignment(InputDecoder& input) {
  uint8_t value = input.byte();
  if (value < 214)
    return size_t(1) << (value % (kit::kMaxAlignBits + 1));
  const size_t invalid[] = {
      0, 3, 24, 48, kLargestAlignment * 2, size_t(1) << 20, SIZE_MAX / 2 + 1, SIZE_MAX};
  return invalid[value % 8];
}

bool valid_alignment(size_t alignment) {
  return alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= kLargestAlignment;
}

// What a block is aligned to: what was asked for, and never less than the default.
size_t effective_alignment(size_t alignment) {
  return alignment > kDefaultAlignment ? alignment : kDefaultAlignment;
}

// Pages a request could need from memory growth, at worst: a large block's run (whole pages
// from the first: src/allocator.hpp), or a new small region's run (the block with its worst
// alignment gap, plus the region's state); and the page map's run, which the same growth may
// move the map to.
size_t worst_case_pages(size_t size, size_t alignment) {
  size_t bytes = is_large(size) ? size : size + 2 * alignment + 512;
  return (bytes + kPageBytes - 1) / kPageBytes + kMapPages;
}

kit_stats heap_stats(kit_heap* heap) {
  kit_stats stats;
  if (kit_heap_get_stats(heap, &stats) != KIT_OK)
    tally.fail("kit_heap_get_stats(%p) of a live heap failed", static_cast<void*>(heap));
  return stats;
}

class AbiHarness {
public:
  // foreign_growth: other code grows memory too (1-3 pages), first and after each call that
  // grew it, so that kitalloc's next growth lands above memory it must never touch.
  void run(InputDecoder& input, bool foreign_growth) {
    create_root();
    check_step();
    if (foreign_growth)
      grow_foreign(true);
    while (!input.exhausted()) {
      run_operation(input);
      if (foreign_growth)
        grow_foreign();
    }
    free_everything();
    check_foreign();
  }

private:
  enum Opcode : uint8_t {
    kMalloc,
    kMalloc2, // malloc and free are weighted up: the common calls
    kCalloc,
    kRealloc,
    kReallocToZero,
    kAlignedAlloc,
    kMemalign,
    kPosixMemalign,
    kFree,
    kFree2,
    kImpossibleRequest,
    // Relocatable handles and compaction.
    kHandleAlloc,
    kHandleLock,
    kHandleUnlock,
    kHandleFree,
    kHandleWrite,
    kCompact,
    kForgedHandle,
    kFreeHandleAddress,
    kAutoCompact,
    // Private heaps.
    kHeapCreate,
    kHeapMalloc,
    kHeapFree,
    kHeapRealloc,
    kHeapDrop,
    kHeapMerge,
    kBadHeap,
    kOpcodeCount
  };

  // A live private heap: its id in the model (blocks name it as their owner) and its parent's.
  struct LiveHeap {
    kit_heap* heap;
    uint32_t id;
    uint32_t parent;
  };

  void run_operation(InputDecoder& input) {
    switch (input.byte() % kOpcodeCount) {
    case kMalloc:
    case kMalloc2:
      malloc(decode_size(input));
      break;
    case kCalloc:
      calloc(input);
      break;
    case kRealloc:
      realloc(input);
      break;
    case kReallocToZero:
      realloc_to_zero(input.u16());
      break;
    case kAlignedAlloc:
      aligned_alloc(input, kAlignedAlloc);
      break;
    case kMemalign:
      aligned_alloc(input, kMemalign);
      break;
    case kPosixMemalign:
      posix_memalign(input);
      break;
    case kFree:
    case kFree2:
      free(input.u16());
      break;
    case kImpossibleRequest:
      impossible_request(input);
      break;
    case kHandleAlloc:
      handle_alloc(decode_handle_size(input));
      break;
    case kHandleLock:
      handle_lock(input.u16());
      break;
    case kHandleUnlock:
      handle_unlock(input.u16());
      break;
    case kHandleFree:
      handle_free(input.u16());
      break;
    case kHandleWrite:
      handle_write(input);
      break;
    case kCompact:
      compact();
      break;
    case kForgedHandle:
      forged_handle(input);
      break;
    case kFreeHandleAddress:
      free_handle_address(input.u16());
      break;
    case kAutoCompact:
      auto_compact(input.byte());
      break;
    case kHeapCreate:
      heap_create(input);
      break;
    case kHeapMalloc:
      heap_malloc(input);
      break;
    case kHeapFree:
      heap_free(input);
      break;
    case kHeapRealloc:
      heap_realloc(input);
      break;
    case kHeapDrop:
      heap_drop(input);
      break;
    case kHeapMerge:
      heap_merge(input.byte());
      break;
    case kBadHeap:
      bad_heap(input);
      break;
    }
  }

  // Whether a new small block of `size` bytes in the main heap stays within the cap (large ones
  // and those of private heaps always do: their memory goes back at the end of the input).
  bool within_small_cap(size_t size, uint32_t owner = kMainHeap,
                        size_t replaced_small_bytes = 0) const {
    return owner != kMainHeap || is_large(size) ||
           small_bytes_ - replaced_small_bytes + size <= kSmallLiveBytesCap;
  }
  // The same for a resize of block `index` to `size`.
  bool resize_within_small_cap(size_t index, size_t size) const {
    const LiveBlock& block = model_.at(index);
    return within_small_cap(size, block.owner, is_large(block.requested) ? 0 : block.requested);
  }

  void malloc(size_t size) {
    if (!within_small_cap(size))
      return;
    tally.start_operation("malloc");
    errno = 0;
    void* payload = kit_malloc(size);
    if (payload == nullptr)
      require_real_out_of_memory(size, kDefaultAlignment, true);
    else
      adopt(payload, size, kDefaultAlignment);
    check_step();
  }

  void calloc(InputDecoder& input) {
    size_t count = 1 + input.byte() % 16;
    size_t element = decode_size(input) / count;
    size_t size = count * element;
    if (!within_small_cap(size))
      return;
    tally.start_operation("calloc");
    errno = 0;
    auto* payload = static_cast<unsigned char*>(kit_calloc(count, element));
    if (payload == nullptr) {
      require_real_out_of_memory(size, kDefaultAlignment, true);
    } else {
      size_t nonzero = first_nonzero(payload, size);
      if (nonzero != size)
        tally.fail("calloc(%zu, %zu) returned memory with byte %zu not zero", count, element,
                   nonzero);
      adopt(payload, size, kDefaultAlignment);
    }
    check_step();
  }

  void realloc(InputDecoder& input) {
    uint16_t selector = input.u16();
    size_t size = decode_size(input);
    if (model_.empty()) { // realloc(NULL, n) is malloc(n)
      if (!within_small_cap(size))
        return;
      tally.start_operation("realloc(NULL, n)");
      errno = 0;
      void* payload = kit_realloc(nullptr, size);
      if (payload == nullptr)
        require_real_out_of_memory(size, kDefaultAlignment, true);
      else
        adopt(payload, size, kDefaultAlignment);
      check_step();
      return;
    }
    if (size == 0)
      return realloc_to_zero(selector);
    size_t index = model_.pick(selector);
    if (!resize_within_small_cap(index, size))
      return;
    tally.start_operation("realloc");
    errno = 0;
    void* payload = kit_realloc(model_.at(index).payload, size);
    settle_resize(index, payload, size);
    check_step();
  }

  // After a realloc of block `index` to `size` returned payload: the model follows (the block
  // stays in its heap: check_step counts it there).
  void settle_resize(size_t index, void* payload, size_t size) {
    if (payload == nullptr) {
      require_real_out_of_memory(size, kDefaultAlignment, true);
      model_.verify(index); // the old block is untouched
      return;
    }
    const LiveBlock& block = model_.at(index);
    count_out(block);
    model_.resize(index, payload, size, kit_malloc_usable_size(payload), kDefaultAlignment);
    count_in(model_.at(index));
    require_no_excess(payload, size);
  }

  // realloc(p, 0) frees p and returns NULL, as dlmalloc and emmalloc do.
  void realloc_to_zero(uint16_t selector) {
    if (model_.empty())
      return;
    tally.start_operation("realloc(p, 0)");
    LiveBlock block = forget(model_.pick(selector));
    tally.require(kit_realloc(block.payload, 0) == nullptr, "realloc(p, 0) did not return NULL");
    check_step();
  }

  // aligned_alloc and memalign: the same contract.
  void aligned_alloc(InputDecoder& input, Opcode which) {
    size_t alignment = decode_alignment(input);
    size_t size = decode_size(input);
    if (!within_small_cap(size))
      return;
    const char* name = which == kAlignedAlloc ? "aligned_alloc" : "memalign";
    tally.start_operation(name);
    errno = 0;
    void* payload =
        which == kAlignedAlloc ? kit_aligned_alloc(alignment, size) : kit_memalign(alignment, size);
    if (!valid_alignment(alignment)) {
      if (payload != nullptr || errno != EINVAL)
        tally.fail("%s(%zu, %zu): an invalid alignment did not give NULL and EINVAL", name,
                   alignment, size);
    } else if (payload == nullptr) {
      require_real_out_of_memory(size, effective_alignment(alignment), true);
    } else {
      adopt(payload, size, effective_alignment(alignment));
    }
    check_step();
  }

  void posix_memalign(InputDecoder& input) {
    size_t alignment = decode_alignment(input);
    size_t size = decode_size(input);
    if (!within_small_cap(size))
      return;
    tally.start_operation("posix_memalign");
    int untouched = 0;
    void* payload = &untouched;
    int result = kit_posix_memalign(&payload, alignment, size);
    bool valid = valid_alignment(alignment) && alignment % sizeof(void*) == 0;
    bool kept = payload == &untouched;
    if (!valid) {
      if (result != EINVAL || !kept)
        tally.fail("posix_memalign(%zu, %zu): an invalid alignment gave %d, not EINVAL with the "
                   "pointer untouched",
                   alignment, size, result);
    } else if (result == ENOMEM) {
      tally.require(kept, "posix_memalign changed the pointer although it failed");
      require_real_out_of_memory(size, effective_alignment(alignment), false);
    } else if (result == 0) {
      adopt(payload, size, effective_alignment(alignment));
    } else {
      tally.fail("posix_memalign(%zu, %zu) returned %d", alignment, size, result);
    }
    check_step();
  }

  void free(uint16_t selector) {
    if (model_.empty()) {
      tally.start_operation("free(NULL)");
      kit_stats before = global();
      kit_free(nullptr);
      tally.require(same_shape(before, global()), "free(NULL) changed the heap");
      tally.require(kit_malloc_usable_size(nullptr) == 0, "malloc_usable_size(NULL) is not 0");
      return;
    }
    tally.start_operation("free");
    LiveBlock block = forget(model_.pick(selector));
    kit_free(block.payload);
    check_step();
  }

  // Requests no heap can meet, through each entry point: NULL (or ENOMEM) and errno ENOMEM,
  // memory does not grow, nothing changes, and a block passed to realloc is untouched.
  void impossible_request(InputDecoder& input) {
    uint8_t kind = input.byte();
    uint16_t value = input.u16();
    size_t huge = SIZE_MAX - value;
    size_t alignment = size_t(1) << (value % (kit::kMaxAlignBits + 1));
    tally.start_operation("impossible request");
    kit_stats before = global();
    errno = 0;
    bool refused = false;
    switch (kind % 9) {
    case 0:
      refused = kit_malloc(huge) == nullptr && errno == ENOMEM;
      break;
    case 1: // count * size overflows
      refused = kit_calloc(3 + value, SIZE_MAX / 2) == nullptr && errno == ENOMEM;
      break;
    case 2:
      refused = kit_aligned_alloc(alignment, huge) == nullptr && errno == ENOMEM;
      break;
    case 3:
      refused = kit_memalign(alignment, huge) == nullptr && errno == ENOMEM;
      break;
    case 4: { // reports through its result, not errno, and leaves the pointer alone
      int sentinel = 0;
      void* payload = &sentinel;
      refused = kit_posix_memalign(&payload, effective_alignment(alignment), huge) == ENOMEM &&
                payload == &sentinel;
      break;
    }
    case 5:
      if (model_.empty()) {
        refused = kit_realloc(nullptr, huge) == nullptr && errno == ENOMEM;
      } else {
        size_t index = model_.pick(value);
        refused = kit_realloc(model_.at(index).payload, huge) == nullptr && errno == ENOMEM;
        model_.verify(index);
      }
      break;
    case 6: // the new calls: a handle, a block in a private heap, a heap's reservation
      refused = kit_handle_alloc(huge) == 0;
      break;
    case 7:
      refused = kit_heap_malloc(pick_heap(value).heap, huge) == nullptr;
      break;
    default:
      refused = kit_heap_create(pick_heap(value).heap, huge) == nullptr;
      break;
    }
    if (!refused)
      tally.fail("request kind %d of %zu bytes was not refused with ENOMEM", kind % 9, huge);
    tally.require(same_shape(before, global()), "an impossible request changed the heap");
    check_step();
  }

  // ── Relocatable handles ────────────────────────────────────────────────────────────────────

  void handle_alloc(size_t size) {
    if (handles_.size() >= kMaxHandles || handle_bytes_ + size > kHandleBytesCap)
      return;
    tally.start_operation("kit_handle_alloc");
    kit_handle handle = kit_handle_alloc(size);
    if (handle == 0) {
      // Room for the block, and for the table to double (a block of the main heap).
      require_real_out_of_memory(size, 16, false, 1 + (16 * kMaxHandles) / kPageBytes);
    } else {
      size_t usable = kit_handle_size(handle);
      auto* payload = static_cast<unsigned char*>(kit_handle_lock(handle));
      handles_.add(handle, size, usable, payload);
      require_no_excess_handle(size, usable);
      handle_bytes_ += size;
      require_handle_clear_of_blocks(payload, usable);
      tally.require(kit_handle_unlock(handle) == KIT_OK, "unlocking a new handle failed");
    }
    check_step();
  }

  void handle_lock(uint16_t selector) {
    if (handles_.empty())
      return;
    size_t index = handles_.pick(selector);
    LiveHandle& live = handles_.at(index);
    if (live.locks >= kMaxLocks)
      return;
    tally.start_operation("kit_handle_lock");
    auto* payload = static_cast<unsigned char*>(kit_handle_lock(live.handle));
    handles_.verify(index, payload, "at a lock");
    if (live.locks == 0)
      require_handle_clear_of_blocks(payload, live.usable);
    live.locks += 1;
    live.pinned = payload;
    check_step();
  }

  void handle_unlock(uint16_t selector) {
    if (handles_.empty())
      return;
    tally.start_operation("kit_handle_unlock");
    LiveHandle& live = handles_.at(handles_.pick(selector));
    kit_status status = kit_handle_unlock(live.handle);
    kit_status expected = live.locks > 0 ? KIT_OK : KIT_E_NOT_LOCKED;
    if (status != expected)
      tally.fail("kit_handle_unlock(%#x) with %u locks returned %d, not %d", live.handle,
                 live.locks, status, expected);
    if (live.locks > 0 && --live.locks == 0)
      live.pinned = nullptr;
    check_step();
  }

  void handle_free(uint16_t selector) {
    if (handles_.empty())
      return;
    tally.start_operation("kit_handle_free");
    size_t index = handles_.pick(selector);
    LiveHandle& live = handles_.at(index);
    verify_handle(index, "before kit_handle_free");
    if (live.locks > 0) {
      kit_stats before = global();
      kit_status status = kit_handle_free(live.handle);
      if (status != KIT_E_LOCKED)
        tally.fail("kit_handle_free(%#x) of a locked handle returned %d, not KIT_E_LOCKED",
                   live.handle, status);
      tally.require(same_shape(before, global()), "kit_handle_free of a locked handle changed "
                                                  "the heap");
      verify_handle(index, "after kit_handle_free refused it");
    } else {
      kit_handle handle = live.handle;
      kit_status status = kit_handle_free(handle);
      if (status != KIT_OK)
        tally.fail("kit_handle_free(%#x) returned %d", handle, status);
      handle_bytes_ -= live.requested;
      handles_.remove(index);
      require_refused_handle(handle, "a freed handle");
      stale_handles_[stale_count_++ % kStaleHandles] = handle;
    }
    check_step();
  }

  void handle_write(InputDecoder& input) {
    uint16_t selector = input.u16();
    uint16_t offset = input.u16();
    uint8_t length = input.byte();
    uint8_t value = input.byte();
    if (handles_.empty())
      return;
    tally.start_operation("write through a handle");
    size_t index = handles_.pick(selector);
    kit::HandleLock lock(handles_.at(index).handle);
    auto* payload = lock.as<unsigned char>();
    handles_.verify(index, payload, "before a write");
    handles_.write(index, payload, offset, size_t(length) * 16 + length, value);
  }

  void compact() {
    tally.start_operation("kit_compact");
    kit_compact_result result;
    std::memset(&result, 0xA5, sizeof result);
    kit_stats before = global();
    kit_compact(&result);
    kit_stats after = global();
    if (result.locked_blocks > handles_.locked_count())
      tally.fail("kit_compact: %u blocks stayed locked, %u handles are", result.locked_blocks,
                 handles_.locked_count());
    if (result.moved_blocks > handles_.size() ||
        (result.moved_blocks == 0) != (result.moved_bytes == 0))
      tally.fail("kit_compact: %llu blocks (%llu bytes) moved, of %zu handles",
                 static_cast<unsigned long long>(result.moved_blocks),
                 static_cast<unsigned long long>(result.moved_bytes), handles_.size());
    if (result.released_bytes % kPageBytes != 0 ||
        pages_in_use(after) + result.released_bytes / kPageBytes != pages_in_use(before))
      tally.fail("kit_compact released %llu bytes; pages in use went from %llu to %llu",
                 static_cast<unsigned long long>(result.released_bytes),
                 static_cast<unsigned long long>(pages_in_use(before)),
                 static_cast<unsigned long long>(pages_in_use(after)));
    tally.require(after.grow_calls == before.grow_calls, "kit_compact grew memory");
    check_all_handles("after kit_compact");
    check_step();
    // The largest free block it reports can be had without growing memory.
    if (is_large(result.largest_free_bytes) && result.largest_free_bytes <= kLargestLargeRequest) {
      tally.start_operation("malloc(largest_free_bytes)");
      void* block = kit_malloc(result.largest_free_bytes);
      if (block == nullptr || global().grow_calls != after.grow_calls)
        tally.fail("kit_compact said a block of %llu bytes fits, malloc %s",
                   static_cast<unsigned long long>(result.largest_free_bytes),
                   block == nullptr ? "failed" : "grew memory for it");
      kit_free(block);
      check_step();
    }
  }

  void forged_handle(InputDecoder& input) {
    uint8_t kind = input.byte();
    uint32_t value = input.u16() | uint32_t(input.u16()) << 16;
    kit_handle forged = value;
    switch (kind % 5) {
    case 0:
      break; // any value
    case 1:
      forged = stale_count_ == 0 ? 0 : stale_handles_[value % kStaleHandles];
      break;
    case 2: // a live handle's index with another generation
    case 3: // a live handle's generation with another index
      if (!handles_.empty()) {
        kit_handle live = handles_.at(handles_.pick(value)).handle;
        uint32_t delta = 1 + (value >> 16) % 4095;
        forged = kind % 5 == 2
                     ? (live & kHandleIndexMask) | ((live >> kHandleIndexBits) + delta)
                                                       << kHandleIndexBits
                     : (live & ~kHandleIndexMask) | ((live + delta * 37) & kHandleIndexMask);
      }
      break;
    default: // 0, and the last index of the table's range
      forged = value % 2 ? 0 : (value & ~kHandleIndexMask) | kHandleIndexMask;
      break;
    }
    if (handles_.is_live(forged))
      return;
    tally.start_operation("a handle that is not live");
    kit_stats before = global();
    require_refused_handle(forged, "a forged or stale handle");
    tally.require(same_shape(before, global()), "a bad handle changed the heap");
    check_step();
  }

  // free() and realloc of a handle block's address: refused, nothing changes.
  void free_handle_address(uint16_t selector) {
    if (handles_.empty())
      return;
    tally.start_operation("free(a handle's address)");
    size_t index = handles_.pick(selector);
    kit::HandleLock lock(handles_.at(index).handle);
    handles_.verify(index, lock.as<unsigned char>(), "before free(its address)");
    kit_stats before = global();
    kit_free(lock.get());
    kit_heap_free(heaps_.front().heap, lock.get());
    tally.require(same_shape(before, global()), "free() of a handle's address changed the heap");
    check_step();
    handles_.verify(index, lock.as<unsigned char>(), "after free(its address)");
  }

  void auto_compact(uint8_t value) {
    tally.start_operation("kit_set_auto_compact");
    int enabled = value & 1;
    int previous = kit_set_auto_compact(enabled);
    if (previous != auto_compact_)
      tally.fail("kit_set_auto_compact returned %d, the setting was %d", previous, auto_compact_);
    auto_compact_ = enabled;
  }

  // Locks and verifies handle `index`, then unlocks it.
  void verify_handle(size_t index, const char* when) {
    kit::HandleLock lock(handles_.at(index).handle);
    handles_.verify(index, lock.as<unsigned char>(), when);
  }

  // Every handle where its lock finds it, clear of every malloc block and of each other.
  void check_all_handles(const char* when) {
    std::map<uintptr_t, uintptr_t> extents;
    for (size_t index = 0; index < handles_.size(); ++index) {
      const LiveHandle& live = handles_.at(index);
      kit::HandleLock lock(live.handle);
      handles_.verify(index, lock.as<unsigned char>(), when);
      require_handle_clear_of_blocks(lock.as<unsigned char>(), live.usable);
      uintptr_t begin =
          kit::fuzz::extent_begin(lock.get(), live.usable, kit::fuzz::kHandleHeaderBytes);
      uintptr_t end = reinterpret_cast<uintptr_t>(lock.get()) + live.usable;
      auto after = extents.lower_bound(begin);
      if ((after != extents.end() && after->first < end) ||
          (after != extents.begin() && std::prev(after)->second > begin))
        tally.fail("handle %#x's block [%#zx, %#zx) overlaps another handle's (%s)", live.handle,
                   size_t(begin), size_t(end), when);
      extents.emplace(begin, end);
    }
  }

  void require_handle_clear_of_blocks(const unsigned char* payload, size_t usable) const {
    uintptr_t begin = kit::fuzz::extent_begin(payload, usable, kit::fuzz::kHandleHeaderBytes);
    uintptr_t end = reinterpret_cast<uintptr_t>(payload) + usable;
    if (model_.overlaps(begin, end))
      tally.fail("a handle block [%#zx, %#zx) overlaps a live malloc block", size_t(begin),
                 size_t(end));
  }

  static void require_refused_handle(kit_handle handle, const char* what) {
    void* address = kit_handle_lock(handle);
    size_t size = kit_handle_size(handle);
    kit_status freed = kit_handle_free(handle);
    kit_status unlocked = kit_handle_unlock(handle);
    if (address != nullptr || size != 0 || freed != KIT_E_BAD_HANDLE ||
        unlocked != KIT_E_BAD_HANDLE)
      tally.fail("%s (%#x) was not refused: lock %p, size %zu, free %d, unlock %d", what, handle,
                 address, size, freed, unlocked);
  }

  // A handle's block holds its request rounded to 16 bytes with its 8-byte prefix, plus at most
  // a tail too small to be a free block; a large one, its request rounded up to whole pages.
  void require_no_excess_handle(size_t size, size_t usable) const {
    size_t most = size >= kLargeHandleBytes ? size + kPageBytes - 1 : round_up(size + 8, 16) + 8;
    if (usable > most)
      tally.fail("a handle of %zu bytes has %zu usable (at most %zu expected)", size, usable, most);
  }

  // ── Private heaps ──────────────────────────────────────────────────────────────────────────

  void create_root() {
    tally.start_operation("kit_heap_create(NULL, 0): the root");
    kit_heap* root = kit_heap_create(nullptr, 0);
    tally.require(root != nullptr, "the root heap could not be created");
    heaps_.push_back({root, kRootHeap, kMainHeap});
  }

  // The main heap (selector 0 of heaps_.size() + 1) or a live private heap.
  LiveHeap pick_heap(uint32_t selector) const {
    size_t choice = selector % (heaps_.size() + 1);
    return choice == 0 ? LiveHeap{nullptr, kMainHeap, kMainHeap} : heaps_[choice - 1];
  }

  // A heap pointer for calls that must refuse it: a dead heap's (not reused by a live one's
  // record), or a pointer kit_heap_create never returned. nullptr when there is none.
  kit_heap* pick_bad_heap(uint8_t kind, uint32_t selector) const {
    switch (kind % 3) {
    case 0: {
      if (dead_heaps_.empty())
        return nullptr;
      kit_heap* dead = dead_heaps_[selector % dead_heaps_.size()];
      for (const LiveHeap& live : heaps_)
        if (live.heap == dead)
          return nullptr;
      return dead;
    }
    case 1: // into a live heap's record
      return reinterpret_cast<kit_heap*>(
          reinterpret_cast<unsigned char*>(heaps_[selector % heaps_.size()].heap) + 1 +
          selector % 95);
    default: // a block's payload
      return model_.empty() ? nullptr
                            : reinterpret_cast<kit_heap*>(model_.at(model_.pick(selector)).payload);
    }
  }

  void heap_create(InputDecoder& input) {
    uint8_t parent_selector = input.byte();
    uint8_t kind = input.byte();
    size_t initial = kind % 4 == 0 ? size_t(input.u16()) * 4 : kind % 4 == 1 ? input.byte() : 0;
    if (heaps_.size() >= kMaxHeaps)
      return;
    tally.start_operation("kit_heap_create");
    const LiveHeap parent = heaps_[parent_selector % heaps_.size()];
    kit_heap* heap = kit_heap_create(parent.heap, initial);
    if (heap == nullptr) {
      require_real_out_of_memory(initial + 1024, 16, false, 1);
    } else {
      for (const LiveHeap& live : heaps_)
        if (live.heap == heap)
          tally.fail("kit_heap_create returned a live heap, %p", static_cast<void*>(heap));
      heaps_.push_back({heap, next_heap_id_++, parent.id});
      kit_stats figures = heap_stats(heap);
      if (figures.memory_bytes < initial || figures.bytes_in_use != 0 ||
          figures.small.live_blocks != 0 || figures.large_blocks != 0)
        tally.fail("a new heap reserving %zu bytes has %llu bytes of memory, %llu in use", initial,
                   static_cast<unsigned long long>(figures.memory_bytes),
                   static_cast<unsigned long long>(figures.bytes_in_use));
    }
    check_step();
  }

  void heap_malloc(InputDecoder& input) {
    LiveHeap heap = pick_heap(input.byte());
    size_t size = decode_size(input);
    if (!within_small_cap(size, heap.id))
      return;
    tally.start_operation("kit_heap_malloc");
    void* payload = kit_heap_malloc(heap.heap, size);
    if (payload == nullptr)
      require_real_out_of_memory(size, kDefaultAlignment, false);
    else
      adopt(payload, size, kDefaultAlignment, heap.id);
    check_step();
  }

  // kit_heap_free names any heap, live or not: the block goes back to its own.
  void heap_free(InputDecoder& input) {
    uint16_t selector = input.u16();
    uint8_t named = input.byte();
    if (model_.empty())
      return;
    tally.start_operation("kit_heap_free");
    kit_heap* heap = named % 4 == 3 && !dead_heaps_.empty()
                         ? dead_heaps_[named % dead_heaps_.size()]
                         : pick_heap(named).heap;
    LiveBlock block = forget(model_.pick(selector));
    kit_heap_free(heap, block.payload);
    check_step();
  }

  void heap_realloc(InputDecoder& input) {
    uint16_t selector = input.u16();
    uint8_t named = input.byte();
    size_t size = decode_size(input);
    LiveHeap heap = pick_heap(named);
    if (model_.empty() || named % 8 == 7) { // realloc(NULL, n): allocates in the named heap
      if (!within_small_cap(size, heap.id))
        return;
      tally.start_operation("kit_heap_realloc(heap, NULL, n)");
      void* payload = kit_heap_realloc(heap.heap, nullptr, size);
      if (payload == nullptr)
        require_real_out_of_memory(size, kDefaultAlignment, false);
      else
        adopt(payload, size, kDefaultAlignment, heap.id);
      check_step();
      return;
    }
    size_t index = model_.pick(selector);
    if (size == 0) {
      tally.start_operation("kit_heap_realloc(heap, p, 0)");
      LiveBlock block = forget(index);
      tally.require(kit_heap_realloc(heap.heap, block.payload, 0) == nullptr,
                    "kit_heap_realloc(heap, p, 0) did not return NULL");
      check_step();
      return;
    }
    if (!resize_within_small_cap(index, size))
      return;
    if (named % 8 == 6) { // a dead heap named: refused, the block untouched
      kit_heap* bad = pick_bad_heap(0, named);
      if (bad == nullptr)
        return;
      tally.start_operation("kit_heap_realloc(dead heap, p, n)");
      kit_stats before = global();
      tally.require(kit_heap_realloc(bad, model_.at(index).payload, size) == nullptr,
                    "kit_heap_realloc naming a dead heap did not return NULL");
      tally.require(same_shape(before, global()), "kit_heap_realloc naming a dead heap changed "
                                                  "the heap");
      model_.verify(index);
      check_step();
      return;
    }
    tally.start_operation("kit_heap_realloc");
    errno = 0;
    void* payload = kit_heap_realloc(heap.heap, model_.at(index).payload, size);
    settle_resize(index, payload, size);
    check_step();
  }

  // The heap and every heap under it, as model ids.
  std::vector<uint32_t> tree_of(uint32_t id) const {
    std::vector<uint32_t> tree{id};
    for (size_t next = 0; next < tree.size(); ++next)
      for (const LiveHeap& live : heaps_)
        if (live.parent == tree[next])
          tree.push_back(live.id);
    return tree;
  }

  void heap_drop(InputDecoder& input) {
    uint8_t selector = input.byte();
    uint8_t stale_frees = input.byte();
    if (heaps_.size() < 2)
      return;
    tally.start_operation("kit_heap_drop");
    const LiveHeap dropped = heaps_[1 + selector % (heaps_.size() - 1)]; // never the root
    std::vector<uint32_t> tree = tree_of(dropped.id);
    auto in_tree = [&tree](uint32_t owner) {
      return std::find(tree.begin(), tree.end(), owner) != tree.end();
    };
    std::vector<LiveBlock> gone = model_.remove_owned(in_tree);
    for (const LiveBlock& block : gone)
      count_out(block);
    kit_status status = kit_heap_drop(dropped.heap);
    if (status != KIT_OK)
      tally.fail("kit_heap_drop of a live heap returned %d", status);
    for (size_t index = heaps_.size(); index-- > 0;)
      if (in_tree(heaps_[index].id)) {
        dead_heaps_.push_back(heaps_[index].heap);
        heaps_.erase(heaps_.begin() + std::ptrdiff_t(index));
      }
    check_step();
    // Its blocks are gone: freeing them again is refused and changes nothing (nothing was
    // allocated since, so none of them can be a live block again).
    if (gone.empty())
      return;
    tally.start_operation("free of a dropped heap's block");
    kit_stats before = global();
    for (size_t i = 0; i < stale_frees % 8; ++i)
      kit_free(gone[(selector + i * 7) % gone.size()].payload);
    tally.require(same_shape(before, global()), "free of a dropped heap's block changed the heap");
    check_step();
  }

  void heap_merge(uint8_t selector) {
    if (heaps_.size() < 2)
      return;
    tally.start_operation("kit_heap_merge");
    size_t index = 1 + selector % (heaps_.size() - 1);
    const LiveHeap merged = heaps_[index];
    kit_status status = kit_heap_merge(merged.heap);
    if (status != KIT_OK)
      tally.fail("kit_heap_merge of a live heap returned %d", status);
    model_.change_owner(merged.id, merged.parent);
    for (LiveHeap& live : heaps_)
      if (live.parent == merged.id)
        live.parent = merged.parent;
    heaps_.erase(heaps_.begin() + std::ptrdiff_t(index));
    dead_heaps_.push_back(merged.heap);
    check_step();
  }

  // Every call on a heap that is not live: NULL or KIT_E_BAD_HEAP, and nothing changes.
  void bad_heap(InputDecoder& input) {
    uint8_t kind = input.byte();
    uint8_t selector = input.byte();
    if (kind % 4 == 3 && (kind & 0x80) != 0) { // a block named by its own bytes and the next's
      tally.start_operation("a block whose bytes, and the next block's, hold its address");
      size_t bytes = 16 * (1 + selector % 8);
      auto* named = static_cast<uintptr_t*>(kit_malloc(bytes));
      auto* next = static_cast<uintptr_t*>(kit_malloc(256)); // a list node pointing back
      if (named != nullptr && next != nullptr) {
        std::fill(named, named + bytes / sizeof(uintptr_t), uintptr_t(named));
        std::fill(next, next + 256 / sizeof(uintptr_t), uintptr_t(named));
        require_refused_heap(reinterpret_cast<kit_heap*>(named));
      }
      kit_free(next);
      kit_free(named);
      check_step();
      return;
    }
    if (kind % 4 == 3) { // a copy of a live heap's record, elsewhere
      tally.start_operation("a copy of a heap's record");
      void* copy = kit_malloc(96);
      if (copy == nullptr)
        return;
      std::memcpy(copy, heaps_[selector % heaps_.size()].heap, 96);
      require_refused_heap(static_cast<kit_heap*>(copy));
      kit_free(copy);
      check_step();
      return;
    }
    kit_heap* bad = pick_bad_heap(kind, selector);
    if (bad == nullptr)
      return;
    tally.start_operation("a heap that is not live");
    require_refused_heap(bad);
    check_step();
  }

  void require_refused_heap(kit_heap* bad) {
    kit_stats before = global();
    kit_stats out;
    if (kit_heap_malloc(bad, 16) != nullptr || kit_heap_malloc(bad, 40000) != nullptr ||
        kit_heap_realloc(bad, nullptr, 16) != nullptr || kit_heap_create(bad, 0) != nullptr ||
        kit_heap_get_stats(bad, &out) != KIT_E_BAD_HEAP || kit_heap_drop(bad) != KIT_E_BAD_HEAP ||
        kit_heap_merge(bad) != KIT_E_BAD_HEAP)
      tally.fail("a heap that is not live (%p) was not refused", static_cast<void*>(bad));
    tally.require(same_shape(before, global()), "a call on a bad heap changed the heap");
  }

  // ── Shared ─────────────────────────────────────────────────────────────────────────────────

  void adopt(void* payload, size_t size, size_t alignment, uint32_t owner = kMainHeap) {
    count_in(model_.add(payload, size, kit_malloc_usable_size(payload), alignment, owner));
    require_no_excess(payload, size);
  }

  // Removes a block from the model (verifying its contents) before the caller frees it.
  LiveBlock forget(size_t index) {
    LiveBlock block = model_.remove(index);
    count_out(block);
    return block;
  }

  void count_in(const LiveBlock& block) {
    if (block.owner == kMainHeap && !is_large(block.requested))
      small_bytes_ += block.requested;
  }
  void count_out(const LiveBlock& block) {
    if (block.owner == kMainHeap && !is_large(block.requested))
      small_bytes_ -= block.requested;
  }

  // A small block holds its request rounded to 16 bytes with its header, plus at most a tail
  // too small to be a free block; a large one, its request rounded up to whole pages.
  void require_no_excess(const void* payload, size_t size) const {
    size_t usable = kit_malloc_usable_size(payload);
    size_t most = is_large(size) ? size + kPageBytes - 1 : round_up(size + 4, 16) + 8;
    if (usable > most)
      tally.fail("a block of %zu bytes has %zu usable (at most %zu expected)", size, usable, most);
  }

  // Out of memory is only right when growing memory by what the request could need (plus
  // `extra_pages` for what the call allocates besides) would pass the maximum (only kitalloc
  // grows memory here, so it owns all of it).
  void require_real_out_of_memory(size_t size, size_t alignment, bool sets_errno,
                                  size_t extra_pages = 0) {
    out_of_memory_results += 1;
    if (sets_errno && errno != ENOMEM)
      tally.fail("a failed request of %zu bytes left errno %d, not ENOMEM", size, errno);
    kit_stats stats = global();
    if (!is_large(size) && stats.small.regions > kit::kMaxRegionTag)
      return; // every region tag is taken: small requests may fail with memory to spare
    size_t owned_pages = kInitialPages + stats.grown_pages;
    size_t needed_pages = worst_case_pages(size, alignment) + extra_pages;
    if ((owned_pages + needed_pages) * kPageBytes <= kHeapLimitBytes)
      tally.fail("%zu bytes aligned to %zu ran out of memory with %zu pages of %zu owned, needing "
                 "at most %zu more",
                 size, alignment, owned_pages, kHeapLimitBytes / kPageBytes, needed_pages);
  }

  void free_everything() {
    while (!handles_.empty()) {
      tally.start_operation("kit_handle_free at the end of the input");
      size_t last = handles_.size() - 1;
      verify_handle(last, "at the end of the input");
      LiveHandle& live = handles_.at(last);
      for (; live.locks > 0; --live.locks)
        tally.require(kit_handle_unlock(live.handle) == KIT_OK, "unlock at the end failed");
      kit_status status = kit_handle_free(live.handle);
      if (status != KIT_OK)
        tally.fail("kit_handle_free(%#x) at the end returned %d", live.handle, status);
      handle_bytes_ -= live.requested;
      handles_.remove(last);
    }
    for (size_t index = model_.size(); index-- > 0;) {
      if (model_.at(index).owner != kMainHeap)
        continue;
      tally.start_operation("free at the end of the input");
      kit_free(forget(index).payload);
    }
    tally.start_operation("kit_heap_drop(root) at the end of the input");
    for (const LiveBlock& block : model_.remove_owned([](uint32_t) { return true; }))
      count_out(block);
    tally.require(kit_heap_drop(heaps_.front().heap) == KIT_OK, "dropping the root failed");
    heaps_.clear();
    kit_compact(nullptr);
    kit_set_auto_compact(1);
    check_step();
    kit_stats stats = global();
    kit_stats main = heap_stats(nullptr);
    // Nothing but the main heap's own blocks is left, and of those only the handle table.
    tally.require(stats.small.live_blocks == main.small.live_blocks &&
                      stats.large_blocks == main.large_blocks &&
                      main.small.live_blocks + main.large_blocks <= 1,
                  "with every block freed, blocks other than the handle table are left");
    // Freed blocks merged back into the bump areas, but parked ones (src/allocator.hpp) wait.
    if (stats.small.live_blocks == 0)
      tally.require(stats.small.allocated_words == stats.small.fragment_words,
                    "with every block freed, the small regions hold more than free blocks");
    // Once no large block is left, every live run of pages holds a small region or is one of
    // kitalloc's own.
    tally.require(stats.pages.live_blocks <=
                      stats.small.regions + stats.large_blocks + stats.own_runs,
                  "with every block freed, page runs are still in use");
    // Usable again, whatever the input did (out of memory included).
    void* probe = kit_malloc(100);
    tally.require(probe != nullptr, "with every block freed, malloc(100) failed");
    kit_free(probe);
  }

  // kit_check(), and the block counts of every heap against the model: each private heap's
  // blocks and bytes exactly; the main heap's, plus a record per private heap and (once a
  // handle was made) the handle table; the whole heap's, plus a block per live handle.
  void check_step() {
    if (const char* breach = kit_check())
      tally.fail("kit_check(): %s", breach);
    struct Counts {
      uint64_t small = 0;
      uint64_t large = 0;
      uint64_t bytes = 0;
    };
    std::map<uint32_t, Counts> counts;
    for (size_t index = 0; index < model_.size(); ++index) {
      const LiveBlock& block = model_.at(index);
      Counts& owner = counts[block.owner];
      (is_large(block.requested) ? owner.large : owner.small) += 1;
      owner.bytes += block.usable;
    }
    uint64_t heap_blocks = 0;
    for (const LiveHeap& live : heaps_) {
      kit_stats figures = heap_stats(live.heap);
      const Counts& expected = counts[live.id];
      if (figures.small.live_blocks != expected.small || figures.large_blocks != expected.large ||
          figures.bytes_in_use != expected.bytes)
        tally.fail("heap #%u counts %u small and %u large blocks, %llu bytes; the model %llu, %llu "
                   "and %llu",
                   live.id, figures.small.live_blocks, figures.large_blocks,
                   static_cast<unsigned long long>(figures.bytes_in_use),
                   static_cast<unsigned long long>(expected.small),
                   static_cast<unsigned long long>(expected.large),
                   static_cast<unsigned long long>(expected.bytes));
      heap_blocks += figures.small.live_blocks + figures.large_blocks;
    }
    kit_stats main = heap_stats(nullptr);
    const Counts& in_main = counts[kMainHeap];
    int64_t extra_small = int64_t(main.small.live_blocks) - int64_t(in_main.small + heaps_.size());
    int64_t extra_large = int64_t(main.large_blocks) - int64_t(in_main.large);
    if (extra_small < 0 || extra_large < 0 || extra_small + extra_large > 1)
      tally.fail("the main heap counts %u small and %u large blocks; the model %llu (and %zu heap "
                 "records) and %llu, plus the handle table",
                 main.small.live_blocks, main.large_blocks,
                 static_cast<unsigned long long>(in_main.small), heaps_.size(),
                 static_cast<unsigned long long>(in_main.large));
    kit_stats stats = global();
    uint64_t all = uint64_t(stats.small.live_blocks) + stats.large_blocks;
    uint64_t expected_all =
        heap_blocks + main.small.live_blocks + main.large_blocks + handles_.size();
    if (all != expected_all)
      tally.fail("the heap counts %llu blocks; its heaps %llu and the handles %zu",
                 static_cast<unsigned long long>(all),
                 static_cast<unsigned long long>(expected_all - handles_.size()), handles_.size());
    // kitalloc's own runs: the region table once more than 64 regions were needed, the page
    // map once memory outgrew the first map (src/allocator.hpp). Each becomes one run and
    // stays one: their count never falls and never passes two.
    if (stats.own_runs < own_runs_ || stats.own_runs > kOwnRunsMax)
      tally.fail("kitalloc's own runs: %u, %u before", stats.own_runs, own_runs_);
    own_runs_ = stats.own_runs;
  }

  void grow_foreign(bool first = false) {
    uint32_t grow_calls = global().grow_calls;
    size_t bytes = (1 + (grow_calls + foreign_ranges.size()) % 3) * kPageBytes;
    if ((!first && grow_calls == grow_calls_seen) || foreign_bytes + bytes > kForeignLimitBytes)
      return;
    grow_calls_seen = grow_calls;
    foreign_bytes += bytes;
    foreign_pages_all += bytes / kPageBytes;
    kit_native_heap_limit(kHeapLimitBytes + foreign_bytes);
    auto* start = reinterpret_cast<unsigned char*>(
        kit_native_heap_grow_foreign(uint32_t(bytes / kPageBytes)));
    tally.require(start != nullptr, "other code's growth was refused below the maximum");
    auto fill = static_cast<unsigned char>(0xA0 + foreign_ranges.size() % 16);
    std::memset(start, fill, bytes);
    foreign_ranges.push_back({start, bytes, fill});
  }

  // Every input's: the first and last bytes of each page (where a region's state, a block's
  // header or the shadow model's fill would land).
  static void check_foreign() {
    constexpr size_t kEdgeBytes = 16;
    for (const ForeignRange& range : foreign_ranges)
      for (size_t page = 0; page < range.bytes; page += kPageBytes)
        for (size_t offset : {size_t(0), kPageBytes - kEdgeBytes})
          for (size_t byte = page + offset; byte < page + offset + kEdgeBytes; ++byte)
            if (range.start[byte] != range.fill)
              tally.fail("memory other code grew at %p was written at byte %zu",
                         static_cast<void*>(range.start), byte);
  }

  static constexpr size_t kStaleHandles = 32;

  ShadowModel model_{tally};
  HandleShadow handles_{tally};
  size_t small_bytes_ = 0;      // requested bytes of the main heap's live small blocks
  size_t handle_bytes_ = 0;     // requested bytes of the live handles
  std::vector<LiveHeap> heaps_; // the root first
  std::vector<kit_heap*> dead_heaps_;
  uint32_t next_heap_id_ = kRootHeap + 1;
  kit_handle stale_handles_[kStaleHandles] = {};
  size_t stale_count_ = 0;
  int auto_compact_ = 1;
  static constexpr uint32_t kOwnRunsMax = 2; // the region table and the page map
  uint32_t own_runs_ = 0;
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit([] {
    std::fprintf(stderr, "fuzz-c-abi: %llu requests ran out of memory; other code grew %zu pages\n",
                 static_cast<unsigned long long>(out_of_memory_results), foreign_pages_all);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tally.start_input();
  tally.require(kit_native_heap_restart() == 1, "the native heap did not restart");
  kit_native_heap_limit(kHeapLimitBytes);
  foreign_bytes = 0;
  foreign_ranges.clear();
  grow_calls_seen = 0;
  // Half the inputs grow memory as Emscripten does, by a fifth at least: pages never written
  // wait at the top (calloc's freshness, the map placed in a surplus).
  kit_native_heap_overgrow(size != 0 && (data[0] & 0x80) != 0 ? 20 : 0);
  // Half grow memory between kitalloc's growths as other code would (bit 6; the saved
  // regressions and seeds have it clear).
  bool foreign_growth = size != 0 && (data[0] & 0x40) != 0;
  InputDecoder input(data, size);
  AbiHarness harness;
  harness.run(input, foreign_growth);
  return 0;
}
