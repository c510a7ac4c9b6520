// The global heap: the policy is stated in allocator.hpp.
#include "allocator.hpp"

namespace kit {
namespace {

constexpr uintptr_t kPageMask = kPageBytes - 1;

uintptr_t page_ceil(uintptr_t address) { return (address + kPageMask) & ~kPageMask; }

// Pages for bytes, or more than kMaxBlockUnits when bytes is out of reach.
size_t pages_for(size_t bytes) {
  return bytes > SIZE_MAX - kPageMask ? SIZE_MAX : (bytes + kPageMask) >> kPageShift;
}

// Payload words for `bytes`, the block rounded to the alignment up to 16 bytes so that
// neighbouring blocks keep the usual alignment without gaps.
size_t word_count_for(size_t bytes, uint32_t align_bits) {
  size_t grain = size_t(1) << (align_bits < 2 ? 2 : align_bits > 4 ? 4 : align_bits);
  return ((bytes + kWordBytes + grain - 1) & ~(grain - 1)) / kWordBytes - 1;
}

// Bytes of bump area that surely hold such a block, wherever the bump pointer is.
size_t worst_case_bytes(size_t word_count, uint32_t align_bits) {
  size_t align_bytes = size_t(1) << align_bits;
  size_t gap = align_bits > 2
                   ? align_bytes + (align_bytes > kMinBlockBytes ? align_bytes : kMinBlockBytes)
                   : 0;
  return (word_count + 1) * kWordBytes + gap;
}

} // namespace

void Allocator::init(const Heap& heap) {
  heap_ = heap;
  memory_end_ = heap.end;
  clean_from_ = heap.begin;
  uintptr_t first_page = page_ceil(heap.begin);
  if (first_page > heap.end)
    first_page = heap.end & ~kPageMask;
  if (first_page > heap.begin)
    partial_ = add_region(reinterpret_cast<void*>(heap.begin), reinterpret_cast<void*>(first_page));
  uintptr_t end_page = heap.end & ~kPageMask;
  if (end_page < first_page)
    end_page = first_page;
  pages_ = SimpleAllocator::create_page_store(span_states_[0], first_page - kPageBytes, 1,
                                              1 + uint32_t((end_page - first_page) >> kPageShift));
  span_count_ = 1;
}

SimpleAllocator* Allocator::add_region(void* begin, void* end) {
  if (region_count_ > kMaxRegionTag)
    return nullptr;
  SimpleAllocator* region = SimpleAllocator::create(begin, end, region_count_);
  if (region == nullptr)
    return nullptr;
  regions_[region_count_++] = region;
  region->chain(small_);
  small_ = region;
  return region;
}

void* Allocator::alloc(size_t bytes, uint32_t align_bits, bool* fresh) {
  *fresh = false;
  if (align_bits > kMaxAlignBits)
    return nullptr;
  void* payload = bytes > kMaxAllocBytes
                      ? alloc_large(bytes, align_bits, fresh)
                      : alloc_small(word_count_for(bytes, align_bits), align_bits);
  if (payload != nullptr)
    count_in_use(usable_size(payload), 0);
  return payload;
}

void Allocator::count_in_use(uint64_t added_bytes, uint64_t removed_bytes) {
  bytes_in_use_ = bytes_in_use_ + added_bytes - removed_bytes;
  peak_bytes_ = bytes_in_use_ > peak_bytes_ ? bytes_in_use_ : peak_bytes_;
  trip_peak_bytes_ = bytes_in_use_ > trip_peak_bytes_ ? bytes_in_use_ : trip_peak_bytes_;
}

void* Allocator::alloc_small(size_t word_count, uint32_t align_bits) {
  if (small_ != nullptr)
    if (void* payload = small_->alloc(word_count, align_bits))
      return payload;
  // grow_small leaves the newest region with room for this block: the second try succeeds.
  if (!grow_small(uint32_t(worst_case_bytes(word_count, align_bits))))
    return nullptr;
  return small_->alloc(word_count, align_bits);
}

// Room for `bytes` more in the newest region: its run grows where it stands when it is at the
// top of the page store and stays within 2 MiB, else a new region starts in a new run.
bool Allocator::grow_small(uint32_t bytes) {
  SimpleAllocator* newest = small_;
  if (newest != nullptr && newest != partial_) {
    uintptr_t room = newest->end() - newest->unused_start();
    auto more_pages = uint32_t(pages_for(bytes - (room < bytes ? room : bytes)));
    void* run = reinterpret_cast<unsigned char*>(newest) - kWordBytes;
    uintptr_t grown_end = newest->end() + (uintptr_t(more_pages) << kPageShift);
    if (grown_end - uintptr_t(newest) <= kMaxRegionBytes &&
        resize_run(run, SimpleAllocator::block_units(run) + more_pages))
      return newest->extend(reinterpret_cast<void*>(grown_end));
  }
  auto pages = uint32_t(pages_for(bytes + 2 * kWordBytes + sizeof(SimpleAllocator)));
  void* run = take_pages(pages);
  if (run == nullptr)
    return false;
  uintptr_t run_end = uintptr_t(run) - kWordBytes + (uintptr_t(pages) << kPageShift);
  if (add_region(run, reinterpret_cast<void*>(run_end)) == nullptr) {
    pages_->dealloc(run);
    return false;
  }
  return true;
}

uint32_t Allocator::pages_free_at_top() const {
  return uint32_t((pages_->end() - pages_->unused_start()) >> kPageShift);
}

// A run of `pages`, growing memory when the page store has none. Growth that turns out not to
// be adjacent starts a new span, which may need one more growth: never more than two.
void* Allocator::take_pages(uint32_t pages) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (void* run = pages_->alloc_units(pages)) {
      mark_written(run, pages);
      return run;
    }
    uint32_t at_top = pages_free_at_top();
    if (attempt == 2 || !grow_memory(pages - (at_top < pages ? at_top : pages)))
      return nullptr;
  }
  return nullptr;
}

// Resizes a run where it stands, growing memory when it is the top run of the newest span.
bool Allocator::resize_run(void* run, uint32_t pages) {
  bool resized = pages_->resize_units(run, pages);
  uint32_t have = SimpleAllocator::block_units(run);
  if (!resized && pages_->contains(run) &&
      uintptr_t(run) - kWordBytes + (uintptr_t(have) << kPageShift) == pages_->unused_start())
    resized = grow_memory(pages - have - pages_free_at_top()) && pages_->resize_units(run, pages);
  if (resized)
    mark_written(run, pages);
  return resized;
}

// Memory handed out may be written: it no longer reads as zeros.
void Allocator::mark_written(const void* run, uint32_t pages) {
  uintptr_t run_end = uintptr_t(run) - kWordBytes + (uintptr_t(pages) << kPageShift);
  clean_from_ = run_end > clean_from_ ? run_end : clean_from_;
}

// Asks the heap for `pages`; trusts it only as far as it delivered them.
uintptr_t Allocator::try_grow(uint32_t pages, uintptr_t* new_end) const {
  uintptr_t start = heap_.grow(pages, new_end);
  bool delivered = start != 0 && start >= memory_end_ && *new_end > start &&
                   (*new_end - start) >> kPageShift >= pages;
  return delivered ? start : 0;
}

bool Allocator::grow_memory(uint32_t pages_missing) {
  if (heap_.grow == nullptr)
    return false;
  uint32_t owned_pages = uint32_t((memory_end_ - heap_.begin) >> kPageShift);
  uint32_t ahead = owned_pages / 8 < kMaxGrowStepPages ? owned_pages / 8 : kMaxGrowStepPages;
  uint32_t step = pages_missing > ahead ? pages_missing : ahead;
  uintptr_t new_end = 0;
  uintptr_t start = try_grow(step, &new_end);
  if (start == 0 && step > pages_missing)
    start = try_grow(pages_missing, &new_end);
  if (start == 0)
    return false;
  grow_calls_ += 1;
  grown_pages_ += uint32_t((new_end - start) >> kPageShift);
  bool adjacent = start == memory_end_ && pages_->end() == memory_end_;
  memory_end_ = new_end;
  if (adjacent)
    return pages_->extend(reinterpret_cast<void*>(new_end));
  if (span_count_ == kMaxSpans)
    return false;
  SimpleAllocator* span =
      SimpleAllocator::create_page_store(span_states_[span_count_], start - kPageBytes, 1,
                                         1 + uint32_t((new_end - start) >> kPageShift));
  if (span == nullptr)
    return false;
  span_count_ += 1;
  span->chain(pages_);
  pages_ = span;
  return true;
}

void* Allocator::run_of(const void* large_payload) {
  return reinterpret_cast<void*>(((uintptr_t(large_payload) - kWordBytes) & ~kPageMask) +
                                 kWordBytes);
}

void* Allocator::alloc_large(size_t bytes, uint32_t align_bits, bool* fresh) {
  size_t offset = size_t(1) << align_bits;
  offset = offset > kLargeHeaderBytes ? offset : kLargeHeaderBytes;
  if (bytes > SIZE_MAX - offset || pages_for(bytes + offset) > kMaxBlockUnits)
    return nullptr;
  auto pages = uint32_t(pages_for(bytes + offset));
  uintptr_t clean_before = clean_from_;
  void* run = take_pages(pages);
  if (run == nullptr)
    return nullptr;
  uintptr_t run_start = uintptr_t(run) - kWordBytes;
  *fresh = run_start >= clean_before;
  auto* payload = reinterpret_cast<Word*>(run_start + offset);
  payload[-1] = kLargeTag << kTagShift;
  large_blocks_ += 1;
  large_pages_ += pages;
  return payload;
}

bool Allocator::free(void* ptr) {
  uint32_t tag = SimpleAllocator::tag_of(ptr);
  if (tag != kLargeTag && tag >= region_count_)
    return false;
  size_t bytes = usable_size(ptr);
  if (tag == kLargeTag) {
    uint32_t pages = SimpleAllocator::block_units(run_of(ptr));
    if (!pages_->dealloc(run_of(ptr)))
      return false;
    large_blocks_ -= 1;
    large_pages_ -= pages;
  } else if (!regions_[tag]->dealloc(ptr)) {
    return false;
  }
  count_in_use(0, bytes);
  return true;
}

bool Allocator::resize(void* ptr, size_t bytes, uint32_t align_bits) {
  uint32_t tag = SimpleAllocator::tag_of(ptr);
  size_t old_bytes = usable_size(ptr);
  bool resized;
  if (tag == kLargeTag) {
    uintptr_t offset = uintptr_t(ptr) - (uintptr_t(run_of(ptr)) - kWordBytes);
    uint32_t old_pages = SimpleAllocator::block_units(run_of(ptr));
    resized = bytes > kMaxAllocBytes && bytes <= SIZE_MAX - offset &&
              pages_for(bytes + offset) <= kMaxBlockUnits &&
              resize_run(run_of(ptr), uint32_t(pages_for(bytes + offset)));
    if (resized)
      large_pages_ = large_pages_ - old_pages + SimpleAllocator::block_units(run_of(ptr));
  } else {
    resized = bytes <= kMaxAllocBytes && tag < region_count_ &&
              regions_[tag]->resize_in_place(ptr, word_count_for(bytes, align_bits));
  }
  if (resized)
    count_in_use(usable_size(ptr), old_bytes);
  return resized;
}

const char* Allocator::block_problem(const void* ptr) const {
  if (uintptr_t(ptr) % kWordBytes != 0)
    return "misaligned pointer";
  bool in_heap = partial_ != nullptr && partial_->contains(ptr);
  for (const SimpleAllocator* span = pages_; span != nullptr && !in_heap; span = span->next())
    in_heap = span->contains(ptr);
  if (!in_heap)
    return "pointer outside the heap";
  uint32_t tag = SimpleAllocator::tag_of(ptr);
  bool live;
  if (tag == kLargeTag) {
    // The payload sits 16 bytes or its alignment (a power of two) into its run.
    uintptr_t offset = uintptr_t(ptr) - (uintptr_t(run_of(ptr)) - kWordBytes);
    live = (offset == kLargeHeaderBytes ||
            (offset > kLargeHeaderBytes && (offset & (offset - 1)) == 0)) &&
           pages_->holds_used_block(run_of(ptr));
  } else {
    live = tag < region_count_ && regions_[tag]->holds_used_block(ptr);
  }
  if (live)
    return nullptr;
  return SimpleAllocator::header_says_free(ptr)
             ? "double free (the block is free)"
             : "not a pointer kitalloc returned (inside a block?)";
}

size_t Allocator::usable_size(const void* ptr) const {
  if (SimpleAllocator::tag_of(ptr) != kLargeTag)
    return size_t(SimpleAllocator::usable_words(ptr)) * kWordBytes;
  const void* run = run_of(ptr);
  uintptr_t run_end =
      uintptr_t(run) - kWordBytes + (uintptr_t(SimpleAllocator::block_units(run)) << kPageShift);
  return run_end - uintptr_t(ptr);
}

kit_stats Allocator::stats() const {
  kit_stats stats = {};
  if (small_ != nullptr)
    stats.small = small_->stats();
  stats.pages = pages_->stats();
  stats.large_blocks = large_blocks_;
  stats.large_pages = large_pages_;
  stats.grow_calls = grow_calls_;
  stats.grown_pages = grown_pages_;
  if (partial_ != nullptr)
    stats.memory_bytes = partial_->end() - heap_.begin;
  for (const SimpleAllocator* span = pages_; span != nullptr; span = span->next())
    stats.memory_bytes += span->end() - span->heap_start();
  stats.bytes_in_use = bytes_in_use_;
  stats.peak_bytes = peak_bytes_;
  stats.trip_peak_bytes = trip_peak_bytes_;
  return stats;
}

const char* Allocator::check() const {
  if (small_ != nullptr)
    if (const char* breach = small_->check())
      return breach;
  if (const char* breach = pages_->check())
    return breach;
  // The page runs: each used one holds a region's state or a large block's marker, and they
  // add up to the counts kept.
  struct Tally {
    const Allocator* allocator;
    uint32_t regions, large_blocks, large_pages;
    bool unknown_run;
  } tally = {this, partial_ != nullptr ? 1u : 0u, 0, 0, false};
  for (const SimpleAllocator* span = pages_; span != nullptr; span = span->next())
    span->walk(
        [](void* context, uintptr_t start, uint64_t bytes, bool free) {
          auto* tally = static_cast<Tally*>(context);
          if (free)
            return;
          if (tally->allocator->region_index_in(start, bytes) != kLargeTag) {
            tally->regions += 1;
            return;
          }
          bool marked = false;
          for (uintptr_t offset = kLargeHeaderBytes; offset <= kPageBytes && !marked; offset *= 2)
            marked = reinterpret_cast<const Word*>(start + offset)[-1] == kLargeTag << kTagShift;
          tally->unknown_run |= !marked;
          tally->large_blocks += 1;
          tally->large_pages += uint32_t(bytes >> kPageShift);
        },
        &tally);
  if (tally.unknown_run)
    return "a used page run holds neither a region nor a large block's marker";
  if (tally.regions != region_count_)
    return "the regions found in page runs are not the regions kept";
  if (tally.large_blocks != large_blocks_ || tally.large_pages != large_pages_)
    return "the large blocks found in page runs are not the ones counted";
  return nullptr;
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
  emit(*static_cast<WalkTarget*>(target), free ? KIT_WALK_FREE : KIT_WALK_USED, start, bytes);
}

} // namespace

// The region whose state lies in [start, start + bytes): regions are few, and this only runs
// for the heap viewer, so a scan will do.
uint32_t Allocator::region_index_in(uintptr_t start, uint64_t bytes) const {
  for (uint32_t index = 0; index < region_count_; ++index)
    if (uintptr_t(regions_[index]) - start < bytes)
      return index;
  return kLargeTag;
}

void Allocator::walk_region(uint32_t index, kit_walk_visitor visit, void* context) const {
  const SimpleAllocator* region = regions_[index];
  WalkTarget target = {visit, context, index};
  emit(target, KIT_WALK_REGION, uintptr_t(region), region->end() - uintptr_t(region));
  region->walk(emit_block, &target);
  if (region->end() > region->unused_start())
    emit(target, KIT_WALK_UNUSED, region->unused_start(), region->end() - region->unused_start());
}

void Allocator::walk_span(const SimpleAllocator* span, uint32_t index, kit_walk_visitor visit,
                          void* context) const {
  struct RunWalk {
    const Allocator* allocator;
    WalkTarget target;
  } walk = {this, {visit, context, index}};
  emit(walk.target, KIT_WALK_SPAN, span->heap_start(), span->end() - span->heap_start());
  span->walk(
      [](void* context, uintptr_t start, uint64_t bytes, bool free) {
        auto* run = static_cast<RunWalk*>(context);
        uint32_t region = free ? kLargeTag : run->allocator->region_index_in(start, bytes);
        if (region != kLargeTag)
          run->allocator->walk_region(region, run->target.visit, run->target.context);
        else
          emit(run->target, free ? KIT_WALK_FREE_RUN : KIT_WALK_LARGE, start, bytes);
      },
      &walk);
  if (span->end() > span->unused_start())
    emit(walk.target, KIT_WALK_UNUSED, span->unused_start(), span->end() - span->unused_start());
}

void Allocator::walk(kit_walk_visitor visit, void* context) const {
  if (partial_ != nullptr)
    walk_region(0, visit, context);
  // The chain runs newest first; memory grows upwards, so address order is oldest first.
  const SimpleAllocator* spans[kMaxSpans];
  uint32_t span_count = 0;
  for (const SimpleAllocator* span = pages_; span != nullptr; span = span->next())
    spans[span_count++] = span;
  for (uint32_t index = 0; index < span_count; ++index)
    walk_span(spans[span_count - 1 - index], index, visit, context);
}

} // namespace kit
