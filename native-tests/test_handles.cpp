// Relocatable handles and compaction (kitalloc.h, "Relocatable handles and compaction"), and
// the RAII lock of kitalloc/handle.hpp, on the global (native) heap. The suite shares one
// process and one heap: figures are checked as differences, and every test frees what it made.
#include "kitalloc.h"
#include "kitalloc/handle.hpp"

#include "heap_figures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#ifndef KITALLOC_CHECKED
#define KITALLOC_CHECKED 0
#endif

namespace {

constexpr uint32_t kIndexBits = 20;
constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
constexpr size_t kLargeHandleBytes = 32764; // from here on a handle's block is a page run
constexpr size_t kOnePage = 32 * 1024; // the smallest large block: one page, whatever its header
constexpr size_t kPageBytes = 64 * 1024;

struct Tracked {
  kit_handle handle;
  size_t size;
  uint32_t seed;
};

// A new handle, filled with its pattern through a lock.
Tracked make(size_t size, uint32_t seed) {
  kit_handle handle = kit_handle_alloc(size);
  REQUIRE(handle != 0);
  CHECK(kit_handle_size(handle) >= size);
  void* block = kit_handle_lock(handle);
  REQUIRE(block != nullptr);
  CHECK(address(block) % 16 == 0);
  fill(block, size, seed);
  CHECK(kit_handle_unlock(handle) == KIT_OK);
  return {handle, size, seed};
}

bool handle_intact(const Tracked& tracked) {
  void* block = kit_handle_lock(tracked.handle);
  if (block == nullptr || address(block) % 16 != 0)
    return false;
  bool same = intact(block, tracked.size, tracked.seed);
  return kit_handle_unlock(tracked.handle) == KIT_OK && same;
}

size_t intact_count(const std::vector<Tracked>& handles) {
  size_t count = 0;
  for (const Tracked& tracked : handles)
    count += handle_intact(tracked);
  return count;
}

// count handles of `size` bytes made one after the other, then every other one freed (the
// first, the third...): the survivors, with holes of `size` bytes between them.
std::vector<Tracked> every_other_freed(uint32_t count, size_t size) {
  std::vector<Tracked> made, kept;
  for (uint32_t i = 0; i < count; ++i)
    made.push_back(make(size, i));
  for (size_t i = 0; i < made.size(); ++i)
    if (i % 2 == 0)
      CHECK(kit_handle_free(made[i].handle) == KIT_OK);
    else
      kept.push_back(made[i]);
  return kept;
}

void free_all(std::vector<Tracked>& handles) {
  for (const Tracked& tracked : handles)
    CHECK(kit_handle_free(tracked.handle) == KIT_OK);
  handles.clear();
}

// Every call on a handle that is not live: NULL, 0 or KIT_E_BAD_HANDLE.
bool refused(kit_handle handle) {
  return kit_handle_lock(handle) == nullptr && kit_handle_size(handle) == 0 &&
         kit_handle_free(handle) == KIT_E_BAD_HANDLE &&
         kit_handle_unlock(handle) == KIT_E_BAD_HANDLE;
}

// Takes every free page of the page store with one-page large blocks, so that the next large
// request either grows memory or must find room by compacting.
std::vector<void*> take_free_pages() {
  std::vector<void*> taken;
  kit_stats now = global();
  const uint32_t grow_calls = now.grow_calls;
  while (now.pages.unused_words + now.pages.fragment_words > 0) {
    void* page = kit_malloc(kOnePage);
    REQUIRE(page != nullptr);
    taken.push_back(page);
    now = global();
    REQUIRE(now.grow_calls == grow_calls);
  }
  return taken;
}

void free_blocks(std::vector<void*>& blocks) {
  for (void* block : blocks)
    kit_free(block);
  blocks.clear();
}

} // namespace

TEST_SUITE("handles") {
  TEST_CASE("alloc and lock: 16-byte aligned, at least the size asked; locks nest") {
    for (size_t size : {0, 1, 15, 16, 17, 100, 1000, 4096, 20000, 32767}) {
      CAPTURE(size);
      kit_handle handle = kit_handle_alloc(size);
      REQUIRE(handle != 0);
      size_t usable = kit_handle_size(handle);
      CHECK(usable >= size);
      if (size < kLargeHandleBytes) // larger ones are page runs: usable to the run's end
        CHECK(usable <= (size + 15) / 16 * 16 + 16);
      void* block = kit_handle_lock(handle);
      REQUIRE(block != nullptr);
      CHECK(address(block) % 16 == 0);
      fill(block, usable, uint32_t(size));
      CHECK(kit_handle_lock(handle) == block); // nested
      CHECK(kit_handle_unlock(handle) == KIT_OK);
      kit_compact(nullptr); // still locked once: stays
      CHECK(kit_handle_lock(handle) == block);
      CHECK(kit_handle_unlock(handle) == KIT_OK);
      CHECK(kit_handle_unlock(handle) == KIT_OK);
      CHECK(kit_handle_unlock(handle) == KIT_E_NOT_LOCKED); // one too many: nothing changes
      CHECK(kit_handle_unlock(handle) == KIT_E_NOT_LOCKED);
      CHECK(kit_handle_size(handle) == usable);
      block = kit_handle_lock(handle);
      REQUIRE(block != nullptr);
      CHECK(intact(block, usable, uint32_t(size)));
      CHECK(kit_handle_unlock(handle) == KIT_OK);
      CHECK(kit_handle_free(handle) == KIT_OK);
    }
    CHECK(check() == "ok");
  }

  TEST_CASE("handles of 32 KiB and more") {
    std::vector<Tracked> handles;
    for (size_t size : {size_t(32768), size_t(40000), size_t(200000), size_t(1) << 20})
      handles.push_back(make(size, uint32_t(size)));
    CHECK(kit_handle_free(handles[1].handle) == KIT_OK);
    handles.erase(handles.begin() + 1);
    kit_compact(nullptr);
    CHECK(intact_count(handles) == handles.size());
    CHECK(check() == "ok");
    free_all(handles);
  }

  TEST_CASE("impossible sizes give 0 and change nothing") {
    kit_stats before = global();
    CHECK(kit_handle_alloc(SIZE_MAX) == 0);
    CHECK(kit_handle_alloc(SIZE_MAX - 16) == 0);
    CHECK(kit_handle_alloc(SIZE_MAX / 2 + 1) == 0);
    CHECK(same_shape(before, global()));
    CHECK(check() == "ok");
  }

  TEST_CASE("free while locked is KIT_E_LOCKED and the handle still works; a freed one is bad") {
    Tracked tracked = make(300, 5);
    void* block = kit_handle_lock(tracked.handle);
    REQUIRE(block != nullptr);
    CHECK(kit_handle_free(tracked.handle) == KIT_E_LOCKED);
    CHECK(kit_handle_lock(tracked.handle) == block);
    CHECK(kit_handle_free(tracked.handle) == KIT_E_LOCKED);
    CHECK(kit_handle_unlock(tracked.handle) == KIT_OK);
    CHECK(kit_handle_free(tracked.handle) == KIT_E_LOCKED);
    CHECK(intact(block, 300, 5));
    CHECK(kit_handle_size(tracked.handle) >= 300);
    CHECK(kit_handle_unlock(tracked.handle) == KIT_OK);
    CHECK(handle_intact(tracked));
    kit_stats before = global();
    CHECK(kit_handle_free(tracked.handle) == KIT_OK);
    CHECK(global().bytes_in_use < before.bytes_in_use);
    CHECK(refused(tracked.handle));
    CHECK(refused(tracked.handle)); // twice: still nothing
    CHECK(check() == "ok");
  }

  TEST_CASE("forged and stale handles are refused and change nothing") {
    std::vector<Tracked> handles;
    for (uint32_t i = 0; i < 100; ++i)
      handles.push_back(make(16 + i * 24, i));
    std::set<kit_handle> live;
    for (const Tracked& tracked : handles) {
      CHECK(tracked.handle != 0);
      live.insert(tracked.handle);
    }
    CHECK(live.size() == handles.size());
    kit_stats before = global();

    CHECK(refused(0));
    CHECK(refused(0xFFFFFFFFu));
    CHECK(refused(kIndexMask)); // generation 0, the last index
    for (const Tracked& tracked : handles) {
      kit_handle handle = tracked.handle;
      uint32_t generation = handle >> kIndexBits;
      uint32_t index = handle & kIndexMask;
      CAPTURE(handle);
      CHECK(refused((generation << kIndexBits) | kIndexMask)); // far beyond the table
      CHECK(refused((generation << kIndexBits) | (index + 100000)));
      CHECK(refused(((generation + 1) << kIndexBits) | index)); // wrong generation
      CHECK(refused(((generation - 1) << kIndexBits) | index));
      CHECK(refused(((generation ^ 0x800) << kIndexBits) | index));
    }
    Random random{0x1234567};
    size_t tried = 0;
    for (int i = 0; i < 100000; ++i) {
      kit_handle forged = random.next();
      if (live.count(forged))
        continue;
      tried += 1;
      if (!refused(forged)) {
        CAPTURE(forged);
        FAIL_CHECK("a forged handle was accepted");
        break;
      }
    }
    CHECK(tried > 99000);
    CHECK(same_shape(before, global()));
    CHECK(intact_count(handles) == handles.size());
    CHECK(check() == "ok");

    // A freed handle stays refused while its slot is reused (up to 4095 times).
    kit_handle stale = handles.back().handle;
    CHECK(kit_handle_free(stale) == KIT_OK);
    handles.pop_back();
    size_t accepted = 0;
    for (int reuse = 0; reuse < 4094; ++reuse) {
      kit_handle fresh = kit_handle_alloc(16);
      REQUIRE(fresh != 0);
      CHECK(fresh != stale);
      accepted += !refused(stale);
      CHECK(kit_handle_free(fresh) == KIT_OK);
    }
    CHECK(accepted == 0);
    CHECK(intact_count(handles) == handles.size());
    free_all(handles);
    CHECK(check() == "ok");
  }

  TEST_CASE("contents survive compaction; locked blocks do not move") {
    kit_compact(nullptr);
    Random random{99};
    std::vector<Tracked> handles;
    uint32_t seed = 1;
    uint64_t moved_total = 0;
    for (int round = 0; round < 6; ++round) {
      CAPTURE(round);
      for (int i = 0; i < 1500; ++i)
        handles.push_back(make(1 + random.below(round % 2 ? 8000 : 600), seed++));
      // Free about half, at random.
      std::vector<Tracked> kept;
      for (const Tracked& tracked : handles)
        if (random.below(2) == 0)
          CHECK(kit_handle_free(tracked.handle) == KIT_OK);
        else
          kept.push_back(tracked);
      handles.swap(kept);
      // Lock some, remembering where they are.
      std::vector<std::pair<kit_handle, void*>> locked;
      for (const Tracked& tracked : handles)
        if (random.below(25) == 0) {
          void* block = kit_handle_lock(tracked.handle);
          REQUIRE(block != nullptr);
          locked.push_back({tracked.handle, block});
        }
      // Some malloc blocks in between: compaction must step around nothing of theirs.
      std::vector<void*> mallocs;
      for (int i = 0; i < 50; ++i) {
        mallocs.push_back(kit_malloc(1 + random.below(3000)));
        std::memset(mallocs.back(), 0xA5, kit_malloc_usable_size(mallocs.back()));
      }
      kit_compact_result result;
      std::memset(&result, 0xFF, sizeof result);
      kit_compact(&result);
      moved_total += result.moved_blocks;
      CHECK(result.moved_blocks > 0);
      CHECK(result.moved_blocks <= handles.size());
      CHECK(result.moved_bytes >= result.moved_blocks * 16);
      CHECK(result.locked_blocks <= locked.size());
      CHECK(check() == "ok");
      for (const auto& [handle, block] : locked) {
        CHECK(kit_handle_lock(handle) == block);
        CHECK(kit_handle_unlock(handle) == KIT_OK);
        CHECK(kit_handle_unlock(handle) == KIT_OK);
      }
      CHECK(intact_count(handles) == handles.size());
      for (void* block : mallocs) {
        auto* bytes = static_cast<unsigned char*>(block);
        size_t usable = kit_malloc_usable_size(block);
        CHECK(std::count(bytes, bytes + usable, 0xA5) == std::ptrdiff_t(usable));
        kit_free(block);
      }
      // Live handle blocks never overlap.
      std::vector<std::pair<uintptr_t, uintptr_t>> extents;
      for (const Tracked& tracked : handles) {
        void* block = kit_handle_lock(tracked.handle);
        extents.push_back({address(block), address(block) + kit_handle_size(tracked.handle)});
        CHECK(kit_handle_unlock(tracked.handle) == KIT_OK);
      }
      std::sort(extents.begin(), extents.end());
      size_t overlaps = 0;
      for (size_t i = 1; i < extents.size(); ++i)
        overlaps += extents[i - 1].second > extents[i].first;
      CHECK(overlaps == 0);
    }
    CHECK(moved_total > 0);
    free_all(handles);
    CHECK(check() == "ok");
  }

  TEST_CASE("kit_compact's figures: moved, locked, released, largest free") {
    kit_compact(nullptr);
    std::vector<Tracked> handles = every_other_freed(1000, 1000); // 500 holes of 1 KiB
    // Lock the last one and one in the middle.
    kit_handle last = handles.back().handle;
    kit_handle middle = handles[handles.size() / 2].handle;
    void* last_block = kit_handle_lock(last);
    void* middle_block = kit_handle_lock(middle);
    REQUIRE(last_block != nullptr);
    REQUIRE(middle_block != nullptr);
    std::vector<void*> taken = take_free_pages();
    std::vector<void*> taken_more;

    kit_compact_result locked_pass;
    kit_compact(&locked_pass);
    CHECK(locked_pass.moved_blocks > 0);
    CHECK(locked_pass.moved_bytes >= locked_pass.moved_blocks * 1000);
    CHECK(locked_pass.locked_blocks >= 1);
    CHECK(locked_pass.locked_blocks <= 2);
    CHECK(kit_handle_lock(last) == last_block);
    CHECK(kit_handle_lock(middle) == middle_block);
    CHECK(kit_handle_unlock(last) == KIT_OK);
    CHECK(kit_handle_unlock(middle) == KIT_OK);
    CHECK(intact_count(handles) == handles.size());
    CHECK(check() == "ok");
    // What it reports can be had without growing memory.
    uint32_t grow_calls = global().grow_calls;
    void* largest = kit_malloc(locked_pass.largest_free_bytes);
    CHECK(largest != nullptr);
    CHECK(global().grow_calls == grow_calls);
    kit_free(largest);
    taken_more = take_free_pages();

    CHECK(kit_handle_unlock(last) == KIT_OK);
    CHECK(kit_handle_unlock(middle) == KIT_OK);
    uint64_t pages_before = pages_in_use(global());
    kit_compact_result free_pass;
    kit_compact(&free_pass);
    CHECK(free_pass.moved_blocks > 0);
    CHECK(free_pass.locked_blocks == 0);
    CHECK(free_pass.released_bytes >= 65536);
    CHECK(free_pass.released_bytes % 65536 == 0);
    CHECK(pages_in_use(global()) == pages_before - free_pass.released_bytes / 65536);
    CHECK(free_pass.largest_free_bytes >= kOnePage);
    CHECK(free_pass.largest_free_bytes >= locked_pass.largest_free_bytes);
    if (locked_pass.released_bytes == 0)
      CHECK(free_pass.largest_free_bytes > locked_pass.largest_free_bytes);
    CHECK(intact_count(handles) == handles.size());
    CHECK(check() == "ok");
    // The released pages serve a large block without growing memory.
    grow_calls = global().grow_calls;
    void* large = kit_malloc(free_pass.largest_free_bytes);
    CHECK(large != nullptr);
    CHECK(global().grow_calls == grow_calls);
    kit_free(large);

    kit_compact_result again;
    kit_compact(&again);
    CHECK(again.moved_blocks == 0); // nothing left to do
    CHECK(again.moved_bytes == 0);
    CHECK(again.released_bytes == 0);
    CHECK(again.locked_blocks == 0);
    free_blocks(taken);
    free_blocks(taken_more);
    free_all(handles);
    CHECK(check() == "ok");
  }

  TEST_CASE("largest_free_bytes can be had without growing memory, whatever the free runs") {
    // Free runs of 50 and 49 pages (the 49 freed last), and no other free page: with none
    // free at first, the four blocks are placed one after the other in new memory.
    // (Auto-compaction off: it would free pages in the handle regions for the blocks between.)
    kit_compact(nullptr);
    int auto_compact = kit_set_auto_compact(0);
    std::vector<void*> taken = take_free_pages();
    std::vector<void*> kept;
    auto* fifty = static_cast<unsigned char*>(kit_malloc(50 * 65536 - 64));
    kept.push_back(kit_malloc(40000));
    auto* forty_nine = static_cast<unsigned char*>(kit_malloc(49 * 65536 - 64));
    kept.push_back(kit_malloc(40000));
    REQUIRE(address(kept[0]) > address(fifty));
    REQUIRE(address(forty_nine) > address(kept[0]));
    std::vector<void*> taken_after = take_free_pages();
    taken.insert(taken.end(), taken_after.begin(), taken_after.end());
    kit_free(fifty);
    kit_free(forty_nine);
    kit_compact_result result;
    kit_compact(&result);
    CHECK(result.largest_free_bytes >= 49 * 65536 - 64);
    uint32_t grow_calls = global().grow_calls;
    void* largest = kit_malloc(result.largest_free_bytes);
    kit_set_auto_compact(auto_compact);
    CHECK(largest != nullptr);
    CHECK(global().grow_calls == grow_calls);
    kit_free(largest);
    free_blocks(taken);
    free_blocks(kept);
    CHECK(check() == "ok");
  }

  TEST_CASE("auto-compaction: an allocation that would grow memory compacts first (when on)") {
    kit_compact(nullptr);
    // About 2 MiB free in the handle regions, in 1 KiB holes.
    std::vector<Tracked> handles = every_other_freed(4096, 1000);

    constexpr size_t kRequest = 512 * 1024;
    CHECK(kit_set_auto_compact(0) == 1); // on by default
    std::vector<void*> taken = take_free_pages();
    kit_stats before = global();
    void* grown = kit_malloc(kRequest);
    REQUIRE(grown != nullptr);
    CHECK(global().grow_calls == before.grow_calls + 1); // off: memory grows
    CHECK(intact_count(handles) == handles.size());

    std::vector<void*> taken_again = take_free_pages();
    CHECK(kit_set_auto_compact(1) == 0);
    CHECK(kit_set_auto_compact(1) == 1);
    before = global();
    void* compacted = kit_malloc(kRequest);
    REQUIRE(compacted != nullptr);
    kit_stats after = global();
    CHECK(after.grow_calls == before.grow_calls); // on: compaction made room
    CHECK(after.memory_bytes == before.memory_bytes);
    CHECK(check() == "ok");
    CHECK(intact_count(handles) == handles.size());
    std::memset(compacted, 0x3C, kRequest);
    CHECK(intact_count(handles) == handles.size());

    kit_free(grown);
    kit_free(compacted);
    free_blocks(taken);
    free_blocks(taken_again);
    free_all(handles);
    CHECK(check() == "ok");
  }

  TEST_CASE("auto-compaction: when the handle regions can give back half a request's pages, "
            "they do, and memory grows by only the rest") {
    kit_compact(nullptr);
    // About 2 MiB free in the handle regions, in 1 KiB holes; the request is 3 MiB.
    std::vector<Tracked> handles = every_other_freed(4096, 1000);
    constexpr size_t kRequest = 3 << 20;
    std::vector<void*> taken = take_free_pages();
    kit_stats before = global();
    void* block = kit_malloc(kRequest);
    REQUIRE(block != nullptr);
    kit_stats after = global();
    CHECK(after.grow_calls == before.grow_calls + 1);
    // Its pages came more than half from the handle regions: compaction gave them back.
    CHECK(pages_in_use(after) - pages_in_use(before) < kRequest / 2 / kPageBytes);
    CHECK(check() == "ok");
    std::memset(block, 0x5A, kRequest);
    CHECK(intact_count(handles) == handles.size());
    kit_free(block);
    free_blocks(taken);
    free_all(handles);
    CHECK(check() == "ok");
  }

  // The checked build reports such a free to its failure hook (by default: a trap).
  TEST_CASE("free() of a handle's address is refused" * doctest::skip(KITALLOC_CHECKED)) {
    Tracked tracked = make(200, 77);
    Tracked neighbour = make(200, 78);
    void* block = kit_handle_lock(tracked.handle);
    REQUIRE(block != nullptr);
    kit_stats before = global();
    kit_free(block);
    kit_heap_free(nullptr, block);
    CHECK(same_shape(before, global()));
    CHECK(check() == "ok");
    CHECK(kit_handle_lock(tracked.handle) == block);
    CHECK(intact(block, 200, 77));
    CHECK(kit_handle_unlock(tracked.handle) == KIT_OK);
    CHECK(kit_handle_unlock(tracked.handle) == KIT_OK);
    // Unlocked, its address still is no malloc block.
    kit_free(block);
    CHECK(same_shape(before, global()));
    CHECK(check() == "ok");
    CHECK(handle_intact(tracked));
    CHECK(handle_intact(neighbour));
    // Nor does a malloc in between take its place.
    void* other = kit_malloc(200);
    REQUIRE(other != nullptr);
    CHECK(other != block);
    kit_free(other);
    CHECK(kit_handle_free(tracked.handle) == KIT_OK);
    CHECK(kit_handle_free(neighbour.handle) == KIT_OK);
    CHECK(check() == "ok");
  }

  TEST_CASE("kit_walk and kit_get_stats see handle blocks, heap blocks and malloc blocks alike") {
    kit_heap* heap = kit_heap_create(nullptr, 0);
    REQUIRE(heap != nullptr);
    std::vector<Tracked> handles;
    std::vector<void*> mallocs;
    for (uint32_t i = 0; i < 300; ++i) {
      handles.push_back(make(16 + i * 13 % 3000, i));
      mallocs.push_back(kit_malloc(16 + i * 7 % 2000));
      REQUIRE(kit_heap_malloc(heap, 16 + i * 11 % 1000) != nullptr);
    }
    handles.push_back(make(100000, 1000)); // a large handle
    REQUIRE(kit_heap_malloc(heap, 70000) != nullptr);
    for (size_t i = 0; i < handles.size(); i += 3)
      CHECK(kit_handle_free(handles[i].handle) == KIT_OK);
    std::vector<Tracked> kept;
    for (size_t i = 0; i < handles.size(); ++i)
      if (i % 3 != 0)
        kept.push_back(handles[i]);
    handles.swap(kept);
    kit_compact(nullptr);

    std::vector<kit_walk_entry> entries(kit_walk_into(nullptr, 0));
    REQUIRE(kit_walk_into(entries.data(), entries.size()) == entries.size());
    kit_stats figures = global();
    uint32_t used = 0, free_blocks = 0, regions = 0, large = 0;
    uint64_t region_end = 0, cursor = 0, previous = 0;
    for (const kit_walk_entry& entry : entries) {
      CAPTURE(entry.kind);
      CAPTURE(entry.address);
      CHECK(entry.address >= previous); // address order
      previous = entry.address;
      switch (entry.kind) {
      case KIT_WALK_REGION:
        regions += 1;
        region_end = entry.address + entry.bytes;
        cursor = 0;
        break;
      case KIT_WALK_USED:
      case KIT_WALK_FREE:
        CHECK((cursor == 0 || entry.address == cursor)); // blocks tile their region
        cursor = entry.address + entry.bytes;
        CHECK(cursor <= region_end);
        (entry.kind == KIT_WALK_USED ? used : free_blocks) += 1;
        break;
      case KIT_WALK_LARGE:
        large += 1;
        break;
      default:
        break;
      }
    }
    CHECK(used == figures.small.live_blocks);
    CHECK(free_blocks == figures.small.fragments);
    CHECK(regions == figures.small.regions);
    CHECK(large == figures.large_blocks);
    // Every live handle's block is a used block the walk shows.
    for (const Tracked& tracked : handles) {
      kit::HandleLock lock(tracked.handle);
      uint64_t at = address(lock.get());
      bool found = false;
      for (const kit_walk_entry& entry : entries)
        found |= (entry.kind == KIT_WALK_USED || entry.kind == KIT_WALK_LARGE) &&
                 entry.address < at && at < entry.address + entry.bytes;
      CHECK(found);
    }
    CHECK(intact_count(handles) == handles.size());
    free_all(handles);
    for (void* block : mallocs)
      kit_free(block);
    CHECK(kit_heap_drop(heap) == KIT_OK);
    CHECK(check() == "ok");
  }

  TEST_CASE("kit::HandleLock: locks for its scope; a bad handle gives an empty lock") {
    Tracked tracked = make(64, 3);
    void* where = nullptr;
    {
      kit::HandleLock lock(tracked.handle);
      REQUIRE(static_cast<bool>(lock));
      where = lock.get();
      REQUIRE(where != nullptr);
      CHECK(address(where) % 16 == 0);
      CHECK(static_cast<void*>(lock.as<uint32_t>()) == where);
      CHECK(intact(lock.as<unsigned char>(), 64, 3));
      {
        kit::HandleLock inner(tracked.handle);
        CHECK(inner.get() == where);
      }
      kit_compact(nullptr);
      CHECK(lock.get() == where);
      CHECK(kit_handle_free(tracked.handle) == KIT_E_LOCKED);
      lock.as<uint32_t>()[0] = 0xC0FFEEu;
    }
    CHECK(kit_handle_unlock(tracked.handle) == KIT_E_NOT_LOCKED);
    {
      const kit::HandleLock again(tracked.handle);
      REQUIRE(static_cast<bool>(again));
      CHECK(again.as<uint32_t>()[0] == 0xC0FFEEu);
    }
    CHECK(kit_handle_free(tracked.handle) == KIT_OK);
    {
      kit::HandleLock stale(tracked.handle);
      CHECK_FALSE(static_cast<bool>(stale));
      CHECK(stale.get() == nullptr);
      CHECK(stale.as<int>() == nullptr);
      kit::HandleLock none(0);
      CHECK_FALSE(static_cast<bool>(none));
    }
    CHECK(check() == "ok");
  }

  // A handle's block, and kitalloc's own tables (large runs of the handle space), are not
  // malloc's: free and realloc refuse them and change nothing (the checked build names them
  // through its failure hook).
  TEST_CASE("free and realloc refuse a handle's block, small or large") {
    for (size_t bytes : {size_t(100), size_t(100000)}) {
      CAPTURE(bytes);
      kit_handle handle = kit_handle_alloc(bytes);
      REQUIRE(handle != 0);
      auto* payload = static_cast<unsigned char*>(kit_handle_lock(handle));
      std::memset(payload, 0x5A, bytes);
      size_t size = kit_handle_size(handle);
      kit_stats before = global();
      CHECK(kit_realloc(payload, bytes * 4) == nullptr);
      CHECK(kit_realloc(payload, 8) == nullptr);
      kit_free(payload);
      kit_stats after = global();
      CHECK(after.failed_calls == before.failed_calls + 3);
      CHECK(after.bytes_in_use == before.bytes_in_use);
      CHECK(kit_handle_size(handle) == size);
      CHECK(kit_handle_lock(handle) == payload);
      CHECK(payload[0] == 0x5A);
      CHECK(payload[bytes - 1] == 0x5A);
      CHECK(check() == "ok");
      CHECK(kit_handle_unlock(handle) == KIT_OK);
      CHECK(kit_handle_unlock(handle) == KIT_OK);
      CHECK(kit_handle_free(handle) == KIT_OK);
    }
  }
}
