// The global heap's layer: regions chain, large page runs, growth, foreign growth, OOM.
#include "../src/allocator.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <sys/mman.h>
#include <vector>

using kit::Allocator;
using kit::Heap;

namespace {

constexpr uintptr_t kPage = 1 << 16;

// A wasm-like memory for one test: 1 GiB reserved, two pages to start, a settable limit, and
// growth by "someone else" on demand.
struct TestMemory {
  TestMemory() {
    void* mapped = mmap(nullptr, kReserve + kPage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(mapped != MAP_FAILED);
    mapping = mapped;
    start = (uintptr_t(mapped) + kPage - 1) & ~(kPage - 1);
    end = start + 2 * kPage;
    current = this;
  }
  ~TestMemory() { munmap(mapping, kReserve + kPage); }

  static uintptr_t grow(uint32_t pages, uintptr_t* new_end) {
    TestMemory& memory = *current;
    memory.grow_requests += 1;
    if (uintptr_t(pages) * kPage > memory.limit - (memory.end - memory.start))
      return 0;
    uintptr_t old_end = memory.end;
    uintptr_t overgrown = memory.size() / kPage * memory.extra_percent / 100;
    uintptr_t granted = (overgrown > pages ? overgrown : pages) + memory.extra_pages;
    if (granted * kPage > memory.limit - (memory.end - memory.start))
      granted = pages;
    memory.end += granted * kPage;
    *new_end = memory.end;
    return old_end;
  }
  Heap heap(uintptr_t data_bytes = 5000) const { return Heap{grow, start + data_bytes, end}; }
  uintptr_t size() const { return end - start; }

  static constexpr uintptr_t kReserve = uintptr_t(1) << 30;
  static inline TestMemory* current = nullptr;
  void* mapping;
  uintptr_t start, end;
  uintptr_t limit = kReserve;
  uint32_t grow_requests = 0;
  uint32_t extra_percent = 0; // grants at least this share of its size (as Emscripten's resize)
  uint32_t extra_pages = 0;   // and this many pages more
};

struct Fixture {
  // Memory starts at start_pages (2 unless given) and each growth gives at least extra_percent
  // of its size.
  explicit Fixture(uint32_t start_pages = 0, uint32_t extra_percent = 0) {
    if (start_pages != 0)
      memory.end = memory.start + uintptr_t(start_pages) * kPage;
    memory.extra_percent = extra_percent;
    allocator.init(memory.heap());
  }
  void* alloc(size_t bytes, uint32_t align_bits = 4) {
    bool fresh;
    return allocator.alloc(bytes, align_bits, &fresh);
  }
  void require_consistent() {
    const char* breach = allocator.check();
    REQUIRE_MESSAGE(breach == nullptr, breach);
  }
  TestMemory memory;
  Allocator allocator{};
};

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

// Memory someone else grew: [start, end).
struct ForeignGrowth {
  uintptr_t start, end;
};
// Someone else grows memory to page 4094, just below where the first page map stops covering
// it (4096 pages), and the limit leaves 5 pages: a growth of ours lands above theirs, needs a
// map of 2 pages for it, and no more than 5 pages are there for what it asked and that map.
ForeignGrowth crowd_first_map(Fixture& heap) {
  REQUIRE(heap.alloc(100) != nullptr);
  ForeignGrowth foreign = {};
  foreign.start = TestMemory::grow(4094 - uint32_t(heap.memory.size() / kPage), &foreign.end);
  REQUIRE(foreign.start != 0);
  heap.memory.limit = heap.memory.size() + 5 * kPage;
  return foreign;
}

} // namespace

TEST_SUITE("Allocator") {
  TEST_CASE("small blocks come from the region below the first page, then from page runs") {
    Fixture heap;
    void* first = heap.alloc(10);
    REQUIRE(first != nullptr);
    CHECK(address(first) >= heap.memory.start + 5000);
    CHECK(address(first) < heap.memory.start + kPage); // the partial region
    std::vector<void*> blocks;
    for (int i = 0; i < 2000; ++i)
      blocks.push_back(heap.alloc(100));
    kit_stats stats = heap.allocator.stats();
    CHECK(stats.small.regions >= 2);
    CHECK(stats.small.live_blocks == 2001);
    for (void* block : blocks)
      CHECK(heap.allocator.free(block));
    CHECK(heap.allocator.free(first));
    CHECK(heap.allocator.stats().small.live_blocks == 0);
    heap.require_consistent();
  }

  TEST_CASE("a region grows in place up to 2 MiB, then a new one starts") {
    Fixture heap;
    for (int i = 0; i < 30000; ++i)
      REQUIRE(heap.alloc(200) != nullptr); // ~6.4 MB of small blocks
    kit_stats stats = heap.allocator.stats();
    // One partial region, and the rest in regions of up to 2 MiB (a new region only starts
    // when the newest one is full).
    CHECK(stats.small.regions <= 1 + (6 * 1000 * 1000 * 108 / 100) / (2 << 20) + 2);
    CHECK(stats.small.regions >= 4);
    heap.require_consistent();
  }

  TEST_CASE("a region's freed pages above its bump area go back to the page store") {
    Fixture heap;
    std::vector<void*> blocks;
    // 1 MiB of small blocks: a few in the partial region, the rest in one region's run.
    for (int i = 0; i < 64; ++i)
      blocks.push_back(heap.alloc(16 * 1024));
    size_t grown = heap.memory.size();
    uint64_t region_pages = heap.allocator.page_store_stats().allocated_words;
    REQUIRE(region_pages >= 16);
    void* last = blocks.back();
    blocks.pop_back();
    CHECK(heap.allocator.free(last)); // one page free above the bump area: kept
    CHECK(heap.allocator.page_store_stats().allocated_words == region_pages);
    for (void* block : blocks)
      CHECK(heap.allocator.free(block));
    // Everything is free: the run keeps the page of the region's state, and what it gave back
    // holds large blocks without memory growing (a vector outgrowing its small blocks).
    CHECK(heap.allocator.page_store_stats().allocated_words == 1);
    void* large = heap.alloc((region_pages - 1) * kPage);
    REQUIRE(large != nullptr);
    CHECK(heap.memory.size() == grown);
    // The region grows back in place when its next pages are free.
    CHECK(heap.allocator.free(large));
    for (size_t count = 0; count < blocks.size(); ++count)
      REQUIRE(heap.alloc(16 * 1024) != nullptr);
    CHECK(heap.memory.size() == grown);
    CHECK(heap.allocator.stats().small.regions == 2); // the partial one and this one
    heap.require_consistent();
  }

  TEST_CASE("a region that gave pages back takes them again before memory grows") {
    Fixture heap;
    std::vector<void*> older; // the region that reaches 2 MiB (and a few in the partial one)
    while (heap.allocator.stats().small.regions < 3)
      older.push_back(heap.alloc(16 * 1024));
    void* newest = older.back(); // the first block of the region that starts above it
    older.pop_back();
    for (int i = 0; i < 10; ++i) { // the older region's top 160 KiB: it gives pages back
      CHECK(heap.allocator.free(older.back()));
      older.pop_back();
    }
    REQUIRE(heap.allocator.page_store_stats().fragment_words >= 2); // free pages between them
    size_t grown = heap.memory.size();
    for (int i = 0; i < 10; ++i)
      REQUIRE(heap.alloc(16 * 1024) != nullptr);
    CHECK(heap.memory.size() == grown); // not the newest region growing memory at the top
    CHECK(heap.allocator.page_store_stats().fragment_words == 0);
    CHECK(heap.allocator.free(newest));
    heap.require_consistent();
  }

  TEST_CASE("a block shrunk in place at a region's top gives pages back as a free would") {
    Fixture heap;
    constexpr size_t kBlock = 31 * 1024;
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i)
      blocks.push_back(heap.alloc(kBlock));
    // The unused bytes above the bump area of the region holding `block` (its next entry).
    auto slack_above = [&](void* block) {
      struct Search {
        uintptr_t after;
        uint64_t bytes;
      } search = {address(block), 0};
      heap.allocator.walk(
          [](const kit_walk_entry* entry, void* context) {
            auto* found = static_cast<Search*>(context);
            if (entry->kind == KIT_WALK_UNUSED && entry->address > found->after &&
                found->bytes == 0)
              found->bytes = entry->bytes;
          },
          &search);
      return search.bytes;
    };
    // Free from the top until the top block's bytes would take the unused part past 2 pages.
    while (slack_above(blocks.back()) + kBlock - 1024 < 2 * kPage) {
      CHECK(heap.allocator.free(blocks.back()));
      blocks.pop_back();
    }
    REQUIRE(slack_above(blocks.back()) < 2 * kPage);
    uint64_t pages_before = heap.allocator.page_store_stats().allocated_words;
    REQUIRE(heap.allocator.resize(blocks.back(), 100, 4));
    CHECK(heap.allocator.page_store_stats().allocated_words < pages_before);
    CHECK(slack_above(blocks.back()) < kPage);
    heap.require_consistent();
  }

  TEST_CASE("large blocks: whole pages, reused after free, merged with free neighbours") {
    Fixture heap;
    void* a = heap.alloc(100 * 1024);
    void* b = heap.alloc(100 * 1024);
    void* c = heap.alloc(100 * 1024);
    void* guard = heap.alloc(40 * 1024);
    REQUIRE((a && b && c && guard));
    CHECK(address(a) % kPage == 0); // a run is all payload
    CHECK(heap.allocator.usable_size(a) == 2 * kPage);
    CHECK(heap.allocator.stats().large_blocks == 4);
    uintptr_t size = heap.memory.size();
    CHECK(heap.allocator.free(a));
    CHECK(heap.allocator.free(b));
    CHECK(heap.allocator.stats().pages.fragments == 1); // a and b merged
    void* both = heap.alloc(200 * 1024);                // fits the merged run: no growth
    CHECK(address(both) == address(a));
    CHECK(heap.memory.size() == size);
    CHECK(heap.allocator.free(both));
    CHECK(heap.allocator.free(c));
    CHECK(heap.allocator.free(guard)); // the top run: everything goes back to the top
    CHECK(heap.allocator.stats().pages.fragments == 0);
    CHECK(heap.allocator.stats().pages.allocated_words == 0); // no small block needed a run
    heap.require_consistent();
  }

  TEST_CASE("free pages at the top are reused before memory grows") {
    Fixture heap;
    for (int round = 0; round < 100; ++round) {
      void* big = heap.alloc(85196);
      void* other = heap.alloc(80000);
      REQUIRE((big && other));
      heap.allocator.free(big);
      heap.allocator.free(other);
    }
    CHECK(heap.memory.size() <= 8 * kPage); // wee_alloc #106 grew without bound here
    heap.require_consistent();
  }

  TEST_CASE("memory grows exactly: 256 MiB of 1 MiB blocks take 16 pages each, and the map") {
    Fixture heap;
    size_t start = heap.memory.size();
    for (int block = 0; block < 256; ++block) {
      void* payload = heap.alloc(1 << 20);
      REQUIRE(payload != nullptr);
      CHECK(address(payload) % kPage == 0);
      CHECK(heap.allocator.usable_size(payload) == 1 << 20);
      CAPTURE(block);
      REQUIRE(heap.allocator.stats().pages.unused_words == 0); // nothing grown ahead
    }
    // The page map left the allocator's state for a run of 1 page (up to 256 MiB), then of 2.
    CHECK(heap.memory.size() - start <= (size_t(256) << 20) + 3 * kPage);
    CHECK(heap.allocator.stats().grow_calls <= 256);
    heap.require_consistent();
  }

  TEST_CASE("every alignment up to 64 KiB, small and large") {
    Fixture heap;
    for (uint32_t align_bits = 0; align_bits <= kit::kMaxAlignBits; ++align_bits) {
      for (size_t bytes : {size_t(1), size_t(100), size_t(5000), size_t(40000), size_t(300000)}) {
        CAPTURE(align_bits);
        CAPTURE(bytes);
        void* block = heap.alloc(bytes, align_bits);
        REQUIRE(block != nullptr);
        CHECK(address(block) % (uintptr_t(1) << align_bits) == 0);
        CHECK(heap.allocator.usable_size(block) >= bytes);
        std::memset(block, 0xAB, bytes);
      }
    }
    heap.require_consistent();
    bool fresh;
    CHECK(heap.allocator.alloc(10, kit::kMaxAlignBits + 1, &fresh) == nullptr);
  }

  TEST_CASE("out of memory under a limit returns nullptr, and the heap recovers") {
    Fixture heap;
    heap.memory.limit = 4 << 20;
    std::vector<void*> blocks;
    while (void* block = heap.alloc(50000))
      blocks.push_back(block);
    CHECK(heap.memory.size() <= heap.memory.limit);
    CHECK(heap.memory.size() > heap.memory.limit - 2 * kPage); // it used what there was
    CHECK(heap.alloc(50000) == nullptr);
    uint32_t requests = heap.memory.grow_requests;
    CHECK(heap.alloc(50000) == nullptr);
    CHECK(heap.memory.grow_requests - requests <= 2); // no loop: one step, then what is missing
    heap.allocator.free(blocks.back());
    CHECK(heap.alloc(50000) != nullptr);
    CHECK(heap.alloc(100) != nullptr);
    heap.require_consistent();
  }

  TEST_CASE("requests near SIZE_MAX fail without growing memory") {
    Fixture heap;
    uintptr_t size = heap.memory.size();
    for (size_t bytes = SIZE_MAX - 65535; bytes != 0; ++bytes)
      REQUIRE(heap.alloc(bytes) == nullptr);
    CHECK(heap.alloc(size_t(1) << 40) == nullptr);
    CHECK(heap.memory.size() == size);
    CHECK(heap.alloc(100) != nullptr);
  }

  // Emscripten: memory starts at 16 MiB (beyond what the first page map covers) and each growth
  // adds at least 20% of its size, however little was asked.
  TEST_CASE("memory that starts large and grows by more than asked") {
    Fixture heap(256, 20); // 16 MiB: beyond what the first page map covers
    std::vector<void*> blocks;
    for (size_t bytes = 40000; bytes <= (size_t(16) << 20); bytes *= 2) {
      blocks.push_back(heap.alloc(bytes));
      REQUIRE(blocks.back() != nullptr);
      heap.require_consistent();
    }
    // Past 256 MiB the map needs a second page, out of a growth that gave more than asked.
    for (int block = 0; block < 300; ++block) {
      blocks.push_back(heap.alloc(1 << 20));
      REQUIRE(blocks.back() != nullptr);
      CAPTURE(block);
      heap.require_consistent();
    }
    for (void* block : blocks)
      heap.allocator.free(block);
    heap.require_consistent();
    kit_stats emptied = heap.allocator.stats();
    CHECK(emptied.large_blocks == 0);
    CHECK(emptied.large_pages == 0);
    CHECK(emptied.own_runs == 1); // the map's run, reported apart
    CHECK(emptied.own_pages == 2);
    std::vector<kit_walk_entry> own;
    heap.allocator.walk(
        [](const kit_walk_entry* entry, void* context) {
          if (entry->kind == KIT_WALK_OWN || entry->kind == KIT_WALK_LARGE)
            static_cast<std::vector<kit_walk_entry>*>(context)->push_back(*entry);
        },
        &own);
    REQUIRE(own.size() == 1);
    CHECK(own[0].kind == KIT_WALK_OWN);
    CHECK(own[0].bytes == 2 * kPage);
  }

  // A region growing over never-written pages at the top (memory that started large) writes
  // them: once it gives them back, a large block there is not fresh.
  TEST_CASE("pages a region grew over and gave back are not handed out as fresh") {
    Fixture heap(64);
    std::vector<void*> blocks;
    for (int i = 0; i < 64; ++i) {
      blocks.push_back(heap.alloc(16 * 1024));
      REQUIRE(blocks.back() != nullptr);
      std::memset(blocks.back(), 0xEE, 16 * 1024);
    }
    for (void* block : blocks)
      CHECK(heap.allocator.free(block));
    bool fresh = false;
    auto* large = static_cast<unsigned char*>(heap.allocator.alloc(16 * kPage, 4, &fresh));
    REQUIRE(large != nullptr);
    size_t written = 0;
    for (size_t index = 0; fresh && index < 16 * kPage; ++index)
      written += large[index] != 0;
    CHECK(written == 0);
    heap.require_consistent();
  }

  // A block said to be fresh is not zeroed by calloc: the pages a moving page map passed
  // through must read as zeros again.
  TEST_CASE("fresh blocks read as zeros while the page map moves") {
    Fixture heap(256, 20);
    for (int block = 0; block < 300; ++block) {
      bool fresh = false;
      auto* words = static_cast<uint32_t*>(heap.allocator.alloc(kPage, 4, &fresh));
      REQUIRE(words != nullptr);
      CAPTURE(block);
      size_t written = 0;
      for (size_t index = 0; fresh && index < kPage / 4; ++index)
        written += words[index] != 0;
      CHECK(written == 0);
      std::memset(words, 0xEE, kPage);
    }
    heap.require_consistent();
  }

  // The growth that doubles the map gives one page more than asked: not room for the bigger map.
  TEST_CASE("a growth that gives a little more than asked where the map must double") {
    Fixture heap;
    constexpr uint32_t kFullPages = 8190; // a 2-page map covers up to 8,192 pages
    std::vector<unsigned char*> blocks;
    auto page_count = [&] { return uint32_t(heap.memory.size() / kPage); };
    auto take = [&](uint32_t pages) {
      auto* block = static_cast<unsigned char*>(heap.alloc(size_t(pages) * kPage));
      REQUIRE(block != nullptr);
      block[0] = block[size_t(pages) * kPage - 1] = uint8_t(blocks.size());
      blocks.push_back(block);
    };
    while (page_count() < kFullPages) {
      uint32_t wanted = kFullPages - page_count() + heap.allocator.stats().pages.unused_words;
      take(wanted < 4000 ? wanted : 4000);
    }
    for (kit_stats stats = heap.allocator.stats();
         stats.pages.unused_words + stats.pages.fragment_words != 0; stats = heap.allocator.stats())
      take(stats.pages.unused_words != 0 ? stats.pages.unused_words : 1);
    REQUIRE(page_count() == kFullPages);
    heap.memory.extra_pages = 1;
    for (int block = 0; block < 4; ++block)
      take(1);
    heap.require_consistent();
    for (size_t index = 0; index < blocks.size(); ++index) {
      size_t bytes = heap.allocator.usable_size(blocks[index]);
      CHECK(blocks[index][0] == uint8_t(index));
      CHECK(blocks[index][bytes - 1] == uint8_t(index));
    }
  }

  TEST_CASE("memory grown by someone else is never handed out") {
    Fixture heap;
    void* before = heap.alloc(100000);
    REQUIRE(before != nullptr);
    uintptr_t new_end = 0;
    uintptr_t foreign_start = TestMemory::grow(3, &new_end);
    REQUIRE(foreign_start != 0);
    std::memset(reinterpret_cast<void*>(foreign_start), 0x5A, 3 * kPage);
    std::vector<void*> blocks;
    for (int i = 0; i < 200; ++i)
      blocks.push_back(heap.alloc(i % 2 ? 50000 : 3000));
    for (void* block : blocks) {
      REQUIRE(block != nullptr);
      bool overlaps = address(block) + heap.allocator.usable_size(block) > foreign_start &&
                      address(block) < new_end;
      CHECK_FALSE(overlaps);
    }
    for (uintptr_t byte = foreign_start; byte < new_end; ++byte)
      REQUIRE(*reinterpret_cast<unsigned char*>(byte) == 0x5A);
    CHECK(heap.allocator.stats().pages.regions == 2); // a second span
    heap.require_consistent();
  }

  TEST_CASE("memory grown by someone else between any number of growths is never lost") {
    Fixture heap;
    uint64_t foreign_bytes = 0;
    std::vector<void*> blocks;
    for (int round = 0; round < 20; ++round) {
      uintptr_t new_end = 0;
      uintptr_t foreign_start = TestMemory::grow(1, &new_end);
      REQUIRE(foreign_start != 0);
      foreign_bytes += new_end - foreign_start;
      void* block = heap.alloc(3 * kPage);
      CAPTURE(round);
      REQUIRE(block != nullptr);
      CHECK(address(block) >= new_end);
      blocks.push_back(block);
    }
    kit_stats stats = heap.allocator.stats();
    CHECK(stats.memory_bytes == heap.memory.size() - 5000 - foreign_bytes);
    CHECK(stats.pages.regions == 21); // spans: the first, and one above each foreign growth
    heap.require_consistent();
    for (void* block : blocks)
      CHECK(heap.allocator.free(block));
    uint32_t grow_calls = heap.allocator.stats().grow_calls;
    for (int round = 0; round < 20; ++round)
      CHECK(heap.alloc(3 * kPage) != nullptr); // the pages given back, never the foreign ones
    CHECK(heap.allocator.stats().grow_calls == grow_calls);
    heap.require_consistent();
  }
  // Someone else grew memory to just below where the first page map stops covering it: our
  // next growth lands above theirs and needs a 2-page map, which the limit leaves no room for.
  TEST_CASE("a growth that cannot hold the bigger map keeps the pages it was given") {
    Fixture heap;
    ForeignGrowth foreign = crowd_first_map(heap);
    CHECK(heap.alloc(5 * kPage) == nullptr); // what was missing given, 2 pages for the map refused
    kit_stats stats = heap.allocator.stats();
    CHECK(stats.memory_bytes == heap.memory.size() - 5000 - (foreign.end - foreign.start));
    CHECK(stats.pages.regions == 2);
    void* kept = heap.alloc(2 * kPage); // from the pages above the foreign ones
    REQUIRE(kept != nullptr);
    CHECK(address(kept) >= foreign.end);
    heap.require_consistent();
  }

  // The same growth for a private heap: the map it placed must be settled though it failed.
  TEST_CASE("a private heap whose growth's top-up is refused leaves the page map settled") {
    Fixture heap;
    ForeignGrowth foreign = crowd_first_map(heap);
    CHECK(heap.allocator.create_space(heap.allocator.main_space(), 3 * kPage) == nullptr);
    heap.require_consistent();
    kit_stats stats = heap.allocator.stats();
    CHECK(stats.memory_bytes == heap.memory.size() - 5000 - (foreign.end - foreign.start));
    CHECK(stats.own_runs == 1); // the map, now 2 pages, in a run of its own
    CHECK(stats.own_pages == 2);
  }

  TEST_CASE("resize in place: small blocks, and the top large block grows with memory") {
    Fixture heap;
    void* small = heap.alloc(100);
    CHECK(heap.allocator.resize(small, 1000, 4));
    CHECK(heap.allocator.usable_size(small) >= 1000);
    CHECK(heap.allocator.resize(small, 10, 4));
    CHECK_FALSE(heap.allocator.resize(small, 40000, 4)); // small stays small
    void* large = heap.alloc(40000);
    for (size_t bytes = 80000; bytes <= (size_t(64) << 20); bytes *= 2) {
      CAPTURE(bytes);
      REQUIRE(heap.allocator.resize(large, bytes, 4)); // realloc doubling never moves
      CHECK(heap.allocator.usable_size(large) >= bytes);
    }
    CHECK(heap.memory.size() < (size_t(64) << 20) * 9 / 8 + (2 << 20));
    CHECK(heap.allocator.resize(large, 50000, 4)); // shrinks: all its other pages are free
    // Used: its page and the page map's (past 8 MiB of memory the map is a run of its own,
    // placed at the top when it moved).
    kit_stats stats = heap.allocator.stats();
    CHECK(stats.pages.allocated_words - stats.pages.fragment_words == 2);
    CHECK(stats.pages.fragments == 1); // the freed pages: one run below the map, the rest above
    heap.require_consistent();
  }

  TEST_CASE("realloc gives parked neighbours back: the block grows over them in place, or its "
            "region gives back the pages they freed") {
    Fixture heap;
    void* block = nullptr;
    while (heap.allocator.stats().small.regions < 2) // the new region's first block
      block = heap.alloc(31 * 1024);
    REQUIRE(heap.alloc(20 * 1024) != nullptr);
    // `grown` starts 52 KiB into its region's first page: 30,000 bytes fit only past that page.
    void* grown = heap.alloc(100);
    // Blocks of 100 bytes after `grown`, freed (parked) once all are there (a malloc while
    // blocks are parked could take one back, or give them all back).
    std::vector<void*> neighbours;
    auto allocate_neighbours = [&](int count) {
      for (int i = 0; i < count; ++i)
        neighbours.push_back(heap.alloc(100));
    };
    auto park_neighbours = [&]() {
      for (void* neighbour : neighbours)
        REQUIRE(heap.allocator.free(neighbour));
    };
    SUBCASE("they reach the bump area: the block grows into the region's room") {
      allocate_neighbours(1000);
      park_neighbours();
      CHECK(heap.allocator.resize(grown, 30000, 4));
      CHECK(heap.allocator.usable_size(grown) >= 30000);
    }
    SUBCASE("a live block after the first: no room, and the pages above are given back") {
      allocate_neighbours(1);
      void* fence = heap.alloc(100);
      allocate_neighbours(1000);
      park_neighbours();
      uint64_t region_pages = heap.allocator.page_store_stats().allocated_words;
      CHECK_FALSE(heap.allocator.resize(grown, 30000, 4));
      CHECK(heap.allocator.page_store_stats().allocated_words < region_pages);
      CHECK(heap.allocator.free(fence));
    }
    CHECK(heap.allocator.free(grown));
    CHECK(heap.allocator.free(block));
    heap.require_consistent();
  }

  TEST_CASE("fresh memory is reported so calloc can skip zeroing") {
    Fixture heap;
    bool fresh = false;
    void* large = heap.allocator.alloc(200000, 4, &fresh);
    CHECK(fresh);
    std::memset(large, 1, 200000);
    heap.allocator.free(large);
    void* again = heap.allocator.alloc(200000, 4, &fresh);
    CHECK(again == large);
    CHECK_FALSE(fresh);
    heap.allocator.alloc(100, 4, &fresh);
    CHECK_FALSE(fresh); // small blocks are always zeroed by calloc
  }

  TEST_CASE("an arena: a caller's buffer that never grows") {
    std::vector<uint64_t> buffer((4 << 20) / 8);
    auto begin = reinterpret_cast<uintptr_t>(buffer.data());
    Allocator arena{};
    arena.init(Heap{nullptr, begin, begin + (4 << 20)});
    bool fresh;
    std::vector<void*> blocks;
    while (void* block = arena.alloc(1000, 4, &fresh))
      blocks.push_back(block);
    CHECK(blocks.size() > 3000);
    for (void* block : blocks) {
      REQUIRE(address(block) >= begin);
      REQUIRE(address(block) + 1000 <= begin + (4 << 20));
    }
    CHECK(arena.alloc(100000, 4, &fresh) == nullptr);
    CHECK(arena.free(blocks[0]));
    CHECK(arena.alloc(1000, 4, &fresh) == blocks[0]);
    CHECK(arena.check() == nullptr);
  }

  TEST_CASE("a pointer the heap did not hand out is refused") {
    Fixture heap;
    void* block = heap.alloc(100);
    void* large = heap.alloc(100000);
    CHECK(heap.allocator.free(block));
    CHECK_FALSE(heap.allocator.free(block)); // double free of a block still free
    CHECK(heap.allocator.free(large));
    CHECK_FALSE(heap.allocator.free(large));
    heap.require_consistent();
  }

  TEST_CASE(
      "check: a large run its space's list does not name is found; its pages are all its own") {
    Fixture heap;
    std::vector<void*> blocks;
    for (int i = 0; i < 20000; ++i) // past the partial region: regions in page runs
      blocks.push_back(heap.alloc(48));
    void* large = heap.alloc(200000, 12);
    REQUIRE(large != nullptr);
    CHECK(address(large) % kPage == 0);
    std::memset(large, 0xFF, heap.allocator.usable_size(large)); // no header in the run
    heap.require_consistent();

    kit::Space& main = heap.allocator.main_space();
    uint32_t saved = main.large;
    main.large = 0; // as if a stray write hit the list's head
    const char* breach = heap.allocator.check();
    REQUIRE(breach != nullptr);
    CHECK(std::string(breach).find("large runs are not the ones it counts") != std::string::npos);
    CHECK_FALSE(heap.allocator.is_large(large)); // nor does free take it
    main.large = saved;
    heap.require_consistent();
    CHECK(heap.allocator.free(large));
    for (void* block : blocks)
      CHECK(heap.allocator.free(block));
    heap.require_consistent();
  }

  TEST_CASE("the region table moves out of the static state past 64 regions; tags stay valid") {
    Fixture heap;
    kit::Space& main = heap.allocator.main_space();
    // A private heap with one region of its own, and that region's tag.
    auto one_region_heap = [&]() -> std::pair<kit::Space*, uint32_t> {
      kit::Space* space = heap.allocator.create_space(main, 1);
      if (space == nullptr)
        return {nullptr, 0};
      void* block = heap.allocator.alloc(*space, 40, 4, nullptr);
      REQUIRE(block != nullptr);
      return {space, kit::SimpleAllocator::tag_of(block)};
    };
    std::vector<std::pair<kit::Space*, uint32_t>> spaces;
    for (int i = 0; i < 40; ++i)
      spaces.push_back(one_region_heap());
    std::vector<uint32_t> released; // in the order they were released
    for (int i = 0; i < 10; ++i) {
      heap.allocator.drop(*spaces[i].first);
      released.push_back(spaces[i].second);
    }
    spaces.erase(spaces.begin(), spaces.begin() + 10);
    CHECK(heap.allocator.stats().own_runs == 0); // the table is still the static one

    // Unused tags go first: the table moves (a large run of the handle space) with released
    // tags waiting in it.
    while (spaces.size() < 100)
      spaces.push_back(one_region_heap());
    kit_stats moved = heap.allocator.stats();
    CHECK(moved.own_runs == 1);
    CHECK(moved.large_blocks == 0); // not a block anybody allocated
    CHECK(heap.allocator.handle_space().large_blocks == 1);
    heap.require_consistent();
    for (auto [space, tag] : spaces) {
      void* block = heap.allocator.alloc(*space, 100, 4, nullptr);
      REQUIRE(block != nullptr);
      CHECK(kit::SimpleAllocator::tag_of(block) == tag);
      CHECK(heap.allocator.malloc_space_of(block) == space);
      CHECK(heap.allocator.free(block));
    }

    // Every unused tag taken, the released ones come back, longest released first; then none.
    std::vector<uint32_t> reused;
    for (;;) {
      auto [space, tag] = one_region_heap();
      if (space == nullptr)
        break;
      if (std::find(released.begin(), released.end(), tag) != released.end())
        reused.push_back(tag);
    }
    CHECK(reused == released);
    CHECK(heap.allocator.stats().small.regions == kit::kMaxRegionTag + 1);
    heap.require_consistent();
  }
}
