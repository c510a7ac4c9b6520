// The core allocator. The layout and invariants I1-I7 are stated in simple_allocator.hpp.
#include "kitalloc/simple_allocator.hpp"

namespace kit {
namespace {

constexpr uint32_t kFree = 1;
constexpr uint32_t kPrevFree = 2;
constexpr uint32_t kFlagBits = 2;
// Free-block words after the header.
constexpr uint32_t kNextLink = 1;
constexpr uint32_t kPrevLink = 2;

constexpr uint32_t header(uint32_t words, uint32_t flags) { return words << kFlagBits | flags; }
constexpr uint32_t words_of(uint32_t header_word) { return header_word >> kFlagBits; }

constexpr uint32_t size_class(uint32_t words) {
  uint32_t log2 = 31 - __builtin_clz(words);
  uint32_t cls = (log2 - 2) * 4 + ((words >> (log2 - 2)) & 3);
  return cls < kClassCount - 1 ? cls : kClassCount - 1;
}
static_assert(size_class(kMinBlockWords) == 0 && size_class(7) == 3 && size_class(8) == 4);

// The class after size_class(words) holds only blocks larger than words (see the header).
static_assert(size_class(9) == 4 && size_class(10) == 5);

constexpr uint32_t block_words_for(size_t word_count) {
  uint32_t words = uint32_t(word_count) + 1;
  return words < kMinBlockWords ? kMinBlockWords : words;
}

} // namespace

SimpleAllocator* SimpleAllocator::create(void* begin, void* end) {
  uintptr_t first = (uintptr_t(begin) + 7) & ~uintptr_t(7);
  uintptr_t last = uintptr_t(end) & ~uintptr_t(kWordBytes - 1);
  if (begin == nullptr || first < uintptr_t(begin) || last < first)
    return nullptr;
  uintptr_t bytes = last - first;
  if (bytes > kMaxRegionBytes || bytes < sizeof(SimpleAllocator) + kMinBlockWords * kWordBytes)
    return nullptr;
  auto* region = new (reinterpret_cast<void*>(first)) SimpleAllocator;
  region->heap_start_ = sizeof(SimpleAllocator) / kWordBytes;
  region->unused_start_ = region->heap_start_;
  region->end_ = uint32_t(bytes / kWordBytes);
  return region;
}

Word& SimpleAllocator::word_at(uint32_t offset) const {
  return reinterpret_cast<Word*>(const_cast<SimpleAllocator*>(this))[offset];
}

uint32_t SimpleAllocator::offset_of(const void* ptr) const {
  return uint32_t((uintptr_t(ptr) - uintptr_t(this)) / kWordBytes);
}

void* SimpleAllocator::payload_of(uint32_t block) const { return &word_at(block + 1); }

bool SimpleAllocator::contains(const void* ptr) const {
  uintptr_t offset = uintptr_t(ptr) - uintptr_t(this); // wraps for ptr below the region
  return offset >= heap_start_ * kWordBytes && offset < end_ * kWordBytes;
}

// Words to skip before `block` so the payload gets align_bits: 0, or a gap big enough to be a
// free block of its own, so no word is lost to alignment.
uint32_t SimpleAllocator::gap_for(uint32_t block, uint32_t align_bits) const {
  uintptr_t align_mask = (uintptr_t(1) << align_bits) - 1;
  auto gap = uint32_t((0 - uintptr_t(payload_of(block))) & align_mask) / kWordBytes;
  if (gap != 0 && gap < kMinBlockWords) {
    uint32_t align_words = uint32_t(align_mask + 1) / kWordBytes;
    gap += align_words > kMinBlockWords ? align_words : kMinBlockWords;
  }
  return gap;
}

void SimpleAllocator::push_free(uint32_t block, uint32_t words) {
  word_at(block) = header(words, kFree); // the block before a free block is used (I3)
  word_at(block + words - 1) = words;
  uint32_t cls = size_class(words);
  uint32_t head = heads_[cls];
  word_at(block + kNextLink) = head;
  word_at(block + kPrevLink) = 0;
  if (head != 0)
    word_at(head + kPrevLink) = block;
  heads_[cls] = block;
  nonempty_classes_ |= uint64_t(1) << cls;
  fragments_ += 1;
  fragment_words_ += words;
}

void SimpleAllocator::unlink_free(uint32_t block) {
  uint32_t words = words_of(word_at(block));
  uint32_t next = word_at(block + kNextLink);
  uint32_t prev = word_at(block + kPrevLink);
  if (prev != 0) {
    word_at(prev + kNextLink) = next;
  } else {
    uint32_t cls = size_class(words);
    heads_[cls] = next;
    if (next == 0)
      nonempty_classes_ &= ~(uint64_t(1) << cls);
  }
  if (next != 0)
    word_at(next + kPrevLink) = prev;
  fragments_ -= 1;
  fragment_words_ -= words;
}

void SimpleAllocator::make_used(uint32_t block, uint32_t words, bool prev_free) {
  word_at(block) = header(words, prev_free ? kPrevFree : 0);
  live_blocks_ += 1;
}

// Turns [block, block + words), whose block before is used, into free space: merged with a
// free block after it, or given back to the bump area when it touches it (I3, I4).
void SimpleAllocator::release(uint32_t block, uint32_t words) {
  uint32_t after = block + words;
  if (after == unused_start_) {
    unused_start_ = block;
    return;
  }
  uint32_t after_header = word_at(after);
  if (after_header & kFree) {
    unlink_free(after);
    words += words_of(after_header);
  } else {
    word_at(after) = after_header | kPrevFree;
  }
  push_free(block, words);
}

void* SimpleAllocator::alloc(size_t word_count, uint32_t align_bits) {
  if (word_count > kMaxAllocWords || align_bits > kMaxAlignBits)
    return nullptr;
  uint32_t words = block_words_for(word_count);
  for (SimpleAllocator* region = this; region != nullptr; region = region->next())
    if (void* payload = region->alloc_here(words, align_bits))
      return payload;
  return nullptr;
}

void* SimpleAllocator::alloc_here(uint32_t words, uint32_t align_bits) {
  // The head of each non-empty class from the request's own up: past the first one or two,
  // only an alignment gap can make a head not fit, and the loop ends at 64 classes.
  uint64_t candidates = nonempty_classes_ & (~uint64_t(0) << size_class(words));
  while (candidates != 0) {
    uint32_t block = heads_[__builtin_ctzll(candidates)];
    uint32_t available = words_of(word_at(block));
    uint32_t gap = gap_for(block, align_bits);
    if (gap + words <= available) {
      unlink_free(block);
      if (gap != 0)
        push_free(block, gap);
      uint32_t start = block + gap;
      uint32_t tail = available - gap - words;
      if (tail >= kMinBlockWords) {
        push_free(start + words, tail); // the block after keeps PREV_FREE
      } else {
        words += tail;
        word_at(start + words) &= ~kPrevFree; // a used block follows every free one (I3, I4)
      }
      make_used(start, words, gap != 0);
      return payload_of(start);
    }
    candidates &= candidates - 1;
  }

  uint32_t start = unused_start_;
  uint32_t gap = gap_for(start, align_bits);
  if (gap + words > end_ - start)
    return nullptr;
  if (gap != 0)
    push_free(start, gap);
  make_used(start + gap, words, gap != 0);
  unused_start_ = start + gap + words;
  return payload_of(start + gap);
}

// The region holding ptr as the payload of a used block, or nullptr.
SimpleAllocator* SimpleAllocator::owner_of(const void* ptr) const {
  for (auto* region = const_cast<SimpleAllocator*>(this); region; region = region->next()) {
    if (!region->contains(ptr))
      continue;
    uint32_t block = region->offset_of(ptr) - 1;
    if ((uintptr_t(ptr) & (kWordBytes - 1)) != 0 || block < region->heap_start_ ||
        block >= region->unused_start_)
      return nullptr;
    uint32_t header_word = region->word_at(block);
    uint32_t words = words_of(header_word);
    if ((header_word & kFree) || words < kMinBlockWords || words > region->unused_start_ - block)
      return nullptr;
    return region;
  }
  return nullptr;
}

bool SimpleAllocator::dealloc(void* ptr) {
  SimpleAllocator* region = owner_of(ptr);
  if (region == nullptr)
    return false;
  uint32_t block = region->offset_of(ptr) - 1;
  uint32_t header_word = region->word_at(block);
  uint32_t words = words_of(header_word);
  region->live_blocks_ -= 1;
  if (header_word & kPrevFree) {
    uint32_t before_words = region->word_at(block - 1); // the footer (I6)
    block -= before_words;
    words += before_words;
    region->unlink_free(block);
  }
  region->release(block, words);
  return true;
}

bool SimpleAllocator::dealloc(void* ptr, size_t word_count) {
  return owner_of(ptr) != nullptr && word_count <= usable_words(ptr) && dealloc(ptr);
}

uint32_t SimpleAllocator::usable_words(const void* ptr) {
  return words_of(static_cast<const Word*>(ptr)[-1]) - 1;
}

bool SimpleAllocator::resize_in_place(void* ptr, size_t word_count) {
  SimpleAllocator* region = owner_of(ptr);
  if (region == nullptr || word_count > kMaxAllocWords)
    return false;
  uint32_t block = region->offset_of(ptr) - 1;
  uint32_t header_word = region->word_at(block);
  uint32_t have = words_of(header_word);
  uint32_t want = block_words_for(word_count);
  uint32_t after = block + have;
  bool after_is_bump = after == region->unused_start_;
  uint32_t after_header = after_is_bump ? 0 : region->word_at(after);

  if (want <= have) {
    // A tail too small to be a block stays with this one unless free space after it takes it.
    uint32_t tail = have - want;
    if (tail == 0 || (tail < kMinBlockWords && !after_is_bump && !(after_header & kFree)))
      return true;
    region->word_at(block) = header(want, header_word & kPrevFree);
    region->release(block + want, tail);
    return true;
  }

  uint32_t more = want - have;
  if (after_is_bump) {
    if (more > region->end_ - after)
      return false;
    region->unused_start_ = block + want;
  } else {
    uint32_t after_words = words_of(after_header);
    if (!(after_header & kFree) || after_words < more)
      return false;
    region->unlink_free(after);
    uint32_t tail = after_words - more;
    if (tail >= kMinBlockWords) {
      region->push_free(block + want, tail);
    } else {
      want += tail;
      region->word_at(block + want) &= ~kPrevFree;
    }
  }
  region->word_at(block) = header(want, header_word & kPrevFree);
  return true;
}

bool SimpleAllocator::extend(void* new_end) {
  uintptr_t new_bytes = (uintptr_t(new_end) & ~uintptr_t(kWordBytes - 1)) - uintptr_t(this);
  if (new_bytes < uintptr_t(end_) * kWordBytes || new_bytes > kMaxRegionBytes)
    return false;
  end_ = uint32_t(new_bytes / kWordBytes);
  return true;
}

RegionStats SimpleAllocator::stats() const {
  RegionStats sum = {};
  for (const SimpleAllocator* region = this; region != nullptr; region = region->next()) {
    sum.regions += 1;
    sum.total_words += region->end_ - region->heap_start_;
    sum.allocated_words += region->unused_start_ - region->heap_start_;
    sum.unused_words += region->end_ - region->unused_start_;
    sum.fragment_words += region->fragment_words_;
    sum.fragments += region->fragments_;
    sum.live_blocks += region->live_blocks_;
  }
  return sum;
}

const char* SimpleAllocator::check() const {
  for (const SimpleAllocator* region = this; region != nullptr; region = region->next())
    if (const char* breach = region->check_here())
      return breach;
  return nullptr;
}

const char* SimpleAllocator::check_here() const {
  if (heap_start_ != sizeof(SimpleAllocator) / kWordBytes || unused_start_ < heap_start_ ||
      end_ < unused_start_ || end_ > kMaxRegionBytes / kWordBytes)
    return "I1: region bounds out of order";

  uint32_t free_blocks = 0, free_words = 0, used_blocks = 0;
  bool before_is_free = false;
  for (uint32_t block = heap_start_; block < unused_start_;) {
    uint32_t header_word = word_at(block);
    uint32_t words = words_of(header_word);
    if (words > unused_start_ - block)
      return "I1: a block runs past unused_start";
    if (words < kMinBlockWords)
      return "I2: a block is smaller than kMinBlockWords";
    if (bool(header_word & kPrevFree) != before_is_free)
      return "I5: PREV_FREE disagrees with the block before";
    bool is_free = header_word & kFree;
    if (is_free) {
      if (before_is_free)
        return "I3: two adjacent free blocks";
      if (word_at(block + words - 1) != words)
        return "I6: a free block's footer is not its size";
      free_blocks += 1;
      free_words += words;
    } else {
      used_blocks += 1;
    }
    before_is_free = is_free;
    block += words;
  }
  if (before_is_free)
    return "I4: a free block touches the bump area";

  uint32_t listed = 0;
  for (uint32_t cls = 0; cls < kClassCount; ++cls) {
    if ((heads_[cls] != 0) != bool(nonempty_classes_ >> cls & 1))
      return "I6: nonempty_classes disagrees with a list";
    uint32_t before = 0;
    for (uint32_t block = heads_[cls]; block != 0; block = word_at(block + kNextLink)) {
      if (block < heap_start_ || block >= unused_start_)
        return "I6: a free-list link points outside the blocks";
      uint32_t header_word = word_at(block);
      if (!(header_word & kFree))
        return "I6: a used block is on a free list";
      if (size_class(words_of(header_word)) != cls)
        return "I6: a free block is on another class's list";
      if (word_at(block + kPrevLink) != before)
        return "I6: a free-list back link is wrong";
      if (++listed > free_blocks)
        return "I6: the free lists hold more entries than there are free blocks";
      before = block;
    }
  }
  if (listed != free_blocks)
    return "I6: a free block is on no list";
  if (free_blocks != fragments_ || free_words != fragment_words_)
    return "I7: fragment counters disagree with the blocks";
  if (used_blocks != live_blocks_)
    return "I7: live_blocks disagrees with the blocks";
  return nullptr;
}

} // namespace kit
