// Private heaps and relocatable handles end to end, one source for every build (freestanding
// wasm32, WASI, Emscripten, native), through kitalloc's C ABI and kitalloc/handle.hpp only:
//   impossible   sizes no heap can meet, before anything else: 0 or NULL, nothing set up;
//   tasks        per-task heaps (some nested, some with a reservation) holding a few hundred
//                blocks each, small and large, dropped at the end of the task: contents
//                verified, figures per heap, and memory steady over hundreds of tasks;
//   merges       tasks merged into a long-lived heap: blocks stay valid, are counted there and
//                freed there; nesting (drop takes children, merge re-parents them);
//   bad heaps    dropped, merged and forged heaps refused (NULL, KIT_E_BAD_HEAP), nothing
//                changes; blocks of a dropped heap cannot be freed again;
//   handles      a random model of handles (alloc, lock, unlock, free, compact) against a
//                shadow: contents, 16-byte alignment, pinned blocks not moving, status codes,
//                stale and forged handles refused, kit_check() along the way;
//   compaction   kit_compact's figures, memory steady under churn, auto-compaction serving an
//                allocation without growing memory (and growing it when turned off).
// `kit_heaps_handles()` returns 0, or the source line of the first failed check. Where there is
// a printf, every failure is printed. KIT_FREESTANDING (set by CMake) drops main and printf.
#include "kitalloc.h"
#include "kitalloc/handle.hpp"

#include <stddef.h>
#include <stdint.h>

#if !defined(KIT_FREESTANDING)
#include <stdio.h>
#endif

#if defined(__wasm__)
#define KIT_HEAPS_HANDLES_EXPORT extern "C" __attribute__((export_name("kit_heaps_handles")))
#else
#define KIT_HEAPS_HANDLES_EXPORT extern "C"
#endif

#include "support.hpp"

namespace {

constexpr size_t kLargeBytes = 32 * 1024;
constexpr size_t kPageBytes = 65536;
constexpr size_t kOnePage = 32 * 1024; // the smallest large block: one page, whatever its header

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

kit_stats stats() {
  kit_stats figures;
  kit_get_stats(&figures);
  return figures;
}

// The figures of a live heap (NULL: the main heap); zeros, and a failure, for a dead one.
kit_stats heap_stats(kit_heap* heap, int line) {
  kit_stats figures = {};
  if (kit_heap_get_stats(heap, &figures) != KIT_OK)
    fail(line, "kit_heap_get_stats(heap) == KIT_OK");
  return figures;
}
#define HEAP_STATS(heap) heap_stats(heap, __LINE__)

bool consistent() { return kit_check() == nullptr; }

// Pages in used runs, while no private heap lives, but for the handle space's large runs and
// kitalloc's own: it moves its region table into one the first time a heap needs more than 64
// regions (README, "Private heaps"), and keeps it.
uint64_t pages_in_use(const kit_stats& figures) {
  uint64_t other_pages = figures.large_pages + figures.own_pages - HEAP_STATS(nullptr).large_pages;
  return uint64_t(figures.pages.allocated_words) - figures.pages.fragment_words - other_pages;
}

bool same_bytes(const void* a, const void* b, size_t size) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < size; ++i)
    if (x[i] != y[i])
      return false;
  return true;
}

void copy_bytes(void* to, const void* from, size_t size) {
  auto* x = static_cast<unsigned char*>(to);
  auto* y = static_cast<const unsigned char*>(from);
  for (size_t i = 0; i < size; ++i)
    x[i] = y[i];
}

// The heap's shape, without the call counters (a refused call may count as failed).
bool same_shape(const kit_stats& a, const kit_stats& b) {
  // Every figure up to bytes_in_use: regions, pages, large blocks, own runs, growth, memory.
  return same_bytes(&a, &b, offsetof(kit_stats, peak_bytes));
}

// ── Deterministic randomness and block contents ──────────────────────────────────────────────
// Every byte of blocks up to 4 KiB; the first and last 64 bytes and every 61st byte of larger
// ones (megabytes per operation would make the model slow under wasm).
bool checked_index(size_t size, size_t& i) {
  if (size > 4096 && i >= 64 && i < size - 64 && i % 61 != 0) {
    size_t next = i + (61 - i % 61);
    i = next < size - 64 ? next : size - 64;
  }
  return i < size;
}

void fill(void* block, size_t size, uint32_t seed) {
  auto* bytes = static_cast<unsigned char*>(block);
  for (size_t i = 0; checked_index(size, i); ++i)
    bytes[i] = pattern_byte(seed, i);
}

bool intact(const void* block, size_t size, uint32_t seed) {
  auto* bytes = static_cast<const unsigned char*>(block);
  for (size_t i = 0; checked_index(size, i); ++i)
    if (bytes[i] != pattern_byte(seed, i))
      return false;
  return true;
}

struct Block {
  void* ptr;
  uint32_t size;
  uint32_t seed;
};

size_t block_size(Random& random) {
  uint32_t kind = random.below(100);
  if (kind < 75)
    return random.below(257);
  if (kind < 97)
    return 257 + random.below(8000);
  return kLargeBytes + random.below(200 * 1024);
}

// Takes every free page of the page store with one-page large blocks, so that the next large
// request must grow memory or find room by compacting. Returns how many it took.
constexpr uint32_t kMaxTaken = 8192;
void* taken_pages[kMaxTaken];
uint32_t taken_count = 0;

void take_free_pages() {
  kit_stats now = stats();
  uint32_t grow_calls = now.grow_calls;
  while (now.pages.unused_words + now.pages.fragment_words > 0 && taken_count < kMaxTaken) {
    void* page = kit_malloc(kOnePage);
    EXPECT(page != nullptr);
    if (page == nullptr)
      return;
    taken_pages[taken_count++] = page;
    now = stats();
  }
  EXPECT(now.grow_calls == grow_calls);
  EXPECT(now.pages.unused_words + now.pages.fragment_words == 0);
}

void release_taken_pages() {
  for (uint32_t i = 0; i < taken_count; ++i)
    kit_free(taken_pages[i]);
  taken_count = 0;
}

// ── Impossible requests (first: before any handle or heap exists) ────────────────────────────
void impossible_requests() {
  kit_stats before = stats();
  EXPECT(kit_handle_alloc(SIZE_MAX) == 0);
  EXPECT(kit_handle_alloc(SIZE_MAX / 2 + 1) == 0);
  EXPECT(kit_heap_create(nullptr, SIZE_MAX) == nullptr);
  EXPECT(kit_heap_create(nullptr, SIZE_MAX / 2) == nullptr);
  EXPECT(kit_heap_malloc(nullptr, SIZE_MAX) == nullptr);
  EXPECT(same_shape(before, stats())); // nothing is set up for a call that fails
  EXPECT(consistent());
}

// ── Tasks on private heaps ───────────────────────────────────────────────────────────────────
constexpr uint32_t kTaskBlocks = 600;
Block task_blocks[kTaskBlocks];
Block child_blocks[kTaskBlocks];

// Fills `blocks` with `count` blocks of heap; returns how many are large.
uint32_t run_task(kit_heap* heap, Block* blocks, uint32_t count, Random& random, uint32_t seed) {
  uint32_t large = 0;
  for (uint32_t i = 0; i < count; ++i) {
    size_t size = block_size(random);
    void* ptr = kit_heap_malloc(heap, size);
    EXPECT(ptr != nullptr && address(ptr) % alignof(max_align_t) == 0);
    EXPECT(kit_malloc_usable_size(ptr) >= size);
    blocks[i] = {ptr, uint32_t(size), seed + i};
    if (ptr != nullptr)
      fill(ptr, size, seed + i);
    large += size >= kLargeBytes;
  }
  // Some grow or shrink (they stay in heap), some are freed one by one.
  for (uint32_t i = 0; i < count; i += 9) {
    Block& block = blocks[i];
    size_t size = block_size(random) + 1;
    void* moved =
        (i % 2) ? kit_realloc(block.ptr, size) : kit_heap_realloc(nullptr, block.ptr, size);
    EXPECT(moved != nullptr);
    if (moved == nullptr)
      continue;
    size_t kept = block.size < size ? block.size : size;
    EXPECT(intact(moved, kept < 64 ? kept : 64, block.seed));
    large -= block.size >= kLargeBytes;
    large += size >= kLargeBytes;
    block = {moved, uint32_t(size), block.seed + 1000000};
    fill(moved, size, block.seed);
  }
  return large;
}

uint32_t verify_blocks(const Block* blocks, uint32_t count) {
  uint32_t bad = 0;
  for (uint32_t i = 0; i < count; ++i)
    if (blocks[i].ptr != nullptr && !intact(blocks[i].ptr, blocks[i].size, blocks[i].seed))
      bad += 1;
  return bad;
}

void tasks() {
  kit_stats main_start = HEAP_STATS(nullptr);
  kit_stats start = stats();
  uint64_t steady_memory = 0;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    Random random{77 + uint64_t(round % 10)}; // every 10 rounds the same tasks again
    kit_heap* task = kit_heap_create(nullptr, round % 3 == 0 ? 100000 : 0);
    EXPECT(task != nullptr);
    if (task == nullptr)
      return;
    if (round % 3 == 0)
      EXPECT(HEAP_STATS(task).memory_bytes >= 100000);
    kit_heap* child = round % 4 == 0 ? kit_heap_create(task, 0) : nullptr;
    uint32_t count = 100 + random.below(kTaskBlocks - 100);
    uint32_t large = run_task(task, task_blocks, count, random, uint32_t(round) * 1000);
    uint32_t child_count = child ? 50 + random.below(200) : 0;
    if (child)
      run_task(child, child_blocks, child_count, random, uint32_t(round) * 1000 + 500000);
    kit_stats figures = HEAP_STATS(task);
    EXPECT(figures.small.live_blocks + figures.large_blocks == count);
    EXPECT(figures.large_blocks == large);
    EXPECT(figures.bytes_in_use >= 1);
    EXPECT(figures.memory_bytes >= figures.bytes_in_use);
    EXPECT(verify_blocks(task_blocks, count) == 0);
    EXPECT(verify_blocks(child_blocks, child_count) == 0);
    // Blocks freed one by one before the end: through kit_free and the wrong heap's free.
    for (uint32_t i = 1; i < count; i += 5) {
      if (i % 2)
        kit_free(task_blocks[i].ptr);
      else
        kit_heap_free(child, task_blocks[i].ptr);
      task_blocks[i].ptr = nullptr;
    }
    if (round % 16 == 0)
      EXPECT(consistent());
    EXPECT(kit_heap_drop(task) == KIT_OK); // the child goes with it
    if (child) {
      kit_stats dead;
      EXPECT(kit_heap_get_stats(child, &dead) == KIT_E_BAD_HEAP);
    }
    kit_stats after = stats();
    EXPECT(pages_in_use(after) == pages_in_use(start));
    EXPECT(after.bytes_in_use == start.bytes_in_use);
    if (round == 20)
      steady_memory = after.memory_bytes;
  }
  EXPECT(stats().memory_bytes == steady_memory);
  kit_stats main_end = HEAP_STATS(nullptr);
  EXPECT(main_end.small.live_blocks == main_start.small.live_blocks);
  EXPECT(main_end.bytes_in_use == main_start.bytes_in_use);
  EXPECT(consistent());
}

// ── Merges and nesting ───────────────────────────────────────────────────────────────────────
constexpr uint32_t kMergedMax = 12 * kTaskBlocks;
Block merged_blocks[kMergedMax];

void merges() {
  kit_stats main_start = HEAP_STATS(nullptr);
  kit_stats start = stats();
  Random random{4242};
  kit_heap* results = kit_heap_create(nullptr, 0);
  EXPECT(results != nullptr);
  if (results == nullptr)
    return;
  uint32_t merged = 0;
  for (int round = 0; round < 12; ++round) {
    kit_heap* task = kit_heap_create(results, 0);
    kit_heap* grandchild = kit_heap_create(task, 1000);
    EXPECT(task != nullptr && grandchild != nullptr);
    if (task == nullptr || grandchild == nullptr)
      return;
    uint32_t count = 50 + random.below(kTaskBlocks - 50);
    run_task(task, merged_blocks + merged, count, random, 7000000 + uint32_t(round) * 1000);
    kit_stats before = HEAP_STATS(results);
    kit_stats task_figures = HEAP_STATS(task);
    void* in_grandchild = kit_heap_malloc(grandchild, 123);
    EXPECT(in_grandchild != nullptr);
    EXPECT(kit_heap_merge(task) == KIT_OK);
    kit_stats after = HEAP_STATS(results);
    EXPECT(after.small.live_blocks == before.small.live_blocks + task_figures.small.live_blocks);
    EXPECT(after.large_blocks == before.large_blocks + task_figures.large_blocks);
    EXPECT(after.bytes_in_use == before.bytes_in_use + task_figures.bytes_in_use);
    EXPECT(after.memory_bytes == before.memory_bytes + task_figures.memory_bytes);
    // The grandchild is results' child now: merging it adds its block to results.
    EXPECT(kit_heap_merge(grandchild) == KIT_OK);
    EXPECT(HEAP_STATS(results).small.live_blocks == after.small.live_blocks + 1);
    kit_heap_free(results, in_grandchild);
    merged += count;
    EXPECT(verify_blocks(merged_blocks, merged) == 0);
  }
  // results frees half of them, and allocates into its own free space: its memory ends as it
  // was. (Memory as a whole may grow by a few pages: the freed large runs went back to the
  // shared page store, where a region run that results needs first may take one a later large
  // block needed, and memory grows by exactly what is missing, with no slack to absorb that.)
  uint64_t results_memory = HEAP_STATS(results).memory_bytes;
  for (uint32_t i = 0; i < merged; i += 2) {
    kit_heap_free(results, merged_blocks[i].ptr);
    merged_blocks[i].ptr = nullptr;
  }
  for (uint32_t i = 0; i < merged; i += 2) {
    size_t size = merged_blocks[i].size;
    merged_blocks[i].ptr = kit_heap_malloc(results, size);
    EXPECT(merged_blocks[i].ptr != nullptr);
    if (merged_blocks[i].ptr != nullptr)
      fill(merged_blocks[i].ptr, size, merged_blocks[i].seed);
  }
  EXPECT(HEAP_STATS(results).memory_bytes == results_memory);
  EXPECT(verify_blocks(merged_blocks, merged) == 0);
  EXPECT(consistent());
  // Nesting: drop takes the whole tree.
  kit_heap* child = kit_heap_create(results, 0);
  kit_heap* grandchild = child ? kit_heap_create(child, 0) : nullptr;
  EXPECT(grandchild != nullptr && kit_heap_malloc(grandchild, 40000) != nullptr);
  EXPECT(kit_heap_drop(results) == KIT_OK);
  kit_stats dead;
  EXPECT(kit_heap_get_stats(child, &dead) == KIT_E_BAD_HEAP);
  EXPECT(kit_heap_get_stats(grandchild, &dead) == KIT_E_BAD_HEAP);
  EXPECT(kit_heap_malloc(grandchild, 10) == nullptr);
  kit_stats end = stats();
  EXPECT(pages_in_use(end) == pages_in_use(start));
  EXPECT(end.bytes_in_use == start.bytes_in_use);
  kit_stats main_end = HEAP_STATS(nullptr);
  EXPECT(main_end.small.live_blocks == main_start.small.live_blocks);
  EXPECT(consistent());

  // Merging into the main heap: the blocks are the main heap's, kit_free frees them.
  kit_heap* into_main = kit_heap_create(nullptr, 0);
  EXPECT(into_main != nullptr);
  uint32_t count = 300;
  run_task(into_main, task_blocks, count, random, 9000000);
  kit_stats task_figures = HEAP_STATS(into_main);
  EXPECT(kit_heap_merge(into_main) == KIT_OK);
  kit_stats main_merged = HEAP_STATS(nullptr);
  EXPECT(main_merged.small.live_blocks ==
         main_start.small.live_blocks + task_figures.small.live_blocks);
  EXPECT(main_merged.bytes_in_use == main_start.bytes_in_use + task_figures.bytes_in_use);
  EXPECT(verify_blocks(task_blocks, count) == 0);
  for (uint32_t i = 0; i < count; ++i)
    kit_free(task_blocks[i].ptr);
  EXPECT(HEAP_STATS(nullptr).bytes_in_use == main_start.bytes_in_use);
  EXPECT(consistent());
}

// ── Bad heaps ────────────────────────────────────────────────────────────────────────────────
void expect_refused(kit_heap* bad, kit_heap* live, int line) {
  kit_stats before = stats();
  kit_stats live_before = heap_stats(live, line);
  kit_stats out;
  bool refused = kit_heap_malloc(bad, 10) == nullptr && kit_heap_malloc(bad, 50000) == nullptr &&
                 kit_heap_realloc(bad, nullptr, 10) == nullptr &&
                 kit_heap_create(bad, 0) == nullptr &&
                 kit_heap_get_stats(bad, &out) == KIT_E_BAD_HEAP &&
                 kit_heap_drop(bad) == KIT_E_BAD_HEAP && kit_heap_merge(bad) == KIT_E_BAD_HEAP;
  if (!refused)
    fail(line, "a bad heap is refused");
  if (!same_shape(before, stats()) || !same_shape(live_before, heap_stats(live, line)))
    fail(line, "a bad heap changes nothing");
  if (!consistent())
    fail(line, "kit_check after a bad heap");
}
#define EXPECT_REFUSED(bad, live) expect_refused(bad, live, __LINE__)

alignas(16) unsigned char outside_heap[128];

void bad_heaps() {
  kit_heap* live = kit_heap_create(nullptr, 0);
  EXPECT(live != nullptr);
  if (live == nullptr)
    return;
  void* live_block = kit_heap_malloc(live, 100);
  EXPECT(live_block != nullptr);
  fill(live_block, 100, 1);

  kit_heap* dropped = kit_heap_create(nullptr, 0);
  EXPECT(dropped != nullptr);
  void* dropped_blocks[40];
  for (int i = 0; i < 40; ++i)
    dropped_blocks[i] = kit_heap_malloc(dropped, i % 8 == 7 ? 40000 + size_t(i) * 1000 : 64);
  EXPECT(kit_heap_drop(dropped) == KIT_OK);
  EXPECT_REFUSED(dropped, live);
  // Blocks of the dropped heap: freeing them again is refused and harms nothing.
  kit_stats before = stats();
  for (void* block : dropped_blocks)
    kit_free(block);
  EXPECT(same_shape(before, stats()));
  EXPECT(consistent());

  kit_heap* merged = kit_heap_create(live, 0);
  EXPECT(merged != nullptr);
  EXPECT(kit_heap_malloc(merged, 30) != nullptr);
  EXPECT(kit_heap_merge(merged) == KIT_OK);
  EXPECT_REFUSED(merged, live);
  EXPECT(HEAP_STATS(live).small.live_blocks == 2);

  void* copy = kit_malloc(96);
  EXPECT(copy != nullptr);
  copy_bytes(copy, live, 96);
  EXPECT_REFUSED(static_cast<kit_heap*>(copy), live);
  kit_free(copy);
  copy_bytes(outside_heap, live, 96);
  EXPECT_REFUSED(reinterpret_cast<kit_heap*>(outside_heap), live);
  EXPECT_REFUSED(reinterpret_cast<kit_heap*>(reinterpret_cast<unsigned char*>(live) + 16), live);
  EXPECT_REFUSED(static_cast<kit_heap*>(live_block), live);
  EXPECT(intact(live_block, 100, 1));
  EXPECT(kit_heap_drop(live) == KIT_OK);
  EXPECT(consistent());
}

// ── Handles: a random model ──────────────────────────────────────────────────────────────────
constexpr uint32_t kHandleSlots = 2048;

struct HandleSlot {
  kit_handle handle;
  uint32_t size;
  uint32_t seed;
  uint32_t locks;
  void* pinned; // where it is while locked
};
HandleSlot slots[kHandleSlots];
kit_handle stale_handles[256];
uint32_t stale_count = 0;

bool handle_refused(kit_handle handle) {
  return kit_handle_lock(handle) == nullptr && kit_handle_size(handle) == 0 &&
         kit_handle_free(handle) == KIT_E_BAD_HANDLE &&
         kit_handle_unlock(handle) == KIT_E_BAD_HANDLE;
}

bool slot_intact(const HandleSlot& slot) {
  kit::HandleLock lock(slot.handle);
  if (!lock || address(lock.get()) % 16 != 0)
    return false;
  if (slot.locks > 0 && lock.get() != slot.pinned)
    return false;
  return intact(lock.get(), slot.size, slot.seed);
}

size_t handle_size(Random& random) {
  uint32_t kind = random.below(100);
  if (kind < 70)
    return random.below(200);
  return 200 + random.below(6000);
}

void handle_model(uint32_t operations, uint64_t seed) {
  Random random{seed};
  uint32_t next_seed = 1;
  uint64_t moved = 0;
  for (uint32_t op = 0; op < operations; ++op) {
    HandleSlot& slot = slots[random.below(kHandleSlots)];
    uint32_t action = random.below(100);
    if (slot.handle == 0) {
      size_t size = handle_size(random);
      kit_handle handle = kit_handle_alloc(size);
      if (handle == 0)
        return fail(__LINE__, "handle model: kit_handle_alloc");
      if (kit_handle_size(handle) < size)
        return fail(__LINE__, "handle model: kit_handle_size");
      kit::HandleLock lock(handle);
      if (!lock || address(lock.get()) % 16 != 0)
        return fail(__LINE__, "handle model: a new handle locks, 16-byte aligned");
      slot = {handle, uint32_t(size), next_seed++, 0, nullptr};
      fill(lock.get(), size, slot.seed);
    } else if (action < 15) {
      void* block = kit_handle_lock(slot.handle);
      if (block == nullptr || (slot.locks > 0 && block != slot.pinned))
        return fail(__LINE__, "handle model: lock gives the pinned address");
      slot.locks += 1;
      slot.pinned = block;
    } else if (action < 30) {
      kit_status status = kit_handle_unlock(slot.handle);
      if (status != (slot.locks > 0 ? KIT_OK : KIT_E_NOT_LOCKED))
        return fail(__LINE__, "handle model: unlock status");
      if (slot.locks > 0)
        slot.locks -= 1;
    } else if (action < 65) {
      if (!slot_intact(slot))
        return fail(__LINE__, "handle model: contents survive");
      kit_status status = kit_handle_free(slot.handle);
      if (slot.locks > 0) {
        if (status != KIT_E_LOCKED)
          return fail(__LINE__, "handle model: free of a locked handle is KIT_E_LOCKED");
      } else {
        if (status != KIT_OK || !handle_refused(slot.handle))
          return fail(__LINE__, "handle model: a freed handle is refused");
        stale_handles[stale_count++ % 256] = slot.handle;
        slot = {};
      }
    } else if (action < 67) {
      if (!slot_intact(slot))
        return fail(__LINE__, "handle model: contents survive");
    } else if (action < 68) {
      kit_handle stale = stale_handles[random.below(256)];
      bool live = false;
      for (const HandleSlot& other : slots)
        live |= other.handle == stale && stale != 0;
      if (!live && !handle_refused(stale))
        return fail(__LINE__, "handle model: a stale handle is refused");
    }
    if (op % 4000 == 3999) {
      kit_compact_result result;
      kit_compact(&result);
      moved += result.moved_blocks;
      uint32_t locked = 0;
      for (const HandleSlot& each : slots)
        locked += each.locks > 0;
      if (result.locked_blocks > locked)
        return fail(__LINE__, "handle model: locked_blocks counts locked handles only");
      for (const HandleSlot& each : slots)
        if (each.handle != 0 && !slot_intact(each))
          return fail(__LINE__, "handle model: contents survive compaction, pins hold");
    }
    if (op % 16384 == 0 && !consistent())
      return fail(__LINE__, "handle model: kit_check");
  }
  EXPECT(moved > 0);
  for (HandleSlot& slot : slots) {
    if (slot.handle == 0)
      continue;
    EXPECT(slot_intact(slot));
    for (; slot.locks > 0; --slot.locks)
      EXPECT(kit_handle_unlock(slot.handle) == KIT_OK);
    EXPECT(kit_handle_free(slot.handle) == KIT_OK);
    slot = {};
  }
  kit_compact(nullptr);
  EXPECT(consistent());
}

// ── Compaction: figures, steady memory, auto-compaction ─────────────────────────────────────
constexpr uint32_t kChurnHandles = 4096;
HandleSlot churn_slots[kChurnHandles];

void churn_fill(Random& random, uint32_t round) {
  for (uint32_t i = 0; i < kChurnHandles; ++i) {
    HandleSlot& slot = churn_slots[i];
    if (slot.handle != 0)
      continue;
    size_t size = round % 2 ? 16 + random.below(200) : 400 + random.below(1200);
    slot = {kit_handle_alloc(size), uint32_t(size), round * 10000 + i, 0, nullptr};
    kit::HandleLock lock(slot.handle);
    EXPECT(static_cast<bool>(lock));
    if (lock)
      fill(lock.get(), size, slot.seed);
  }
}

uint32_t churn_verify() {
  uint32_t bad = 0;
  for (const HandleSlot& slot : churn_slots)
    if (slot.handle != 0 && !slot_intact(slot))
      bad += 1;
  return bad;
}

void churn_free_all() {
  for (HandleSlot& slot : churn_slots) {
    if (slot.handle != 0)
      EXPECT(kit_handle_free(slot.handle) == KIT_OK);
    slot = {};
  }
}

void compaction() {
  kit_compact(nullptr);
  Random random{31337};

  // Figures: one pass with two handles locked, one without, one with nothing left to do.
  churn_fill(random, 0);
  for (uint32_t i = 0; i < kChurnHandles; i += 2) {
    EXPECT(kit_handle_free(churn_slots[i].handle) == KIT_OK);
    churn_slots[i] = {};
  }
  HandleSlot& last = churn_slots[kChurnHandles - 1];
  HandleSlot& middle = churn_slots[kChurnHandles / 2 + 1];
  last.pinned = kit_handle_lock(last.handle);
  middle.pinned = kit_handle_lock(middle.handle);
  last.locks = middle.locks = 1;
  take_free_pages();
  kit_compact_result locked_pass;
  kit_compact(&locked_pass);
  EXPECT(locked_pass.moved_blocks > 0);
  EXPECT(locked_pass.moved_bytes >= locked_pass.moved_blocks * 16);
  EXPECT(locked_pass.locked_blocks >= 1 && locked_pass.locked_blocks <= 2);
  EXPECT(churn_verify() == 0);
  EXPECT(kit_handle_unlock(last.handle) == KIT_OK);
  EXPECT(kit_handle_unlock(middle.handle) == KIT_OK);
  last.locks = middle.locks = 0;
  uint64_t pages_before = pages_in_use(stats());
  kit_compact_result free_pass;
  kit_compact(&free_pass);
  EXPECT(free_pass.moved_blocks > 0);
  EXPECT(free_pass.locked_blocks == 0);
  EXPECT(free_pass.released_bytes >= kPageBytes);
  EXPECT(pages_in_use(stats()) + free_pass.released_bytes / kPageBytes == pages_before);
  EXPECT(free_pass.largest_free_bytes >= kOnePage);
  EXPECT(free_pass.largest_free_bytes >= locked_pass.largest_free_bytes);
  EXPECT(churn_verify() == 0);
  kit_compact_result idle;
  kit_compact(&idle);
  EXPECT(idle.moved_blocks == 0 && idle.released_bytes == 0);
  release_taken_pages();
  EXPECT(consistent());

  // Churn: memory reaches a steady size with compaction between rounds.
  uint64_t steady = 0;
  for (uint32_t round = 1; round <= 40; ++round) {
    for (uint32_t i = 0; i < kChurnHandles; ++i)
      if (churn_slots[i].handle != 0 && random.below(2) == 0) {
        EXPECT(kit_handle_free(churn_slots[i].handle) == KIT_OK);
        churn_slots[i] = {};
      }
    kit_compact(nullptr);
    churn_fill(random, round);
    if (round == 10)
      steady = stats().memory_bytes;
  }
  EXPECT(stats().memory_bytes == steady);
  EXPECT(churn_verify() == 0);
  churn_free_all();
  kit_compact(nullptr);

  // Auto-compaction: with no free page left, a large request is served by compacting the
  // handle regions' holes (on), or by growing memory (off).
  churn_fill(random, 0);
  for (uint32_t i = 0; i < kChurnHandles; i += 2) {
    EXPECT(kit_handle_free(churn_slots[i].handle) == KIT_OK);
    churn_slots[i] = {};
  }
  constexpr size_t kRequest = 512 * 1024;
  EXPECT(kit_set_auto_compact(0) == 1);
  take_free_pages();
  uint32_t grow_calls = stats().grow_calls;
  void* grown = kit_malloc(kRequest);
  EXPECT(grown != nullptr);
  EXPECT(stats().grow_calls == grow_calls + 1);
  take_free_pages();
  EXPECT(kit_set_auto_compact(1) == 0);
  kit_stats before = stats();
  void* compacted = kit_malloc(kRequest);
  EXPECT(compacted != nullptr);
  EXPECT(stats().grow_calls == before.grow_calls);
  EXPECT(stats().memory_bytes == before.memory_bytes);
  EXPECT(churn_verify() == 0);
  kit_free(grown);
  kit_free(compacted);
  release_taken_pages();
  churn_free_all();
  EXPECT(consistent());
}

// ── Both at once ─────────────────────────────────────────────────────────────────────────────
void together() {
  Random random{555};
  kit_heap* heap = kit_heap_create(nullptr, 0);
  EXPECT(heap != nullptr);
  if (heap == nullptr)
    return;
  // Handle blocks and a private heap's blocks interleaved in time.
  for (uint32_t i = 0; i < 1000; ++i) {
    size_t size = random.below(3000);
    slots[i] = {kit_handle_alloc(size), uint32_t(size), 800000 + i, 0, nullptr};
    kit::HandleLock lock(slots[i].handle);
    EXPECT(static_cast<bool>(lock));
    if (lock)
      fill(lock.get(), size, slots[i].seed);
    task_blocks[i % kTaskBlocks].ptr = kit_heap_malloc(heap, 100 + i);
    EXPECT(task_blocks[i % kTaskBlocks].ptr != nullptr);
  }
  // free() of a handle's address is refused.
  void* handle_address = kit_handle_lock(slots[7].handle);
  kit_stats before = stats();
  kit_free(handle_address);
  EXPECT(same_shape(before, stats()));
  EXPECT(kit_handle_unlock(slots[7].handle) == KIT_OK);
  EXPECT(kit_heap_drop(heap) == KIT_OK);
  for (uint32_t i = 0; i < 1000; i += 2) {
    EXPECT(kit_handle_free(slots[i].handle) == KIT_OK);
    slots[i] = {};
  }
  kit_compact(nullptr);
  for (uint32_t i = 0; i < 1000; ++i)
    if (slots[i].handle != 0) {
      EXPECT(slot_intact(slots[i]));
      EXPECT(kit_handle_free(slots[i].handle) == KIT_OK);
      slots[i] = {};
    }
  EXPECT(handle_refused(0));
  EXPECT(consistent());
}

} // namespace

KIT_HEAPS_HANDLES_EXPORT int kit_heaps_handles() {
  impossible_requests();
  tasks();
  merges();
  bad_heaps();
  handle_model(400000, 20261201);
  compaction();
  together();
  return first_failure;
}

#if !defined(KIT_FREESTANDING)
int main() {
  int result = kit_heaps_handles();
  kit_stats figures;
  kit_get_stats(&figures);
  if (result == 0)
    printf("heaps-handles: ok (200 task heaps, 12 merges, bad heaps, 400,000 handle operations, "
           "compaction and auto-compaction; memory %llu KiB)\n",
           (unsigned long long)(figures.memory_bytes / 1024));
  else
    printf("heaps-handles: %d failures, first at line %d\n", failure_count, result);
  return result == 0 ? 0 : 1;
}
#endif
