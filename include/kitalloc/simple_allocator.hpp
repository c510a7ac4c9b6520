// kitalloc core: SimpleAllocator, one memory region of up to 2 MiB.
//
// This header is the one place that states the memory layout and the invariants; the code in
// src/simple_allocator.cpp relies on them without restating them.
//
// ── Region ───────────────────────────────────────────────────────────────────────────────────
// A region manages [base + heap_start units, base + end units) in units of 4-byte words (a
// word region) or of 16-byte page map entries (the page store the global allocator keeps its
// small regions and large blocks in). A word region holds its own state first, so base is the
// state:
//
//   begin (8-aligned) = base                                             end
//   │ state (584 B) │ pad │ block │ block │ ... │ block │ unused (bump area)  │
//                         ^ heap_start                  ^ unused_start
//
// The padding (0..12 bytes) makes the first block's payload as aligned as the region's owner
// asks (16 bytes for malloc's regions): were that block's alignment gap a free block, no block
// of that alignment would ever fit it, and it would sit in a free list for good.
//
// A page store manages 64 KiB pages without writing into them: each page has a 16-byte entry
// in a page map (base), and the store's blocks are runs of entries, laid out exactly like a
// word region's blocks of 16 bytes per unit (below). Entry n stands for page n of memory
// counted from an origin the layer above chooses; its state lives outside the map. So a run's
// pages are all payload: a block of exactly 1 MiB takes 16 pages.
//
//   map:     │ entry 0 (never a run) │ entry 1 │ entry 2 │ ... │     (16 bytes each)
//   memory:  │ origin                │ page 1  │ page 2  │ ... │     (64 KiB each)
//
// Offsets, not pointers, are stored in memory, and the state has the same size on wasm32 and
// on a 64-bit host, so a region's bytes are laid out identically on both.
//
// ── Blocks ───────────────────────────────────────────────────────────────────────────────────
// Between heap_start and unused_start, blocks tile the memory with no gaps. Each starts with a
// header word:
//
//   bits 31..21 tag (used blocks: the region's tag)   20..2 size in units   1 PREV_FREE   0 FREE
//
//   used block                          free block
//   ┌───────────────────────┐           ┌───────────────────────┐
//   │ header  tag|size|P|0  │           │ header    0|size|0|1  │
//   ├───────────────────────┤ <- ptr    │ next free   (offset)  │ (byte 4)
//   │ payload               │           │ prev free   (offset)  │ (byte 8)
//   │ (size units - 4 bytes)│           │ ...                   │
//   │                       │           │ footer      size      │ (last word)
//   └───────────────────────┘           └───────────────────────┘
//
// A used block costs one word; the free-list links and the footer exist only while it is
// free. The footer lets a block being freed find the start of a free block before it, and
// the PREV_FREE bit says whether that footer is valid: both neighbours are found in O(1)
// (boundary tags). We chose tags over a bitmap of block starts because they cost nothing
// while a block is used beyond the header that C `free(ptr)` needs for the size anyway,
// whereas a bitmap costs 1/32 of the region on top of that header.
// The tag lets the layer above find, from a pointer alone, which region a block belongs to
// (kNoRegionTag, the highest, is no region's).
//
// A parked block is a used block the layer above holds back for reuse (its cache of freed
// small blocks): its header's tag is kParkedTag, so dealloc, resize and holds_own_used_block
// refuse it (a second free is caught), and its region's tag waits in its fourth word:
//
//   │ header kParkedTag|size|P|0 │ parker's link (8 bytes) │ region's tag │ ...
//
// ── Free lists ──────────────────────────────────────────────────────────────────────────────
// Free blocks sit in 128 doubly linked lists by size class, 2^b classes per power of two:
// sizes below 2^b units have a class each, then class = 2^b - 1 + 2^b * (log2(size) - b) + the
// b bits below the leading one (capped at 127). Word regions have b = 3 (class_bits), so a
// class never spans more than 1.125x: against b = 2, that cuts the pages fragmentation costs
// on random-sized requests by a third or more (bench/, random actions over 16 seeds) for a 584-byte
// state instead of 312 and 5-10% of their speed (more requests split a block of the next class).
// The page store keeps b = 2 (1.25x): with b = 3 its runs fragmented more (large blocks, 16 seeds).
// Bit c of `nonempty_classes` is set iff list c is non-empty. Link offsets are 0 for "none"
// (offset 0 is never a block: it is the state, or address 0).
// Allocation takes the head of the request's own class if it fits, else the head of the next
// non-empty class (every block there fits): good fit in O(1), never a list walk. A freed
// block (merged with its free neighbours) goes to the head of its class's list. A page store
// takes the best fit among the first kBestFitScan blocks of a class's list (the smallest, the
// lowest address among equals), from the first class where one of those fits: its lists
// are short, and against the head, best fit cut the pages large blocks of random sizes end
// with by 2.3% (bench/, large blocks over 15 seeds; dlmalloc also takes best fits). A chain of
// regions is tried newest first, each region's free blocks before its bump area: a request
// costs O(1) while the newest region has room (looking at older regions first would cost
// O(regions) for every request a growing heap makes).
//
// ── Invariants (checked by SimpleAllocator::check) ──────────────────────────────────────────
//  I1  heap_start <= every block < unused_start <= end; blocks tile [heap_start, unused_start).
//  I2  every block has at least min_units (16 bytes: header, two links, footer).
//  I3  no two free blocks are adjacent (freed neighbours are merged at once).
//  I4  the block just below unused_start is never free: a free block touching the bump area is
//      given back to it.
//  I5  a block's PREV_FREE bit equals the FREE bit of the block before it (0 for the first).
//  I6  a free block's footer (its last word) holds its size; it is in exactly one list, the one
//      of its size class; bit c of nonempty_classes is set iff list c is non-empty.
//  I7  fragments / fragment units count the free blocks and their units; live_blocks counts
//      the used blocks (parked ones too), and every used block carries the region's tag or,
//      parked, kParkedTag with the region's tag in its fourth word.
// From I3 and I4: the neighbour after a free block is always a used block (never the bump
// area), and the neighbour before a free block is used or absent.
#pragma once

#include "kitalloc.h"

#include <stddef.h>
#include <stdint.h>

namespace kit {

// Metadata is read and written through this type; user data of any type shares the memory.
using Word = uint32_t __attribute__((may_alias));

inline constexpr uint32_t kWordBytes = 4;
inline constexpr uint32_t kWordShift = 2;

// Copies front to back: for words apart, or moving down over themselves (each word is read
// before anything overwrites it). The freestanding build has no memmove.
inline void copy_words_down(Word* to, const Word* from, size_t word_count) {
  for (size_t index = 0; index < word_count; ++index)
    to[index] = from[index];
}
inline constexpr uint32_t kPageShift = 16;    // a wasm page: 64 KiB
inline constexpr uint32_t kMapEntryShift = 4; // a page's entry in a page map: 16 bytes
inline constexpr uint32_t kMaxRegionBytes = 2u << 20;
inline constexpr uint32_t kMinBlockBytes = 16;
inline constexpr uint32_t kMinBlockWords = kMinBlockBytes / kWordBytes;
// The core serves payloads below 32 KiB; larger ones are the page layer's. In words: such a
// payload plus its header, rounded up to a 16-byte block (the widest rounding the C ABI uses).
inline constexpr uint32_t kMaxAllocBytes = 32 * 1024 - 1;
inline constexpr uint32_t kMaxAllocWords = (kMaxAllocBytes + kWordBytes + 15) / 16 * 4 - 1;
// Payload alignment up to 64 KiB (a wasm page); align_bits counts trailing zero bits.
inline constexpr uint32_t kMaxAlignBits = 16;
inline constexpr uint32_t kMaxFirstAlignBits = 4; // a word region's first payload (see create)
inline constexpr uint32_t kClassCount = 128;
// Classes per power of two: 2^kWordClassBits in word regions, 2^kPageClassBits in a page store
// (see "Free lists").
inline constexpr uint32_t kWordClassBits = 3;
inline constexpr uint32_t kPageClassBits = 2;
inline constexpr uint32_t kBestFitScan = 16; // blocks a page store looks at in a class's list
inline constexpr uint32_t kSizeBits = 19;
inline constexpr uint32_t kMaxBlockUnits = (1u << kSizeBits) - 1;
inline constexpr uint32_t kTagShift = 2 + kSizeBits;
inline constexpr uint32_t kNoRegionTag = (1u << (32 - kTagShift)) - 1; // 2047
inline constexpr uint32_t kParkedTag = kNoRegionTag - 1;
inline constexpr uint32_t kMaxRegionTag = kParkedTag - 1;
// A header word's fields (see "Blocks" above).
inline constexpr uint32_t kFree = 1;
inline constexpr uint32_t kPrevFree = 2;
inline constexpr uint32_t kFlagBits = 2;
inline constexpr uint32_t kSizeField = kMaxBlockUnits << kFlagBits;
// A parked block's region tag waits in its fourth word, past the parker's link.
inline constexpr uint32_t kParkedTagWord = 3;

constexpr uint32_t units_of(uint32_t header_word) {
  return (header_word & kSizeField) >> kFlagBits;
}

// The core's own arithmetic, here so that its hot paths inline into the layer above.
namespace detail {
constexpr uint32_t header(uint32_t units, uint32_t flags) { return units << kFlagBits | flags; }

// 2^class_bits classes per power of two; sizes below 2^class_bits have a class each.
constexpr uint32_t size_class(uint32_t units, uint32_t class_bits) {
  uint32_t exact = 1u << class_bits;
  if (units < exact)
    return units - 1;
  uint32_t log2 = 31 - __builtin_clz(units);
  uint32_t cls =
      exact - 1 + (log2 - class_bits) * exact + ((units >> (log2 - class_bits)) & (exact - 1));
  return cls < kClassCount - 1 ? cls : kClassCount - 1;
}
// nonempty_classes is two 64-bit words: class c is bit c % 64 of word c / 64.
inline constexpr uint32_t kClassesPerWord = 64;
constexpr uint64_t class_bit(uint32_t cls) { return uint64_t(1) << (cls % kClassesPerWord); }

constexpr uint32_t at_least(uint32_t units, uint32_t minimum) {
  return units < minimum ? minimum : units;
}
// A word region's block for a payload of word_count words: the header and at least 16 bytes.
constexpr uint32_t units_for_words(size_t word_count) {
  return at_least(uint32_t(word_count) + 1, kMinBlockWords);
}
} // namespace detail

// A pointer or address stored in 8 bytes on every target, so that what holds it (a region's
// state, a large run's header) has one layout on wasm32 and on a 64-bit host.
template <typename T> union Wide {
  T value;
  uint64_t width;
};

// Figures in the region's units: words for a word region, pages for the page store.
using RegionStats = kit_region_stats;

// Adds one set of region figures to another (a chain's sum, a heap's).
inline void add_stats(RegionStats& sum, const RegionStats& more) {
  sum.regions += more.regions;
  sum.total_words += more.total_words;
  sum.allocated_words += more.allocated_words;
  sum.unused_words += more.unused_words;
  sum.fragment_words += more.fragment_words;
  sum.fragments += more.fragments;
  sum.live_blocks += more.live_blocks;
}

class SimpleAllocator {
public:
  // A word region: places the state at the start of [begin, end) (begin rounded up to 8
  // bytes, end down to a word) and returns it; its first block starts where its payload gets
  // first_align_bits (see "Region"). Returns nullptr, touching nothing, if the range is
  // inverted, larger than kMaxRegionBytes, too small for the state and one block, or
  // first_align_bits is above kMaxFirstAlignBits.
  static SimpleAllocator* create(void* begin, void* end, uint32_t tag = 0,
                                 uint32_t first_align_bits = kWordShift);
  template <size_t N> static SimpleAllocator* create(uint32_t (&words)[N]) {
    return create(words, words + N);
  }
  // A page store in `state` (sizeof(SimpleAllocator) bytes, 8-aligned) for pages
  // [first_page, end_page), numbered as entries of `map` (see "Region"). Returns nullptr if
  // the range is inverted or page 0 is in it.
  static SimpleAllocator* create_page_store(void* state, void* map, uint32_t first_page,
                                            uint32_t end_page);

  // A block of at least word_count words whose address has align_bits trailing zero bits,
  // from this region or the next ones in the chain. nullptr if word_count > kMaxAllocWords,
  // align_bits > kMaxAlignBits, or no region has room; nothing changes then.
  void* alloc(size_t word_count, uint32_t align_bits);
  // The same from this region only, not the chain.
  void* alloc_local(size_t word_count, uint32_t align_bits);
  // The same from free blocks only, never the bump area (chain included).
  void* alloc_free_block(size_t word_count, uint32_t align_bits);
  // The same in units, header included: a page store's runs. nullptr if units is 0 or above
  // kMaxBlockUnits.
  void* alloc_units(size_t units);
  // alloc_local's fast path, defined here for the layer above to inline: when no free list of
  // the request's class or above has a block (alloc_local would bump), the bump area's block,
  // as alloc_local would return it; nullptr when one has, or the bump area is short (alloc_local
  // or alloc decides then). word_count at most kMaxAllocWords, align_bits at most
  // kMaxAlignBits: the caller's to ensure.
  void* alloc_from_bump(size_t word_count, uint32_t align_bits);

  // Frees a block returned by alloc of any region in the chain. Returns false, changing
  // nothing, if ptr lies in no region of the chain, is not where a payload starts, or its
  // header says the block is already free. The sized form (alloc_cat's contract) also refuses
  // a word_count larger than the block.
  bool dealloc(void* ptr);
  bool dealloc(void* ptr, size_t word_count);
  // dealloc for a used block of this region that holds_own_used_block has confirmed (the layer
  // above checks a pointer once for all it does with it); anything else breaks the region.
  void dealloc_own(void* ptr);

  // Resizes a block where it stands, to at least word_count words (units: header included):
  // a shrink splits off the tail; a growth takes the free block or bump area after it.
  // Returns false, changing nothing, if that room is not there (the caller moves the block)
  // or the arguments are out of range as for alloc.
  bool resize_in_place(void* ptr, size_t word_count);
  bool resize_units(void* ptr, size_t units);

  // Payload words of a word region's used block (at least what alloc was asked for).
  static uint32_t usable_words(const void* ptr);
  // Units of a used block, header included, and its tag.
  static uint32_t block_units(const void* ptr);
  static uint32_t tag_of(const void* ptr);
  // Whether the header before ptr says free or parked (what a double free finds, until the
  // memory is reused).
  static bool header_says_free(const void* ptr);
  // Parks a used block (see "parked block" above); unpark makes it its region's used block
  // again and returns the region's tag. Neither checks ptr: the caller vouches for it.
  static void park(void* ptr);
  static uint32_t unpark(void* ptr);
  static uint32_t parked_region_tag(const void* ptr);
  static bool is_parked(const void* ptr) { return tag_of(ptr) == kParkedTag; }

  // Moves this region's end to new_end: up over memory made available just after it, or down
  // to give the top of the bump area back. Returns false, changing nothing, if new_end is below
  // unused_start or the region would pass kMaxRegionBytes (a page store: kMaxBlockUnits pages).
  bool move_end(void* new_end);
  // Moves the end up to new_end as move_end does, over memory of which the part up to
  // taken_end is not this region's to hand out (someone else's): that part becomes one used
  // block, and the bump area below it a free block (or part of that used block, if too small
  // for one). Returns the used block's payload, or nullptr, changing nothing, if move_end would
  // refuse new_end, or taken_end is not a whole unit past the end, at least one block above it
  // and within new_end.
  void* move_end_over(void* taken_end, void* new_end);

  // Compaction: visits the used blocks in address order and slides each one the relocator
  // accepts down over the free space before it (relocate(context, from, to) is asked first and
  // updates whatever refers to the block; the core then moves its bytes). Blocks it refuses
  // stay; the free space below each of them becomes one free block, and the space above the
  // last used block goes back to the bump area. Sizes are kept, so blocks whose sizes are
  // multiples of 16 bytes starting 16-byte-congruent stay so. Returns the blocks moved. O(blocks).
  using Relocator = bool (*)(void* context, void* from, void* to);
  uint32_t compact(Relocator relocate, void* context);
  // Units of the largest block alloc is sure to place here now: the bump area, or the head of
  // the highest size class (good fit looks at each class's head only). O(1).
  uint32_t largest_free_units() const;

  // alloc tries the next region when this one has no room; dealloc forwards pointers outside
  // this region to it.
  void chain(SimpleAllocator* next) { next_.value = next; }
  SimpleAllocator* next() const { return next_.value; }

  bool contains(const void* ptr) const;
  // Whether ptr is where the payload of a used block of this region (not the chain) starts,
  // as far as headers tell (what dealloc accepts of it). O(1).
  bool holds_own_used_block(const void* ptr) const { return holds_used_block(ptr, unit_shift_); }
  // The same for a region known to be a word region, with its unit a constant (free's path).
  bool holds_own_used_word_block(const void* ptr) const {
    return holds_used_block(ptr, kWordShift);
  }
  // Calls visit for every block of this region (not the chain) in address order, with the
  // block's start (its header), its size in bytes and whether it is free. O(blocks). visit may
  // free the block it is given (it reads the block's size before calling), nothing else.
  using BlockVisitor = void (*)(void* context, uintptr_t start, uint64_t bytes, bool free);
  void walk(BlockVisitor visit, void* context) const;
  // Figures summed over this region and the rest of the chain; this region's own.
  RegionStats stats() const;
  RegionStats own_stats() const;
  // Walks every block and list of every region in the chain and verifies I1-I7. Returns
  // nullptr when all hold, else a description of the first breach.
  const char* check() const;

  uint32_t tag() const { return tag_bits_ >> kTagShift; }
  // A word region is about to be copied, state and blocks, to new_state (its offsets stay
  // right: nothing else in it is an address). Call on the old copy, just before copying.
  void rebase(const void* new_state) { base_.value = uintptr_t(new_state); }
  // This region's own bounds, as addresses.
  uintptr_t heap_start() const { return address_of(heap_start_); }
  uintptr_t unused_start() const { return address_of(unused_start_); }
  uintptr_t end() const { return address_of(end_); }

private:
  SimpleAllocator() = default;
  // Freestanding builds have no <new>; the state is constructed in place.
  static void* operator new(size_t, void* where) noexcept { return where; }

  uintptr_t address_of(uint32_t offset) const {
    return base_.value + (uintptr_t(offset) << unit_shift_);
  }
  Word& word_at(uint32_t block, uint32_t index) const;
  Word& footer_of(uint32_t block, uint32_t units) const;
  uint32_t block_of(const void* ptr) const;
  void* payload_of(uint32_t block) const;
  uint32_t min_units() const;
  uint32_t gap_for(uint32_t block, uint32_t align_bits) const;
  bool holds_used_block(const void* ptr, uint32_t unit_shift) const;

  void* alloc_in_chain(uint32_t units, uint32_t align_bits, bool may_bump);
  void* alloc_here(uint32_t units, uint32_t align_bits, bool may_bump);
  bool has_free_from_class(uint32_t cls) const;
  void* bump(uint32_t units, uint32_t align_bits);
  uint32_t best_fit(uint32_t head, uint32_t units) const;
  void make_used(uint32_t block, uint32_t units, bool prev_free);
  void push_free(uint32_t block, uint32_t units);
  void unlink_free(uint32_t block);
  void release(uint32_t block, uint32_t units);
  SimpleAllocator* owner_of(const void* ptr) const;
  const char* check_here() const;

  uint64_t nonempty_classes_[2] = {};
  uint32_t heads_[kClassCount] = {};
  uint32_t heap_start_ = 0;
  uint32_t unused_start_ = 0;
  uint32_t end_ = 0;
  uint32_t fragments_ = 0;
  uint32_t fragment_units_ = 0;
  uint32_t live_blocks_ = 0;
  uint32_t unit_shift_ = kWordShift;
  uint32_t tag_bits_ = 0; // the tag, already shifted into place
  uint32_t class_bits_ = kWordClassBits;
  // Wide: the state (and every offset after it) is the same size on wasm32 and a 64-bit host.
  Wide<SimpleAllocator*> next_ = {nullptr};
  Wide<uintptr_t> base_ = {0};
};

static_assert(sizeof(SimpleAllocator) == 584, "region state must be the same on every target");

// What the layers above call per malloc and free is defined here, so that it inlines.

inline Word& SimpleAllocator::word_at(uint32_t block, uint32_t index) const {
  return reinterpret_cast<Word*>(address_of(block))[index];
}

inline uint32_t SimpleAllocator::block_of(const void* ptr) const {
  return uint32_t((uintptr_t(ptr) - kWordBytes - base_.value) >> unit_shift_);
}

// 16 bytes: a header, two links and a footer.
inline uint32_t SimpleAllocator::min_units() const {
  return ((kMinBlockBytes - 1) >> unit_shift_) + 1;
}

inline void* SimpleAllocator::payload_of(uint32_t block) const { return &word_at(block, 1); }

// Units to skip before `block` so the payload gets align_bits: 0, or a gap big enough to be a
// free block of its own, so nothing is lost to alignment.
inline uint32_t SimpleAllocator::gap_for(uint32_t block, uint32_t align_bits) const {
  uintptr_t align_mask = (uintptr_t(1) << align_bits) - 1;
  auto gap = uint32_t(((0 - uintptr_t(payload_of(block))) & align_mask) >> unit_shift_);
  if (gap != 0 && gap < min_units())
    gap += detail::at_least(uint32_t((align_mask + 1) >> unit_shift_), min_units());
  return gap;
}

inline void SimpleAllocator::make_used(uint32_t block, uint32_t units, bool prev_free) {
  word_at(block, 0) = detail::header(units, prev_free ? kPrevFree : 0) | tag_bits_;
  live_blocks_ += 1;
}

// Whether a list of class cls or above has a block.
inline bool SimpleAllocator::has_free_from_class(uint32_t cls) const {
  uint32_t word = cls / detail::kClassesPerWord;
  return (nonempty_classes_[word] & ~(detail::class_bit(cls) - 1)) != 0 ||
         (word == 0 && nonempty_classes_[1] != 0);
}

// The bump area's next block of `units` whose payload gets align_bits (a gap below it becomes
// a free block), or nullptr when the bump area is short.
inline void* SimpleAllocator::bump(uint32_t units, uint32_t align_bits) {
  uint32_t start = unused_start_;
  uint32_t gap = gap_for(start, align_bits);
  if (gap + units > end_ - start)
    return nullptr;
  if (gap != 0)
    push_free(start, gap);
  make_used(start + gap, units, gap != 0); // the block before the bump area is used (I4)
  unused_start_ = start + gap + units;
  return payload_of(start + gap);
}

inline void* SimpleAllocator::alloc_from_bump(size_t word_count, uint32_t align_bits) {
  uint32_t units = detail::units_for_words(word_count);
  return has_free_from_class(detail::size_class(units, class_bits_)) ? nullptr
                                                                     : bump(units, align_bits);
}

// unit_shift is unit_shift_ (a caller may know it as a constant).
inline bool SimpleAllocator::holds_used_block(const void* ptr, uint32_t unit_shift) const {
  uintptr_t offset = uintptr_t(ptr) - kWordBytes - base_.value; // wraps for ptr below the region
  uintptr_t block = offset >> unit_shift;
  uintptr_t unit_mask = (uintptr_t(1) << unit_shift) - 1;
  if ((offset & unit_mask) != 0 || block - heap_start_ >= uintptr_t(unused_start_ - heap_start_))
    return false;
  uint32_t header_word = static_cast<const Word*>(ptr)[-1];
  uint32_t units = units_of(header_word);
  uint32_t min_units = ((kMinBlockBytes - 1) >> unit_shift) + 1;
  return (header_word & ~kSizeField & ~kPrevFree) == tag_bits_ && units >= min_units &&
         units <= unused_start_ - block;
}

inline uint32_t SimpleAllocator::block_units(const void* ptr) {
  return units_of(static_cast<const Word*>(ptr)[-1]);
}

inline uint32_t SimpleAllocator::usable_words(const void* ptr) { return block_units(ptr) - 1; }

inline uint32_t SimpleAllocator::tag_of(const void* ptr) {
  return static_cast<const Word*>(ptr)[-1] >> kTagShift;
}

inline bool SimpleAllocator::header_says_free(const void* ptr) {
  return (static_cast<const Word*>(ptr)[-1] & kFree) || is_parked(ptr);
}

inline void SimpleAllocator::park(void* ptr) {
  Word* header = static_cast<Word*>(ptr) - 1;
  header[kParkedTagWord] = *header >> kTagShift;
  *header = (*header & ~(kNoRegionTag << kTagShift)) | kParkedTag << kTagShift;
}

inline uint32_t SimpleAllocator::parked_region_tag(const void* ptr) {
  return static_cast<const Word*>(ptr)[kParkedTagWord - 1];
}

inline uint32_t SimpleAllocator::unpark(void* ptr) {
  Word* header = static_cast<Word*>(ptr) - 1;
  uint32_t tag = parked_region_tag(ptr);
  *header = (*header & ~(kNoRegionTag << kTagShift)) | tag << kTagShift;
  return tag;
}

} // namespace kit
