// The global heap: the layout and the policy are stated in allocator.hpp.
#include "allocator.hpp"

namespace kit {
namespace {

constexpr uintptr_t kPageMask = kPageBytes - 1;
// A private heap's reservation: regions of up to 31 pages of room each (runs of 32 pages).
constexpr size_t kRegionRoom = kMaxRegionBytes - kPageBytes;

uintptr_t page_ceil(uintptr_t address) { return (address + kPageMask) & ~kPageMask; }

// Pages for bytes, or more than kMaxBlockUnits when bytes is out of reach.
size_t pages_for(size_t bytes) {
  return bytes > SIZE_MAX - kPageMask ? SIZE_MAX : (bytes + kPageMask) >> kPageShift;
}

// Bytes of bump area that surely hold such a block, wherever the bump pointer is.
size_t worst_case_bytes(size_t word_count, uint32_t align_bits) {
  size_t align_bytes = size_t(1) << align_bits;
  size_t gap = align_bits > 2
                   ? align_bytes + (align_bytes > kMinBlockBytes ? align_bytes : kMinBlockBytes)
                   : 0;
  return (word_count + 1) * kWordBytes + gap;
}

uint64_t larger(uint64_t first, uint64_t second) { return first > second ? first : second; }

// A block's payload words, copied (the blocks do not overlap).
void copy_payload(void* to, const void* from) {
  copy_words_down(static_cast<Word*>(to), static_cast<const Word*>(from),
                  SimpleAllocator::usable_words(from));
}

} // namespace

void Allocator::init(const Heap& heap) {
  heap_ = heap;
  memory_end_ = heap.end;
  clean_from_ = heap.begin;
  handles_.handle_blocks = true;
  regions_ = first_slots_;
  free_tags_ = first_free_tags_;
  slot_capacity_ = kFirstRegionSlots;
  uintptr_t first_page = page_ceil(heap.begin);
  if (first_page > heap.end)
    first_page = heap.end & ~kPageMask;
  if (first_page > heap.begin)
    partial_ =
        add_region(main_, reinterpret_cast<void*>(heap.begin), reinterpret_cast<void*>(first_page));
  uintptr_t end_page = heap.end & ~kPageMask;
  if (end_page < first_page)
    end_page = first_page;
  origin_ = first_page - kPageBytes;
  map_ = first_map_;
  map_entries_ = kFirstMapPages;
  // Memory the first map does not cover gets a map of its own at once.
  uint32_t end_number = page_number(end_page);
  uint32_t map_pages = map_pages_for(end_number);
  pages_ = SimpleAllocator::create_page_store(pages_state_, map_, 1, end_number - map_pages);
  memory_end_ = end_page;
  if (map_pages != 0)
    place_map(map_pages);
  settle_map();
  memory_end_ = heap.end;
}

// Tags never used go first, then released ones, the longest released first: a pointer into a
// dropped heap keeps naming an empty slot (and is refused) for as long as possible.
SimpleAllocator* Allocator::add_region(Space& space, void* begin, void* end) {
  bool fresh_tag =
      tag_limit_ <= kMaxRegionTag && (tag_limit_ < slot_capacity_ || grow_region_table());
  if (!fresh_tag && free_tag_count_ == 0)
    return nullptr;
  uint32_t tag = fresh_tag ? tag_limit_ : free_tags_[free_tag_first_];
  // Handle regions place their blocks themselves (see "Spaces"); the others serve malloc's
  // alignment first.
  SimpleAllocator* region = SimpleAllocator::create(
      begin, end, tag, space.handle_blocks ? kWordShift : kParkedGrainShift);
  if (region == nullptr)
    return nullptr;
  if (fresh_tag) {
    tag_limit_ += 1;
  } else {
    free_tag_first_ = (free_tag_first_ + 1) % slot_capacity_;
    free_tag_count_ -= 1;
  }
  regions_[tag] = {region, &space};
  region_count_ += 1;
  space.region_count += 1;
  region->chain(space.small);
  space.small = region;
  return region;
}

// Unchains the region from its space, frees its tag and gives its run back to the page store.
void Allocator::release_region(Space& space, SimpleAllocator* region) {
  if (space.small == region) {
    space.small = region->next();
  } else {
    SimpleAllocator* before = space.small;
    while (before->next() != region)
      before = before->next();
    before->chain(region->next());
  }
  regions_[region->tag()] = {nullptr, nullptr};
  free_tags_[(free_tag_first_ + free_tag_count_++) % slot_capacity_] = uint16_t(region->tag());
  region_count_ -= 1;
  space.region_count -= 1;
  free_run(page_of_region(region));
}

// Moves the region table to a large run with a slot for every tag (see "Spaces" in
// allocator.hpp); false, changing nothing, when out of memory.
bool Allocator::grow_region_table() {
  constexpr uint32_t kAllSlots = kMaxRegionTag + 1;
  void* run = alloc_large(handles_, kAllSlots * (sizeof(RegionSlot) + sizeof(uint16_t)), nullptr);
  if (run == nullptr)
    return false;
  auto* slots = static_cast<RegionSlot*>(run);
  auto* free_tags = reinterpret_cast<uint16_t*>(slots + kAllSlots);
  __builtin_memcpy(slots, regions_, tag_limit_ * sizeof(RegionSlot));
  for (uint32_t index = 0; index < free_tag_count_; ++index)
    free_tags[index] = free_tags_[(free_tag_first_ + index) % slot_capacity_];
  regions_ = slots;
  free_tags_ = free_tags;
  free_tag_first_ = 0;
  slot_capacity_ = kAllSlots;
  return true;
}

void* Allocator::alloc_block(Space& space, size_t bytes, uint32_t align_bits, bool* fresh) {
  if (fresh != nullptr)
    *fresh = false;
  if (align_bits > kMaxAlignBits)
    return nullptr;
  // Each branch knows its kind of block: usable_size() would look the page up.
  if (bytes > kMaxAllocBytes) {
    void* payload = alloc_large(space, bytes, fresh);
    if (payload != nullptr)
      count_added(space, run_bytes(page_number(uintptr_t(payload))));
    return payload;
  }
  void* payload = alloc_small(space, word_count_for(bytes, align_bits), align_bits);
  if (payload != nullptr)
    count_added(space, small_block_bytes(payload));
  return payload;
}

// Gives every parked block back to its region, where it merges with its free neighbours; then
// the regions give back the pages above their bump areas that the merges freed, as the frees
// would have (see "Policy"), but keep_room: the caller grows a block into its room next.
void Allocator::unpark_all(const SimpleAllocator* keep_room) {
  for (uint32_t bin = 0; bin < kParkedBins; ++bin) {
    for (void* payload = parked_[bin]; payload != nullptr;) {
      void* next = next_parked(payload);
      regions_[SimpleAllocator::unpark(payload)].region->dealloc_own(payload);
      payload = next;
    }
    parked_[bin] = nullptr;
  }
  parked_blocks_ = 0;
  parked_words_ = 0;
  for (SimpleAllocator* region = main_.small; region != nullptr; region = region->next())
    if (region != keep_room)
      trim_slack({region, &main_});
}

// Gives the block after ptr back to its region if it is parked (so that ptr can grow into
// it), with every other parked block: false if it is not parked.
bool Allocator::unpark_after(const void* ptr, const SimpleAllocator& region) {
  const void* after = static_cast<const unsigned char*>(ptr) +
                      (uintptr_t(SimpleAllocator::block_units(ptr)) << kWordShift);
  if (uintptr_t(after) - kWordBytes >= region.unused_start() || !SimpleAllocator::is_parked(after))
    return false;
  unpark_all(&region);
  return true;
}

// Parked blocks are used blocks to their regions and free ones to everybody else.
void Allocator::count_parked_as_free(RegionStats& figures) const {
  figures.fragment_words += parked_words_;
  figures.fragments += parked_blocks_;
  figures.live_blocks -= parked_blocks_;
}

// Places a block by place(), which may grow memory. With a hook set: first without growing,
// then after the hook had its chance, then growing.
template <typename Place>
void* Allocator::place_compacting_first(const Space& space, size_t bytes, Place place) {
  if (before_growth_ == nullptr || growth_paused_)
    return place();
  growth_paused_ = true;
  void* payload = place();
  growth_paused_ = false;
  if (payload != nullptr)
    return payload;
  before_growth_(before_growth_context_, space, bytes);
  return place();
}

void* Allocator::alloc_small(Space& space, size_t word_count, uint32_t align_bits) {
  // Parked blocks never make a region's bump pointer rise (nor memory grow): when no free
  // block fits, they are given back first, to merge with their free neighbours.
  if (&space == &main_ && parked_blocks_ != 0) {
    if (void* payload = space.small->alloc_free_block(word_count, align_bits))
      return payload;
    unpark_all();
  }
  if (space.small != nullptr)
    if (void* payload = space.small->alloc(word_count, align_bits))
      return payload;
  if (word_count > kMaxAllocWords)
    return nullptr;
  auto bytes = uint32_t(worst_case_bytes(word_count, align_bits));
  bool tried_regions = true;
  return place_compacting_first(space, bytes, [&]() -> void* {
    // Compaction may have made room in the regions since the last try.
    if (!tried_regions && space.small != nullptr)
      if (void* payload = space.small->alloc(word_count, align_bits))
        return payload;
    tried_regions = false;
    // grow_small leaves the newest region with room for this block: this try succeeds.
    return grow_small(space, bytes) ? space.small->alloc(word_count, align_bits) : nullptr;
  });
}

// Room for `bytes` more in a region of the space: first a region whose run can grow over the
// free pages after it (a region that gave pages back takes them again: else they would sit
// unused while memory grows for a newer one), then the newest, growing memory when its run is
// at the top of the page store; runs stay within 2 MiB. Else a new region in a new run.
bool Allocator::grow_small(Space& space, uint32_t bytes) {
  for (SimpleAllocator* region = space.small; region != nullptr; region = region->next())
    if (grow_region(region, bytes, false))
      return true;
  return grow_region(space.small, bytes, true) || add_region_run(space, bytes);
}

// Grows region's run in place by the pages `bytes` more need, taking free pages after it (and
// with may_grow_memory, growing memory when the run is at the top); false, changing nothing,
// when it cannot (the partial region never can).
bool Allocator::grow_region(SimpleAllocator* region, uint32_t bytes, bool may_grow_memory) {
  if (region == nullptr || region == partial_)
    return false;
  uintptr_t room = region->end() - region->unused_start();
  auto more_pages = uint32_t(pages_for(bytes - (room < bytes ? room : bytes)));
  uint32_t page = page_of_region(region);
  uintptr_t grown_end = region->end() + (uintptr_t(more_pages) << kPageShift);
  if (grown_end - uintptr_t(region) > kMaxRegionBytes)
    return false;
  return resize_run(page, run_pages(page) + more_pages, may_grow_memory) &&
         region->move_end(reinterpret_cast<void*>(grown_end));
}

// Pages of a run whose region has room for `bytes`.
uint32_t Allocator::region_run_pages(const Space& space, size_t bytes) {
  return uint32_t(pages_for(bytes + state_offset_of(space) + sizeof(SimpleAllocator)));
}

uint32_t Allocator::state_offset_of(const Space& space) {
  return space.handle_blocks ? kHandleRegionOffset : kRegionStateOffset;
}

// A new region in a new run, with room for `bytes`.
bool Allocator::add_region_run(Space& space, uint32_t bytes) {
  uint32_t state_offset = state_offset_of(space);
  uint32_t pages = region_run_pages(space, bytes);
  void* run = take_pages(pages);
  if (run == nullptr)
    return false;
  uint32_t page = page_number(uintptr_t(run));
  entry(page).kind = kRunRegion;
  uintptr_t run_end = uintptr_t(run) + (uintptr_t(pages) << kPageShift);
  if (add_region(space, static_cast<unsigned char*>(run) + state_offset,
                 reinterpret_cast<void*>(run_end)) == nullptr) {
    free_run(page);
    return false;
  }
  return true;
}

uint32_t Allocator::pages_free_at_top() const {
  return uint32_t((pages_->end() - pages_->unused_start()) >> kMapEntryShift);
}

// A run of `pages` (its first page's address, its kind not set yet), growing memory when the
// page store has none (parked blocks go back first: their regions may give pages back). Growth that
// turns out not to be adjacent (above a foreign run) may need one more growth: never more than two.
void* Allocator::take_pages(uint32_t pages) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    void* handle = pages_->alloc_units(pages);
    if (handle == nullptr && parked_blocks_ != 0) {
      unpark_all();
      handle = pages_->alloc_units(pages);
    }
    if (handle != nullptr) {
      uint32_t page = page_of_entry(uintptr_t(handle) - kWordBytes);
      mark_written(page, pages);
      settle_map();
      return reinterpret_cast<void*>(page_address(page));
    }
    uint32_t at_top = pages_free_at_top();
    if (attempt == 2 || !grow_memory(pages - (at_top < pages ? at_top : pages)))
      break;
  }
  settle_map();
  return nullptr;
}

// Resizes a run where it stands, over free pages after it; with may_grow_memory, growing
// memory when it is the top run of the page store (the map's run, when it is the run above,
// moves to the top of the growth out of the way).
bool Allocator::resize_run(uint32_t page, uint32_t pages, bool may_grow_memory) {
  bool resized = pages_->resize_units(run_handle(page), pages);
  uint32_t have = run_pages(page);
  uint32_t map_above = page + have == map_page_ ? run_pages(map_page_) : 0;
  if (!resized && may_grow_memory &&
      uintptr_t(&map_[page + have + map_above]) == pages_->unused_start()) {
    uint32_t room = map_above + pages_free_at_top();
    uint32_t wanted = pages - have;
    resized = grow_memory(wanted - (room < wanted ? room : wanted), map_above != 0) &&
              pages_->resize_units(run_handle(page), pages);
  }
  settle_map();
  if (resized)
    mark_written(page, pages);
  return resized;
}

// Memory handed out may be written: it no longer reads as zeros.
void Allocator::mark_written(uint32_t page, uint32_t pages) {
  uintptr_t run_end = page_address(page + pages);
  clean_from_ = run_end > clean_from_ ? run_end : clean_from_;
}

// Gives a used run back to the page store; its kind is cleared first, so that its entry never
// reads as a live run again (it may live on inside a merged free run).
void Allocator::free_run(uint32_t page) {
  entry(page).kind = kRunNone;
  pages_->dealloc(run_handle(page));
}

// Asks the heap for `pages`; trusts it only as far as it delivered them.
uintptr_t Allocator::try_grow(uint32_t pages, uintptr_t* new_end) const {
  uintptr_t start = heap_.grow(pages, new_end);
  bool delivered = start != 0 && start >= memory_end_ && *new_end > start &&
                   (*new_end - start) >> kPageShift >= pages;
  return delivered ? start : 0;
}

// Memory grows by exactly what is missing, plus the pages of a bigger page map when memory
// outgrows the map, or to move the map out of a growing run's way (move_map_up). The map
// covers all the heap gave, which may be more than asked (Emscripten grows memory by a fifth
// at least) or higher up (someone else grew memory in between: that memory becomes a foreign
// run, never handed out, and the pages given are ours above it): when what was given does not
// hold what is missing and that map, one more, adjacent growth asks for the difference. When
// that one fails, the pages already given are still taken in (memory never shrinks: left out,
// they would be lost for good) and the growth reports failure. The caller calls settle_map
// once it took its pages.
bool Allocator::grow_memory(uint32_t pages_missing, bool move_map_up) {
  settle_map();
  if (heap_.grow == nullptr || growth_paused_)
    return false;
  uint32_t map_pages = map_pages_for(page_number(memory_end_) + pages_missing);
  if (map_pages == 0 && move_map_up)
    map_pages = map_entries_ >> (kPageShift - kMapEntryShift);
  uintptr_t new_end = 0;
  uintptr_t start = try_grow(pages_missing + map_pages, &new_end);
  if (start == 0)
    return false;
  grow_calls_ += 1;
  bool adjacent = start == memory_end_ && pages_->end() == uintptr_t(&map_[page_number(start)]);
  uint32_t map_pages_there = map_pages_for(page_number(new_end));
  if (!adjacent || map_pages_there > map_pages)
    map_pages = map_pages_there;
  uint64_t given = (new_end - start) >> kPageShift;
  bool enough = given >= uint64_t(pages_missing) + map_pages;
  uintptr_t more_end = 0;
  if (!enough && try_grow(uint32_t(pages_missing + map_pages - given), &more_end) == new_end) {
    enough = true;
    grow_calls_ += 1;
    new_end = more_end;
    map_pages_there = map_pages_for(page_number(new_end));
    map_pages = map_pages_there > map_pages ? map_pages_there : map_pages;
  }
  // Only pages too few for their own map (or a second surplus that outgrew the map again)
  // cannot be taken in.
  if ((new_end - start) >> kPageShift < map_pages)
    return false;
  grown_pages_ += uint32_t((new_end - start) >> kPageShift);
  memory_end_ = new_end;
  uint32_t runs_end = page_number(new_end) - map_pages;
  if (adjacent)
    pages_->move_end(&map_[runs_end]);
  else if (!take_foreign(page_number(start), runs_end))
    return false;
  if (map_pages != 0)
    place_map(map_pages);
  return enough;
}

// Extends the page store up to runs_end over memory someone else grew, from its end up to
// first_page, which becomes a foreign run (the top of the list). False, changing nothing, when
// the store cannot reach runs_end (more pages than wasm32 has): grow_memory then loses them.
bool Allocator::take_foreign(uint32_t first_page, uint32_t runs_end) {
  void* handle = pages_->move_end_over(&map_[first_page], &map_[runs_end]);
  if (handle == nullptr)
    return false;
  uint32_t page = page_of_entry(uintptr_t(handle) - kWordBytes);
  entry(page).kind = kRunForeign;
  entry(page).next = entry(page).prev = 0;
  uint32_t below = 0; // the list's last run (O(foreign runs), once per such growth)
  while (next_foreign(below) != 0)
    below = next_foreign(below);
  (below == 0 ? first_foreign_ : entry(below).next) = page;
  return true;
}

// The foreign run that page is in, or 0. O(foreign runs).
uint32_t Allocator::foreign_run_holding(uint32_t page) const {
  for (uint32_t run = first_foreign_; run != 0 && run <= page; run = entry(run).next)
    if (page < run + run_pages(run))
      return run;
  return 0;
}

// Pages of a page map for memory up to page end_page, its own pages included, or 0 when the
// map covers it already. The map doubles; it keeps an entry past the end (see grow_memory).
uint32_t Allocator::map_pages_for(uint32_t end_page) const {
  constexpr uint32_t kEntriesPerPage = 1u << (kPageShift - kMapEntryShift);
  if (end_page < map_entries_)
    return 0;
  uint32_t pages = map_entries_ < kEntriesPerPage ? 1 : 2 * (map_entries_ / kEntriesPerPage);
  while (uint64_t(pages) * kEntriesPerPage <= uint64_t(end_page) + pages)
    pages *= 2;
  return pages;
}

// Moves the page map to the `pages` pages at the top of memory, above the page store's end,
// and gives the old map's run back. Until settle_map, the map is not a run, so the allocation
// that grew memory takes its pages first and the map never sits between a run and the pages
// the run grows into.
void Allocator::place_map(uint32_t pages) {
  uint32_t old_page = map_page_;
  move_map(page_number(memory_end_) - pages, pages);
  map_page_ = 0;
  map_pending_ = pages;
  if (old_page != 0)
    free_large(old_page);
}

// The map placed at the top becomes a large run of the handle space (it lands where it is
// when the pages below it were taken; else it moves down to where it lands).
void Allocator::settle_map() {
  uint32_t pages = map_pending_;
  if (pages == 0)
    return;
  map_pending_ = 0;
  pages_->move_end(&map_[page_number(memory_end_)]);
  uint32_t page = page_of_entry(uintptr_t(pages_->alloc_units(pages)) - kWordBytes);
  uintptr_t placed = uintptr_t(map_);
  if (page_address(page) != placed) {
    move_map(page, pages);
    // The pages it leaves are handed out as fresh (calloc does not clear them): zeros again.
    uintptr_t placed_end = placed + (uintptr_t(pages) << kPageShift);
    uintptr_t vacated = page_address(page + pages) > placed ? page_address(page + pages) : placed;
    __builtin_memset(reinterpret_cast<void*>(vacated), 0, placed_end - vacated);
  }
  map_page_ = page;
  link_large(handles_, page, pages);
  mark_written(page, pages);
}

// Copies the map's entries to the `pages` pages at `page` (at or below where they are, or
// apart), zeroes the rest of them, and points the page store there.
void Allocator::move_map(uint32_t page, uint32_t pages) {
  auto* map = reinterpret_cast<RunEntry*>(page_address(page));
  uint32_t entries = pages << (kPageShift - kMapEntryShift);
  for (uint32_t index = 0; index < entries; ++index)
    map[index] = index < map_entries_ ? map_[index] : RunEntry{};
  map_ = map;
  map_entries_ = entries;
  pages_->rebase(map);
}

uint32_t Allocator::space_code(const Space& space) const {
  return &space == &main_      ? kRunMainLarge
         : &space == &handles_ ? kRunHandleLarge
                               : uint32_t(uintptr_t(&space) - origin_);
}

Space* Allocator::space_of_code(uint32_t kind) const {
  return kind == kRunMainLarge     ? const_cast<Space*>(&main_)
         : kind == kRunHandleLarge ? const_cast<Space*>(&handles_)
                                   : reinterpret_cast<Space*>(origin_ + kind);
}

// The page of the large run whose payload ptr is, or 0 (see the diagram in allocator.hpp for
// why a stale entry never passes). O(1).
uint32_t Allocator::large_run_at(const void* ptr) const {
  uintptr_t offset = uintptr_t(ptr) - origin_;
  auto page = uint32_t(offset >> kPageShift);
  if ((offset & kPageMask) != 0 || offset >> kPageShift >= map_entries_ ||
      !pages_->holds_own_used_block(run_handle(page)))
    return 0;
  const RunEntry& run = entry(page);
  if (run.kind < kRunMainLarge || run.kind == kRunForeign || run.next >= map_entries_ ||
      run.prev >= map_entries_ || (run.next != 0 && entry(run.next).prev != page))
    return 0;
  if (run.prev != 0)
    return entry(run.prev).next == page ? page : 0;
  const Space* space = space_of_code(run.kind);
  bool known = run.kind <= kRunHandleLarge || is_heap_record(space);
  return known && space->large == page ? page : 0;
}

// Whether space is a live private heap's record: a used block of a main heap region (its
// header read only once it lies in memory), big enough to be one (a smaller block's next
// bytes are another's), that bears its live key. O(1).
bool Allocator::is_heap_record(const Space* space) const {
  uintptr_t header = uintptr_t(space) - kWordBytes;
  if (uintptr_t(space) % alignof(Space) != 0 || header - heap_.begin >= memory_end_ - heap_.begin)
    return false;
  return used_block_slot(space).owner == &main_ && small_block_bytes(space) >= sizeof(Space) &&
         space->live_key == live_key_of(space);
}

void* Allocator::alloc_large(Space& space, size_t bytes, bool* fresh) {
  if (pages_for(bytes) > kMaxBlockUnits)
    return nullptr;
  auto pages = uint32_t(pages_for(bytes));
  uintptr_t clean_before = clean_from_;
  void* run = place_compacting_first(space, bytes, [&] { return take_pages(pages); });
  if (run == nullptr)
    return nullptr;
  if (fresh != nullptr)
    *fresh = uintptr_t(run) >= clean_before;
  link_large(space, page_number(uintptr_t(run)), pages);
  return run;
}

// Makes the run at page the newest large run of space.
void Allocator::link_large(Space& space, uint32_t page, uint32_t pages) {
  entry(page) = {entry(page).header, space_code(space), space.large, 0};
  if (space.large != 0)
    entry(space.large).prev = page;
  space.large = page;
  space.large_blocks += 1;
  space.large_pages += pages;
  large_blocks_ += 1;
  large_pages_ += pages;
}

// Unlinks a live large run from its space and gives it back to the page store.
void Allocator::free_large(uint32_t page) {
  const RunEntry run = entry(page);
  Space& space = *space_of_code(run.kind);
  uint32_t pages = units_of(run.header);
  if (run.prev != 0)
    entry(run.prev).next = run.next;
  else
    space.large = run.next;
  if (run.next != 0)
    entry(run.next).prev = run.prev;
  free_run(page);
  space.large_blocks -= 1;
  space.large_pages -= pages;
  large_blocks_ -= 1;
  large_pages_ -= pages;
}

bool Allocator::free_large_block(uint32_t page) {
  Space& space = *space_of_code(entry(page).kind);
  if (space.handle_blocks)
    return false;
  size_t bytes = run_bytes(page);
  free_large(page);
  count_removed(space, bytes);
  return true;
}

bool Allocator::free_small(void* ptr) {
  RegionSlot slot = used_block_slot(ptr);
  if (slot.region == nullptr || slot.owner->handle_blocks)
    return false;
  count_removed(*slot.owner, small_block_bytes(ptr));
  slot.region->dealloc_own(ptr);
  trim_slack(slot);
  return true;
}

// Gives back the pages above a main heap region's bump area once kTrimPages are unused (see
// "Policy"). Private heaps keep the room they were created with; handle regions trim as they
// compact.
void Allocator::trim_slack(RegionSlot slot) {
  if (slot.owner == &main_ && slot.region != partial_ &&
      slot.region->end() - slot.region->unused_start() >= kTrimPages * kPageBytes)
    trim_region(slot.region);
}

Space* Allocator::malloc_space_of(const void* ptr) const {
  Space* space;
  if (uint32_t page = large_run_at(ptr)) {
    space = space_of_code(entry(page).kind);
  } else {
    space = used_block_slot(ptr).owner;
    if (space == nullptr)
      return nullptr;
  }
  return space->handle_blocks ? nullptr : space;
}

bool Allocator::resize(void* ptr, size_t bytes, uint32_t align_bits) {
  if (uint32_t page = large_run_at(ptr)) {
    uint32_t old_pages = run_pages(page);
    if (bytes <= kMaxAllocBytes || pages_for(bytes) > kMaxBlockUnits ||
        !resize_run(page, uint32_t(pages_for(bytes))))
      return false;
    uint32_t new_pages = run_pages(page);
    Space& space = *space_of_code(entry(page).kind);
    space.large_pages = space.large_pages - old_pages + new_pages;
    large_pages_ = large_pages_ - old_pages + new_pages;
    count_removed(space, size_t(old_pages) << kPageShift);
    count_added(space, run_bytes(page));
    return true;
  }
  RegionSlot slot = used_block_slot(ptr);
  if (bytes > kMaxAllocBytes || slot.region == nullptr)
    return false;
  size_t old_bytes = small_block_bytes(ptr);
  size_t word_count = word_count_for(bytes, align_bits);
  bool resized = slot.region->resize_in_place(ptr, word_count) ||
                 (unpark_after(ptr, *slot.region) && slot.region->resize_in_place(ptr, word_count));
  // Also when it failed: the parked blocks given back may have freed the region's top.
  trim_slack(slot);
  if (!resized)
    return false;
  count_removed(*slot.owner, old_bytes);
  count_added(*slot.owner, small_block_bytes(ptr));
  return true;
}

bool Allocator::in_heap(const void* ptr) const {
  if (partial_ != nullptr && partial_->contains(ptr))
    return true;
  uintptr_t offset = uintptr_t(ptr) - origin_;
  if (offset >> kPageShift >= map_entries_)
    return false;
  auto page = uint32_t(offset >> kPageShift);
  return pages_->contains(&map_[page]) && foreign_run_holding(page) == 0;
}

const char* Allocator::block_problem(const void* ptr) const {
  if (uintptr_t(ptr) % kWordBytes != 0)
    return "misaligned pointer";
  if (!in_heap(ptr))
    return "pointer outside the heap";
  const Space* owner = nullptr;
  if (uint32_t page = large_run_at(ptr)) {
    owner = space_of_code(entry(page).kind);
  } else {
    owner = used_block_slot(ptr).owner;
  }
  if (owner != nullptr)
    return owner->handle_blocks ? "a handle's block (kit_handle_free frees it)" : nullptr;
  // A freed large run merged with the free runs around it (its entry may now be a free run's
  // header, its links over the kind): only the runs around it tell. O(runs), for a pointer
  // already found bad.
  uintptr_t offset = uintptr_t(ptr) - origin_;
  bool freed_run = (offset & kPageMask) == 0 && in_free_run(uint32_t(offset >> kPageShift));
  return freed_run || SimpleAllocator::header_says_free(ptr)
             ? "double free (the block is free)"
             : "not a pointer kitalloc returned (inside a block?)";
}

// Whether page is free: in a free run, or above the page store's bump pointer.
bool Allocator::in_free_run(uint32_t page) const {
  struct Search {
    uintptr_t entry;
    bool free;
  } search = {uintptr_t(&map_[page]), uintptr_t(&map_[page]) >= pages_->unused_start()};
  pages_->walk(
      [](void* context, uintptr_t start, uint64_t bytes, bool free) {
        auto* search = static_cast<Search*>(context);
        search->free |= free && search->entry - start < bytes;
      },
      &search);
  return search.free;
}

size_t Allocator::usable_size(const void* ptr) const {
  uint32_t page = large_run_at(ptr);
  return page != 0 ? run_bytes(page) : small_block_bytes(ptr);
}

// ── Private heaps ────────────────────────────────────────────────────────────────────────────

Space* Allocator::create_space(Space& parent, size_t initial_bytes) {
  size_t regions = initial_bytes / kRegionRoom + (initial_bytes % kRegionRoom != 0 ? 1 : 0);
  if (regions > kMaxRegionTag + 1 - region_count_)
    return nullptr;
  // From the free page runs there are first; failing that, memory grows once for all of it
  // (never in steps that could stop halfway) and the reservation is made again.
  growth_paused_ = true;
  Space* space = reserve_space(initial_bytes);
  growth_paused_ = false;
  if (space == nullptr) {
    size_t last_room = initial_bytes - (regions != 0 ? regions - 1 : 0) * kRegionRoom;
    size_t pages = regions == 0 ? 0
                                : (regions - 1) * region_run_pages(main_, kRegionRoom) +
                                      region_run_pages(main_, last_room) + 1; // + the record
    bool room = pages <= pages_free_at_top() || grow_memory(uint32_t(pages - pages_free_at_top()));
    space = room ? reserve_space(initial_bytes) : nullptr;
    settle_map(); // also after a failed growth: it may have taken pages in (grow_memory)
    if (space == nullptr)
      return nullptr;
  }
  space->parent = &parent;
  space->next_sibling = parent.first_child;
  if (parent.first_child != nullptr)
    parent.first_child->prev_sibling = space;
  parent.first_child = space;
  space->live_key = live_key_of(space);
  return space;
}

// A space's record and regions with room for initial_bytes; nullptr, with nothing changed but
// memory grown, when they cannot all be had.
Space* Allocator::reserve_space(size_t initial_bytes) {
  void* record = alloc(main_, sizeof(Space), 3, nullptr);
  if (record == nullptr)
    return nullptr;
  auto* space = new (record) Space;
  for (size_t left = initial_bytes; left != 0;) {
    size_t room = left < kRegionRoom ? left : kRegionRoom;
    if (!add_region_run(*space, uint32_t(room))) {
      while (space->small != nullptr)
        release_region(*space, space->small);
      free(record);
      return nullptr;
    }
    left -= room;
  }
  return space;
}

namespace {

void unlink_child(Space& space) {
  if (space.prev_sibling != nullptr)
    space.prev_sibling->next_sibling = space.next_sibling;
  else
    space.parent->first_child = space.next_sibling;
  if (space.next_sibling != nullptr)
    space.next_sibling->prev_sibling = space.prev_sibling;
}

} // namespace

void Allocator::drop(Space& space) {
  while (space.first_child != nullptr)
    drop(*space.first_child);
  while (space.small != nullptr)
    release_region(space, space.small);
  while (space.large != 0)
    free_large(space.large);
  count_other(space, 0, space.bytes_in_use);
  unlink_child(space);
  space.live_key = 0;
  free(&space);
}

void Allocator::merge(Space& space) {
  Space& parent = *space.parent;
  if (space.small != nullptr) {
    SimpleAllocator* oldest = space.small;
    for (SimpleAllocator* region = space.small; region != nullptr; region = region->next()) {
      regions_[region->tag()].owner = &parent;
      oldest = region;
    }
    oldest->chain(parent.small);
    parent.small = space.small;
  }
  if (space.large != 0) {
    uint32_t last = space.large;
    for (uint32_t page = space.large; page != 0; page = entry(page).next) {
      entry(page).kind = space_code(parent);
      last = page;
    }
    entry(last).next = parent.large;
    if (parent.large != 0)
      entry(parent.large).prev = last;
    parent.large = space.large;
  }
  while (space.first_child != nullptr) {
    Space& child = *space.first_child;
    unlink_child(child);
    child.parent = &parent;
    child.prev_sibling = nullptr;
    child.next_sibling = parent.first_child;
    if (parent.first_child != nullptr)
      parent.first_child->prev_sibling = &child;
    parent.first_child = &child;
  }
  parent.region_count += space.region_count;
  parent.large_blocks += space.large_blocks;
  parent.large_pages += space.large_pages;
  uint64_t moved_bytes = space.bytes_in_use;
  count_other(space, 0, moved_bytes);
  count_added(parent, moved_bytes);
  unlink_child(space);
  space.live_key = 0;
  free(&space);
}

// ── The handle space ─────────────────────────────────────────────────────────────────────────

void* Allocator::alloc_handle_block(size_t word_count) {
  // Blocks of multiples of 16 bytes, placed without alignment gaps: see allocator.hpp.
  void* payload = alloc_small(handles_, word_count, 2);
  if (payload != nullptr)
    count_added(handles_, small_block_bytes(payload));
  return payload;
}

void* Allocator::alloc_handle_large(size_t bytes) {
  void* payload = alloc_large(handles_, bytes, nullptr);
  if (payload != nullptr)
    count_added(handles_, run_bytes(page_number(uintptr_t(payload))));
  return payload;
}

void Allocator::free_handle_block(void* ptr) {
  if (uint32_t page = large_run_at(ptr)) {
    count_removed(handles_, run_bytes(page));
    free_large(page);
  } else {
    count_removed(handles_, small_block_bytes(ptr));
    regions_[SimpleAllocator::tag_of(ptr)].region->dealloc_own(ptr);
  }
}

// The pages above the region's bump area, given back to the page store; returns their bytes.
uint64_t Allocator::trim_region(SimpleAllocator* region) {
  uint32_t page = page_of_region(region);
  uintptr_t run_start = page_address(page);
  auto pages = uint32_t(pages_for(region->unused_start() - run_start));
  uint32_t old_pages = run_pages(page);
  if (pages >= old_pages)
    return 0;
  region->move_end(reinterpret_cast<void*>(page_address(page + pages)));
  resize_run(page, pages);
  return uint64_t(old_pages - pages) << kPageShift;
}

namespace {

// Reverses a chain of regions in place; returns the new head.
SimpleAllocator* reversed(SimpleAllocator* head) {
  SimpleAllocator* before = nullptr;
  while (head != nullptr) {
    SimpleAllocator* next = head->next();
    head->chain(before);
    before = head;
    head = next;
  }
  return before;
}

struct Relocation {
  SimpleAllocator::Relocator relocate;
  void* context;
  kit_compact_result* result;

  static bool counted(void* context, void* from, void* to) {
    auto* relocation = static_cast<Relocation*>(context);
    if (!relocation->relocate(relocation->context, from, to))
      return false;
    relocation->result->moved_blocks += 1;
    relocation->result->moved_bytes += SimpleAllocator::usable_words(from) * kWordBytes;
    return true;
  }
};

// Moves the used blocks of `source` that the relocator lets go into the regions from `oldest`
// up to `source` (the chain reversed: oldest first), into the first with room.
struct Evacuation {
  SimpleAllocator* oldest;
  SimpleAllocator* source;
  Relocation* relocation;

  static void visit(void* context, uintptr_t start, uint64_t bytes, bool free) {
    auto* evacuation = static_cast<Evacuation*>(context);
    if (free)
      return;
    void* from = reinterpret_cast<Word*>(start) + 1;
    for (SimpleAllocator* region = evacuation->oldest; region != evacuation->source;
         region = region->next()) {
      void* to = region->alloc_local(bytes / kWordBytes - 1, 2);
      if (to == nullptr)
        continue;
      if (!Relocation::counted(evacuation->relocation, from, to)) {
        region->dealloc(to);
        return;
      }
      copy_payload(to, from);
      evacuation->source->dealloc(from);
      return;
    }
  }
};

} // namespace

// What move_run needs: the allocator, the handles' relocator, the table.
struct Allocator::RunMove {
  Allocator* allocator;
  SimpleAllocator::Relocator relocate;
  void* context;
  void** table;
};

// Page-store compaction's relocator: a handle region without locked blocks moves (its blocks'
// handles, its slot and its place in the chain follow it; its offsets need nothing), and so
// does the table's run. Everything else stays. The core moves the runs' entries; the pages
// are moved here.
bool Allocator::move_run(void* context, void* from, void* to) {
  auto* move = static_cast<RunMove*>(context);
  Allocator& self = *move->allocator;
  uint32_t page = self.page_of_entry(uintptr_t(from) - kWordBytes);
  uint32_t moved_to = self.page_of_entry(uintptr_t(to) - kWordBytes);
  uintptr_t start = self.page_address(page);
  uintptr_t distance = start - self.page_address(moved_to);
  void* table = *move->table;
  if (table != nullptr && self.large_run_at(table) == page) {
    self.relink_large(page, moved_to);
    *move->table = static_cast<unsigned char*>(table) - distance;
  } else {
    uint32_t tag = self.entry(page).kind == kRunRegion ? self.region_of_run(start) : kNoRegionTag;
    if (tag == kNoRegionTag || self.regions_[tag].owner != &self.handles_)
      return false;
    SimpleAllocator* region = self.regions_[tag].region;
    struct Blocks {
      RunMove* move;
      uintptr_t distance;
      bool movable;
    } blocks = {move, distance, true};
    auto ask = [](void* context, uintptr_t start, uint64_t, bool free) {
      auto* blocks = static_cast<Blocks*>(context);
      if (!free)
        blocks->movable &= blocks->move->relocate(blocks->move->context,
                                                  reinterpret_cast<Word*>(start) + 1, nullptr);
    };
    region->walk(ask, &blocks);
    if (!blocks.movable)
      return false;
    auto tell = [](void* context, uintptr_t start, uint64_t, bool free) {
      auto* blocks = static_cast<Blocks*>(context);
      auto* payload = reinterpret_cast<Word*>(start) + 1;
      if (!free)
        blocks->move->relocate(blocks->move->context, payload,
                               reinterpret_cast<unsigned char*>(payload) - blocks->distance);
    };
    region->walk(tell, &blocks);
    auto* region_moved_to = reinterpret_cast<SimpleAllocator*>(uintptr_t(region) - distance);
    self.relink_region(self.handles_, region, region_moved_to);
    region->rebase(region_moved_to);
  }
  copy_words_down(reinterpret_cast<Word*>(start - distance), reinterpret_cast<const Word*>(start),
                  self.run_bytes(page) / kWordBytes);
  return true;
}

// The large run at page is about to move to moved_to: its neighbours in its space's list (or
// the space itself) point there.
void Allocator::relink_large(uint32_t page, uint32_t moved_to) {
  const RunEntry& run = entry(page);
  if (run.prev != 0)
    entry(run.prev).next = moved_to;
  else
    space_of_code(run.kind)->large = moved_to;
  if (run.next != 0)
    entry(run.next).prev = moved_to;
}

// The region is about to be copied to moved_to: its slot and the link to it in the chain (or
// the space's head) point there.
void Allocator::relink_region(Space& space, SimpleAllocator* region, SimpleAllocator* moved_to) {
  regions_[region->tag()].region = moved_to;
  if (space.small == region) {
    space.small = moved_to;
    return;
  }
  SimpleAllocator* before = space.small;
  while (before->next() != region)
    before = before->next();
  before->chain(moved_to);
}

void Allocator::compact_handles(SimpleAllocator::Relocator relocate, void* context, void** table,
                                kit_compact_result* result) {
  *result = {};
  Relocation relocation = {relocate, context, result};
  // Oldest region first: each region's blocks move into the older ones (already compacted)
  // where they fit, then the rest slide down. Every block moves at most once.
  SimpleAllocator* oldest = reversed(handles_.small);
  for (SimpleAllocator* region = oldest; region != nullptr; region = region->next()) {
    Evacuation evacuation = {oldest, region, &relocation};
    region->walk(Evacuation::visit, &evacuation);
    region->compact(Relocation::counted, &relocation);
  }
  handles_.small = reversed(oldest);
  // Emptied regions and the pages above each region's last block go back to the page store.
  for (SimpleAllocator* region = handles_.small; region != nullptr;) {
    SimpleAllocator* older = region->next();
    if (region->own_stats().live_blocks == 0) {
      result->released_bytes += uint64_t(run_pages(page_of_region(region))) << kPageShift;
      release_region(handles_, region);
    } else {
      result->released_bytes += trim_region(region);
    }
    region = older;
  }
  // The handle regions and the table slide down over the free runs (never past a foreign run).
  RunMove move = {this, relocate, context, table};
  pages_->compact(move_run, &move);
  result->largest_free_bytes = largest_free_bytes();
}

uint64_t Allocator::largest_free_bytes() const {
  uint64_t largest = uint64_t(pages_->largest_free_units()) << kPageShift;
  // malloc's small blocks (below 32 KiB) come from the main heap's regions: less the header
  // and the widest alignment gap a 16-byte-aligned block may need there, in 16-byte steps.
  for (const SimpleAllocator* region = main_.small; region != nullptr; region = region->next()) {
    uint64_t bytes = uint64_t(region->largest_free_units()) * kWordBytes;
    bytes = bytes > 48 ? (bytes - 48) & ~uint64_t(15) : 0;
    bytes = bytes < kMaxAllocBytes ? bytes : kMaxAllocBytes; // larger ones take pages
    largest = bytes > largest ? bytes : largest;
  }
  return largest;
}

// ── Figures and checks ───────────────────────────────────────────────────────────────────────

// Calls visit(space) for the main heap, the handle space and every private heap.
template <typename Visit> void Allocator::for_each_space(Visit visit) const {
  visit(handles_);
  const Space* space = &main_;
  while (space != nullptr) {
    visit(*space);
    if (space->first_child != nullptr) {
      space = space->first_child;
      continue;
    }
    while (space != &main_ && space->next_sibling == nullptr)
      space = space->parent;
    space = space == &main_ ? nullptr : space->next_sibling;
  }
}

kit_stats Allocator::stats() const {
  kit_stats stats = {};
  for_each_space([&](const Space& space) {
    if (space.small != nullptr)
      add_stats(stats.small, space.small->stats());
  });
  count_parked_as_free(stats.small);
  stats.pages = page_store_stats();
  const uint32_t own_runs[] = {map_page_, region_table_page()};
  for (uint32_t page : own_runs)
    if (page != 0) {
      stats.own_runs += 1;
      stats.own_pages += run_pages(page);
    }
  stats.large_blocks = large_blocks_ - stats.own_runs;
  stats.large_pages = large_pages_ - stats.own_pages;
  stats.grow_calls = grow_calls_;
  stats.grown_pages = grown_pages_;
  if (partial_ != nullptr)
    stats.memory_bytes = partial_->end() - heap_.begin;
  stats.memory_bytes += uint64_t(stats.pages.total_words) << kPageShift;
  stats.bytes_in_use = main_.bytes_in_use + other_bytes_;
  stats.peak_bytes = larger(peak_bytes_, span_peak_total());
  stats.trip_peak_bytes = larger(trip_peak_bytes_, span_peak_total());
  return stats;
}

kit_stats Allocator::space_stats(const Space& space) const {
  kit_stats stats = {};
  for (const SimpleAllocator* region = space.small; region != nullptr; region = region->next())
    stats.memory_bytes += region == partial_
                              ? partial_->end() - heap_.begin
                              : uint64_t(run_pages(page_of_region(region))) << kPageShift;
  if (space.small != nullptr)
    stats.small = space.small->stats();
  if (&space == &main_)
    count_parked_as_free(stats.small);
  stats.large_blocks = space.large_blocks;
  stats.large_pages = space.large_pages;
  stats.memory_bytes += uint64_t(space.large_pages) << kPageShift;
  stats.bytes_in_use = space.bytes_in_use;
  stats.peak_bytes =
      &space == &main_ ? larger(main_.peak_bytes, span_peak_bytes_) : space.peak_bytes;
  stats.trip_peak_bytes = stats.peak_bytes;
  return stats;
}

// A change in a space other than the main heap ends the main heap's span (see "Figures").
void Allocator::count_other(Space& space, uint64_t added, uint64_t removed) {
  end_span();
  space.bytes_in_use = space.bytes_in_use + added - removed;
  space.peak_bytes = larger(space.peak_bytes, space.bytes_in_use);
  other_bytes_ = other_bytes_ + added - removed;
}

void Allocator::end_span() {
  peak_bytes_ = larger(peak_bytes_, span_peak_total());
  trip_peak_bytes_ = larger(trip_peak_bytes_, span_peak_total());
  main_.peak_bytes = larger(main_.peak_bytes, span_peak_bytes_);
  span_peak_bytes_ = main_.bytes_in_use;
}

void Allocator::reset_trip_peak() {
  end_span();
  trip_peak_bytes_ = main_.bytes_in_use + other_bytes_;
}

// A space's regions name it in their slots, and its large runs name it and link both ways.
const char* Allocator::check_space(const Space& space) const {
  if (space.small != nullptr)
    if (const char* breach = space.small->check())
      return breach;
  uint32_t regions = 0;
  for (const SimpleAllocator* region = space.small; region != nullptr; region = region->next()) {
    regions += 1;
    RegionSlot slot = regions_[region->tag()];
    if (slot.region != region || slot.owner != &space)
      return "a region's slot does not name it and its space";
  }
  if (regions != space.region_count)
    return "a space's regions are not the ones it counts";
  uint32_t blocks = 0, pages = 0;
  uint32_t before = 0;
  for (uint32_t page = space.large; page != 0; page = entry(page).next) {
    if (page >= map_entries_ || entry(page).kind != space_code(space) ||
        entry(page).prev != before || blocks > large_blocks_)
      return "a large run's owner or back link is wrong";
    blocks += 1;
    pages += run_pages(page);
    before = page;
  }
  if (blocks != space.large_blocks || pages != space.large_pages)
    return "a space's large runs are not the ones it counts";
  return nullptr;
}

const char* Allocator::check() const {
  // Between calls the map is a run of its own (or still in the state), never left waiting.
  if (map_pending_ != 0)
    return "the page map waits at the top of memory, outside the page store";
  const char* breach = nullptr;
  uint32_t regions = 0;
  for_each_space([&](const Space& space) {
    if (breach == nullptr)
      breach = check_space(space);
    regions += space.region_count;
  });
  if (breach != nullptr)
    return breach;
  if (regions != region_count_)
    return "the spaces' regions do not add up to the regions kept";
  if (const char* parked_breach = check_parked())
    return parked_breach;
  if (const char* page_breach = pages_->check())
    return page_breach;
  // The page runs: each used one holds a region's state, is a large block or is foreign, and
  // they add up to the counts kept.
  struct Tally {
    const Allocator* allocator;
    uint32_t regions, large_blocks, large_pages, foreign_runs;
    bool unknown_run;
  } tally = {this, partial_ != nullptr ? 1u : 0u, 0, 0, 0, false};
  pages_->walk(
      [](void* context, uintptr_t start, uint64_t bytes, bool free) {
        auto* tally = static_cast<Tally*>(context);
        const Allocator& self = *tally->allocator;
        uint32_t page = self.page_of_entry(start);
        auto pages = uint32_t(bytes >> kMapEntryShift);
        if (free)
          return;
        if (self.entry(page).kind == kRunRegion) {
          tally->unknown_run |= self.region_of_run(self.page_address(page)) == kNoRegionTag;
          tally->regions += 1;
        } else if (self.entry(page).kind == kRunForeign) {
          tally->foreign_runs += 1;
        } else {
          tally->unknown_run |=
              self.large_run_at(reinterpret_cast<void*>(self.page_address(page))) != page;
          tally->large_blocks += 1;
          tally->large_pages += pages;
        }
      },
      &tally);
  if (tally.unknown_run)
    return "a used page run holds neither a region nor a live large block";
  if (tally.regions != region_count_)
    return "the regions found in page runs are not the regions kept";
  if (tally.large_blocks != large_blocks_ || tally.large_pages != large_pages_)
    return "the large blocks found in page runs are not the ones counted";
  return check_foreign(tally.foreign_runs);
}

// The foreign runs' list goes upwards through used runs of that kind, and holds every one of
// the `found` the page store has.
const char* Allocator::check_foreign(uint32_t found) const {
  uint32_t runs = 0, last = 0;
  for (uint32_t run = first_foreign_; run != 0; last = run, run = entry(run).next) {
    if (run <= last || run >= map_entries_ || entry(run).kind != kRunForeign ||
        !pages_->holds_own_used_block(run_handle(run)))
      return "the foreign runs' list is out of order or holds what is not a foreign run";
    runs += 1;
  }
  return runs == found ? nullptr : "the foreign runs found in page runs are not the ones listed";
}

// Each parked list holds as many blocks as it counts, each parked, of the list's size, in a
// region of the main heap (the core's check verifies the region named is the one around it).
const char* Allocator::check_parked() const {
  uint32_t blocks = 0, words = 0;
  for (uint32_t bin = 0; bin < kParkedBins; ++bin) {
    for (const void* payload = parked_[bin]; payload != nullptr; payload = next_parked(payload)) {
      if (++blocks > parked_blocks_)
        return "the parked lists hold more blocks than they count";
      words += parked_units(bin);
      uint32_t tag = SimpleAllocator::parked_region_tag(payload);
      if (!SimpleAllocator::is_parked(payload) ||
          parked_bin(SimpleAllocator::block_units(payload)) != bin || tag >= tag_limit_ ||
          regions_[tag].owner != &main_ || !regions_[tag].region->contains(payload))
        return "a parked block is not parked, not of its list's size, or not the main heap's";
    }
  }
  return blocks == parked_blocks_ && words == parked_words_
             ? nullptr
             : "the parked lists do not add up to the blocks and words counted";
}

// ── kit_walk ─────────────────────────────────────────────────────────────────────────────────
namespace {

struct WalkTarget {
  kit_walk_visitor visit;
  void* context;
  uint32_t index;
};

void emit(const WalkTarget& target, uint32_t kind, uintptr_t address, uint64_t bytes) {
  kit_walk_entry entry = {address, bytes, kind, target.index};
  target.visit(&entry, target.context);
}

void emit_block(void* target, uintptr_t start, uint64_t bytes, bool free) {
  bool parked = !free && SimpleAllocator::is_parked(reinterpret_cast<void*>(start + kWordBytes));
  emit(*static_cast<WalkTarget*>(target), free || parked ? KIT_WALK_FREE : KIT_WALK_USED, start,
       bytes);
}

} // namespace

// The region whose state starts a used page run, or kNoRegionTag: a region's state is 8 bytes
// into its run (16 for a handle region), and its slot names it. O(1).
uint32_t Allocator::region_of_run(uintptr_t start) const {
  constexpr uintptr_t kStateOffsets[] = {kRegionStateOffset, kHandleRegionOffset};
  for (uintptr_t offset : kStateOffsets) {
    auto* candidate = reinterpret_cast<const SimpleAllocator*>(start + offset);
    uint32_t tag = candidate->tag();
    if (tag < tag_limit_ && regions_[tag].region == candidate)
      return tag;
  }
  return kNoRegionTag;
}

void Allocator::walk_region(uint32_t index, kit_walk_visitor visit, void* context) const {
  const SimpleAllocator* region = regions_[index].region;
  WalkTarget target = {visit, context, index};
  emit(target, KIT_WALK_REGION, uintptr_t(region), region->end() - uintptr_t(region));
  region->walk(emit_block, &target);
  if (region->end() > region->unused_start())
    emit(target, KIT_WALK_UNUSED, region->unused_start(), region->end() - region->unused_start());
}

// The pages of the span just above foreign run `below` (0: the first span): up to the next
// foreign run or the page store's end. Empty for a foreign run at the store's first page, or
// a store with no pages yet (memory ended at the first page boundary): no span then.
Allocator::PageRange Allocator::span_above(uint32_t below) const {
  uint32_t next = next_foreign(below);
  return {below == 0 ? page_of_entry(pages_->heap_start()) : below + run_pages(below),
          next != 0 ? next : page_of_entry(pages_->end())};
}

RegionStats Allocator::page_store_stats() const {
  RegionStats figures = pages_->stats();
  figures.regions = 0;
  uint32_t below = 0;
  do {
    PageRange span = span_above(below);
    figures.regions += span.end > span.first ? 1 : 0;
    below = next_foreign(below);
    if (below != 0) { // not ours: out of every figure
      figures.total_words -= run_pages(below);
      figures.allocated_words -= run_pages(below);
      figures.live_blocks -= 1;
    }
  } while (below != 0);
  return figures;
}

// Emits the span above foreign run `below` as span `index`, unless it is empty.
bool Allocator::walk_span(uint32_t below, uint32_t index, kit_walk_visitor visit,
                          void* context) const {
  PageRange span = span_above(below);
  if (span.end == span.first)
    return false;
  emit({visit, context, index}, KIT_WALK_SPAN, page_address(span.first),
       uint64_t(span.end - span.first) << kPageShift);
  return true;
}

void Allocator::walk(kit_walk_visitor visit, void* context) const {
  if (partial_ != nullptr)
    walk_region(0, visit, context);
  struct RunWalk {
    const Allocator* allocator;
    WalkTarget target; // its index: the span's
    uint32_t spans;
  } walk = {this, {visit, context, 0}, walk_span(0, 0, visit, context) ? 1u : 0u};
  pages_->walk(
      [](void* context, uintptr_t start, uint64_t bytes, bool free) {
        auto* run = static_cast<RunWalk*>(context);
        const Allocator& self = *run->allocator;
        const WalkTarget& target = run->target;
        uint32_t page = self.page_of_entry(start);
        uintptr_t address = self.page_address(page);
        if (!free && self.entry(page).kind == kRunForeign) {
          if (self.walk_span(page, run->spans, target.visit, target.context))
            run->target.index = run->spans++;
        } else if (!free && self.entry(page).kind == kRunRegion) {
          self.walk_region(self.region_of_run(address), target.visit, target.context);
        } else {
          emit(target,
               free                    ? KIT_WALK_FREE_RUN
               : self.is_own_run(page) ? KIT_WALK_OWN
                                       : KIT_WALK_LARGE,
               address, bytes >> kMapEntryShift << kPageShift);
        }
      },
      &walk);
  uint32_t unused = page_of_entry(pages_->unused_start());
  if (pages_->end() > pages_->unused_start())
    emit(walk.target, KIT_WALK_UNUSED, page_address(unused),
         uint64_t(page_of_entry(pages_->end()) - unused) << kPageShift);
}

} // namespace kit
