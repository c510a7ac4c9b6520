// Private heaps (kitalloc.h, "Private heaps"): create, malloc, free, realloc, drop, merge and
// get_stats, on the global (native) heap. The suite shares one process and one heap: every
// figure is checked as a difference from before the test, never as an absolute.
#include "../src/heap.hpp" // the native heap's controls
#include "kitalloc.h"

#include "heap_figures.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#ifndef KITALLOC_CHECKED
#define KITALLOC_CHECKED 0
#endif

namespace {

// A new heap (REQUIREd: the tests need it).
kit_heap* created(kit_heap* parent, size_t initial_bytes) {
  kit_heap* heap = kit_heap_create(parent, initial_bytes);
  REQUIRE(heap != nullptr);
  return heap;
}

kit_stats of(kit_heap* heap) {
  kit_stats figures;
  std::memset(&figures, 0, sizeof figures);
  REQUIRE(kit_heap_get_stats(heap, &figures) == KIT_OK);
  return figures;
}

bool is_large(size_t size) { return size >= 32 * 1024; }
// A heap's record, as kitalloc.h states; the record's own address is its last field.
constexpr size_t kRecordBytes = sizeof(void*) == 8 ? 88 : 64;

struct Block {
  void* ptr;
  size_t size;
  uint32_t seed;
};

// Allocates `sizes` in heap (NULL: the main heap), each filled with its own pattern.
std::vector<Block> allocate(kit_heap* heap, const std::vector<size_t>& sizes, uint32_t seed) {
  std::vector<Block> blocks;
  for (size_t size : sizes) {
    CAPTURE(size);
    void* ptr = kit_heap_malloc(heap, size);
    REQUIRE(ptr != nullptr);
    CHECK(address(ptr) % alignof(std::max_align_t) == 0);
    CHECK(kit_malloc_usable_size(ptr) >= size);
    fill(ptr, size, seed);
    blocks.push_back({ptr, size, seed++});
  }
  return blocks;
}

size_t intact_count(const std::vector<Block>& blocks) {
  size_t count = 0;
  for (const Block& block : blocks)
    count += intact(block.ptr, block.size, block.seed);
  return count;
}

uint32_t small_count(const std::vector<Block>& blocks) {
  uint32_t count = 0;
  for (const Block& block : blocks)
    count += !is_large(block.size);
  return count;
}

uint32_t large_count(const std::vector<Block>& blocks) {
  uint32_t count = 0;
  for (const Block& block : blocks)
    count += is_large(block.size);
  return count;
}

uint64_t usable_bytes(const std::vector<Block>& blocks) {
  uint64_t bytes = 0;
  for (const Block& block : blocks)
    bytes += kit_malloc_usable_size(block.ptr);
  return bytes;
}

// A mixed workload: many small blocks and a few large ones.
std::vector<size_t> workload_sizes(size_t small, size_t large) {
  std::vector<size_t> sizes;
  for (size_t i = 0; i < small; ++i)
    sizes.push_back(1 + (i * 37) % 2000);
  for (size_t i = 0; i < large; ++i)
    sizes.push_back(40000 + i * 50000);
  return sizes;
}

// Every call on a bad heap: NULL or KIT_E_BAD_HEAP, and the heap does not change.
void require_refused(kit_heap* bad, kit_heap* live) {
  kit_stats before = global();
  kit_stats live_before = of(live);
  CHECK(kit_heap_malloc(bad, 10) == nullptr);
  CHECK(kit_heap_malloc(bad, 100000) == nullptr);
  CHECK(kit_heap_realloc(bad, nullptr, 10) == nullptr);
  CHECK(kit_heap_create(bad, 0) == nullptr);
  CHECK(kit_heap_create(bad, 100000) == nullptr);
  kit_stats out;
  CHECK(kit_heap_get_stats(bad, &out) == KIT_E_BAD_HEAP);
  CHECK(kit_heap_drop(bad) == KIT_E_BAD_HEAP);
  CHECK(kit_heap_merge(bad) == KIT_E_BAD_HEAP);
  CHECK(same_shape(before, global()));
  CHECK(same_shape(live_before, of(live)));
  CHECK(check() == "ok");
}

} // namespace

TEST_SUITE("private heaps") {
  TEST_CASE("create under the main heap and nested; small and large blocks in each") {
    kit_stats main_start = of(nullptr);
    kit_heap* heap = created(nullptr, 0);
    // The heap's record is an 88-byte block of the main heap (on a 64-bit host).
    kit_stats main_with_heap = of(nullptr);
    CHECK(main_with_heap.small.live_blocks == main_start.small.live_blocks + 1);
    CHECK(main_with_heap.bytes_in_use >= main_start.bytes_in_use + 88);
    CHECK(main_with_heap.bytes_in_use <= main_start.bytes_in_use + 128);
    kit_stats empty = of(heap);
    CHECK(empty.small.live_blocks == 0);
    CHECK(empty.large_blocks == 0);
    CHECK(empty.bytes_in_use == 0);
    CHECK(empty.small.regions == 0); // initial_bytes 0: no region until the first allocation
    CHECK(empty.memory_bytes == 0);
    CHECK(empty.malloc_calls == 0);

    kit_heap* child = created(heap, 0);
    CHECK(child != heap);
    kit_stats main_with_both = of(nullptr);
    CHECK(main_with_both.small.live_blocks == main_start.small.live_blocks + 2);

    const std::vector<size_t> sizes = {0,     1,     24,     100,    1000,     4096,
                                       32767, 32768, 100000, 200000, 1u << 20, 77};
    std::vector<Block> in_heap = allocate(heap, sizes, 1);
    kit_stats heap_figures = of(heap);
    CHECK(heap_figures.small.live_blocks == small_count(in_heap));
    CHECK(heap_figures.large_blocks == large_count(in_heap));
    CHECK(heap_figures.bytes_in_use == usable_bytes(in_heap));
    CHECK(heap_figures.peak_bytes >= heap_figures.bytes_in_use);
    CHECK(heap_figures.small.regions >= 1);
    CHECK(heap_figures.memory_bytes >= heap_figures.bytes_in_use);
    CHECK(heap_figures.memory_bytes >= 65536);         // regions are page runs
    CHECK(heap_figures.large_pages >= 1 + 2 + 4 + 16); // 1 MiB: exactly 16 pages
    // The main heap's own blocks did not change.
    kit_stats main_now = of(nullptr);
    CHECK(main_now.small.live_blocks == main_with_both.small.live_blocks);
    CHECK(main_now.large_blocks == main_with_both.large_blocks);
    CHECK(main_now.bytes_in_use == main_with_both.bytes_in_use);

    // malloc(0) in a heap: a unique block.
    void* zero = kit_heap_malloc(heap, 0);
    CHECK(zero != nullptr);
    CHECK(zero != in_heap[0].ptr);
    kit_heap_free(heap, zero);

    // The child's blocks are the child's: the parent's figures do not move.
    std::vector<Block> in_child = allocate(child, sizes, 100);
    kit_stats child_figures = of(child);
    CHECK(child_figures.small.live_blocks == small_count(in_child));
    CHECK(child_figures.large_blocks == large_count(in_child));
    CHECK(child_figures.bytes_in_use == usable_bytes(in_child));
    CHECK(of(heap).bytes_in_use == heap_figures.bytes_in_use);
    CHECK(of(heap).small.live_blocks == heap_figures.small.live_blocks);
    // Blocks in the main heap meanwhile; everything survives.
    std::vector<Block> in_main = allocate(nullptr, sizes, 200);
    CHECK(of(heap).bytes_in_use == heap_figures.bytes_in_use);
    CHECK(intact_count(in_heap) == in_heap.size());
    CHECK(intact_count(in_child) == in_child.size());
    CHECK(intact_count(in_main) == in_main.size());
    CHECK(check() == "ok");

    // Requests no heap can meet: NULL, nothing changes.
    kit_stats before = global();
    CHECK(kit_heap_malloc(heap, SIZE_MAX) == nullptr);
    CHECK(kit_heap_malloc(heap, SIZE_MAX - 65536) == nullptr);
    CHECK(kit_heap_malloc(child, SIZE_MAX / 2) == nullptr);
    CHECK(same_shape(before, global()));
    CHECK(of(heap).bytes_in_use == heap_figures.bytes_in_use);

    for (const Block& block : in_main)
      kit_free(block.ptr);
    CHECK(kit_heap_drop(heap) == KIT_OK);
    kit_stats main_end = of(nullptr);
    CHECK(main_end.small.live_blocks == main_start.small.live_blocks);
    CHECK(main_end.bytes_in_use == main_start.bytes_in_use);
    CHECK(check() == "ok");
  }

  TEST_CASE("initial_bytes is reserved at once; an impossible reservation gives NULL") {
    constexpr size_t kInitial = 200000;
    kit_heap* heap = created(nullptr, kInitial);
    kit_stats reserved = of(heap);
    CHECK(reserved.small.regions >= 1);
    CHECK(reserved.memory_bytes >= kInitial);
    CHECK(uint64_t(reserved.small.unused_words + reserved.small.fragment_words) * 4 >= kInitial);
    CHECK(reserved.bytes_in_use == 0);
    // 180 blocks of 1,000 bytes (with headers and rounding: 181,440 bytes) take no new memory.
    kit_stats before = global();
    std::vector<Block> blocks = allocate(heap, std::vector<size_t>(180, 1000), 7);
    CHECK(of(heap).memory_bytes == reserved.memory_bytes);
    CHECK(of(heap).small.regions == reserved.small.regions);
    CHECK(global().grow_calls == before.grow_calls);
    CHECK(intact_count(blocks) == blocks.size());

    before = global();
    kit_stats main_before = of(nullptr);
    CHECK(kit_heap_create(nullptr, SIZE_MAX) == nullptr);
    CHECK(kit_heap_create(nullptr, SIZE_MAX / 2) == nullptr);
    CHECK(kit_heap_create(heap, SIZE_MAX - 100) == nullptr);
    CHECK(same_shape(before, global()));
    CHECK(same_shape(main_before, of(nullptr)));
    CHECK(kit_heap_drop(heap) == KIT_OK);
    CHECK(check() == "ok");
  }

  TEST_CASE("a reservation comes from free page runs before memory grows") {
    // A free run of 21 pages in the page store, none free at the top.
    void* run = kit_malloc(21 << 16);
    REQUIRE(run != nullptr);
    std::vector<void*> fillers = {kit_malloc(40000)};
    kit_stats now = global();
    while (now.pages.unused_words > 0) {
      fillers.push_back(kit_malloc(40000));
      now = global();
    }
    kit_free(run);
    kit_stats before = global();
    REQUIRE(before.pages.fragment_words >= 21);
    kit_heap* heap = created(nullptr, 5 << 16);
    CHECK(of(heap).memory_bytes >= (5 << 16));
    CHECK(global().grow_calls == before.grow_calls); // as kit_malloc(5 << 16) would not
    CHECK(kit_heap_drop(heap) == KIT_OK);
    for (void* filler : fillers)
      kit_free(filler);
    CHECK(check() == "ok");
  }

  TEST_CASE("free and realloc go to the block's own heap, whatever heap the call names") {
    kit_heap* first = kit_heap_create(nullptr, 0);
    kit_heap* second = kit_heap_create(nullptr, 0);
    REQUIRE(first != nullptr);
    REQUIRE(second != nullptr);
    void* small = kit_heap_malloc(first, 100);
    void* large = kit_heap_malloc(first, 100000);
    void* other = kit_heap_malloc(second, 300);
    void* other_large = kit_heap_malloc(second, 50000);
    REQUIRE(small != nullptr);
    REQUIRE(large != nullptr);
    REQUIRE(other != nullptr);
    REQUIRE(other_large != nullptr);
    kit_stats first_before = of(first);
    kit_stats second_before = of(second);
    kit_stats main_before = of(nullptr);

    kit_free(small); // kit_free of a private heap's block: freed in that heap
    CHECK(of(first).small.live_blocks == first_before.small.live_blocks - 1);
    CHECK(of(first).bytes_in_use < first_before.bytes_in_use);
    CHECK(same_shape(of(second), second_before));
    CHECK(same_shape(of(nullptr), main_before));

    kit_heap_free(second, large); // names the wrong heap: freed in its own
    CHECK(of(first).large_blocks == first_before.large_blocks - 1);
    CHECK(of(first).bytes_in_use == 0);
    CHECK(same_shape(of(second), second_before));
    CHECK(same_shape(of(nullptr), main_before));

    kit_heap_free(nullptr, other); // NULL names the main heap
    CHECK(of(second).small.live_blocks == second_before.small.live_blocks - 1);
    CHECK(same_shape(of(nullptr), main_before));
    kit_heap_free(first, other_large);
    CHECK(of(second).large_blocks == 0);
    CHECK(of(second).bytes_in_use == 0);
    CHECK(check() == "ok");

    // realloc keeps a block in its heap: small -> small, small -> large -> small.
    auto* block = static_cast<unsigned char*>(kit_heap_realloc(first, nullptr, 100));
    REQUIRE(block != nullptr);
    CHECK(of(first).small.live_blocks == 1);
    fill(block, 100, 42);
    for (size_t size : {size_t(5000), size_t(200000), size_t(3000000), size_t(60), size_t(31)}) {
      CAPTURE(size);
      block = static_cast<unsigned char*>(kit_heap_realloc(second, block, size));
      REQUIRE(block != nullptr);
      CHECK(intact(block, size < 100 ? size : 100, 42));
      kit_stats now = of(first);
      CHECK(now.small.live_blocks + now.large_blocks == 1);
      CHECK(now.large_blocks == (is_large(size) ? 1u : 0u));
      CHECK(now.bytes_in_use == kit_malloc_usable_size(block));
      CHECK(of(second).bytes_in_use == 0);
      CHECK(of(nullptr).bytes_in_use == main_before.bytes_in_use);
    }
    block = static_cast<unsigned char*>(kit_realloc(block, 70000)); // kit_realloc too
    REQUIRE(block != nullptr);
    CHECK(intact(block, 31, 42));
    CHECK(of(first).large_blocks == 1);
    CHECK(of(nullptr).bytes_in_use == main_before.bytes_in_use);
    CHECK(kit_heap_realloc(first, block, 0) == nullptr); // realloc(p, 0) frees p
    CHECK(of(first).bytes_in_use == 0);
    CHECK(of(first).large_blocks == 0);

    // A main-heap block stays in the main heap when a private heap's realloc moves it.
    void* in_main = kit_heap_malloc(nullptr, 200);
    REQUIRE(in_main != nullptr);
    fill(in_main, 200, 9);
    kit_stats main_with_block = of(nullptr);
    CHECK(main_with_block.small.live_blocks == main_before.small.live_blocks + 1);
    in_main = kit_heap_realloc(first, in_main, 20000);
    REQUIRE(in_main != nullptr);
    CHECK(intact(in_main, 200, 9));
    CHECK(of(first).bytes_in_use == 0);
    CHECK(of(nullptr).small.live_blocks == main_with_block.small.live_blocks);
    in_main = kit_heap_realloc(second, in_main, 100000);
    REQUIRE(in_main != nullptr);
    CHECK(intact(in_main, 200, 9));
    CHECK(of(second).bytes_in_use == 0);
    CHECK(of(nullptr).large_blocks == main_before.large_blocks + 1);
    kit_heap_free(first, in_main);
    CHECK(of(nullptr).bytes_in_use == main_before.bytes_in_use);

    CHECK(kit_heap_drop(first) == KIT_OK);
    CHECK(kit_heap_drop(second) == KIT_OK);
    CHECK(check() == "ok");
  }

  TEST_CASE("drop releases everything; the next heap reuses the pages without growing memory") {
    kit_stats global_start = global();
    kit_stats main_start = of(nullptr);
    const std::vector<size_t> sizes = workload_sizes(3000, 12);
    uint64_t steady_memory = 0;
    uint32_t steady_grow_calls = 0;
    for (int round = 0; round < 6; ++round) {
      CAPTURE(round);
      kit_heap* heap = created(nullptr, 0);
      kit_heap* child = created(heap, 5000);
      std::vector<Block> blocks = allocate(heap, sizes, 1);
      std::vector<Block> child_blocks = allocate(child, workload_sizes(300, 2), 5000);
      CHECK(of(heap).small.live_blocks == small_count(blocks));
      CHECK(of(heap).large_blocks == large_count(blocks));
      CHECK(pages_in_use(global()) > pages_in_use(global_start));
      CHECK(intact_count(blocks) == blocks.size());
      CHECK(intact_count(child_blocks) == child_blocks.size());
      // Some blocks freed one by one first: drop must not care.
      for (size_t i = 0; i < blocks.size(); i += 7)
        kit_free(blocks[i].ptr);
      CHECK(check() == "ok");

      CHECK(kit_heap_drop(heap) == KIT_OK);
      kit_stats after = global();
      CHECK(pages_in_use(after) == pages_in_use(global_start));
      CHECK(after.large_blocks == global_start.large_blocks);
      CHECK(after.large_pages == global_start.large_pages);
      CHECK(after.small.live_blocks == global_start.small.live_blocks);
      CHECK(after.small.regions == global_start.small.regions);
      CHECK(after.bytes_in_use == global_start.bytes_in_use);
      kit_stats main_now = of(nullptr);
      CHECK(main_now.small.live_blocks == main_start.small.live_blocks);
      CHECK(main_now.bytes_in_use == main_start.bytes_in_use);
      CHECK(check() == "ok");
      if (round == 0) {
        steady_memory = after.memory_bytes;
        steady_grow_calls = after.grow_calls;
      } else {
        // The pages the last heap released serve this one: memory did not grow.
        CHECK(after.memory_bytes == steady_memory);
        CHECK(after.grow_calls == steady_grow_calls);
      }
    }
  }

  TEST_CASE("merge: the blocks stay valid and become the parent's, with the free space") {
    kit_heap* parent = created(nullptr, 0);
    kit_heap* child = created(parent, 0);
    std::vector<Block> blocks = allocate(child, workload_sizes(500, 5), 11);
    kit_stats child_figures = of(child);
    kit_stats main_before = of(nullptr);
    CHECK(of(parent).memory_bytes == 0);

    CHECK(kit_heap_merge(child) == KIT_OK);
    CHECK(check() == "ok");
    CHECK(intact_count(blocks) == blocks.size());
    kit_stats merged = of(parent);
    CHECK(merged.small.live_blocks == child_figures.small.live_blocks);
    CHECK(merged.large_blocks == child_figures.large_blocks);
    CHECK(merged.large_pages == child_figures.large_pages);
    CHECK(merged.bytes_in_use == child_figures.bytes_in_use);
    CHECK(merged.memory_bytes == child_figures.memory_bytes);
    CHECK(merged.small.regions == child_figures.small.regions);
    // The child's record, a block of the main heap, is gone.
    CHECK(of(nullptr).small.live_blocks == main_before.small.live_blocks - 1);
    kit_stats dead;
    CHECK(kit_heap_get_stats(child, &dead) == KIT_E_BAD_HEAP);

    // The parent frees them (by kit_heap_free and kit_free) ...
    for (size_t i = 0; i < blocks.size(); ++i)
      if (i % 2 == 0)
        kit_heap_free(parent, blocks[i].ptr);
      else
        kit_free(blocks[i].ptr);
    kit_stats emptied = of(parent);
    CHECK(emptied.small.live_blocks == 0);
    CHECK(emptied.large_blocks == 0);
    CHECK(emptied.bytes_in_use == 0);
    CHECK(check() == "ok");
    // ... and allocates the same again in the child's former space: no new memory.
    uint32_t grow_calls = global().grow_calls;
    uint64_t global_pages = pages_in_use(global());
    std::vector<Block> again = allocate(parent, workload_sizes(500, 5), 900);
    kit_stats refilled = of(parent);
    // Its regions are the child's, as they were: only the large runs are placed anew.
    CHECK(refilled.memory_bytes - (uint64_t(refilled.large_pages) << 16) == emptied.memory_bytes);
    CHECK(refilled.small.regions == emptied.small.regions);
    CHECK(global().grow_calls == grow_calls);
    CHECK(pages_in_use(global()) == global_pages + refilled.large_pages);
    CHECK(intact_count(again) == again.size());
    CHECK(kit_heap_drop(parent) == KIT_OK);
    CHECK(check() == "ok");
  }

  TEST_CASE("merge into the main heap: the blocks are the main heap's, kit_free frees them") {
    kit_stats main_start = of(nullptr);
    kit_heap* heap = created(nullptr, 0);
    std::vector<Block> blocks = allocate(heap, workload_sizes(200, 3), 77);
    kit_stats heap_figures = of(heap);
    CHECK(kit_heap_merge(heap) == KIT_OK);
    kit_stats main_merged = of(nullptr);
    CHECK(main_merged.small.live_blocks ==
          main_start.small.live_blocks + heap_figures.small.live_blocks);
    CHECK(main_merged.large_blocks == main_start.large_blocks + heap_figures.large_blocks);
    CHECK(main_merged.bytes_in_use == main_start.bytes_in_use + heap_figures.bytes_in_use);
    CHECK(intact_count(blocks) == blocks.size());
    // Grow and shrink them as main-heap blocks.
    for (size_t i = 0; i < blocks.size(); i += 10) {
      void* moved = kit_realloc(blocks[i].ptr, blocks[i].size + 3000);
      REQUIRE(moved != nullptr);
      CHECK(intact(moved, blocks[i].size, blocks[i].seed));
      blocks[i].ptr = moved;
    }
    for (const Block& block : blocks)
      kit_free(block.ptr);
    kit_stats main_end = of(nullptr);
    CHECK(main_end.small.live_blocks == main_start.small.live_blocks);
    CHECK(main_end.large_blocks == main_start.large_blocks);
    CHECK(main_end.bytes_in_use == main_start.bytes_in_use);
    CHECK(check() == "ok");
  }

  TEST_CASE("nesting: dropping a heap drops its children; merging re-parents grandchildren") {
    kit_stats main_start = of(nullptr);
    kit_stats global_start = global();
    SUBCASE("drop") {
      kit_heap* parent = created(nullptr, 0);
      kit_heap* child = created(parent, 1000);
      kit_heap* grandchild = created(child, 0);
      kit_heap* great = created(grandchild, 70000);
      kit_heap* sibling = created(parent, 0);
      kit_heap* bystander = created(nullptr, 0);
      std::vector<Block> kept = allocate(bystander, workload_sizes(50, 1), 1);
      for (kit_heap* heap : {parent, child, grandchild, great, sibling})
        allocate(heap, workload_sizes(100, 2), 10);
      CHECK(of(nullptr).small.live_blocks == main_start.small.live_blocks + 6);

      CHECK(kit_heap_drop(child) == KIT_OK); // takes grandchild and great with it
      for (kit_heap* dead : {child, grandchild, great})
        require_refused(dead, parent);
      CHECK(of(parent).small.live_blocks == 100);
      CHECK(of(sibling).small.live_blocks == 100);
      CHECK(of(nullptr).small.live_blocks == main_start.small.live_blocks + 3);

      CHECK(kit_heap_drop(parent) == KIT_OK); // takes sibling
      for (kit_heap* dead : {parent, sibling})
        require_refused(dead, bystander);
      CHECK(intact_count(kept) == kept.size());
      CHECK(of(bystander).small.live_blocks == 50);
      CHECK(kit_heap_drop(bystander) == KIT_OK);
    }
    SUBCASE("merge") {
      kit_heap* parent = created(nullptr, 0);
      kit_heap* child = created(parent, 0);
      kit_heap* grandchild = created(child, 0);
      kit_heap* other_grandchild = created(child, 0);
      std::vector<Block> parent_blocks = allocate(parent, workload_sizes(10, 0), 1);
      std::vector<Block> child_blocks = allocate(child, workload_sizes(20, 1), 100);
      std::vector<Block> grandchild_blocks = allocate(grandchild, workload_sizes(30, 1), 200);
      allocate(other_grandchild, workload_sizes(40, 1), 300);

      CHECK(kit_heap_merge(child) == KIT_OK);
      CHECK(of(parent).small.live_blocks == 10 + 20);
      CHECK(of(parent).large_blocks == 1);
      require_refused(child, parent);
      // The grandchildren live on, now under parent: merging one moves its blocks to parent.
      CHECK(of(grandchild).small.live_blocks == 30);
      void* late = kit_heap_malloc(grandchild, 500);
      REQUIRE(late != nullptr);
      CHECK(kit_heap_merge(grandchild) == KIT_OK);
      CHECK(of(parent).small.live_blocks == 10 + 20 + 30 + 1);
      CHECK(of(parent).large_blocks == 2);
      require_refused(grandchild, parent);
      CHECK(intact_count(parent_blocks) == parent_blocks.size());
      CHECK(intact_count(child_blocks) == child_blocks.size());
      CHECK(intact_count(grandchild_blocks) == grandchild_blocks.size());
      // Dropping parent now drops the other grandchild too.
      CHECK(of(other_grandchild).small.live_blocks == 40);
      CHECK(kit_heap_drop(parent) == KIT_OK);
      require_refused(other_grandchild, nullptr);
    }
    kit_stats main_end = of(nullptr);
    CHECK(main_end.small.live_blocks == main_start.small.live_blocks);
    CHECK(main_end.bytes_in_use == main_start.bytes_in_use);
    kit_stats global_end = global();
    CHECK(pages_in_use(global_end) == pages_in_use(global_start));
    CHECK(global_end.large_blocks == global_start.large_blocks);
    CHECK(check() == "ok");
  }

  TEST_CASE("a dropped, merged or forged heap is refused and nothing changes") {
    kit_heap* live = created(nullptr, 0);
    void* live_block = kit_heap_malloc(live, 100);
    REQUIRE(live_block != nullptr);
    fill(live_block, 100, 3);

    SUBCASE("dropped") {
      kit_heap* dropped = created(nullptr, 0);
      REQUIRE(kit_heap_malloc(dropped, 50) != nullptr);
      REQUIRE(kit_heap_drop(dropped) == KIT_OK);
      require_refused(dropped, live);
      // Its record's memory handed out again by malloc, and written over: still refused.
      std::vector<void*> reused;
      for (int i = 0; i < 64; ++i) {
        void* block = kit_malloc(96);
        REQUIRE(block != nullptr);
        std::memset(block, 0x5C, 96);
        reused.push_back(block);
      }
      require_refused(dropped, live);
      for (void* block : reused)
        kit_free(block);
    }
    SUBCASE("merged") {
      kit_heap* merged = created(live, 0);
      void* block = kit_heap_malloc(merged, 60);
      REQUIRE(block != nullptr);
      REQUIRE(kit_heap_merge(merged) == KIT_OK);
      require_refused(merged, live);
      CHECK(of(live).small.live_blocks == 2);
    }
    SUBCASE("forged") {
      // A copy of a live heap's record, elsewhere.
      void* copy = kit_malloc(96);
      REQUIRE(copy != nullptr);
      std::memcpy(copy, live, 96);
      require_refused(static_cast<kit_heap*>(copy), live);
      kit_free(copy);
      // Pointers into a record, into blocks, outside the heap.
      require_refused(reinterpret_cast<kit_heap*>(reinterpret_cast<char*>(live) + 16), live);
      require_refused(reinterpret_cast<kit_heap*>(reinterpret_cast<char*>(live) + 4), live);
      require_refused(reinterpret_cast<kit_heap*>(reinterpret_cast<char*>(live) - 16), live);
      require_refused(static_cast<kit_heap*>(live_block), live);
      void* main_block = kit_malloc(300);
      require_refused(static_cast<kit_heap*>(main_block), live);
      kit_free(main_block);
      // Where a record keeps its live key (its last field: its address mixed with a constant,
      // read off `live` here), other blocks hold (a) their own address: a block of a record's
      // size pointing at itself, or smaller blocks whose next bytes are a later block's pointer
      // back (a list); (b) their live key past the end of a smaller block: a forgery only their
      // size refuses.
      auto key_field = [](const void* record) {
        return reinterpret_cast<unsigned char*>(address(record) + kRecordBytes - sizeof(uintptr_t));
      };
      uintptr_t key_mix;
      std::memcpy(&key_mix, key_field(live), sizeof key_mix);
      key_mix ^= address(live);
      void* names_itself = kit_malloc(kRecordBytes);
      REQUIRE(names_itself != nullptr);
      std::memcpy(key_field(names_itself), &names_itself, sizeof names_itself);
      require_refused(static_cast<kit_heap*>(names_itself), live);
      kit_free(names_itself);
      std::vector<void*> nodes;
      for (int i = 0; i < 64; ++i)
        nodes.push_back(kit_malloc(16));
      std::vector<void*> pointed_back;
      for (void* node : nodes)
        for (void* later : nodes)
          if (key_field(node) >= later &&
              key_field(node) + sizeof(uintptr_t) <=
                  static_cast<unsigned char*>(later) + kit_malloc_usable_size(later))
            pointed_back.push_back(node);
      REQUIRE(!pointed_back.empty());
      for (uintptr_t mix : {uintptr_t(0), key_mix})
        for (void* node : pointed_back) {
          uintptr_t value = address(node) ^ mix;
          std::memcpy(key_field(node), &value, sizeof value);
          require_refused(static_cast<kit_heap*>(node), live);
        }
      for (void* node : nodes)
        kit_free(node);
      alignas(16) static unsigned char outside[256];
      std::memcpy(outside, live, 96);
      require_refused(reinterpret_cast<kit_heap*>(outside), live);
      alignas(16) unsigned char on_stack[256] = {};
      require_refused(reinterpret_cast<kit_heap*>(on_stack), live);
      // Past the end of memory: refused without reading it (natively, reading would fault).
      require_refused(reinterpret_cast<kit_heap*>(~uintptr_t(0) & ~uintptr_t(15)), live);
      // A record bearing the live key for its own address, its header copied too, in memory
      // other code grew.
      auto* foreign = reinterpret_cast<unsigned char*>(kit_native_heap_grow_foreign(1));
      REQUIRE(foreign != nullptr);
      kit_stats now = global(); // a block kitalloc grows memory for, above the foreign page
      void* above = kit_malloc(size_t(now.pages.unused_words + now.pages.fragment_words + 1) << 16);
      REQUIRE(address(above) > address(foreign));
      std::memcpy(foreign + 12, reinterpret_cast<unsigned char*>(live) - 4, 100);
      auto* forged = reinterpret_cast<kit_heap*>(foreign + 16);
      uintptr_t forged_key = address(forged) ^ key_mix;
      std::memcpy(key_field(forged), &forged_key, sizeof forged_key);
      require_refused(forged, live);
      kit_free(above);
    }
    CHECK(intact(live_block, 100, 3));
    CHECK(kit_heap_drop(live) == KIT_OK);
    CHECK(check() == "ok");
  }

  // The checked build reports such a free to its failure hook (by default: a trap).
  TEST_CASE("freeing a block of a dropped heap is refused and corrupts nothing" *
            doctest::skip(KITALLOC_CHECKED)) {
    kit_heap* heap = created(nullptr, 0);
    // Neighbouring large blocks, so that their freed runs merge on drop.
    std::vector<Block> blocks = allocate(heap, workload_sizes(200, 4), 1);
    std::vector<Block> more = allocate(heap, {40000, 40000, 70000, 16, 32, 48}, 500);
    blocks.insert(blocks.end(), more.begin(), more.end());
    kit_free(blocks[3].ptr); // one freed before the drop: a double free after it
    REQUIRE(kit_heap_drop(heap) == KIT_OK);
    kit_stats before = global();
    kit_stats main_before = of(nullptr);
    for (const Block& block : blocks) {
      kit_free(block.ptr);
      kit_heap_free(nullptr, block.ptr);
    }
    CHECK(same_shape(before, global()));
    CHECK(same_shape(main_before, of(nullptr)));
    CHECK(check() == "ok");

    // A new heap takes the pages again; the old pointers it has not handed out stay refused.
    kit_heap* next = created(nullptr, 0);
    void* fresh = kit_heap_malloc(next, 64);
    REQUIRE(fresh != nullptr);
    fill(fresh, 64, 8);
    kit_stats next_before = of(next);
    before = global();
    for (const Block& block : blocks) {
      uintptr_t distance = address(block.ptr) > address(fresh)
                               ? address(block.ptr) - address(fresh)
                               : address(fresh) - address(block.ptr);
      if (distance >= 1024)
        kit_free(block.ptr);
    }
    CHECK(same_shape(before, global()));
    CHECK(same_shape(next_before, of(next)));
    CHECK(intact(fresh, 64, 8));
    CHECK(check() == "ok");
    CHECK(kit_heap_drop(next) == KIT_OK);
    CHECK(check() == "ok");
  }

  TEST_CASE("many heaps at once, dropped and merged in turn") {
    kit_stats global_start = global();
    kit_stats main_start = of(nullptr);
    std::vector<kit_heap*> heaps;
    std::vector<std::vector<Block>> contents;
    for (int i = 0; i < 40; ++i) {
      kit_heap* parent = i % 3 == 0 ? nullptr : heaps[size_t(i) * 7 % heaps.size()];
      kit_heap* heap = created(parent, size_t(i % 4) * 10000);
      heaps.push_back(heap);
      contents.push_back(allocate(heap, workload_sizes(20 + size_t(i), i % 5 == 0), uint32_t(i)));
    }
    CHECK(check() == "ok");
    for (size_t i = 0; i < heaps.size(); ++i)
      CHECK(intact_count(contents[i]) == contents[i].size());
    // Drop the heaps made directly under the main heap: everything goes, as the tree says.
    for (size_t i = 0; i < heaps.size(); i += 3)
      CHECK(kit_heap_drop(heaps[i]) == KIT_OK);
    CHECK(check() == "ok");
    CHECK(pages_in_use(global()) == pages_in_use(global_start));
    CHECK(of(nullptr).small.live_blocks == main_start.small.live_blocks);
    for (kit_heap* heap : heaps) {
      kit_stats figures;
      CHECK(kit_heap_get_stats(heap, &figures) == KIT_E_BAD_HEAP);
    }
  }
}
