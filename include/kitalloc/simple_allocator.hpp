// kitalloc core: SimpleAllocator, one memory region of up to 2 MiB.
//
// This header is the one place that states the memory layout and the invariants; the code in
// src/simple_allocator.cpp relies on them without restating them.
//
// ── Region ───────────────────────────────────────────────────────────────────────────────────
// A region [begin, end) holds its own state first, then blocks, then the bump area:
//
//   begin (8-aligned)                                                  end
//   │ state (296 B) │ block │ block │ ... │ block │ unused (bump area)  │
//                   ^ heap_start                  ^ unused_start
//
// Every position inside a region is a word offset (32-bit words) from `begin`. Offsets, not
// pointers, are stored in memory, and the state has the same size on wasm32 and on a 64-bit
// host, so a region's bytes are laid out identically on both.
//
// ── Blocks ───────────────────────────────────────────────────────────────────────────────────
// Between heap_start and unused_start, blocks tile the memory with no gaps. Each starts with a
// header word:  size_in_words << 2 | PREV_FREE (bit 1) | FREE (bit 0)
//
//   used block                          free block
//   ┌───────────────────────┐           ┌───────────────────────┐
//   │ header      size|P|0  │           │ header      size|0|1  │
//   ├───────────────────────┤ <- ptr    │ next free   (offset)  │
//   │ payload               │           │ prev free   (offset)  │
//   │ (size - 1 words)      │           │ ...                   │
//   │                       │           │ footer      size      │
//   └───────────────────────┘           └───────────────────────┘
//
// A used block costs one word; the free-list links and the footer exist only while it is
// free. The footer lets a block being freed find the start of a free block before it, and
// the PREV_FREE bit says whether that footer is valid: both neighbours are found in O(1)
// (boundary tags). We chose tags over a bitmap of block starts because they cost nothing
// while a block is used beyond the header that C `free(ptr)` needs for the size anyway,
// whereas a bitmap costs 1/32 of the region on top of that header.
//
// ── Free lists ──────────────────────────────────────────────────────────────────────────────
// Free blocks sit in 64 doubly linked lists by size class: four classes per power of two
// (class = 4 * (log2(size) - 2) + the two bits below the leading one, capped at 63), so
// sizes 4..7 words have a class each and a class never spans more than 1.25x. Bit c of
// `nonempty_classes` is set iff list c is non-empty. Link offsets are 0 for "none"
// (offset 0 is the state, never a block).
// Allocation takes the head of the request's own class if it fits, else the head of the next
// non-empty class (every block there fits): good fit in O(1), never a list walk.
//
// ── Invariants (checked by SimpleAllocator::check) ──────────────────────────────────────────
//  I1  heap_start <= every block < unused_start <= end; blocks tile [heap_start, unused_start).
//  I2  every block has size >= kMinBlockWords.
//  I3  no two free blocks are adjacent (freed neighbours are merged at once).
//  I4  the block just below unused_start is never free: a free block touching the bump area is
//      given back to it.
//  I5  a block's PREV_FREE bit equals the FREE bit of the block before it (0 for the first).
//  I6  a free block's footer (its last word) holds its size; it is in exactly one list, the one
//      of its size class; bit c of nonempty_classes is set iff list c is non-empty.
//  I7  fragments / fragment_words count the free blocks and their words; live_blocks counts
//      the used blocks.
// From I3 and I4: the neighbour after a free block is always a used block (never the bump
// area), and the neighbour before a free block is used or absent.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kit {

// Metadata is read and written through this type; user data of any type shares the memory.
using Word = uint32_t __attribute__((may_alias));

inline constexpr uint32_t kWordBytes = 4;
inline constexpr uint32_t kMaxRegionBytes = 2u << 20;
inline constexpr uint32_t kMinBlockWords = 4;
// The core serves payloads below 32 KiB; larger ones are the page layer's.
inline constexpr uint32_t kMaxAllocBytes = 32 * 1024 - 1;
inline constexpr uint32_t kMaxAllocWords = (kMaxAllocBytes + kWordBytes - 1) / kWordBytes;
// Payload alignment up to 64 KiB (a wasm page); align_bits counts trailing zero bits.
inline constexpr uint32_t kMaxAlignBits = 16;
inline constexpr uint32_t kClassCount = 64;

struct RegionStats {
  uint32_t regions;         // regions in the chain
  uint32_t total_words;     // words after the states: heap_start .. end, summed
  uint32_t allocated_words; // heap_start .. unused_start: used blocks and fragments
  uint32_t unused_words;    // unused_start .. end (the bump area)
  uint32_t fragment_words;  // words in free blocks
  uint32_t fragments;       // free blocks
  uint32_t live_blocks;     // used blocks
};

class SimpleAllocator {
public:
  // Places the state at the start of [begin, end) (begin rounded up to 8 bytes, end down to
  // a word) and returns it. Returns nullptr, touching nothing, if the range is inverted,
  // larger than kMaxRegionBytes, or too small for the state and one block.
  static SimpleAllocator* create(void* begin, void* end);
  template <size_t N> static SimpleAllocator* create(uint32_t (&words)[N]) {
    return create(words, words + N);
  }

  // A block of at least word_count words whose address has align_bits trailing zero bits,
  // from this region or the next ones in the chain. nullptr if word_count > kMaxAllocWords,
  // align_bits > kMaxAlignBits, or no region has room; nothing changes then.
  void* alloc(size_t word_count, uint32_t align_bits);

  // Frees a block returned by alloc of any region in the chain. Returns false, changing
  // nothing, if ptr lies in no region of the chain, is not word-aligned, or its header says
  // the block is already free. The sized form (alloc_cat's contract) also refuses a
  // word_count larger than the block.
  bool dealloc(void* ptr);
  bool dealloc(void* ptr, size_t word_count);

  // Resizes a block where it stands, to at least word_count words: a shrink splits off the
  // tail; a growth takes the free block or bump area after it. Returns false, changing
  // nothing, if that room is not there (the caller moves the block) or the arguments are
  // out of range as for alloc.
  bool resize_in_place(void* ptr, size_t word_count);

  // Payload words of a used block (at least what alloc was asked for), read from its header.
  static uint32_t usable_words(const void* ptr);

  // Moves this region's end to new_end (memory made available just after it). Returns false,
  // changing nothing, if new_end is below the current end or the region would pass
  // kMaxRegionBytes.
  bool extend(void* new_end);

  // alloc tries the next region when this one has no room; dealloc forwards pointers outside
  // this region to it.
  void chain(SimpleAllocator* next) { next_.region = next; }
  SimpleAllocator* next() const { return next_.region; }

  bool contains(const void* ptr) const;
  // Figures summed over this region and the rest of the chain.
  RegionStats stats() const;
  // Walks every block and list of every region in the chain and verifies I1-I7. Returns
  // nullptr when all hold, else a description of the first breach.
  const char* check() const;

  uint32_t end_offset() const { return end_; }

private:
  SimpleAllocator() = default;
  // Freestanding builds have no <new>; the state is constructed in place at a region's start.
  static void* operator new(size_t, void* where) noexcept { return where; }

  Word& word_at(uint32_t offset) const;
  uint32_t offset_of(const void* ptr) const;
  void* payload_of(uint32_t block) const;
  uint32_t gap_for(uint32_t block, uint32_t align_bits) const;

  void* alloc_here(uint32_t block_words, uint32_t align_bits);
  void make_used(uint32_t block, uint32_t words, bool prev_free);
  void push_free(uint32_t block, uint32_t words);
  void unlink_free(uint32_t block);
  void release(uint32_t block, uint32_t words);
  SimpleAllocator* owner_of(const void* ptr) const;
  const char* check_here() const;

  uint64_t nonempty_classes_ = 0;
  uint32_t heads_[kClassCount] = {};
  uint32_t heap_start_ = 0;
  uint32_t unused_start_ = 0;
  uint32_t end_ = 0;
  uint32_t fragments_ = 0;
  uint32_t fragment_words_ = 0;
  uint32_t live_blocks_ = 0;
  // 8 bytes on every target, so the state (and every offset after it) is the same size on
  // wasm32 and on a 64-bit host.
  union {
    SimpleAllocator* region;
    uint64_t width;
  } next_ = {nullptr};
};

static_assert(sizeof(SimpleAllocator) == 296, "region state must be the same on every target");

} // namespace kit
