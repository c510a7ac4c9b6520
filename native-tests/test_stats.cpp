// Introspection on the global (native) heap: kit_get_stats's running figures and call counts,
// kit_walk's picture of the heap, kit_size_histogram.
#include "../src/heap.hpp" // the native heap's controls
#include "../wasm-tests/random.hpp"
#include "kitalloc.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

kit_stats stats() {
  kit_stats figures;
  kit_get_stats(&figures);
  return figures;
}

std::vector<kit_walk_entry> walk() {
  std::vector<kit_walk_entry> entries(kit_walk_into(nullptr, 0));
  REQUIRE(kit_walk_into(entries.data(), entries.size()) == entries.size());
  return entries;
}

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

using kit_test::Random;

// bytes_in_use counts the allocator's usable bytes; in the checked build malloc_usable_size
// reports the caller's size and the blocks hold a trailer too (src/checked.hpp), 9-12 bytes
// more, rounded to the 16-byte grain of small blocks.
#ifndef KITALLOC_CHECKED
#define KITALLOC_CHECKED 0
#endif
bool in_use_matches(uint64_t in_use, uint64_t expected, unsigned blocks) {
  if (!KITALLOC_CHECKED)
    return in_use == expected;
  return in_use >= expected + 9 * blocks && in_use <= expected + 28 * blocks + 65536;
}

} // namespace

TEST_SUITE("stats") {
  TEST_CASE("the layout JavaScript reads: 20 32-bit fields, then 64-bit ones from byte 80") {
    CHECK(offsetof(kit_stats, own_pages) == 68);
    CHECK(offsetof(kit_stats, memory_bytes) == 80);
    CHECK(offsetof(kit_stats, failed_calls) == 80 + 9 * 8);
    CHECK(sizeof(kit_stats) == 160);
    CHECK(sizeof(kit_walk_entry) == 24);
  }

  TEST_CASE("bytes in use, peak and trip peak follow malloc, realloc and free") {
    kit_stats start = stats();
    void* small = kit_malloc(100);
    void* large = kit_malloc(100000);
    kit_stats after_alloc = stats();
    uint64_t both = kit_malloc_usable_size(small) + kit_malloc_usable_size(large);
    CHECK(in_use_matches(after_alloc.bytes_in_use, start.bytes_in_use + both, 2));
    CHECK(after_alloc.peak_bytes >= after_alloc.bytes_in_use);
    CHECK(after_alloc.malloc_calls == start.malloc_calls + 2);
    CHECK(after_alloc.large_pages >= start.large_pages + 2);

    kit_reset_trip_peak();
    CHECK(stats().trip_peak_bytes == after_alloc.bytes_in_use);
    small = kit_realloc(small, 5000);
    REQUIRE(small != nullptr);
    kit_stats grown = stats();
    uint64_t both_now = kit_malloc_usable_size(small) + kit_malloc_usable_size(large);
    CHECK(in_use_matches(grown.bytes_in_use, start.bytes_in_use + both_now, 2));
    CHECK(grown.trip_peak_bytes >= grown.bytes_in_use);
    CHECK(grown.realloc_calls == start.realloc_calls + 1);

    kit_free(small);
    kit_free(large);
    kit_stats end = stats();
    CHECK(end.bytes_in_use == start.bytes_in_use);
    CHECK(end.large_pages == start.large_pages);
    CHECK(end.free_calls == start.free_calls + 2);
    CHECK(end.peak_bytes >= grown.trip_peak_bytes);
    CHECK(end.memory_bytes >= uint64_t(end.pages.total_words) << 16);
  }

  // The peaks are kept per span (src/allocator.hpp, "Figures"): each must still be the highest
  // figure ever seen, as read after every call here, whichever space the calls go to. A call
  // that moves no block never passes through a figure higher than before and after it, so the
  // highest figure read is the peak exactly.
  TEST_CASE("peaks are exact across the main heap, private heaps, handles and trips") {
    REQUIRE(kit_native_heap_restart() == 1);
    constexpr unsigned kSlots = 64;
    // The handle table grows (a new table, then the old one freed) only while these are first
    // taken, before any figure is read.
    kit_handle handles[kSlots] = {};
    for (kit_handle& handle : handles)
      REQUIRE((handle = kit_handle_alloc(16)) != 0);
    for (kit_handle& handle : handles)
      REQUIRE(kit_handle_free(handle) == KIT_OK);
    // A heap's record is a block of the main heap (and its only block in use, with no room).
    uint64_t before_heaps = stats().bytes_in_use;
    kit_heap* heaps[2] = {kit_heap_create(nullptr, 0), nullptr};
    REQUIRE(heaps[0] != nullptr);
    heaps[1] = kit_heap_create(heaps[0], 0);
    REQUIRE(heaps[1] != nullptr);
    uint64_t records = stats().bytes_in_use - before_heaps;
    CHECK(records > 0);
    kit_reset_trip_peak();

    void* main_blocks[kSlots] = {};
    void* heap_blocks[kSlots] = {};
    unsigned heap_of[kSlots] = {};
    for (kit_handle& handle : handles)
      handle = 0;
    // The set-up's own peaks, then the highest figures read from here on.
    kit_stats figures = stats(), space;
    REQUIRE(kit_heap_get_stats(nullptr, &space) == KIT_OK);
    uint64_t peak = figures.peak_bytes, main_peak = space.peak_bytes, heap_peaks[2] = {};
    uint64_t trip_start = figures.bytes_in_use, trip_peak = trip_start;
    CHECK(figures.trip_peak_bytes == trip_peak);
    Random random{20261207};
    for (unsigned step = 0; step < 20000; ++step) {
      unsigned slot = random.below(kSlots);
      size_t size = random.below(8) == 0 ? 40000 + random.below(100000) : 1 + random.below(600);
      switch (random.below(3)) {
      case 0: // the main heap
        if (main_blocks[slot] != nullptr)
          kit_free(std::exchange(main_blocks[slot], nullptr));
        else
          REQUIRE((main_blocks[slot] = kit_malloc(size)) != nullptr);
        break;
      case 1: // a private heap
        if (heap_blocks[slot] != nullptr) {
          kit_heap_free(heaps[heap_of[slot]], std::exchange(heap_blocks[slot], nullptr));
        } else {
          heap_of[slot] = random.below(2);
          REQUIRE((heap_blocks[slot] = kit_heap_malloc(heaps[heap_of[slot]], size)) != nullptr);
        }
        break;
      default: // the handle space
        if (handles[slot] != 0)
          REQUIRE(kit_handle_free(std::exchange(handles[slot], 0)) == KIT_OK);
        else
          REQUIRE((handles[slot] = kit_handle_alloc(size)) != 0);
      }
      if (random.below(500) == 0) {
        kit_reset_trip_peak();
        trip_start = stats().bytes_in_use;
        trip_peak = trip_start;
      }
      figures = stats();
      peak = std::max(peak, figures.bytes_in_use);
      trip_peak = std::max(trip_peak, figures.bytes_in_use);
      REQUIRE(figures.peak_bytes == peak);
      REQUIRE(figures.trip_peak_bytes == trip_peak);
      REQUIRE(kit_heap_get_stats(nullptr, &space) == KIT_OK);
      main_peak = std::max(main_peak, space.bytes_in_use);
      REQUIRE(space.peak_bytes == main_peak);
      uint64_t spaces_in_use = space.bytes_in_use;
      for (unsigned index = 0; index < 2; ++index) {
        REQUIRE(kit_heap_get_stats(heaps[index], &space) == KIT_OK);
        heap_peaks[index] = std::max(heap_peaks[index], space.bytes_in_use);
        REQUIRE(space.peak_bytes == heap_peaks[index]);
        spaces_in_use += space.bytes_in_use;
      }
      REQUIRE(spaces_in_use <= figures.bytes_in_use); // the rest: the handles' blocks and table
    }
    CHECK(trip_start <= trip_peak);

    // Merged into the main heap, a private heap's bytes become the main heap's: the total
    // stays, but for the heaps' records (blocks of the main heap) freed.
    figures = stats();
    REQUIRE(kit_heap_merge(heaps[1]) == KIT_OK);
    REQUIRE(kit_heap_get_stats(heaps[0], &space) == KIT_OK);
    uint64_t first_heap_bytes = space.bytes_in_use;
    REQUIRE(kit_heap_merge(heaps[0]) == KIT_OK);
    CHECK(stats().bytes_in_use == figures.bytes_in_use - records);
    CHECK(stats().peak_bytes == peak);
    REQUIRE(kit_heap_get_stats(nullptr, &space) == KIT_OK);
    CHECK(space.peak_bytes == std::max(main_peak, space.bytes_in_use));
    CHECK(space.bytes_in_use > first_heap_bytes);
    for (unsigned slot = 0; slot < kSlots; ++slot) {
      kit_free(main_blocks[slot]);
      kit_free(heap_blocks[slot]); // the main heap's now
      if (handles[slot] != 0)
        REQUIRE(kit_handle_free(handles[slot]) == KIT_OK);
    }
    CHECK(stats().peak_bytes == peak);
    CHECK(std::string(kit_check() ? kit_check() : "ok") == "ok");
  }

  TEST_CASE("failed calls are counted: out-of-range sizes, bad alignments, overflow") {
    kit_stats start = stats();
    CHECK(kit_malloc(SIZE_MAX) == nullptr);
    CHECK(kit_aligned_alloc(3, 8) == nullptr);
    CHECK(kit_calloc(SIZE_MAX, 2) == nullptr);
    void* out = nullptr;
    CHECK(kit_posix_memalign(&out, 2, 8) != 0);
    kit_stats end = stats();
    CHECK(end.failed_calls == start.failed_calls + 4);
    CHECK(end.calloc_calls == start.calloc_calls + 1);
    CHECK(end.aligned_calls == start.aligned_calls + 2);
    CHECK(end.bytes_in_use == start.bytes_in_use);
  }

  TEST_CASE("kit_walk: address order, blocks tile their regions, figures match kit_stats") {
    std::vector<void*> blocks;
    for (size_t i = 0; i < 2000; ++i)
      blocks.push_back(kit_malloc(8 + i % 300));
    void* large = kit_malloc(200000);
    for (size_t i = 0; i < blocks.size(); i += 3)
      kit_free(blocks[i]);
    // Memory grown by other code, then a block too large for the free pages: it lands above
    // that memory, in a span of its own.
    uintptr_t foreign = kit_native_heap_grow_foreign(1);
    REQUIRE(foreign != 0);
    kit_handle handle = kit_handle_alloc(100); // a handle region among malloc's
    REQUIRE(handle != 0);
    kit_stats before = stats();
    void* above =
        kit_malloc(size_t(before.pages.unused_words + before.pages.fragment_words + 1) << 16);
    REQUIRE(address(above) > foreign);

    std::vector<kit_walk_entry> entries = walk();
    kit_stats figures = stats();
    uint32_t used = 0, free_blocks = 0, large_runs = 0, own_runs = 0, regions = 0, spans = 0;
    uint32_t handle_regions = 0;
    uint64_t own_bytes = 0;
    uint64_t region_end = 0, cursor = 0, span_end = 0;
    bool large_seen = false, first_in_region = false;
    // Between a region's state and its first block: the padding that 16-byte aligns malloc's
    // first payload (where the bump area starts, in a region with no blocks). A handle region
    // (its state 16 bytes into its run, not 8) starts its blocks 8 past a 16-byte boundary:
    // header, handle index, then the payload (src/allocator.hpp, "Spaces").
    uint64_t first_payload_offset = 0;
    auto skip_padding = [&](uint64_t first_address) {
      if (!first_in_region)
        return;
      CHECK(first_address - cursor < 16);
      CHECK((first_address + first_payload_offset) % 16 == 0);
      cursor = first_address;
      first_in_region = false;
    };
    for (const kit_walk_entry& entry : entries) {
      CAPTURE(entry.kind);
      CAPTURE(entry.address);
      CHECK(entry.bytes > 0);
      switch (entry.kind) {
      case KIT_WALK_SPAN:
        CHECK(entry.address >= span_end); // spans in address order, apart
        CHECK(entry.index == spans++);
        CHECK((entry.address + entry.bytes <= foreign || entry.address > foreign));
        span_end = entry.address + entry.bytes;
        cursor = entry.address;
        break;
      case KIT_WALK_REGION:
        regions += 1;
        CHECK(entry.address >= cursor);
        region_end = entry.address + entry.bytes;
        cursor = entry.address + 584; // the region's state, then its first block
        first_in_region = true;
        first_payload_offset = entry.address % 16 == 8 ? 4 : 8; // malloc's or handles'
        handle_regions += entry.address % 16 == 0;
        break;
      case KIT_WALK_USED:
      case KIT_WALK_FREE:
        skip_padding(entry.address);
        CHECK(entry.address == cursor); // blocks tile the region: no gap, no overlap
        cursor += entry.bytes;
        CHECK(cursor <= region_end);
        (entry.kind == KIT_WALK_USED ? used : free_blocks) += 1;
        break;
      case KIT_WALK_UNUSED:
        skip_padding(entry.address);
        CHECK(entry.address == cursor);
        cursor += entry.bytes;
        CHECK((cursor == region_end || cursor == span_end));
        break;
      case KIT_WALK_LARGE:
      case KIT_WALK_OWN:
      case KIT_WALK_FREE_RUN:
        CHECK(entry.address >= cursor);
        CHECK(entry.address + entry.bytes <= span_end);
        cursor = entry.address + entry.bytes;
        large_runs += entry.kind == KIT_WALK_LARGE;
        own_runs += entry.kind == KIT_WALK_OWN;
        own_bytes += entry.kind == KIT_WALK_OWN ? entry.bytes : 0;
        large_seen |= entry.address <= address(large) && address(large) < cursor;
        break;
      default:
        FAIL("unknown kind");
      }
    }
    CHECK(used == figures.small.live_blocks);
    CHECK(free_blocks == figures.small.fragments);
    CHECK(large_runs == figures.large_blocks);
    CHECK(own_runs == figures.own_runs);
    CHECK(own_bytes == uint64_t(figures.own_pages) << 16);
    CHECK(regions == figures.small.regions);
    CHECK(handle_regions >= 1);
    CHECK(spans == figures.pages.regions);
    CHECK(spans >= 2);
    CHECK(large_seen);

    std::vector<kit_walk_entry> first_three(3);
    CHECK(kit_walk_into(first_three.data(), 3) == entries.size());
    CHECK(std::memcmp(first_three.data(), entries.data(), 3 * sizeof(kit_walk_entry)) == 0);

    for (size_t i = 0; i < blocks.size(); ++i)
      if (i % 3 != 0)
        kit_free(blocks[i]);
    kit_free(large);
    kit_free(above);
    CHECK(kit_handle_free(handle) == KIT_OK);
  }

#if KITALLOC_SIZE_HISTOGRAM
  TEST_CASE("kit_size_histogram counts requests by bit width of their size") {
    uint64_t before[33], after[33];
    REQUIRE(kit_size_histogram(before, 33) == 33);
    for (size_t size : {size_t(0), size_t(1), size_t(3), size_t(1000), size_t(100000)})
      kit_free(kit_malloc(size));
    kit_free(kit_calloc(10, 100)); // 1000 bytes
    CHECK(kit_size_histogram(after, 5) == 5);
    REQUIRE(kit_size_histogram(after, 40) == 33);
    uint64_t expected_added[33] = {};
    expected_added[0] = 1;  // 0
    expected_added[1] = 1;  // 1
    expected_added[2] = 1;  // 3
    expected_added[10] = 2; // 1000 (malloc and calloc)
    expected_added[17] = 1; // 100000
    for (size_t bucket = 0; bucket < 33; ++bucket) {
      CAPTURE(bucket);
      CHECK(after[bucket] - before[bucket] == expected_added[bucket]);
    }
  }
#else
  TEST_CASE("kit_size_histogram: nothing without KITALLOC_SIZE_HISTOGRAM") {
    uint64_t buckets[33];
    std::memset(buckets, 0xAB, sizeof buckets);
    CHECK(kit_size_histogram(buckets, 33) == 0);
    CHECK(buckets[0] == 0xABABABABABABABABull);
  }
#endif
}
