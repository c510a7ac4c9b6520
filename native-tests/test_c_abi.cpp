// The C ABI's semantics, each edge case of the README's table, on the global (native) heap.
#include "../src/heap.hpp" // the native heap's controls
#include "kitalloc.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#ifndef KITALLOC_CHECKED
#define KITALLOC_CHECKED 0
#endif

namespace {

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

const char* check() {
  const char* breach = kit_check();
  return breach ? breach : "ok";
}

// `count` blocks of `size` bytes, malloc'ed one after another, then all freed (so parked).
std::vector<void*> malloc_then_free(int count, size_t size) {
  std::vector<void*> blocks;
  for (int i = 0; i < count; ++i)
    blocks.push_back(kit_malloc(size));
  for (void* block : blocks)
    kit_free(block);
  return blocks;
}

} // namespace

TEST_SUITE("C ABI") {
  TEST_CASE("malloc: default alignment is alignof(max_align_t); malloc(0) is unique") {
    for (size_t size : {0, 1, 7, 16, 17, 100, 4000, 32767, 32768, 100000}) {
      CAPTURE(size);
      void* block = kit_malloc(size);
      REQUIRE(block != nullptr);
      CHECK(address(block) % alignof(std::max_align_t) == 0);
      CHECK(kit_malloc_usable_size(block) >= size);
      std::memset(block, 0xEE, size);
      kit_free(block);
    }
    void* first = kit_malloc(0);
    void* second = kit_malloc(0);
    CHECK(first != nullptr);
    CHECK(second != nullptr);
    CHECK(first != second);
    kit_free(first);
    kit_free(second);
    CHECK(std::string(check()) == "ok");
  }

  // The checked build adds a trailer to every block (src/checked.hpp). In a new private heap
  // the blocks come from the bump pointer one after another (the main heap may hand out
  // parked blocks first).
  TEST_CASE("per-allocation overhead is one word beyond rounding to the alignment" *
            doctest::skip(KITALLOC_CHECKED)) {
    kit_heap* heap = kit_heap_create(nullptr, 0);
    REQUIRE(heap != nullptr);
    std::vector<char*> blocks;
    for (int i = 0; i < 10; ++i)
      blocks.push_back(static_cast<char*>(kit_heap_malloc(heap, 12)));
    for (int i = 1; i < 10; ++i) // 12 bytes + a 4-byte header: 16-byte steps
      CHECK(blocks[i] - blocks[i - 1] == 16);
    CHECK(kit_heap_drop(heap) == KIT_OK);
  }

  // src/allocator.hpp, "Parked blocks". The checked build names the second free through its
  // failure hook instead (test_checked.cpp).
  TEST_CASE("a freed small block is parked: reused first, refused when freed again, counted "
            "as free" *
            doctest::skip(KITALLOC_CHECKED)) {
    void* block = kit_malloc(40);
    REQUIRE(block != nullptr);
    kit_stats live, parked, again;
    kit_get_stats(&live);
    kit_free(block);
    kit_get_stats(&parked);
    CHECK(parked.small.live_blocks == live.small.live_blocks - 1);
    CHECK(parked.small.fragments == live.small.fragments + 1);
    CHECK(parked.small.fragment_words == live.small.fragment_words + 12); // 48 bytes
    CHECK(parked.bytes_in_use == live.bytes_in_use - 44);
    CHECK(std::string(check()) == "ok");
    kit_free(block); // a double free: refused, nothing changes but the failed count
    kit_get_stats(&again);
    CHECK(again.failed_calls == parked.failed_calls + 1);
    CHECK(again.small.fragments == parked.small.fragments);
    CHECK(kit_realloc(block, 10) == nullptr); // realloc refuses it too (and frees nothing)
    CHECK(std::string(check()) == "ok");
    CHECK(kit_malloc(33) == block); // 33..44 bytes take the same 48-byte block, newest first
    kit_free(block);
  }

  TEST_CASE("parked blocks are given back before the bump pointer rises, and their regions "
            "give back the pages that frees") {
    malloc_then_free(20000, 100);
    kit_stats parked, after;
    kit_get_stats(&parked);
    // No free block holds 30,000 bytes until the parked ones merge with their neighbours.
    void* big = kit_malloc(30000);
    REQUIRE(big != nullptr);
    kit_get_stats(&after);
    CHECK(after.small.fragments + 20000 <= parked.small.fragments);
    CHECK(after.small.allocated_words <= parked.small.allocated_words); // no bump pointer rose
    // The merged 2.2 MB lay at the top of the regions: their pages went back to the page store.
    CHECK(after.small.total_words + 2000000 / 4 < parked.small.total_words);
    CHECK(std::string(check()) == "ok");
    kit_free(big);
  }

  TEST_CASE("parked lists have no limit: every block of a size parks, and comes back without "
            "the bump pointer rising") {
    std::vector<void*> blocks(5000);
    for (void*& block : blocks)
      block = kit_malloc(20);
    kit_stats live, parked, again;
    kit_get_stats(&live);
    for (void* block : blocks)
      kit_free(block);
    kit_get_stats(&parked);
    CHECK(parked.small.fragments == live.small.fragments + 5000); // none merged
    for (void*& block : blocks)
      block = kit_malloc(20);
    kit_get_stats(&again);
    CHECK(again.small.fragments == live.small.fragments);
    CHECK(again.small.allocated_words == live.small.allocated_words);
    CHECK(std::string(check()) == "ok");
    for (void* block : blocks)
      kit_free(block);
  }

  TEST_CASE("parked blocks are given back before a large block would grow memory") {
    // 2.2 MB of small blocks, freed: parked, their regions keep their pages until a large
    // block needs them; then the blocks merge, the regions give the pages back and the large
    // block takes them instead of growing memory.
    malloc_then_free(20000, 100);
    kit_stats parked, after;
    kit_get_stats(&parked);
    void* big = kit_malloc(1 << 20);
    REQUIRE(big != nullptr);
    kit_get_stats(&after);
    CHECK(after.small.fragments + 20000 <= parked.small.fragments);
    CHECK(after.memory_bytes == parked.memory_bytes);
    CHECK(std::string(check()) == "ok");
    kit_free(big);
  }

  TEST_CASE("another heap's new region takes the pages of the main heap's parked blocks") {
    malloc_then_free(20000, 100);
    kit_stats parked, after;
    kit_get_stats(&parked);
    kit_heap* heap = kit_heap_create(nullptr, 0);
    REQUIRE(heap != nullptr);
    std::vector<void*> blocks;
    for (int i = 0; i < 10000; ++i) // 1.2 MB
      blocks.push_back(kit_heap_malloc(heap, 100));
    REQUIRE(blocks.back() != nullptr);
    kit_get_stats(&after);
    CHECK(after.memory_bytes == parked.memory_bytes);
    CHECK(std::string(check()) == "ok");
    CHECK(kit_heap_drop(heap) == KIT_OK);
  }

  TEST_CASE("free(NULL) does nothing; malloc_usable_size(NULL) is 0") {
    kit_stats before, after;
    kit_get_stats(&before);
    kit_free(nullptr);
    kit_get_stats(&after);
    CHECK(std::memcmp(&before, &after, sizeof before) == 0);
    CHECK(kit_malloc_usable_size(nullptr) == 0);
  }

  TEST_CASE("calloc: zeroed, and n * size overflow gives NULL with ENOMEM") {
    // Dirty some memory first so that calloc has to zero reused blocks.
    for (size_t size : {size_t(64), size_t(5000), size_t(200000)}) {
      void* dirty = kit_malloc(size);
      std::memset(dirty, 0xFF, size);
      kit_free(dirty);
      auto* zeroed = static_cast<unsigned char*>(kit_calloc(1, size));
      REQUIRE(zeroed != nullptr);
      CHECK(zeroed == dirty);
      size_t nonzero = 0;
      for (size_t i = 0; i < size; ++i)
        nonzero += zeroed[i] != 0;
      CHECK(nonzero == 0);
      kit_free(zeroed);
    }
    errno = 0;
    CHECK(kit_calloc(SIZE_MAX, 2) == nullptr);
    CHECK(errno == ENOMEM);
    CHECK(kit_calloc(size_t(1) << 33, size_t(1) << 33) == nullptr);
    void* empty = kit_calloc(0, 10);
    CHECK(empty != nullptr);
    kit_free(empty);
  }

  TEST_CASE("realloc: NULL is malloc; size 0 frees and returns NULL; contents kept") {
    auto* block = static_cast<unsigned char*>(kit_realloc(nullptr, 40));
    REQUIRE(block != nullptr);
    for (int i = 0; i < 40; ++i)
      block[i] = static_cast<unsigned char>(i);
    kit_stats before;
    kit_get_stats(&before);
    CHECK(kit_realloc(block, 0) == nullptr);
    kit_stats after;
    kit_get_stats(&after);
    CHECK(after.small.live_blocks == before.small.live_blocks - 1);

    block = static_cast<unsigned char*>(kit_malloc(40));
    for (int i = 0; i < 40; ++i)
      block[i] = static_cast<unsigned char>(i);
    for (size_t size : {size_t(100), size_t(20), size_t(50000), size_t(3000000), size_t(30)}) {
      CAPTURE(size);
      block = static_cast<unsigned char*>(kit_realloc(block, size));
      REQUIRE(block != nullptr);
      for (int i = 0; i < 20; ++i)
        REQUIRE(block[i] == i);
    }
    kit_free(block);
  }

  TEST_CASE("realloc grows and shrinks in place when the neighbour allows") {
    // 100 bytes: the freed neighbour is parked (src/allocator.hpp) and realloc takes it back;
    // 300 bytes: it is a free block at once.
    for (size_t size : {size_t(100), size_t(300)}) {
      CAPTURE(size);
      // Blocks come from parked lists or free space in any order: allocate until one lands
      // right after another (closer than a block and its overhead: nothing fits between).
      std::vector<char*> blocks;
      char* block = nullptr;
      char* neighbour = nullptr;
      while (neighbour == nullptr && blocks.size() < 1000) {
        auto* fresh = static_cast<char*>(kit_malloc(size));
        REQUIRE(fresh != nullptr);
        for (char* earlier : blocks)
          if (fresh > earlier && size_t(fresh - earlier) <= size + 32) {
            block = earlier;
            neighbour = fresh;
          }
        blocks.push_back(fresh);
      }
      REQUIRE(neighbour != nullptr);
      kit_free(neighbour);
      CHECK(kit_realloc(block, size + 80) == block);
      CHECK(kit_realloc(block, size / 2) == block);
      for (char* earlier : blocks)
        if (earlier != neighbour)
          kit_free(earlier);
    }
    // Larger than all free runs together (earlier tests left some): the block is the top run.
    kit_stats now;
    kit_get_stats(&now);
    size_t first = (size_t(now.pages.fragment_words) + 2) << 16;
    void* large = kit_malloc(first);
    for (size_t size = 2 * first; size <= (size_t(32) << 20); size *= 2)
      CHECK(kit_realloc(large, size) == large); // the top run grows with memory
    CHECK(kit_realloc(large, 40000) == large);
    kit_free(large);
    CHECK(std::string(check()) == "ok");
  }

  TEST_CASE("aligned_alloc / memalign: powers of two up to 64 KiB; others give NULL, EINVAL") {
    for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
      for (size_t size : {size_t(1), size_t(3000), size_t(70000)}) {
        CAPTURE(alignment);
        CAPTURE(size);
        void* block = kit_aligned_alloc(alignment, size);
        REQUIRE(block != nullptr);
        CHECK(address(block) % alignment == 0);
        CHECK(address(block) % alignof(std::max_align_t) == 0);
        kit_free(block);
        block = kit_memalign(alignment, size);
        REQUIRE(block != nullptr);
        CHECK(address(block) % alignment == 0);
        kit_free(block);
      }
    }
    for (size_t alignment : {size_t(0), size_t(3), size_t(24), size_t(131072), SIZE_MAX}) {
      CAPTURE(alignment);
      errno = 0;
      CHECK(kit_aligned_alloc(alignment, 10) == nullptr);
      CHECK(errno == EINVAL);
      errno = 0;
      CHECK(kit_memalign(alignment, 10) == nullptr);
      CHECK(errno == EINVAL);
    }
  }

  TEST_CASE("posix_memalign: EINVAL for bad alignments, ENOMEM when out of memory") {
    void* out = &out;
    for (size_t alignment : {size_t(0), size_t(2), size_t(4), size_t(12), size_t(131072)}) {
      CAPTURE(alignment);
      CHECK(kit_posix_memalign(&out, alignment, 10) == EINVAL);
      CHECK(out == &out); // untouched
    }
    CHECK(kit_posix_memalign(&out, 4096, 10) == 0);
    CHECK(address(out) % 4096 == 0);
    kit_free(out);
    out = &out;
    CHECK(kit_posix_memalign(&out, 64, SIZE_MAX - 10) == ENOMEM);
    CHECK(out == &out);
  }

  TEST_CASE("every request from SIZE_MAX - 65535 to SIZE_MAX returns NULL, then malloc works") {
    size_t non_null = 0;
    for (size_t size = SIZE_MAX - 65535; size != 0; ++size) {
      void* block = kit_malloc(size);
      non_null += block != nullptr;
      kit_free(block);
      block = kit_realloc(nullptr, size);
      non_null += block != nullptr;
      kit_free(block);
    }
    CHECK(non_null == 0);
    void* block = kit_malloc(100);
    CHECK(block != nullptr);
    kit_free(block);
  }

  TEST_CASE("out of memory gives NULL and ENOMEM, and the heap stays usable") {
    kit_native_heap_limit(64 << 20);
    std::vector<void*> blocks;
    errno = 0;
    while (void* block = kit_malloc(1 << 20))
      blocks.push_back(block);
    CHECK(errno == ENOMEM);
    CHECK(blocks.size() > 20);
    void* small = nullptr;
    while ((small = kit_malloc(1000)) != nullptr) // the small regions fill up too
      blocks.push_back(small);
    CHECK(kit_realloc(blocks.front(), 200 << 20) == nullptr); // the old block is untouched
    for (void* block : blocks)
      kit_free(block);
    kit_native_heap_limit(SIZE_MAX);
    void* block = kit_malloc(10 << 20);
    CHECK(block != nullptr);
    kit_free(block);
    CHECK(std::string(check()) == "ok");
  }

  TEST_CASE("memory grown by other code between calls is never handed out") {
    // Fill the free pages (the free runs, and at the top), so that the next growth comes
    // after the foreign pages.
    std::vector<void*> blocks;
    auto drain_top = [&blocks] {
      kit_stats now;
      kit_get_stats(&now);
      while (now.pages.unused_words + now.pages.fragment_words > 0) {
        blocks.push_back(kit_malloc(40000));
        kit_get_stats(&now);
      }
    };
    drain_top();
    constexpr size_t kForeignBytes = 4 << 16;
    auto* foreign = reinterpret_cast<unsigned char*>(kit_native_heap_grow_foreign(4));
    REQUIRE(foreign != nullptr);
    std::memset(foreign, 0x5A, kForeignBytes);
    kit_stats before;
    kit_get_stats(&before);
    std::vector<unsigned char*> fresh;
    for (int i = 0; i < 200; ++i)
      fresh.push_back(static_cast<unsigned char*>(kit_malloc(i % 2 ? 60000 : 500)));
    kit_stats after;
    kit_get_stats(&after);
    CHECK(after.grow_calls > before.grow_calls);
    CHECK(after.pages.regions == before.pages.regions + 1); // a new span past the gap
    for (unsigned char* block : fresh) {
      REQUIRE(block != nullptr);
      std::memset(block, 0x77, kit_malloc_usable_size(block));
    }
    size_t changed = 0;
    for (size_t i = 0; i < kForeignBytes; ++i)
      changed += foreign[i] != 0x5A;
    CHECK(changed == 0);
    CHECK(std::string(check()) == "ok");
    for (void* block : blocks)
      kit_free(block);
    for (unsigned char* block : fresh)
      kit_free(block);
    CHECK(std::string(check()) == "ok");
  }

  // heap.hpp: what fuzz-c-abi starts each input with.
  TEST_CASE("the native heap's restart: an empty heap on zeroed memory, as in a new process") {
    constexpr size_t kDirtyBytes = 4 << 20;
    auto* dirty = static_cast<unsigned char*>(kit_malloc(kDirtyBytes));
    REQUIRE(dirty != nullptr);
    std::memset(dirty, 0xEE, kDirtyBytes);
    kit_heap* heap = kit_heap_create(nullptr, 0);
    REQUIRE(heap != nullptr);
    REQUIRE(kit_handle_alloc(100) != 0);
    REQUIRE(kit_native_heap_restart() == 1);
    kit_stats after;
    kit_get_stats(&after);
    CHECK(after.memory_bytes < (1 << 17)); // the two pages a process starts with (4 MiB before)
    CHECK(after.bytes_in_use == 0);
    CHECK(after.peak_bytes == 0);
    CHECK(after.malloc_calls == 0);
    CHECK(after.small.live_blocks == 0);
    CHECK(after.large_blocks == 0);
    CHECK(kit_heap_malloc(heap, 10) == nullptr); // a heap from before is not a live heap now
    auto* zeroed = static_cast<unsigned char*>(kit_calloc(1, kDirtyBytes));
    REQUIRE(zeroed != nullptr);
    size_t nonzero = 0;
    for (size_t i = 0; i < kDirtyBytes; ++i)
      nonzero += zeroed[i] != 0;
    CHECK(nonzero == 0);
    CHECK(std::string(check()) == "ok");
    kit_free(zeroed);
  }
}
