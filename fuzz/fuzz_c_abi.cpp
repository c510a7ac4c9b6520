// Fuzz target: the whole C ABI (kit_malloc ... kit_malloc_usable_size) on the global native
// heap, capped at a 32 MiB maximum so that large blocks (32 KiB .. 4 MiB) run it out of memory.
// Each input decodes a sequence of calls checked against the shadow model, kit_check() and the
// heap's figures; at its end every block is freed, so the next input (same process, same
// heap) starts from an empty heap.
//
// Input: operations, each an opcode byte and its operands (see run_operation). Seeds:
// fuzz/make_corpus.sh.
#include "kitalloc.h"
#include "kitalloc/simple_allocator.hpp"

#include "fuzz_input.hpp"
#include "shadow_model.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// The native heap's maximum (src/heap_native.cpp); not in the public header.
extern "C" void kit_native_heap_limit(size_t bytes);

using kit::fuzz::first_nonzero;
using kit::fuzz::InputDecoder;
using kit::fuzz::LiveBlock;
using kit::fuzz::OperationTally;
using kit::fuzz::ShadowModel;

namespace {

OperationTally tally("fuzz-c-abi");
uint64_t out_of_memory_results = 0; // printed at exit: shows the OOM paths were exercised

constexpr size_t kHeapLimitBytes = size_t(32) << 20;
constexpr size_t kPageBytes = size_t(1) << kit::kPageShift;
constexpr size_t kInitialPages = 2; // the native heap starts as a module does, with two pages
constexpr size_t kDefaultAlignment = alignof(max_align_t);
constexpr size_t kLargestAlignment = size_t(1) << kit::kMaxAlignBits;
constexpr size_t kLargestLargeRequest = size_t(4) << 20;
// Small regions are never given back to the page store, so one input holding many small
// blocks would leave less room for large blocks in every later input. Small requests that
// would pass this many live bytes are skipped.
constexpr size_t kSmallLiveBytesCap = size_t(4) << 20;

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
  default:
    return (1 + input.byte() % 64) * kPageBytes - 16 - input.byte() % 8;
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

// Pages a request could need from memory growth, at worst: a large block's run (the payload
// max(16, alignment) bytes in), or a new small region's run (the block with its worst
// alignment gap, plus the region's state and the run's header).
size_t worst_case_pages(size_t size, size_t alignment) {
  size_t bytes =
      is_large(size) ? size + (alignment > 16 ? alignment : 16) : size + 2 * alignment + 512;
  return (bytes + kPageBytes - 1) / kPageBytes;
}

kit_stats heap_stats() {
  kit_stats stats;
  kit_get_stats(&stats);
  return stats;
}

bool same_regions(const kit_region_stats& a, const kit_region_stats& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// The heap's shape: its regions, page store, large blocks and growth (not the call counters).
bool same_heap(const kit_stats& a, const kit_stats& b) {
  return same_regions(a.small, b.small) && same_regions(a.pages, b.pages) &&
         a.large_blocks == b.large_blocks && a.grow_calls == b.grow_calls &&
         a.grown_pages == b.grown_pages;
}

class AbiHarness {
public:
  void run(InputDecoder& input) {
    check_step();
    while (!input.exhausted())
      run_operation(input);
    free_everything();
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
    kOpcodeCount
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
    }
  }

  // Whether a new small block of `size` bytes stays within the cap (large ones always do).
  bool within_small_cap(size_t size, size_t replaced_small_bytes = 0) const {
    return is_large(size) || small_bytes_ - replaced_small_bytes + size <= kSmallLiveBytesCap;
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
    const LiveBlock& block = model_.at(index);
    if (!within_small_cap(size, is_large(block.requested) ? 0 : block.requested))
      return;
    tally.start_operation("realloc");
    errno = 0;
    void* payload = kit_realloc(block.payload, size);
    if (payload == nullptr) {
      require_real_out_of_memory(size, kDefaultAlignment, true);
      model_.verify(index); // the old block is untouched
    } else {
      count_out(block.requested);
      model_.resize(index, payload, size, kit_malloc_usable_size(payload), kDefaultAlignment);
      count_in(size);
      require_no_excess(payload, size);
    }
    check_step();
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
      kit_stats before = heap_stats();
      kit_free(nullptr);
      tally.require(same_heap(before, heap_stats()), "free(NULL) changed the heap");
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
    kit_stats before = heap_stats();
    errno = 0;
    bool refused = false;
    switch (kind % 6) {
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
    default:
      if (model_.empty()) {
        refused = kit_realloc(nullptr, huge) == nullptr && errno == ENOMEM;
      } else {
        size_t index = model_.pick(value);
        refused = kit_realloc(model_.at(index).payload, huge) == nullptr && errno == ENOMEM;
        model_.verify(index);
      }
      break;
    }
    if (!refused)
      tally.fail("request kind %d of %zu bytes was not refused with ENOMEM", kind % 6, huge);
    tally.require(same_heap(before, heap_stats()), "an impossible request changed the heap");
    check_step();
  }

  void adopt(void* payload, size_t size, size_t alignment) {
    model_.add(payload, size, kit_malloc_usable_size(payload), alignment);
    count_in(size);
    require_no_excess(payload, size);
  }

  // Removes a block from the model (verifying its contents) before the caller frees it.
  LiveBlock forget(size_t index) {
    LiveBlock block = model_.remove(index);
    count_out(block.requested);
    return block;
  }

  void count_in(size_t size) {
    if (is_large(size)) {
      large_blocks_ += 1;
    } else {
      small_blocks_ += 1;
      small_bytes_ += size;
    }
  }
  void count_out(size_t size) {
    if (is_large(size)) {
      large_blocks_ -= 1;
    } else {
      small_blocks_ -= 1;
      small_bytes_ -= size;
    }
  }

  // A small block holds its request rounded to 16 bytes with its header, plus at most a tail
  // too small to be a free block; a large one, its request rounded up to whole pages.
  void require_no_excess(const void* payload, size_t size) const {
    size_t usable = kit_malloc_usable_size(payload);
    size_t most = is_large(size) ? size + kPageBytes - 1 : round_up(size + 4, 16) + 8;
    if (usable > most)
      tally.fail("a block of %zu bytes has %zu usable (at most %zu expected)", size, usable, most);
  }

  // Out of memory is only right when growing memory by what the request could need would
  // pass the maximum (only kitalloc grows memory here, so it owns all of it).
  void require_real_out_of_memory(size_t size, size_t alignment, bool sets_errno) {
    out_of_memory_results += 1;
    if (sets_errno && errno != ENOMEM)
      tally.fail("a failed request of %zu bytes left errno %d, not ENOMEM", size, errno);
    kit_stats stats = heap_stats();
    if (!is_large(size) && stats.small.regions > kit::kMaxRegionTag)
      return; // every region tag is taken: small requests may fail with memory to spare
    size_t owned_pages = kInitialPages + stats.grown_pages;
    size_t needed_pages = worst_case_pages(size, alignment);
    if ((owned_pages + needed_pages) * kPageBytes <= kHeapLimitBytes)
      tally.fail("%zu bytes aligned to %zu ran out of memory with %zu pages of %zu owned, needing "
                 "at most %zu more",
                 size, alignment, owned_pages, kHeapLimitBytes / kPageBytes, needed_pages);
  }

  void free_everything() {
    while (!model_.empty()) {
      tally.start_operation("free at the end of the input");
      kit_free(forget(model_.size() - 1).payload);
    }
    check_step();
    kit_stats stats = heap_stats();
    tally.require(stats.small.allocated_words == 0,
                  "with every block freed, the small regions are not empty again");
    // Once no large block is left, every live run of pages holds a small region.
    tally.require(stats.pages.live_blocks <= stats.small.regions,
                  "with every block freed, page runs are still in use");
    // Usable again, whatever the input did (out of memory included).
    void* probe = kit_malloc(100);
    tally.require(probe != nullptr, "with every block freed, malloc(100) failed");
    kit_free(probe);
  }

  // kit_check() and the heap's block counts against the model.
  void check_step() {
    if (const char* breach = kit_check())
      tally.fail("kit_check(): %s", breach);
    kit_stats stats = heap_stats();
    if (stats.small.live_blocks != small_blocks_ || stats.large_blocks != large_blocks_)
      tally.fail("the heap counts %u small and %u large blocks, the model %zu and %zu",
                 stats.small.live_blocks, stats.large_blocks, small_blocks_, large_blocks_);
  }

  ShadowModel model_{tally};
  size_t small_blocks_ = 0;
  size_t large_blocks_ = 0;
  size_t small_bytes_ = 0; // requested bytes of the live small blocks
};

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kit_native_heap_limit(kHeapLimitBytes);
  std::atexit([] {
    std::fprintf(stderr, "fuzz-c-abi: %llu requests ran out of memory\n",
                 static_cast<unsigned long long>(out_of_memory_results));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tally.start_input();
  InputDecoder input(data, size);
  AbiHarness harness;
  harness.run(input);
  return 0;
}
