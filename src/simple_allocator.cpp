// The core allocator. The layout and invariants I1-I7 are stated in simple_allocator.hpp.
#include "kitalloc/simple_allocator.hpp"

namespace kit {
using namespace detail;

namespace {

// Words of a free block after the header.
constexpr uint32_t kNextLink = 1;
constexpr uint32_t kPrevLink = 2;

constexpr uint32_t with_units(uint32_t header_word, uint32_t units) {
  return (header_word & ~kSizeField) | units << kFlagBits;
}

// The class after size_class(units) holds only larger blocks (see the header).
static_assert(size_class(1, 2) == 0 && size_class(4, 2) == 3 && size_class(7, 2) == 6);
static_assert(size_class(8, 2) == 7 && size_class(9, 2) == 7 && size_class(10, 2) == 8);
static_assert(size_class(7, 3) == 6 && size_class(8, 3) == 7 && size_class(15, 3) == 14);
static_assert(size_class(16, 3) == 15 && size_class(17, 3) == 15 && size_class(18, 3) == 16);
static_assert(size_class(kMaxAllocWords + 1, kWordClassBits) < kClassCount - 1);
static_assert(size_class(kMaxBlockUnits, kPageClassBits) < kClassCount - 1);
static_assert(kClassCount == 2 * kClassesPerWord);

} // namespace

SimpleAllocator* SimpleAllocator::create(void* begin, void* end, uint32_t tag,
                                         uint32_t first_align_bits) {
  uintptr_t first = (uintptr_t(begin) + 7) & ~uintptr_t(7);
  uintptr_t last = uintptr_t(end) & ~uintptr_t(kWordBytes - 1);
  if (begin == nullptr || first < uintptr_t(begin) || last < first || tag > kMaxRegionTag ||
      first_align_bits > kMaxFirstAlignBits)
    return nullptr;
  uintptr_t first_payload = first + sizeof(SimpleAllocator) + kWordBytes;
  uintptr_t padding = (0 - first_payload) & ((uintptr_t(1) << first_align_bits) - 1);
  uintptr_t bytes = last - first;
  if (bytes > kMaxRegionBytes || bytes < sizeof(SimpleAllocator) + padding + kMinBlockBytes)
    return nullptr;
  auto* region = new (reinterpret_cast<void*>(first)) SimpleAllocator;
  region->base_.value = first;
  region->heap_start_ = uint32_t((sizeof(SimpleAllocator) + padding) / kWordBytes);
  region->unused_start_ = region->heap_start_;
  region->end_ = uint32_t(bytes / kWordBytes);
  region->tag_bits_ = tag << kTagShift;
  return region;
}

SimpleAllocator* SimpleAllocator::create_page_store(void* state, void* map, uint32_t first_page,
                                                    uint32_t end_page) {
  // Offset 0 means "no block" in the links.
  if (first_page == 0 || end_page < first_page || end_page > 1u << kSizeBits)
    return nullptr;
  auto* store = new (state) SimpleAllocator;
  store->base_.value = uintptr_t(map);
  store->unit_shift_ = kMapEntryShift;
  store->class_bits_ = kPageClassBits;
  store->heap_start_ = first_page;
  store->unused_start_ = first_page;
  store->end_ = end_page;
  return store;
}

Word& SimpleAllocator::footer_of(uint32_t block, uint32_t units) const {
  return reinterpret_cast<Word*>(address_of(block + units))[-1];
}

bool SimpleAllocator::contains(const void* ptr) const {
  uintptr_t offset = uintptr_t(ptr) - base_.value; // wraps for ptr below the region
  return offset >= uintptr_t(heap_start_) << unit_shift_ && offset < uintptr_t(end_) << unit_shift_;
}

void SimpleAllocator::push_free(uint32_t block, uint32_t units) {
  word_at(block, 0) = header(units, kFree); // the block before a free block is used (I3)
  footer_of(block, units) = units;
  uint32_t cls = size_class(units, class_bits_);
  uint32_t head = heads_[cls];
  word_at(block, kNextLink) = head;
  word_at(block, kPrevLink) = 0;
  if (head != 0)
    word_at(head, kPrevLink) = block;
  heads_[cls] = block;
  nonempty_classes_[cls / kClassesPerWord] |= class_bit(cls);
  fragments_ += 1;
  fragment_units_ += units;
}

void SimpleAllocator::unlink_free(uint32_t block) {
  uint32_t units = units_of(word_at(block, 0));
  uint32_t next = word_at(block, kNextLink);
  uint32_t prev = word_at(block, kPrevLink);
  if (prev != 0) {
    word_at(prev, kNextLink) = next;
  } else {
    uint32_t cls = size_class(units, class_bits_);
    heads_[cls] = next;
    if (next == 0)
      nonempty_classes_[cls / kClassesPerWord] &= ~class_bit(cls);
  }
  if (next != 0)
    word_at(next, kPrevLink) = prev;
  fragments_ -= 1;
  fragment_units_ -= units;
}

// Turns [block, block + units), whose block before is used, into free space: merged with a
// free block after it, or given back to the bump area when it touches it (I3, I4).
void SimpleAllocator::release(uint32_t block, uint32_t units) {
  uint32_t after = block + units;
  if (after == unused_start_) {
    unused_start_ = block;
    return;
  }
  uint32_t after_header = word_at(after, 0);
  if (after_header & kFree) {
    unlink_free(after);
    units += units_of(after_header);
  } else {
    word_at(after, 0) = after_header | kPrevFree;
  }
  push_free(block, units);
}

void* SimpleAllocator::alloc(size_t word_count, uint32_t align_bits) {
  if (word_count > kMaxAllocWords || align_bits > kMaxAlignBits)
    return nullptr;
  return alloc_in_chain(units_for_words(word_count), align_bits, true);
}

void* SimpleAllocator::alloc_free_block(size_t word_count, uint32_t align_bits) {
  if (word_count > kMaxAllocWords || align_bits > kMaxAlignBits)
    return nullptr;
  return alloc_in_chain(units_for_words(word_count), align_bits, false);
}

void* SimpleAllocator::alloc_local(size_t word_count, uint32_t align_bits) {
  if (word_count > kMaxAllocWords || align_bits > kMaxAlignBits)
    return nullptr;
  return alloc_here(units_for_words(word_count), align_bits, true);
}

void* SimpleAllocator::alloc_units(size_t units) {
  if (units == 0 || units > kMaxBlockUnits)
    return nullptr;
  return alloc_in_chain(at_least(uint32_t(units), min_units()), 0, true);
}

// Newest region first, its free blocks before its bump area (see "Free lists" in the header).
void* SimpleAllocator::alloc_in_chain(uint32_t units, uint32_t align_bits, bool may_bump) {
  for (SimpleAllocator* region = this; region != nullptr; region = region->next())
    if (void* payload = region->alloc_here(units, align_bits, may_bump))
      return payload;
  return nullptr;
}

// Of the first kBestFitScan blocks of the list starting at head, the smallest that holds
// `units`, the lowest among equals; head when none does.
uint32_t SimpleAllocator::best_fit(uint32_t head, uint32_t units) const {
  uint32_t best = head;
  uint32_t best_units = UINT32_MAX;
  uint32_t block = head;
  for (uint32_t scanned = 0; block != 0 && scanned < kBestFitScan; ++scanned) {
    uint32_t available = units_of(word_at(block, 0));
    if (available >= units &&
        (available < best_units || (available == best_units && block < best))) {
      best = block;
      best_units = available;
    }
    block = word_at(block, kNextLink);
  }
  return best;
}

void* SimpleAllocator::alloc_here(uint32_t units, uint32_t align_bits, bool may_bump) {
  // The head (a page store: best fit) of each non-empty class from the request's own up: past
  // the first one or two, only an alignment gap can make it not fit, and the loop ends at the
  // last class.
  uint32_t own_class = size_class(units, class_bits_);
  for (uint32_t word = own_class / kClassesPerWord; word < kClassCount / kClassesPerWord; ++word) {
    uint64_t candidates = nonempty_classes_[word];
    if (word == own_class / kClassesPerWord)
      candidates &= ~(class_bit(own_class) - 1);
    for (; candidates != 0; candidates &= candidates - 1) {
      uint32_t block = heads_[word * kClassesPerWord + __builtin_ctzll(candidates)];
      if (unit_shift_ != kWordShift)
        block = best_fit(block, units);
      uint32_t available = units_of(word_at(block, 0));
      uint32_t gap = gap_for(block, align_bits);
      if (gap + units <= available) {
        unlink_free(block);
        if (gap != 0)
          push_free(block, gap);
        uint32_t start = block + gap;
        uint32_t tail = available - gap - units;
        if (tail >= min_units()) {
          push_free(start + units, tail); // the block after keeps PREV_FREE
        } else {
          units += tail;
          word_at(start + units, 0) &= ~kPrevFree; // a used block follows every free one (I3, I4)
        }
        make_used(start, units, gap != 0);
        return payload_of(start);
      }
    }
  }
  return may_bump ? bump(units, align_bits) : nullptr;
}

// The region holding ptr as the payload of one of its used blocks, or nullptr.
SimpleAllocator* SimpleAllocator::owner_of(const void* ptr) const {
  for (auto* region = const_cast<SimpleAllocator*>(this); region; region = region->next())
    if (region->contains(ptr))
      return region->holds_own_used_block(ptr) ? region : nullptr;
  return nullptr;
}

bool SimpleAllocator::dealloc(void* ptr) {
  SimpleAllocator* region = owner_of(ptr);
  if (region == nullptr)
    return false;
  region->dealloc_own(ptr);
  return true;
}

// Not inlined: the layer above calls it from several places (free, giving parked blocks
// back), and each copy of the merge costs about 300 B in Release builds.
[[gnu::noinline]] void SimpleAllocator::dealloc_own(void* ptr) {
  uint32_t block = block_of(ptr);
  uint32_t header_word = word_at(block, 0);
  uint32_t units = units_of(header_word);
  live_blocks_ -= 1;
  if (header_word & kPrevFree) {
    uint32_t before_units = reinterpret_cast<Word*>(address_of(block))[-1]; // I6
    block -= before_units;
    units += before_units;
    unlink_free(block);
  }
  release(block, units);
}

bool SimpleAllocator::dealloc(void* ptr, size_t word_count) {
  return owner_of(ptr) != nullptr && word_count <= usable_words(ptr) && dealloc(ptr);
}

bool SimpleAllocator::resize_in_place(void* ptr, size_t word_count) {
  return word_count <= kMaxAllocWords && resize_units(ptr, word_count + 1);
}

bool SimpleAllocator::resize_units(void* ptr, size_t units) {
  SimpleAllocator* region = owner_of(ptr);
  if (region == nullptr || units > kMaxBlockUnits)
    return false;
  uint32_t block = region->block_of(ptr);
  uint32_t header_word = region->word_at(block, 0);
  uint32_t have = units_of(header_word);
  uint32_t want = at_least(uint32_t(units), region->min_units());
  uint32_t after = block + have;
  bool after_is_bump = after == region->unused_start_;
  uint32_t after_header = after_is_bump ? 0 : region->word_at(after, 0);

  if (want <= have) {
    // A tail too small to be a block stays with this one unless free space after it takes it.
    uint32_t tail = have - want;
    if (tail == 0 || (tail < region->min_units() && !after_is_bump && !(after_header & kFree)))
      return true;
    region->word_at(block, 0) = with_units(header_word, want);
    region->release(block + want, tail);
    return true;
  }

  uint32_t more = want - have;
  if (after_is_bump) {
    if (more > region->end_ - after)
      return false;
    region->unused_start_ = block + want;
  } else {
    uint32_t after_units = units_of(after_header);
    if (!(after_header & kFree) || after_units < more)
      return false;
    region->unlink_free(after);
    uint32_t tail = after_units - more;
    if (tail >= region->min_units()) {
      region->push_free(block + want, tail);
    } else {
      want += tail;
      region->word_at(block + want, 0) &= ~kPrevFree;
    }
  }
  region->word_at(block, 0) = with_units(header_word, want);
  return true;
}

bool SimpleAllocator::move_end(void* new_end) {
  uintptr_t new_units = (uintptr_t(new_end) - base_.value) >> unit_shift_;
  if (uintptr_t(new_end) < unused_start() || new_units > uintptr_t(1) << kSizeBits ||
      (unit_shift_ == kWordShift && (new_units << kWordShift) > kMaxRegionBytes))
    return false;
  end_ = uint32_t(new_units);
  return true;
}

void* SimpleAllocator::move_end_over(void* taken_end, void* new_end) {
  uintptr_t taken_offset = uintptr_t(taken_end) - base_.value;
  uintptr_t taken_units = taken_offset >> unit_shift_;
  uint32_t old_end = end_;
  if ((taken_offset & ((uintptr_t(1) << unit_shift_) - 1)) != 0 ||
      uintptr_t(taken_end) < address_of(old_end) || taken_units - old_end < min_units() ||
      uintptr_t(taken_end) > uintptr_t(new_end) || !move_end(new_end))
    return nullptr;
  uint32_t block = unused_start_;
  if (old_end - block >= min_units()) {
    push_free(block, old_end - block); // the block below the bump area is used (I4)
    block = old_end;
  }
  make_used(block, uint32_t(taken_units) - block, block != unused_start_);
  unused_start_ = uint32_t(taken_units);
  return payload_of(block);
}

uint32_t SimpleAllocator::compact(Relocator relocate, void* context) {
  // Every free block is rebuilt from the gaps left below the blocks that stay.
  nonempty_classes_[0] = nonempty_classes_[1] = 0;
  for (uint32_t& head : heads_)
    head = 0;
  fragments_ = 0;
  fragment_units_ = 0;
  uint32_t moved = 0;
  uint32_t destination = heap_start_; // where the next block that moves goes
  for (uint32_t block = heap_start_; block < unused_start_;) {
    uint32_t header_word = word_at(block, 0);
    uint32_t units = units_of(header_word);
    uint32_t next = block + units;
    if (!(header_word & kFree)) {
      if (destination != block && relocate(context, payload_of(block), payload_of(destination))) {
        copy_words_down(&word_at(destination, 0), &word_at(block, 0),
                        (units << unit_shift_) / kWordBytes);
        word_at(destination, 0) = header_word & ~kPrevFree; // the block before is used, or none
        moved += 1;
      } else {
        if (destination != block)
          push_free(destination, block - destination);
        word_at(block, 0) =
            destination != block ? header_word | kPrevFree : header_word & ~kPrevFree;
        destination = block;
      }
      destination += units;
    }
    block = next;
  }
  unused_start_ = destination; // the space above the last used block is bump area again (I4)
  return moved;
}

uint32_t SimpleAllocator::largest_free_units() const {
  uint32_t largest = end_ - unused_start_;
  uint64_t high = nonempty_classes_[1], low = nonempty_classes_[0];
  if ((high | low) != 0) {
    // A request of the top list's head's size looks at that head first, and it fits.
    uint32_t top = high != 0 ? 2 * kClassesPerWord - 1 - __builtin_clzll(high)
                             : kClassesPerWord - 1 - __builtin_clzll(low);
    uint32_t head = heads_[top];
    uint32_t units = units_of(word_at(head, 0));
    largest = units > largest ? units : largest;
  }
  return largest;
}

void SimpleAllocator::walk(BlockVisitor visit, void* context) const {
  for (uint32_t block = heap_start_; block < unused_start_;) {
    Word header_word = word_at(block, 0);
    uint32_t units = units_of(header_word);
    if (units == 0) // a corrupted header: stop rather than loop (kit_check says what broke)
      return;
    visit(context, address_of(block), uint64_t(units) << unit_shift_, header_word & kFree);
    block += units;
  }
}

RegionStats SimpleAllocator::own_stats() const {
  return {1,
          end_ - heap_start_,
          unused_start_ - heap_start_,
          end_ - unused_start_,
          fragment_units_,
          fragments_,
          live_blocks_};
}

RegionStats SimpleAllocator::stats() const {
  RegionStats sum = {};
  for (const SimpleAllocator* region = this; region != nullptr; region = region->next())
    add_stats(sum, region->own_stats());
  return sum;
}

const char* SimpleAllocator::check() const {
  for (const SimpleAllocator* region = this; region != nullptr; region = region->next())
    if (const char* breach = region->check_here())
      return breach;
  return nullptr;
}

const char* SimpleAllocator::check_here() const {
  if (heap_start_ == 0 || unused_start_ < heap_start_ || end_ < unused_start_ ||
      end_ > 1u << kSizeBits)
    return "I1: region bounds out of order";

  uint32_t free_blocks = 0, free_units = 0, used_blocks = 0;
  bool before_is_free = false;
  for (uint32_t block = heap_start_; block < unused_start_;) {
    uint32_t header_word = word_at(block, 0);
    uint32_t units = units_of(header_word);
    if (units > unused_start_ - block)
      return "I1: a block runs past unused_start";
    if (units < min_units())
      return "I2: a block is smaller than 16 bytes";
    if (bool(header_word & kPrevFree) != before_is_free)
      return "I5: PREV_FREE disagrees with the block before";
    bool is_free = header_word & kFree;
    if (is_free) {
      if (before_is_free)
        return "I3: two adjacent free blocks";
      if (footer_of(block, units) != units)
        return "I6: a free block's footer is not its size";
      free_blocks += 1;
      free_units += units;
    } else {
      uint32_t tag_bits = header_word & ~kSizeField & ~kPrevFree;
      bool parked_here = tag_bits == kParkedTag << kTagShift &&
                         word_at(block, kParkedTagWord) << kTagShift == tag_bits_;
      if (tag_bits != tag_bits_ && !parked_here)
        return "I7: a used block does not carry the region's tag";
      used_blocks += 1;
    }
    before_is_free = is_free;
    block += units;
  }
  if (before_is_free)
    return "I4: a free block touches the bump area";

  uint32_t listed = 0;
  for (uint32_t cls = 0; cls < kClassCount; ++cls) {
    if ((heads_[cls] != 0) != bool(nonempty_classes_[cls / kClassesPerWord] & class_bit(cls)))
      return "I6: nonempty_classes disagrees with a list";
    uint32_t before = 0;
    for (uint32_t block = heads_[cls]; block != 0; block = word_at(block, kNextLink)) {
      if (block < heap_start_ || block >= unused_start_)
        return "I6: a free-list link points outside the blocks";
      uint32_t header_word = word_at(block, 0);
      if (!(header_word & kFree))
        return "I6: a used block is on a free list";
      if (size_class(units_of(header_word), class_bits_) != cls)
        return "I6: a free block is on another class's list";
      if (word_at(block, kPrevLink) != before)
        return "I6: a free-list back link is wrong";
      if (++listed > free_blocks)
        return "I6: the free lists hold more entries than there are free blocks";
      before = block;
    }
  }
  if (listed != free_blocks)
    return "I6: a free block is on no list";
  if (free_blocks != fragments_ || free_units != fragment_units_)
    return "I7: fragment counters disagree with the blocks";
  if (used_blocks != live_blocks_)
    return "I7: live_blocks disagrees with the blocks";
  return nullptr;
}

} // namespace kit
