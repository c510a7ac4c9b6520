// The global heap: small blocks in a chain of word regions, large blocks in page runs.
//
//   memory:  │ data, stack │ partial │ page │ page │ page │ page │ ...            │ (grown) │
//                          ^ heap begin    the page store: runs of 64 KiB pages
//   partial: a word region from the heap's begin to the first page boundary (if it fits one)
//   runs:    │ run header │ word region (state, blocks...)  │   a small region, ≤ 2 MiB
//            │ run header │ ... │ marker │ payload ...     │   a large block
//
// The page store is a SimpleAllocator in units of pages (layout and invariants: see
// simple_allocator.hpp), one per contiguous span of memory we own. Its bump area is the free
// memory at the top: runs freed there go back to it and are reused before memory grows.
//
// - Small blocks (payload below 32 KiB): the chain of word regions, newest first. Each region
//   has a tag (its index in regions_), carried by every used block's header, so free(ptr) finds
//   its region in O(1). When no region has room, the newest region's run grows in place if it
//   is at the top of the page store (up to 2 MiB), else a new region starts in a new run.
// - Large blocks: a run of whole pages. The payload is at max(16, alignment) bytes from the
//   run's start; the word before it (the marker) carries kLargeTag, and the run's first word
//   is the page store's header. free(ptr) of a large block frees the run at ptr's page.
// - Memory grows when the page store has no room: by what is missing, but at least 1/8 of the
//   memory we own (capped at 16 MiB), so that a heap of N pages grows in O(log N) calls. At
//   most 1/8 of memory (and at most 16 MiB) is ever grown ahead of need. If that much cannot
//   be had, exactly what is missing is tried before failing.
// - Memory grown by someone else between our calls is not ours: the next growth that is not
//   adjacent to our last span starts a new span (up to kMaxSpans).
#pragma once

#include "heap.hpp"
#include "kitalloc.h"
#include "kitalloc/simple_allocator.hpp"

namespace kit {

inline constexpr uint32_t kPageBytes = 1u << kPageShift;
inline constexpr uint32_t kMaxSpans = 8;
inline constexpr uint32_t kMaxGrowStepPages = 256; // 16 MiB
inline constexpr uint32_t kLargeHeaderBytes = 16;

class Allocator {
public:
  // Takes its memory from heap: writes the states of the first region and span.
  void init(const Heap& heap);

  // bytes of payload aligned to 2^align_bits (up to kMaxAlignBits); nullptr when out of memory
  // or the request cannot be met. *fresh is set when the memory was never written since it was
  // grown (it reads as zeros).
  void* alloc(size_t bytes, uint32_t align_bits, bool* fresh);
  // Frees a block from alloc; returns false, changing nothing, for a pointer this heap did not
  // hand out (where that can be told: see README).
  bool free(void* ptr);
  // Resizes in place to at least bytes, keeping the block's alignment class (small stays
  // small, large stays large); false when the room is not there.
  bool resize(void* ptr, size_t bytes, uint32_t align_bits);
  // Bytes the block can hold.
  size_t usable_size(const void* ptr) const;
  // nullptr when ptr is a live block's payload as far as the headers tell, else what is
  // wrong with it. O(spans).
  const char* block_problem(const void* ptr) const;

  // Every figure of kit_stats but the call counts (the C ABI keeps those).
  kit_stats stats() const;
  void reset_trip_peak() { trip_peak_bytes_ = bytes_in_use_; }
  // The core's check over every region and span; nullptr when all hold.
  const char* check() const;
  // kit_walk's entries, in address order (see kitalloc.h).
  void walk(kit_walk_visitor visit, void* context) const;

private:
  void* alloc_small(size_t word_count, uint32_t align_bits);
  void* alloc_large(size_t bytes, uint32_t align_bits, bool* fresh);
  bool grow_small(uint32_t pages);
  void* take_pages(uint32_t pages);
  bool resize_run(void* run, uint32_t pages);
  void mark_written(const void* run, uint32_t pages);
  bool grow_memory(uint32_t pages_missing);
  uintptr_t try_grow(uint32_t pages, uintptr_t* new_end) const;
  uint32_t pages_free_at_top() const;
  SimpleAllocator* add_region(void* begin, void* end);
  static void* run_of(const void* large_payload);
  void count_in_use(uint64_t added_bytes, uint64_t removed_bytes);
  uint32_t region_index_in(uintptr_t start, uint64_t bytes) const;
  void walk_region(uint32_t index, kit_walk_visitor visit, void* context) const;
  void walk_span(const SimpleAllocator* span, uint32_t index, kit_walk_visitor visit,
                 void* context) const;

  Heap heap_ = {};
  uintptr_t memory_end_ = 0;         // the end of the memory we own
  uintptr_t clean_from_ = 0;         // memory at and above it was never written since it was grown
  SimpleAllocator* small_ = nullptr; // newest word region; the chain goes to older ones
  SimpleAllocator* pages_ = nullptr; // newest span; the chain goes to older ones
  SimpleAllocator* partial_ = nullptr; // the region below the first page, which cannot grow
  uint32_t region_count_ = 0;
  uint32_t span_count_ = 0;
  uint32_t large_blocks_ = 0;
  uint32_t large_pages_ = 0;
  uint64_t bytes_in_use_ = 0;
  uint64_t peak_bytes_ = 0;
  uint64_t trip_peak_bytes_ = 0;
  uint32_t grow_calls_ = 0;
  uint32_t grown_pages_ = 0;
  SimpleAllocator* regions_[kMaxRegionTag + 1] = {};
  alignas(8) unsigned char span_states_[kMaxSpans][sizeof(SimpleAllocator)] = {};
};

} // namespace kit
