// Scenarios of the core, one behaviour each (alloc_cat's own, then what kitalloc adds).
#include "kitalloc/simple_allocator.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <vector>

using kit::RegionStats;
using kit::SimpleAllocator;

namespace {

// Memory for one region, 8-aligned, of a given size in bytes.
struct Buffer {
  explicit Buffer(size_t bytes) : storage(bytes / 8) {}
  char* begin() { return reinterpret_cast<char*>(storage.data()); }
  char* end() { return begin() + storage.size() * 8; }
  std::vector<uint64_t> storage;
};

struct Region {
  explicit Region(size_t bytes = 64 * 1024) : buffer(bytes) {
    allocator = SimpleAllocator::create(buffer.begin(), buffer.end());
    REQUIRE(allocator != nullptr);
  }
  void* alloc(size_t word_count, uint32_t align_bits = 2) {
    void* payload = allocator->alloc(word_count, align_bits);
    REQUIRE(payload != nullptr);
    return payload;
  }
  void dealloc(void* payload, size_t word_count) {
    REQUIRE(allocator->dealloc(payload, word_count));
    CHECK_CHECK_OK();
  }
  void CHECK_CHECK_OK() {
    const char* breach = allocator->check();
    CHECK_MESSAGE(breach == nullptr, (breach ? breach : ""));
  }
  RegionStats stats() const { return allocator->stats(); }
  Buffer buffer;
  SimpleAllocator* allocator;
};

bool same(const RegionStats& a, const RegionStats& b) {
  return a.regions == b.regions && a.total_words == b.total_words &&
         a.allocated_words == b.allocated_words && a.unused_words == b.unused_words &&
         a.fragment_words == b.fragment_words && a.fragments == b.fragments &&
         a.live_blocks == b.live_blocks;
}

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

// Words a block of this payload occupies, header included.
uint32_t block_words(const void* payload) { return SimpleAllocator::usable_words(payload) + 1; }

} // namespace

TEST_SUITE("SimpleAllocator: alloc_cat's scenarios") {
  TEST_CASE("a fresh region has everything unused") {
    Region region(64 * 1024);
    RegionStats stats = region.stats();
    CHECK(stats.regions == 1);
    CHECK(stats.total_words == (64 * 1024 - sizeof(SimpleAllocator)) / 4);
    CHECK(stats.unused_words == stats.total_words);
    CHECK(stats.allocated_words == 0);
    CHECK(stats.fragments == 0);
    CHECK(stats.live_blocks == 0);
  }

  TEST_CASE("alloc then dealloc restores the state") {
    Region region;
    RegionStats before = region.stats();
    void* block = region.alloc(10);
    CHECK(region.stats().live_blocks == 1);
    CHECK(region.stats().allocated_words == 11);
    region.dealloc(block, 10);
    CHECK(same(region.stats(), before));
  }

  TEST_CASE("a freed block is reused for the same size") {
    Region region;
    void* first = region.alloc(8);
    void* guard = region.alloc(1);
    region.dealloc(first, 8);
    CHECK(region.stats().fragments == 1);
    CHECK(region.alloc(8) == first);
    CHECK(region.stats().fragments == 0);
    region.dealloc(guard, 1);
  }

  TEST_CASE("coalescing with the block before") {
    Region region;
    void* a = region.alloc(7);
    void* b = region.alloc(7);
    void* guard = region.alloc(1);
    region.dealloc(a, 7);
    region.dealloc(b, 7);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 16);
    CHECK(region.alloc(15) == a); // the merged block serves a request neither could alone
    (void)guard;
  }

  TEST_CASE("coalescing with the block after") {
    Region region;
    void* a = region.alloc(7);
    void* b = region.alloc(7);
    region.alloc(1);
    region.dealloc(b, 7);
    region.dealloc(a, 7);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 16);
    CHECK(region.alloc(15) == a);
  }

  TEST_CASE("coalescing on both sides") {
    Region region;
    void* a = region.alloc(7);
    void* b = region.alloc(7);
    void* c = region.alloc(7);
    region.alloc(1);
    region.dealloc(a, 7);
    region.dealloc(c, 7);
    CHECK(region.stats().fragments == 2);
    region.dealloc(b, 7);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 24);
    CHECK(region.alloc(23) == a);
  }

  TEST_CASE("a split leaves the remainder free") {
    Region region;
    void* big = region.alloc(99);
    region.alloc(1);
    region.dealloc(big, 99);
    void* small = region.alloc(19);
    CHECK(small == big);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 100 - 20);
    void* rest = region.alloc(79);
    CHECK(address(rest) == address(small) + 20 * 4);
    CHECK(region.stats().fragments == 0);
  }

  TEST_CASE("a remainder too small for a block stays with the allocation") {
    Region region;
    void* a = region.alloc(9);
    region.alloc(1);
    region.dealloc(a, 9);
    CHECK(region.alloc(7) == a); // 10 - 8 = 2 words: not a block
    CHECK(region.stats().fragments == 0);
    CHECK(SimpleAllocator::usable_words(a) == 9);
  }

  TEST_CASE("alignment padding is a free block later allocations use") {
    Region region;
    uint32_t live_words = block_words(region.alloc(1));
    for (uint32_t align_bits = 4; align_bits <= 12; ++align_bits) {
      void* aligned = region.alloc(5, align_bits);
      CHECK(address(aligned) % (uintptr_t(1) << align_bits) == 0);
      live_words += block_words(aligned);
      region.CHECK_CHECK_OK();
    }
    RegionStats stats = region.stats();
    CHECK(stats.fragments > 0);
    // Nothing is lost: every word below the bump pointer is in a used block or a free one.
    CHECK(stats.allocated_words == live_words + stats.fragment_words);
    void* in_gap = region.alloc(2);
    CHECK(region.stats().unused_words == stats.unused_words); // served from a gap, not bumped
    CHECK(region.stats().fragment_words == stats.fragment_words - block_words(in_gap));
  }

  TEST_CASE("a block touching the bump pointer goes back to it") {
    Region region;
    void* a = region.alloc(5);
    void* b = region.alloc(5);
    region.dealloc(b, 5);
    CHECK(region.stats().allocated_words == 6);
    CHECK(region.stats().fragments == 0);
    region.dealloc(a, 5);
    CHECK(region.stats().allocated_words == 0);
  }

  TEST_CASE("a free block merged with one freed at the top goes back to the bump pointer") {
    Region region;
    void* a = region.alloc(5);
    void* b = region.alloc(5);
    region.dealloc(a, 5);
    CHECK(region.stats().fragments == 1);
    region.dealloc(b, 5);
    CHECK(region.stats().fragments == 0);
    CHECK(region.stats().allocated_words == 0);
  }

  TEST_CASE("chained regions: alloc moves on, dealloc forwards, stats add up") {
    Region first(4096);
    Region second(64 * 1024);
    first.allocator->chain(second.allocator);
    std::vector<void*> blocks;
    bool reached_second = false;
    for (int i = 0; i < 200 && !reached_second; ++i) {
      void* payload = first.alloc(15);
      blocks.push_back(payload);
      reached_second = second.allocator->contains(payload);
    }
    CHECK(reached_second);
    RegionStats stats = first.stats();
    CHECK(stats.regions == 2);
    CHECK(stats.live_blocks == blocks.size());
    CHECK(stats.total_words == (first.allocator->end() - first.allocator->heap_start() +
                                second.allocator->end() - second.allocator->heap_start()) /
                                   4);
    for (void* payload : blocks)
      first.dealloc(payload, 15);
    CHECK(first.stats().live_blocks == 0);
    CHECK(first.stats().allocated_words == 0);
    CHECK(second.allocator->stats().allocated_words == 0);
  }

  TEST_CASE("move_end makes room at the end, and gives the top of the bump area back") {
    Buffer buffer(64 * 1024);
    SimpleAllocator* region = SimpleAllocator::create(buffer.begin(), buffer.begin() + 1024);
    REQUIRE(region != nullptr);
    CHECK(region->alloc(500, 2) == nullptr);
    CHECK(region->move_end(buffer.begin() + 4096));
    void* payload = region->alloc(500, 2);
    CHECK(payload != nullptr);
    CHECK(region->stats().unused_words == (4096 - sizeof(SimpleAllocator)) / 4 - 501);
    CHECK_FALSE(region->move_end(buffer.begin() + 2048));             // below the bump pointer
    CHECK_FALSE(region->move_end(buffer.begin() + (2 << 20) + 1024)); // past 2 MiB
    auto* bump = reinterpret_cast<unsigned char*>(region->unused_start());
    CHECK(region->move_end(bump));
    CHECK(region->stats().unused_words == 0);
    CHECK(region->alloc(1, 2) == nullptr);
    CHECK(region->check() == nullptr);
  }
}

// A 2 KiB region at the start of a 64 KiB buffer: room above it for move_end_over.
struct RegionBelowRoom {
  RegionBelowRoom() : begin(reinterpret_cast<unsigned char*>(buffer.begin())) {
    region = SimpleAllocator::create(begin, begin + 2048);
    REQUIRE(region != nullptr);
  }
  Buffer buffer{64 * 1024};
  unsigned char* begin;
  SimpleAllocator* region;
};

TEST_CASE_FIXTURE(RegionBelowRoom,
                  "move_end_over holds what lies between the old end and taken_end as a used "
                  "block") {
  auto* first = static_cast<unsigned char*>(region->alloc(100, 2));
  REQUIRE(first != nullptr);
  auto* old_end = reinterpret_cast<unsigned char*>(region->end());
  uint64_t top_words = (region->end() - region->unused_start()) / 4;
  // Refused, nothing changed: taken_end below the end, less than a block above it, past
  // new_end, or new_end past 2 MiB.
  CHECK(region->move_end_over(old_end - 4, begin + 8192) == nullptr);
  CHECK(region->move_end_over(old_end + 8, begin + 8192) == nullptr);
  CHECK(region->move_end_over(old_end + 4096 + 2, begin + 8192) == nullptr); // not a whole word
  CHECK(region->move_end_over(begin + 8192, begin + 4096) == nullptr);
  CHECK(region->move_end_over(begin + 4096, begin + (2 << 20) + 1024) == nullptr);
  CHECK(region->end() == uintptr_t(old_end));
  CHECK(region->stats().unused_words == top_words);

  void* taken = region->move_end_over(begin + 4096, begin + 8192);
  CHECK(taken == old_end + 4); // the used block starts at the old end
  CHECK(region->end() == uintptr_t(begin + 8192));
  CHECK(region->unused_start() == uintptr_t(begin + 4096));
  RegionStats stats = region->stats();
  CHECK(stats.fragments == 1); // the old bump area
  CHECK(stats.fragment_words == top_words);
  CHECK(stats.live_blocks == 2);
  CHECK(region->check() == nullptr);
  // Blocks come from the old bump area and from above the taken part, never from it.
  std::vector<unsigned char*> blocks;
  while (auto* block = static_cast<unsigned char*>(region->alloc(60, 2)))
    blocks.push_back(block);
  for (unsigned char* block : blocks)
    CHECK((block + 240 <= old_end || block >= begin + 4096));
  CHECK(blocks.size() == top_words / 61 + 1024 / 61);
  CHECK(region->check() == nullptr);
  CHECK(region->dealloc(taken)); // the caller's to free: it merges as any block
  CHECK(region->check() == nullptr);
}

TEST_CASE_FIXTURE(RegionBelowRoom,
                  "move_end_over folds a bump area too small for a free block into the used one") {
  uint64_t words = (region->end() - region->unused_start()) / 4;
  REQUIRE(region->alloc(words - 3, 2) != nullptr); // leaves 2 words of bump area
  uintptr_t bump = region->unused_start();
  REQUIRE(region->end() - bump == 8);
  void* taken = region->move_end_over(begin + 4096, begin + 4096);
  CHECK(taken == reinterpret_cast<void*>(bump + 4));
  CHECK(region->stats().fragments == 0);
  CHECK(region->stats().unused_words == 0);
  CHECK(region->check() == nullptr);
}

TEST_SUITE("SimpleAllocator: what kitalloc adds") {
  TEST_CASE("merged free blocks far above 8191 words stay exact") {
    Region region(2 << 20);
    std::vector<void*> blocks;
    for (int i = 0; i < 40; ++i)
      blocks.push_back(region.alloc(999));
    void* guard = region.alloc(1);
    for (void* payload : blocks)
      region.dealloc(payload, 999);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 40 * 1000);
    // The whole run serves blocks again, at the same place.
    void* big = region.alloc(kit::kMaxAllocWords);
    CHECK(big == blocks[0]);
    CHECK(region.stats().fragment_words == 40 * 1000 - (kit::kMaxAllocWords + 1));
    region.dealloc(big, kit::kMaxAllocWords);
    CHECK(region.stats().fragment_words == 40 * 1000);
    region.dealloc(guard, 1);
    CHECK(region.stats().allocated_words == 0);
  }

  TEST_CASE("good fit: each request gets the free block of its own size, not a larger one") {
    const uint32_t sizes[] = {4, 5, 8, 12, 14, 16, 24, 31, 48, 64, 100, 1000};
    for (bool smallest_first : {true, false}) {
      CAPTURE(smallest_first);
      Region region;
      std::vector<void*> blocks;
      for (uint32_t words : sizes) {
        blocks.push_back(region.alloc(words - 1));
        region.alloc(1); // keeps the free blocks apart
      }
      // Either order puts larger blocks at list heads or first in address order for some sizes.
      for (size_t k = 0; k < std::size(sizes); ++k) {
        size_t i = smallest_first ? k : std::size(sizes) - 1 - k;
        region.dealloc(blocks[i], sizes[i] - 1);
      }
      for (size_t i = 0; i < std::size(sizes); ++i) {
        CAPTURE(sizes[i]);
        CHECK(region.alloc(sizes[i] - 1) == blocks[i]);
      }
      CHECK(region.stats().fragments == 0);
    }
  }

  TEST_CASE("word regions: eight classes per power of two, so a head within 1.125x fits") {
    // Blocks of 32 and 36 words share a class when there are four per power of two (32..39):
    // with the 32-word block at that list's head, a request for 34 would pass the 36-word
    // block by and split a larger one. With eight (32..35, 36..39) it takes the 36-word block.
    Region region;
    void* larger = region.alloc(35);
    region.alloc(1);
    void* smaller = region.alloc(31);
    region.alloc(1);
    void* largest = region.alloc(79);
    region.alloc(1);
    region.dealloc(largest, 79);
    region.dealloc(larger, 35);
    region.dealloc(smaller, 31);
    CHECK(region.alloc(33) == larger);
    CHECK(region.stats().fragments == 2);
  }

  TEST_CASE("every alignment up to 64 KiB, with no word lost") {
    Region region(2 << 20);
    for (uint32_t align_bits = 0; align_bits <= kit::kMaxAlignBits; ++align_bits) {
      CAPTURE(align_bits);
      void* payload = region.alloc(3, align_bits);
      CHECK(address(payload) % (uintptr_t(1) << align_bits) == 0);
      RegionStats stats = region.stats();
      CHECK(stats.allocated_words + stats.unused_words == stats.total_words);
      region.CHECK_CHECK_OK();
    }
  }

  TEST_CASE("aligned requests are served from a free block's interior") {
    Region region(2 << 20);
    void* big = region.alloc(3000);
    region.alloc(1);
    region.dealloc(big, 3000);
    RegionStats before = region.stats();
    void* aligned = region.alloc(100, 12);
    CHECK(address(aligned) % 4096 == 0);
    CHECK(region.stats().unused_words == before.unused_words); // no bump: the free block served it
    CHECK(region.stats().fragment_words == before.fragment_words - block_words(aligned));
    region.dealloc(aligned, 100);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == before.fragment_words);
  }

  TEST_CASE("the largest block is 32 KiB - 1 bytes; larger requests and alignments fail cleanly") {
    Region region(2 << 20);
    RegionStats before = region.stats();
    CHECK(region.allocator->alloc(kit::kMaxAllocWords + 1, 2) == nullptr);
    CHECK(region.allocator->alloc(SIZE_MAX, 2) == nullptr);
    CHECK(region.allocator->alloc(1, kit::kMaxAlignBits + 1) == nullptr);
    CHECK(region.allocator->alloc(1, 200) == nullptr);
    CHECK(same(region.stats(), before));
    void* largest = region.alloc(kit::kMaxAllocWords);
    CHECK(SimpleAllocator::usable_words(largest) * 4 >= kit::kMaxAllocBytes);
  }

  TEST_CASE("a full region returns nullptr and stays usable") {
    Region region(4096);
    std::vector<void*> blocks;
    while (void* payload = region.allocator->alloc(20, 2))
      blocks.push_back(payload);
    RegionStats full = region.stats();
    CHECK(region.allocator->alloc(20, 2) == nullptr);
    CHECK(same(region.stats(), full));
    region.dealloc(blocks.back(), 20);
    CHECK(region.allocator->alloc(20, 2) == blocks.back());
  }

  TEST_CASE("create refuses bad ranges") {
    Buffer buffer(4 << 20);
    CHECK(SimpleAllocator::create(nullptr, buffer.end()) == nullptr);
    CHECK(SimpleAllocator::create(buffer.end(), buffer.begin()) == nullptr);
    CHECK(SimpleAllocator::create(buffer.begin(), buffer.begin() + 300) == nullptr);
    CHECK(SimpleAllocator::create(buffer.begin(), buffer.begin() + (2 << 20) + 8) == nullptr);
    SimpleAllocator* largest = SimpleAllocator::create(buffer.begin(), buffer.begin() + (2 << 20));
    REQUIRE(largest != nullptr);
    CHECK(largest->stats().total_words == ((2u << 20) - sizeof(SimpleAllocator)) / 4);
    // An unaligned begin is rounded up to 8 bytes.
    SimpleAllocator* shifted = SimpleAllocator::create(buffer.begin() + 3, buffer.begin() + 4096);
    REQUIRE(shifted != nullptr);
    CHECK(address(shifted) == address(buffer.begin()) + 8);
  }

  TEST_CASE("create pads the state so the first payload gets the alignment asked for") {
    Buffer buffer(8192);
    for (uint32_t shift : {0u, 8u}) { // begin 0 or 8 past a 16-byte boundary
      for (uint32_t align_bits = kit::kWordShift; align_bits <= kit::kMaxFirstAlignBits;
           ++align_bits) {
        CAPTURE(shift);
        CAPTURE(align_bits);
        char* begin = buffer.begin() + shift;
        SimpleAllocator* region = SimpleAllocator::create(begin, buffer.end(), 0, align_bits);
        REQUIRE(region != nullptr);
        uintptr_t state_end = address(begin) + sizeof(SimpleAllocator);
        CHECK(region->heap_start() - state_end < (uintptr_t(1) << align_bits));
        // The first block of that alignment starts at heap_start: no gap became a free block.
        void* first = region->alloc(1, align_bits);
        CHECK(address(first) == region->heap_start() + 4);
        CHECK(address(first) % (uintptr_t(1) << align_bits) == 0);
        CHECK(region->stats().fragments == 0);
        CHECK(region->check() == nullptr);
      }
    }
    CHECK(SimpleAllocator::create(buffer.begin(), buffer.end(), 0, kit::kMaxFirstAlignBits + 1) ==
          nullptr);
    // Room for the state and one block, but not for the padding as well.
    char* begin = buffer.begin() + 8;
    char* tight = begin + sizeof(SimpleAllocator) + kit::kMinBlockBytes;
    CHECK(SimpleAllocator::create(begin, tight, 0, 2) != nullptr);
    CHECK(SimpleAllocator::create(begin, tight, 0, 4) == nullptr);
  }

  TEST_CASE("a merged block heads its class's list, whether its neighbour did or not") {
    // x1 and x2 free in one class; freeing a small block next to x1 grows x1 within its class
    // (65 -> 69 words; the merged block starts at the small one when that comes first). Whether
    // x1 headed the list or not, the merged block heads it now: it is the next one taken.
    for (bool small_first : {false, true}) {
      for (bool x1_heads : {false, true}) {
        CAPTURE(small_first);
        CAPTURE(x1_heads);
        Region region;
        void* small_before = small_first ? region.alloc(3) : nullptr;
        void* x1 = region.alloc(64);
        void* small_after = small_first ? nullptr : region.alloc(3);
        region.alloc(1);
        void* x2 = region.alloc(64);
        region.alloc(1);
        region.dealloc(x1_heads ? x2 : x1, 64);
        region.dealloc(x1_heads ? x1 : x2, 64);
        region.dealloc(small_first ? small_before : small_after, 3); // checks the lists' links
        CHECK(region.stats().fragments == 2);
        CHECK(region.stats().fragment_words == 2 * 65 + 4);
        void* merged = small_first ? small_before : x1;
        CHECK(SimpleAllocator::block_units(merged) == 69);
        CHECK(region.alloc(64) == merged);
        CHECK(region.alloc(64) == x2);
        region.CHECK_CHECK_OK();
      }
    }
  }

  TEST_CASE("a merge that changes the class moves the block to its new list") {
    Region region;
    void* a = region.alloc(14); // 15 words: class 14
    void* b = region.alloc(3);
    region.alloc(1);
    region.dealloc(a, 14);
    region.dealloc(b, 3); // 19 words: class 16
    CHECK(region.stats().fragments == 1);
    CHECK(region.alloc(18) == a);
    region.CHECK_CHECK_OK();
  }

  TEST_CASE("dealloc_own frees as dealloc does, for a block the caller checked") {
    Region region;
    void* a = region.alloc(7);
    void* b = region.alloc(7);
    region.alloc(1);
    REQUIRE(region.allocator->holds_own_used_block(b));
    region.allocator->dealloc_own(b);
    REQUIRE(region.allocator->holds_own_used_block(a));
    region.allocator->dealloc_own(a);
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 16);
    CHECK(region.stats().live_blocks == 1);
    CHECK_FALSE(region.allocator->holds_own_used_block(a)); // what a caller checks first
    region.CHECK_CHECK_OK();
  }

  TEST_CASE("alloc_from_bump: what alloc_local returns, or nothing when a free block may serve") {
    // Two regions fed the same requests: one through alloc_from_bump (then alloc_local when it
    // declines), one through alloc_local alone; they must stay identical.
    Region fast(256 * 1024), plain(256 * 1024);
    std::vector<void*> fast_blocks, plain_blocks;
    uint32_t bumped = 0, declined = 0;
    srand(7);
    for (int step = 0; step < 20000; ++step) {
      if (!fast_blocks.empty() && rand() % 3 == 0) {
        size_t victim = size_t(rand()) % fast_blocks.size();
        REQUIRE(fast.allocator->dealloc(fast_blocks[victim]));
        REQUIRE(plain.allocator->dealloc(plain_blocks[victim]));
        fast_blocks[victim] = fast_blocks.back();
        plain_blocks[victim] = plain_blocks.back();
        fast_blocks.pop_back();
        plain_blocks.pop_back();
        continue;
      }
      size_t word_count = 1 + size_t(rand()) % (rand() % 8 == 0 ? 600 : 30);
      uint32_t align_bits = 2 + uint32_t(rand()) % 3;
      void* expected = plain.allocator->alloc_local(word_count, align_bits);
      void* got = fast.allocator->alloc_from_bump(word_count, align_bits);
      if (got != nullptr) {
        bumped += 1;
        // alloc_local took the bump area as well, and no free block could have served.
        CHECK(address(got) - address(fast.buffer.begin()) ==
              address(expected) - address(plain.buffer.begin()));
      } else {
        declined += 1;
        got = fast.allocator->alloc_local(word_count, align_bits);
        CHECK((got == nullptr) == (expected == nullptr));
        if (got != nullptr)
          CHECK(address(got) - address(fast.buffer.begin()) ==
                address(expected) - address(plain.buffer.begin()));
      }
      if (got == nullptr || expected == nullptr)
        continue;
      fast_blocks.push_back(got);
      plain_blocks.push_back(expected);
    }
    CHECK(same(fast.stats(), plain.stats()));
    fast.CHECK_CHECK_OK();
    CHECK(bumped > 100); // both paths were taken
    CHECK(declined > 1000);
  }

  TEST_CASE("dealloc refuses what it did not hand out, and changes nothing") {
    Region region;
    Region other;
    char* a = static_cast<char*>(region.alloc(10));
    void* b = region.alloc(10);
    region.dealloc(b, 10);
    void* guard = region.alloc(10);
    (void)guard;
    RegionStats before = region.stats();
    uint32_t outside = 0;
    CHECK_FALSE(region.allocator->dealloc(&outside));
    CHECK_FALSE(region.allocator->dealloc(other.alloc(4)));
    CHECK_FALSE(region.allocator->dealloc(a + 2));                   // misaligned
    CHECK_FALSE(region.allocator->dealloc(a, 11));                   // larger than the block
    CHECK_FALSE(region.allocator->dealloc(region.buffer.end() - 4)); // in the bump area
    CHECK_FALSE(region.allocator->dealloc(region.allocator));        // the state
    CHECK(same(region.stats(), before));
    region.dealloc(a, 10);
    CHECK_FALSE(region.allocator->dealloc(a)); // double free of a block still free
    region.CHECK_CHECK_OK();
  }

  TEST_CASE("resize_in_place grows into the bump area and into a free neighbour") {
    Region region;
    void* a = region.alloc(10);
    CHECK(region.allocator->resize_in_place(a, 50)); // a touches the bump area
    CHECK(SimpleAllocator::usable_words(a) == 50);
    void* b = region.alloc(10);
    void* c = region.alloc(10);
    region.alloc(1);
    CHECK_FALSE(region.allocator->resize_in_place(a, 51)); // b is in use
    region.dealloc(b, 10);
    CHECK(region.allocator->resize_in_place(a, 55)); // takes part of b, leaves a free tail
    CHECK(SimpleAllocator::usable_words(a) == 55);
    CHECK(region.stats().fragments == 1);
    region.CHECK_CHECK_OK();
    CHECK(region.allocator->resize_in_place(a, 60)); // what is left is too small: taken whole
    CHECK(SimpleAllocator::usable_words(a) == 61);
    CHECK(region.stats().fragments == 0);
    region.CHECK_CHECK_OK();
    CHECK_FALSE(region.allocator->resize_in_place(a, 62));
    region.dealloc(c, 10);
    CHECK(region.allocator->resize_in_place(a, 72)); // all of c
    region.CHECK_CHECK_OK();
  }

  TEST_CASE("resize_in_place shrinks, giving the tail back") {
    Region region;
    void* a = region.alloc(100);
    CHECK(region.allocator->resize_in_place(a, 10)); // tail goes back to the bump area
    CHECK(region.stats().allocated_words == 11);
    void* b = region.alloc(100);
    region.alloc(1);
    CHECK(region.allocator->resize_in_place(b, 50)); // tail becomes a free block
    CHECK(region.stats().fragments == 1);
    CHECK(region.stats().fragment_words == 50);
    CHECK(region.allocator->resize_in_place(b, 48)); // 2 words merge into the free block after
    CHECK(region.stats().fragment_words == 52);
    CHECK(region.allocator->resize_in_place(a, 8)); // 2 words, used block after: kept
    CHECK(SimpleAllocator::usable_words(a) == 10);
    region.CHECK_CHECK_OK();
    CHECK_FALSE(region.allocator->resize_in_place(a, kit::kMaxAllocWords + 1));
  }

  TEST_CASE("the region's words are laid out the same on every target") {
    // The state is 584 bytes (146 words) on wasm32 and on a 64-bit host, so the first block's
    // header is at word 146 and its payload at word 147 on both.
    Region region;
    void* first = region.alloc(1);
    CHECK(address(first) - address(region.allocator) == 147 * 4);
    void* second = region.alloc(1);
    region.alloc(1);
    region.dealloc(second, 1);
    const uint32_t* words = reinterpret_cast<const uint32_t*>(region.allocator);
    CHECK(words[150] == (4u << 2 | 1)); // header: 4 words, free
    CHECK(words[153] == 4u);            // footer: its size
    CHECK(words[154] == (4u << 2 | 2)); // the next block's header: used, PREV_FREE
  }
}

TEST_SUITE("SimpleAllocator: compaction") {
  // Blocks of 1..8 x 16 bytes, every other one freed; the relocator refuses the blocks listed
  // in `pinned` (as locked handles) and records the moves.
  struct Moves {
    std::vector<void*> pinned;
    std::vector<std::pair<void*, void*>> made;
  };
  bool relocate(void* context, void* from, void* to) {
    auto* moves = static_cast<Moves*>(context);
    for (void* pinned : moves->pinned)
      if (pinned == from)
        return false;
    moves->made.emplace_back(from, to);
    return true;
  }

  void fill(void* payload, uint32_t value) {
    auto* words = static_cast<uint32_t*>(payload);
    for (uint32_t index = 0; index < SimpleAllocator::usable_words(payload); ++index)
      words[index] = value * 1000 + index;
  }
  bool holds(const void* payload, uint32_t value) {
    auto* words = static_cast<const uint32_t*>(payload);
    for (uint32_t index = 0; index < SimpleAllocator::usable_words(payload); ++index)
      if (words[index] != value * 1000 + index)
        return false;
    return true;
  }

  TEST_CASE("blocks slide down over the free space, keep their bytes, and the rest is bump") {
    Region region;
    std::vector<void*> all, kept;
    for (uint32_t index = 0; index < 40; ++index) {
      all.push_back(region.alloc(4 * (1 + index % 8) - 1));
      fill(all.back(), index);
    }
    for (uint32_t index = 0; index < 40; ++index)
      if (index % 2 == 0)
        region.dealloc(all[index], 0);
      else
        kept.push_back(all[index]);
    RegionStats before = region.stats();
    REQUIRE(before.fragments > 0);
    Moves moves;
    uint32_t moved = region.allocator->compact(relocate, &moves);
    CHECK(moved == moves.made.size());
    CHECK(moved == kept.size()); // the first block was freed: every kept one moves
    region.CHECK_CHECK_OK();
    RegionStats after = region.stats();
    CHECK(after.fragments == 0);
    CHECK(after.live_blocks == before.live_blocks);
    CHECK(after.allocated_words == before.allocated_words - before.fragment_words);
    CHECK(region.allocator->largest_free_units() == after.unused_words);
    for (size_t index = 0; index < kept.size(); ++index) {
      CHECK(moves.made[index].first == kept[index]); // in address order
      CHECK(address(moves.made[index].second) < address(kept[index]));
      CHECK(holds(moves.made[index].second, uint32_t(2 * index + 1)));
      CHECK(address(moves.made[index].second) % 16 == address(kept[index]) % 16);
    }
    // Nothing is left to move, and the blocks still free normally.
    CHECK(region.allocator->compact(relocate, &moves) == 0);
    for (auto& move : moves.made)
      CHECK(region.allocator->dealloc(move.second));
    CHECK(region.stats().allocated_words == 0);
    region.CHECK_CHECK_OK();
  }

  TEST_CASE("a refused block stays; the free space below it becomes one block") {
    Region region;
    std::vector<void*> blocks;
    for (uint32_t index = 0; index < 12; ++index) {
      blocks.push_back(region.alloc(7));
      fill(blocks.back(), index);
    }
    for (uint32_t index : {0, 2, 3, 7, 9})
      region.dealloc(blocks[index], 0);
    Moves moves;
    moves.pinned = {blocks[5]};
    region.allocator->compact(relocate, &moves);
    region.CHECK_CHECK_OK();
    CHECK(holds(blocks[5], 5)); // where it was
    RegionStats after = region.stats();
    CHECK(after.fragments == 1); // below the pinned block: 1 and 4 slid down, leaving one hole
    CHECK(after.fragment_words == 3 * 8);
    CHECK(region.allocator->largest_free_units() >= 3 * 8);
    CHECK(moves.made.size() == 5); // 1 and 4 below it; 8, 10 and 11 above it (6 is in place)
    // The hole is reused by the next allocation that fits it.
    void* refill = region.alloc(3 * 8 - 1);
    CHECK(address(refill) < address(blocks[5]));
    CHECK(region.stats().fragments == 0);
    region.CHECK_CHECK_OK();
  }

  TEST_CASE("alloc_local takes from this region only; move_end gives the top back") {
    Region first(8 * 1024), second(8 * 1024);
    first.allocator->chain(second.allocator);
    while (first.allocator->alloc_local(100, 2) != nullptr) {
    }
    CHECK(second.stats().live_blocks == 0);
    CHECK(first.allocator->alloc(100, 2) != nullptr); // the chain goes on to the second
    CHECK(second.stats().live_blocks == 1);
  }
}

TEST_SUITE("SimpleAllocator: page store and tags") {
  // A page map of 64 entries; the store's runs are pages 1..8 of it (unless told more).
  struct Pages {
    explicit Pages(uint32_t page_count = 8) {
      store = SimpleAllocator::create_page_store(state, map, 1, 1 + page_count);
      REQUIRE(store != nullptr);
    }
    size_t page_of(const void* payload) const { return (address(payload) - 4 - address(map)) >> 4; }
    alignas(16) uint32_t map[64 * 4] = {};
    alignas(8) char state[sizeof(SimpleAllocator)];
    SimpleAllocator* store;
  };

  TEST_CASE("runs of pages live in the map: a run's header is its first page's entry") {
    Pages pages;
    void* a = pages.store->alloc_units(2);
    void* b = pages.store->alloc_units(3);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(address(a) == address(pages.map) + 16 + 4);
    CHECK(pages.page_of(b) == 3);
    CHECK(SimpleAllocator::block_units(b) == 3);
    CHECK(pages.store->stats().unused_words == 3); // of 8 pages
    CHECK(pages.store->alloc_units(4) == nullptr); // only 3 left above the bump pointer
    CHECK(pages.store->check() == nullptr);
    CHECK(pages.map[9 * 4] == 0); // nothing written past the runs
  }

  TEST_CASE("freed runs merge, are reused, and go back to the top") {
    Pages pages;
    void* a = pages.store->alloc_units(1);
    void* b = pages.store->alloc_units(1);
    void* c = pages.store->alloc_units(1);
    void* d = pages.store->alloc_units(1);
    CHECK(pages.store->dealloc(a));
    CHECK(pages.store->dealloc(b));
    CHECK(pages.store->stats().fragments == 1);
    CHECK(pages.store->stats().fragment_words == 2);
    CHECK(pages.store->alloc_units(2) == a); // the merged run serves a 2-page request
    CHECK(pages.store->dealloc(d));          // touches the top: back to the bump area
    CHECK(pages.store->stats().unused_words == 5);
    CHECK(pages.store->resize_units(c, 6)); // grows into the top
    CHECK(pages.store->stats().unused_words == 0);
    CHECK(pages.store->resize_units(c, 2)); // and gives pages back
    CHECK(pages.store->stats().unused_words == 4);
    CHECK(pages.store->check() == nullptr);
  }

  TEST_CASE("best fit: the smallest free run that holds the request, the lowest among equals") {
    Pages pages(40);
    // Runs of 8 and 9 pages share a size class; guards keep them apart.
    void* low = pages.store->alloc_units(8);
    REQUIRE(pages.store->alloc_units(1) != nullptr);
    void* high = pages.store->alloc_units(8);
    REQUIRE(pages.store->alloc_units(1) != nullptr);
    void* larger = pages.store->alloc_units(9);
    REQUIRE(pages.store->alloc_units(1) != nullptr);
    for (void* run : {low, high, larger}) // the list's head is now the 9-page run
      CHECK(pages.store->dealloc(run));
    CHECK(pages.store->alloc_units(8) == low);
    CHECK(pages.store->alloc_units(8) == high);
    CHECK(pages.store->alloc_units(8) == larger); // its last page stays free
    CHECK(pages.store->stats().fragment_words == 1);
    CHECK(pages.store->dealloc(low)); // of the 9-page request's class, but too small for it
    void* nine = pages.store->alloc_units(9);
    CHECK(nine != nullptr);
    CHECK(nine != low);
    CHECK(pages.store->check() == nullptr);
  }

  TEST_CASE("move_end adds pages at the top; bad ranges and sizes are refused") {
    Pages pages;
    CHECK(pages.store->alloc_units(9) == nullptr);
    CHECK(pages.store->move_end(pages.map + 13 * 4));
    CHECK(pages.store->alloc_units(9) != nullptr);
    CHECK_FALSE(pages.store->move_end(pages.map + 4));
    CHECK(pages.store->alloc_units(0) == nullptr);
    CHECK(pages.store->alloc_units(size_t(1) << 40) == nullptr);
    alignas(8) char state[sizeof(SimpleAllocator)];
    CHECK(SimpleAllocator::create_page_store(state, pages.map, 0, 4) == nullptr); // 0: "none"
    CHECK(SimpleAllocator::create_page_store(state, pages.map, 5, 4) == nullptr);
  }

  TEST_CASE("used blocks carry the region's tag; a block with another tag is refused") {
    Buffer buffer(64 * 1024);
    SimpleAllocator* tagged =
        SimpleAllocator::create(buffer.begin(), buffer.begin() + 4096, kit::kMaxRegionTag);
    REQUIRE(tagged != nullptr);
    void* payload = tagged->alloc(5, 2);
    CHECK(SimpleAllocator::tag_of(payload) == kit::kMaxRegionTag);
    CHECK(SimpleAllocator::usable_words(payload) == 5);
    CHECK(tagged->resize_in_place(payload, 9));
    CHECK(SimpleAllocator::tag_of(payload) == kit::kMaxRegionTag);
    static_cast<uint32_t*>(payload)[-1] ^= 1u << kit::kTagShift; // forge another tag
    CHECK_FALSE(tagged->dealloc(payload));
    CHECK(tagged->check() != nullptr);
    static_cast<uint32_t*>(payload)[-1] ^= 1u << kit::kTagShift;
    CHECK(tagged->dealloc(payload));
    CHECK(tagged->check() == nullptr);
    CHECK(SimpleAllocator::create(buffer.begin(), buffer.end(), kit::kNoRegionTag) == nullptr);
  }
}
