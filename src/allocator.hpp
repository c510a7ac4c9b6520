// The global heap: small blocks in chains of word regions, large blocks in page runs.
//
//   memory:  │ data, stack │ partial │ page │ page │ page │ page │ ...            │ (grown) │
//                          ^ heap begin    the page store: runs of 64 KiB pages
//   partial: a word region from the heap's begin to the first page boundary (if it fits one)
//   runs:    │ · │ word region (state, blocks...)          │   a small region, ≤ 2 MiB
//            │ · · │ handle region (state, ...)            │   (state at 8; handle: at 16)
//            │ payload ...                                 │   a large block: every byte its own
//            │ page map entries                            │   the page map (below)
//
// The page store is a SimpleAllocator over a page map (simple_allocator.hpp): 16 bytes per
// page, entry n for the page n pages above the origin (the page below the first whole page of
// the heap), from the first whole page to the end of memory. Its bump area is the free memory
// at the top: runs freed there go back to it and are reused before memory grows. Memory that
// someone else grew between two growths of ours is a foreign run in it, used for good: the
// spans, the pieces of memory we own, are what lies between foreign runs. A used run's first
// entry says what the run holds (RunEntry):
//
//   entry:   │ header (the store's) │ kind │ next │ prev │
//   kind:    kRunRegion, kRunForeign, or a large block's space: kRunMainLarge,
//            kRunHandleLarge, or the private heap whose record is `kind` bytes above the origin
//            (a record is a block past a region's state: never below 584 bytes)
//   next, prev: a large run's neighbours in its space's list of large runs (pages; 0: none);
//            a foreign run's next: the next foreign run above it (0: none)
//
// The map starts in the allocator's state (kFirstMapPages entries: 2 MiB of memory); when
// memory outgrows it, it moves into a large run of the handle space, doubling, which memory
// grows for along with what the allocation needs: O(log memory) moves, 1/4096 of memory.
// A pointer is a large block iff it is page-aligned and its page's entry is a used run of a
// large kind that its neighbours in the list (or its space's head) point back to: stale
// entries (inside runs, or of runs freed or moved) never pass, since a run's kind is cleared
// when it is freed and moved runs' neighbours point to their new place.
//
// Spaces. Blocks belong to a space: the main heap (malloc's), a private heap (kit_heap_create),
// or the handle space (kit_handle_alloc). Each space has its own chain of word regions
// (newest first) and its own list of large runs; private heaps form a tree under the main one.
// - Every region has a tag (its slot in regions_), carried by every used block's header, and
//   the slot names the region's space: free(ptr) finds region and space in O(1), whichever
//   space the caller thinks it is in. Tags of released regions are reused, unused ones first.
//   The table of slots starts in the allocator's state with room for kFirstRegionSlots tags;
//   the first time a heap needs more, it moves to a large run of the handle space (free()
//   refuses it) with room for every tag: a program that never has many regions does not carry
//   20 KB of empty slots below its __heap_base.
// - The page map's run and the region table's are kitalloc's own: large runs of the handle
//   space inside (the space's counts, check()), reported apart from large blocks outside
//   (kit_stats' own_runs, KIT_WALK_OWN).
// - Handle regions start their state 16 bytes into the run, so their first block starts 8
//   bytes past a 16-byte boundary; their blocks are all multiples of 16 bytes, and a handle
//   block is │ header │ handle index │ payload │: payloads stay 16-byte aligned wherever
//   compaction slides them. free() refuses handle blocks.
//
// Parked blocks. A freed block of the main heap of 16..256 bytes (header included, a multiple
// of 16, its payload 16-byte aligned) is not given back to its region at once: it is parked
// (simple_allocator.hpp) on a LIFO list of its size, and the next malloc of that size
// (alignment up to 16) takes it back in O(1), with no splitting or merging. The link is the
// payload's first 8 bytes. free() and realloc() refuse a parked block as a double free. Parked
// blocks count as free in every figure (stats, kit_walk). They never cost memory: all of them
// go back to their regions (unpark_all: they merge there, and the regions give back the pages
// that frees, as the frees would have) before a small allocation in the main heap would take
// a region's bump area, before a new run (a large block, another heap's region) would grow
// memory, and when realloc would grow a block into a parked neighbour (that block's region
// keeps its freed pages until the block has grown into them). So the lists need no limit:
// a program that frees many blocks of a size, then allocates that size again (or exits), pays no
// merge at all; any other pays each merge once, later.
//
// Figures. Bytes in use and their peaks (kit_stats) are kept where they change, for the least
// work on malloc and free in the main heap: there, its bytes_in_use and the highest it reached
// in the current span (span_peak_bytes_), nothing else. A span ends when the bytes in use
// of any other space change (private heaps, handles) or a trip starts; the span's peak then
// goes into the main heap's own peak and, with the other spaces' bytes (constant during the
// span), into the global and trip peaks. So each of those is the larger of its value at the
// span's start and what the current span makes of it (span_peak_total()).
//
// Policy.
// - Small blocks (payload below 32 KiB): the space's chain of regions. When no region has
//   room, a region's run grows in place over free pages after it (up to 2 MiB), else the
//   newest region's run if it is at the top of the page store (memory grows for it), else a
//   new region starts in a new run. When a free (a parked block's: once it is given back) or
//   an in-place shrink leaves kTrimPages or more pages unused above a main heap region's bump
//   area, they go back to the page store: a program whose small blocks grow into large ones
//   (vectors) reuses that memory for them, as dlmalloc's coalesced chunks would be, and the
//   region takes them again when no large block did. One page of hysteresis either way: a
//   block freed and allocated again across a page boundary does not resize the run each time.
// - Large blocks: a run of whole pages.
// - Memory grows when the page store has no room, by exactly what is missing (and the page
//   map's new run, when it moves): memory grown ahead would be memory a program never uses,
//   and what dlmalloc would not take. Before growing, a hook (set by the handle layer) may
//   compact handle regions: the allocation is first tried without growth, then after the
//   hook, then with growth.
// - Memory grown by someone else between our calls is not ours: the next growth that is not
//   adjacent to our memory makes it a foreign run, below the pages it adds (any number of
//   times: a foreign run costs one map entry's use, no state).
// - Dropping a private heap gives each of its runs back to the page store: O(regions + large
//   blocks). Merging re-tags nothing: the slots and the large runs name the parent instead.
#pragma once

#include "heap.hpp"
#include "kitalloc.h"
#include "kitalloc/simple_allocator.hpp"

namespace kit {

inline constexpr uint32_t kPageBytes = 1u << kPageShift;
inline constexpr uint32_t kFirstMapPages = 128;     // the map's entries in the allocator's state
inline constexpr uint32_t kRegionStateOffset = 8;   // a region state's offset in its run
inline constexpr uint32_t kHandleRegionOffset = 16; // the same in a handle region's run
inline constexpr uint32_t kParkedGrainShift = 4;    // parked sizes: multiples of 16 bytes
inline constexpr uint32_t kParkedBins = 16;         // 16..256 bytes
inline constexpr uint32_t kFirstRegionSlots = 64;
inline constexpr uint32_t kTrimPages = 2; // see "Policy" above

struct Space;

// A used run's first page map entry (see the diagram above).
struct RunEntry {
  Word header; // the page store's
  Word kind;
  Word next, prev;
};
static_assert(sizeof(RunEntry) == 1u << kMapEntryShift, "one entry per page");
inline constexpr uint32_t kRunNone = 0; // a run being freed, or never a used run's first entry
inline constexpr uint32_t kRunRegion = 1;
inline constexpr uint32_t kRunMainLarge = 2;
inline constexpr uint32_t kRunHandleLarge = 3;
inline constexpr uint32_t kRunForeign = 4;

// A set of blocks with regions of its own (see "Spaces" above).
struct Space {
  static void* operator new(size_t, void* where) noexcept { return where; }

  SimpleAllocator* small = nullptr; // newest region; the chain goes to older ones
  uint32_t large = 0;               // newest large run's page (0: none)
  Space* parent = nullptr;
  Space* first_child = nullptr;
  Space* next_sibling = nullptr;
  Space* prev_sibling = nullptr;
  uint32_t region_count = 0;
  uint32_t large_blocks = 0;
  uint32_t large_pages = 0;
  bool handle_blocks = false; // the handle space: regions laid out for handles; free() refuses
  uint64_t bytes_in_use = 0;
  uint64_t peak_bytes = 0; // the main heap's leaves out the current span (see "Figures")
  // A live private heap's own address mixed with kLiveKeyMix: what tells it from a dead or
  // forged one (cleared when the heap is dropped or merged). Mixed, because a program's own data
  // may hold a block's address where a record keeps this (a list node pointing at itself).
  uintptr_t live_key = 0;
};
inline constexpr uintptr_t kLiveKeyMix = uintptr_t(0x9E3779B97F4A7C15u); // any odd bit pattern
inline uintptr_t live_key_of(const Space* space) { return uintptr_t(space) ^ kLiveKeyMix; }
static_assert(sizeof(Space) == (sizeof(void*) == 8 ? 88 : 64), "the size kitalloc.h states");

// Called before memory grows for an allocation of `bytes` in `space`; may compact.
using BeforeGrowth = void (*)(void* context, const Space& space, size_t bytes);

class Allocator {
public:
  // Takes its memory from heap: writes the states of the first region and the page store.
  void init(const Heap& heap);

  // bytes of payload aligned to 2^align_bits (up to kMaxAlignBits) in `space` (the main heap
  // by default); nullptr when out of memory or the request cannot be met. *fresh (unless
  // fresh is nullptr) is set when the memory was never written since it was grown (it reads
  // as zeros).
  void* alloc(Space& space, size_t bytes, uint32_t align_bits, bool* fresh); // parked first
  void* alloc(size_t bytes, uint32_t align_bits, bool* fresh) {
    return alloc(main_, bytes, align_bits, fresh);
  }
  // Frees a block from alloc, into its own space; returns false, changing nothing, for a
  // pointer this heap did not hand out (where that can be told: see README) or a handle block.
  bool free(void* ptr); // parks it if it can
  // Resizes in place to at least bytes, keeping the block's alignment class (small stays
  // small, large stays large); false when the room is not there, and for what is not a live
  // block as far as the headers tell.
  bool resize(void* ptr, size_t bytes, uint32_t align_bits);
  // Bytes the block can hold.
  size_t usable_size(const void* ptr) const;
  // nullptr when ptr is a live block's payload as far as the headers tell, else what is
  // wrong with it. O(foreign runs) (the page store, above); O(runs) for a bad pointer.
  const char* block_problem(const void* ptr) const;
  // Whether ptr is a live large block's payload (a run of pages of its own).
  bool is_large(const void* ptr) const { return large_run_at(ptr) != 0; }
  // The space of what, as far as an O(1) lookup tells, is a live malloc block: a live large
  // run, or a used block (not free, not parked) of the region its header names; nullptr
  // otherwise (a realloc after free, a pointer into a block), and for a handle's block (the
  // handle space's, kitalloc's own tables among them: realloc must never resize them, and a
  // small one's word before the payload is its index, not a header). The checked build
  // verifies more first.
  Space* malloc_space_of(const void* ptr) const;

  // Private heaps: a new space under parent with a region of room for initial_bytes of small
  // blocks (0: none yet); nullptr when out of memory. Its record is a block of the main heap.
  Space* create_space(Space& parent, size_t initial_bytes);
  // Whether space is the main heap or a live private heap. O(1).
  bool is_live(const Space* space) const { return space == &main_ || is_heap_record(space); }
  void drop(Space& space);
  void merge(Space& space);
  Space& main_space() { return main_; }

  // The handle space: a block of word_count words (a multiple of 4, minus the header) in a
  // handle region, or a large run for big ones; nullptr when out of memory.
  void* alloc_handle_block(size_t word_count);
  void* alloc_handle_large(size_t bytes);
  void free_handle_block(void* ptr);
  const Space& handle_space() const { return handles_; }
  // Compacts the handle space: slides blocks down in each region, moves blocks of newer
  // regions into older ones, releases emptied regions and the pages above each region's last
  // block, then slides handle regions (and the large block *table, which only the caller
  // points to) down over free page runs, so that the free pages come together at the top.
  // relocate is asked before each move (see SimpleAllocator::compact); asked with to ==
  // nullptr, it says whether the block may move and changes nothing.
  void compact_handles(SimpleAllocator::Relocator relocate, void* context, void** table,
                       kit_compact_result* result);
  // The largest malloc (in the main heap) that surely needs no growth of memory.
  uint64_t largest_free_bytes() const;
  void set_before_growth(BeforeGrowth hook, void* context) {
    before_growth_ = hook;
    before_growth_context_ = context;
  }
  uintptr_t heap_begin() const { return heap_.begin; }
  // The page store's figures, in pages: foreign runs left out, `regions` the spans.
  RegionStats page_store_stats() const;

  // Every figure of kit_stats but the call counts (the C ABI keeps those).
  kit_stats stats() const;
  // The same for one space (its regions, large runs, bytes; memory its runs take).
  kit_stats space_stats(const Space& space) const;
  void reset_trip_peak();
  // The core's check over every region and span, and the spaces' bookkeeping; nullptr when
  // all hold.
  const char* check() const;
  // kit_walk's entries, in address order (see kitalloc.h).
  void walk(kit_walk_visitor visit, void* context) const;

private:
  struct RunMove;
  struct RegionSlot {
    SimpleAllocator* region;
    Space* owner;
  };

  // alloc without the parked lists.
  void* alloc_block(Space& space, size_t bytes, uint32_t align_bits, bool* fresh);
  // The slot of the region whose used block ptr is (its header's tag names the region, which
  // confirms it); an empty slot for anything else. ptr must not be a large block.
  RegionSlot used_block_slot(const void* ptr) const;
  // free() for a block that is not large and was not parked.
  bool free_small(void* ptr);
  bool free_large_block(uint32_t page);
  void* take_parked(size_t bytes);
  void unlink_parked(uint32_t bin, void* payload);
  bool park(void* ptr);
  bool unpark_after(const void* ptr, const SimpleAllocator& region);
  void unpark_all(const SimpleAllocator* keep_room = nullptr);
  void count_parked_as_free(RegionStats& figures) const;
  const char* check_parked() const;
  const char* check_foreign(uint32_t found) const;
  void* alloc_small(Space& space, size_t word_count, uint32_t align_bits);
  void* alloc_large(Space& space, size_t bytes, bool* fresh); // page-aligned
  template <typename Place>
  void* place_compacting_first(const Space& space, size_t bytes, Place place);
  bool grow_small(Space& space, uint32_t bytes);
  bool grow_region(SimpleAllocator* region, uint32_t bytes, bool may_grow_memory);
  bool add_region_run(Space& space, uint32_t bytes);
  Space* reserve_space(size_t initial_bytes);
  static uint32_t region_run_pages(const Space& space, size_t bytes);
  static uint32_t state_offset_of(const Space& space);
  void* take_pages(uint32_t pages);
  bool resize_run(uint32_t page, uint32_t pages, bool may_grow_memory = true);
  void mark_written(uint32_t page, uint32_t pages);
  bool grow_memory(uint32_t pages_missing, bool move_map_up = false);
  uintptr_t try_grow(uint32_t pages, uintptr_t* new_end) const;
  bool take_foreign(uint32_t first_page, uint32_t runs_end);
  uint32_t foreign_run_holding(uint32_t page) const;
  uint32_t map_pages_for(uint32_t end_page) const;
  void place_map(uint32_t pages);
  void settle_map();
  void move_map(uint32_t page, uint32_t pages);
  void free_run(uint32_t page);
  uint32_t pages_free_at_top() const;
  SimpleAllocator* add_region(Space& space, void* begin, void* end);
  void release_region(Space& space, SimpleAllocator* region);
  bool grow_region_table();
  uint64_t trim_region(SimpleAllocator* region);
  void trim_slack(RegionSlot slot);
  void link_large(Space& space, uint32_t page, uint32_t pages);
  void free_large(uint32_t page);
  static bool move_run(void* context, void* from, void* to);
  void relink_large(uint32_t page, uint32_t moved_to);
  void relink_region(Space& space, SimpleAllocator* region, SimpleAllocator* moved_to);
  // The page map (see the diagram above).
  uint32_t page_number(uintptr_t address) const {
    return uint32_t((address - origin_) >> kPageShift);
  }
  uintptr_t page_address(uint32_t page) const { return origin_ + (uintptr_t(page) << kPageShift); }
  RunEntry& entry(uint32_t page) const { return map_[page]; }
  // The page store's name for the run starting at page (its payload, in the map), and back.
  void* run_handle(uint32_t page) const { return &map_[page].kind; }
  uint32_t page_of_entry(uintptr_t entry_address) const {
    return uint32_t((entry_address - uintptr_t(map_)) >> kMapEntryShift);
  }
  uint32_t run_pages(uint32_t page) const { return units_of(map_[page].header); }
  size_t run_bytes(uint32_t page) const { return size_t(run_pages(page)) << kPageShift; }
  static size_t small_block_bytes(const void* ptr) {
    return size_t(SimpleAllocator::usable_words(ptr)) * kWordBytes;
  }
  uint32_t page_of_region(const SimpleAllocator* region) const {
    return page_number(uintptr_t(region));
  }
  uint32_t large_run_at(const void* ptr) const;
  // kitalloc's own runs (see "Spaces" above): the page map's and the region table's, once
  // they left the allocator's state; 0 for one still there.
  uint32_t region_table_page() const {
    return regions_ == first_slots_ ? 0 : page_number(uintptr_t(regions_));
  }
  bool is_own_run(uint32_t page) const {
    return page != 0 && (page == map_page_ || page == region_table_page());
  }
  uint32_t space_code(const Space& space) const;
  Space* space_of_code(uint32_t kind) const;
  void count_added(Space& space, uint64_t bytes);
  void count_removed(Space& space, uint64_t bytes);
  [[gnu::noinline]] void count_other(Space& space, uint64_t added, uint64_t removed); // cold
  void end_span();
  uint64_t span_peak_total() const { return span_peak_bytes_ + other_bytes_; }
  bool in_heap(const void* ptr) const;
  bool is_heap_record(const Space* space) const;
  bool in_free_run(uint32_t page) const;
  template <typename Visit> void for_each_space(Visit visit) const;
  const char* check_space(const Space& space) const;
  uint32_t region_of_run(uintptr_t start) const;
  void walk_region(uint32_t index, kit_walk_visitor visit, void* context) const;
  // Spans: the pieces of the page store between foreign runs (see the page store, above).
  struct PageRange {
    uint32_t first, end;
  };
  uint32_t next_foreign(uint32_t below) const {
    return below == 0 ? first_foreign_ : entry(below).next;
  }
  PageRange span_above(uint32_t below) const;
  bool walk_span(uint32_t below, uint32_t index, kit_walk_visitor visit, void* context) const;

  Heap heap_ = {};
  uintptr_t memory_end_ = 0;         // the end of the memory we own
  uintptr_t clean_from_ = 0;         // memory at and above it was never written since it was grown
  SimpleAllocator* pages_ = nullptr; // the page store, in pages_state_
  uintptr_t origin_ = 0;             // the address of page 0
  RunEntry* map_ = nullptr;
  uint32_t map_entries_ = 0;
  uint32_t map_page_ = 0;              // the map's run (0: the map is first_map_)
  uint32_t map_pending_ = 0;           // the map's pages while it waits at the top (see settle_map)
  SimpleAllocator* partial_ = nullptr; // the region below the first page, which cannot grow
  Space main_ = {};
  Space handles_ = {};
  uint32_t region_count_ = 0;   // live regions, all spaces
  uint32_t tag_limit_ = 0;      // tags below it have been used
  uint32_t free_tag_first_ = 0; // free_tags_ is a ring: released tags, oldest first
  uint32_t free_tag_count_ = 0;
  uint32_t first_foreign_ = 0; // the lowest foreign run (0: none), linked upwards
  uint32_t large_blocks_ = 0;
  uint32_t large_pages_ = 0;
  // Bytes in use (see "Figures" above): the main heap's in main_.bytes_in_use, the other
  // spaces' together here; the peaks of their sum before the current span.
  uint64_t other_bytes_ = 0;
  uint64_t span_peak_bytes_ = 0; // the main heap's highest bytes_in_use in the current span
  uint64_t peak_bytes_ = 0;
  uint64_t trip_peak_bytes_ = 0;
  uint32_t grow_calls_ = 0;
  uint32_t grown_pages_ = 0;
  bool growth_paused_ = false; // not "allowed = true": a state of all zeros stays out of .data
  BeforeGrowth before_growth_ = nullptr;
  void* before_growth_context_ = nullptr;
  void* parked_[kParkedBins] = {}; // the newest parked block of each size
  uint32_t parked_blocks_ = 0;
  uint32_t parked_words_ = 0;     // theirs, headers included
  RegionSlot* regions_ = nullptr; // the slots of tags below tag_limit_ (see "Spaces" above)
  uint16_t* free_tags_ = nullptr; // a ring of slot_capacity_ entries
  uint32_t slot_capacity_ = 0;
  RegionSlot first_slots_[kFirstRegionSlots] = {};
  uint16_t first_free_tags_[kFirstRegionSlots] = {};
  alignas(8) unsigned char pages_state_[sizeof(SimpleAllocator)] = {};
  RunEntry first_map_[kFirstMapPages] = {};
};

// ── The parked lists: what most malloc and free calls do, so it is here, to inline ───────────
// Forced into the C ABI's functions in builds for speed (no call, no stack frame on the parked
// path); left to the compiler in builds for size (-Os, -Oz), where one copy is smaller.
#ifdef __OPTIMIZE_SIZE__
#define KIT_HOT_PATH inline
#else
#define KIT_HOT_PATH [[gnu::always_inline]] inline
#endif

inline constexpr size_t kParkedMaxBytes = (kParkedBins << kParkedGrainShift) - kWordBytes;

// A parked block's link to the next parked block of its size: its payload's first bytes.
inline void* next_parked(const void* payload) {
  void* next;
  __builtin_memcpy(&next, payload, sizeof next);
  return next;
}
inline void link_parked(void* payload, void* next) {
  __builtin_memcpy(payload, &next, sizeof next);
}
// The list of a block of `units` words (header included), if its size is a multiple of 16,
// and back: the units of a block on list `bin`.
inline uint32_t parked_bin(uint32_t units) {
  return (units >> (kParkedGrainShift - kWordShift)) - 1;
}
inline uint32_t parked_units(uint32_t bin) { return (bin + 1) << (kParkedGrainShift - kWordShift); }
// The list whose blocks are the smallest to hold `bytes` (header and rounding to 16 bytes
// included), and the bytes a block of list `bin` holds.
inline uint32_t parked_bin_for(size_t bytes) {
  constexpr size_t kGrainMask = (size_t(1) << kParkedGrainShift) - 1;
  return parked_bin(uint32_t((bytes + kWordBytes + kGrainMask) >> kWordShift));
}
inline uint32_t parked_payload_bytes(uint32_t bin) { return (parked_units(bin) - 1) * kWordBytes; }

// Payload words for `bytes`, the block rounded to the alignment up to 16 bytes so that
// neighbouring blocks keep the usual alignment without gaps.
inline size_t word_count_for(size_t bytes, uint32_t align_bits) {
  size_t grain = size_t(1) << (align_bits < 2 ? 2 : align_bits > 4 ? 4 : align_bits);
  return ((bytes + kWordBytes + grain - 1) & ~(grain - 1)) / kWordBytes - 1;
}

// The usual requests are served here, inlined into the C ABI: in the main heap by a parked
// block of the size; else, in any space, from the newest region's bump area when no free block
// there could serve: alloc_small's first try then (but the main heap's parked blocks go back
// to their regions before its bump area is used, so only while none is parked). The rest by
// alloc_block.
KIT_HOT_PATH void* Allocator::alloc(Space& space, size_t bytes, uint32_t align_bits, bool* fresh) {
  bool main = &space == &main_;
  void* payload = main && bytes <= kParkedMaxBytes && align_bits <= kParkedGrainShift
                      ? take_parked(bytes)
                      : nullptr;
  if (payload == nullptr && bytes <= kMaxAllocBytes && align_bits <= kMaxAlignBits &&
      space.small != nullptr && (!main || parked_blocks_ == 0)) {
    payload = space.small->alloc_from_bump(word_count_for(bytes, align_bits), align_bits);
    if (payload != nullptr)
      count_added(space, small_block_bytes(payload));
  }
  if (payload == nullptr)
    return alloc_block(space, bytes, align_bits, fresh);
  if (fresh != nullptr)
    *fresh = false;
  return payload;
}

// Only a page-aligned pointer may be a large block (whose word before is not its own). A small
// block is parked if it can be, else given back to its region.
KIT_HOT_PATH bool Allocator::free(void* ptr) {
  if ((uintptr_t(ptr) & (kPageBytes - 1)) == 0)
    if (uint32_t page = large_run_at(ptr))
      return free_large_block(page);
  return park(ptr) || free_small(ptr);
}

inline Allocator::RegionSlot Allocator::used_block_slot(const void* ptr) const {
  uint32_t tag = SimpleAllocator::tag_of(ptr);
  RegionSlot slot = tag < tag_limit_ ? regions_[tag] : RegionSlot{nullptr, nullptr};
  if (slot.region == nullptr || !slot.region->holds_own_used_word_block(ptr))
    return {nullptr, nullptr};
  return slot;
}

// The newest parked block that holds `bytes` (the smallest list that does), now used again;
// nullptr when there is none.
KIT_HOT_PATH void* Allocator::take_parked(size_t bytes) {
  uint32_t bin = parked_bin_for(bytes);
  void* payload = parked_[bin];
  if (payload != nullptr) {
    unlink_parked(bin, payload);
    count_added(main_, parked_payload_bytes(bin));
  }
  return payload;
}

// Takes the head of a parked list off it and makes it its region's used block again.
inline void Allocator::unlink_parked(uint32_t bin, void* payload) {
  parked_[bin] = next_parked(payload);
  parked_blocks_ -= 1;
  parked_words_ -= parked_units(bin);
  SimpleAllocator::unpark(payload);
}

// Parks a block of the main heap being freed, if it is of a parked size; false, changing
// nothing, otherwise (and for anything that is not a used block of a region
// of the main heap, as far as its header tells). Its cheap tests first: this is most frees.
KIT_HOT_PATH bool Allocator::park(void* ptr) {
  constexpr uint32_t kGrainMask = (1u << kParkedGrainShift) - 1;
  uint32_t units = units_of(static_cast<const Word*>(ptr)[-1]);
  uint32_t bin = parked_bin(units);
  if ((units << kWordShift & kGrainMask) != 0 || bin >= kParkedBins ||
      (uintptr_t(ptr) & kGrainMask) != 0 || used_block_slot(ptr).owner != &main_)
    return false;
  SimpleAllocator::park(ptr);
  link_parked(ptr, parked_[bin]);
  parked_[bin] = ptr;
  parked_blocks_ += 1;
  parked_words_ += units;
  count_removed(main_, parked_payload_bytes(bin));
  return true;
}

inline void Allocator::count_added(Space& space, uint64_t bytes) {
  if (&space != &main_)
    return count_other(space, bytes, 0);
  main_.bytes_in_use += bytes;
  if (main_.bytes_in_use > span_peak_bytes_)
    span_peak_bytes_ = main_.bytes_in_use;
}

inline void Allocator::count_removed(Space& space, uint64_t bytes) {
  if (&space != &main_)
    return count_other(space, 0, bytes);
  main_.bytes_in_use -= bytes;
}

} // namespace kit
