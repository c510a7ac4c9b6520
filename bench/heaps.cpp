// The benchmark of kitalloc's handles and private heaps (docs/BENCHMARKS.md, "Handles and
// private heaps"): a WASI reactor that bench/run.mjs instantiates afresh for every run (so memory
// figures are that run's) through bench/lib/heaps-worker.mjs. scripts/bench.sh builds it twice:
//   heaps-kitalloc.wasm   linked with libkitalloc.a: every job but "objects: malloc + free"
//   heaps-dlmalloc.wasm   -DHEAPS_PEER, wasi-libc's own malloc: only the jobs that use malloc/free
//
// Jobs (kHeapsJobs below):
//   fragment: malloc / handles   ~3 MiB of blocks of 32..2,048 B, half of them (at random)
//       freed, then one malloc of 1.5 MiB. With malloc the holes are too small and memory grows;
//       with handles (auto-compaction on, the default) kitalloc slides the surviving handle
//       blocks together and places the big block in the pages that frees. The surviving
//       blocks' contents are verified byte for byte afterwards, in every run.
//   objects: private heap + drop / kit_malloc + kit_free   1,000,000 objects of 16..64 B,
//       linked in a list (each holds the next one's address), then released: the heap at once
//       with kit_heap_drop, or each object with kit_free in allocation order.
//   objects: malloc + free   the same on the dlmalloc build (in kitalloc's, malloc is kit_malloc).
//
// A run's figures (times in ns, memory in bytes) are read through heaps_figure_*; a figure the
// module cannot know (kitalloc's statistics in the dlmalloc build) is NaN. Compile with
// -fno-builtin: clang would otherwise fold malloc/free pairs away.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "common.hpp"

#ifndef HEAPS_PEER
#include "kitalloc.h"
#endif

namespace {

// ── Random numbers and the clock (bench/common.hpp), content patterns ──────────────────────────
using bench::now_ns;
using bench::Rng;

uint32_t pattern_word(uint32_t tag, uint32_t word_index) {
  uint32_t mixed = (tag + 1) * 0x9E3779B1u ^ word_index * 0x85EBCA77u;
  return mixed ^ (mixed >> 15);
}

// Fills / verifies [bytes + from, bytes + size) with the pattern of `tag` (sizes: multiples of 4).
void fill(unsigned char* bytes, uint32_t from, uint32_t size, uint32_t tag) {
  for (uint32_t offset = from; offset + 4 <= size; offset += 4) {
    uint32_t word = pattern_word(tag, offset >> 2);
    __builtin_memcpy(bytes + offset, &word, 4);
  }
}
bool intact(const unsigned char* bytes, uint32_t from, uint32_t size, uint32_t tag) {
  for (uint32_t offset = from; offset + 4 <= size; offset += 4) {
    uint32_t word;
    __builtin_memcpy(&word, bytes + offset, 4);
    if (word != pattern_word(tag, offset >> 2))
      return false;
  }
  return true;
}

uint64_t wasm_memory_bytes() { return uint64_t(__builtin_wasm_memory_size(0)) * 65536; }

// ── A run's outcome ──────────────────────────────────────────────────────────────────────────
enum class Status : int { ok = 0, out_of_memory = 1, check_failed = 2, bad_request = 3 };

// The figures a run reports, by name (bench/report.mjs reads them by these names).
enum Figure : uint32_t {
  kElapsedNs,       // the timed part: objects: allocate + release; fragment: the big request
  kAllocateNs,      // objects: allocating and linking them
  kReleaseNs,       // objects: kit_heap_drop, or every free
  kBlocks,          // blocks allocated before the frees / objects
  kRequestedBytes,  // their requested bytes
  kSurvivingBlocks, // fragment: blocks left after freeing half
  kSurvivingBytes,  // and their requested bytes
  kBigBytes,        // fragment: the big request
  kKitMemoryBefore, // kit_get_stats().memory_bytes before the big request (after the frees)
  kKitMemoryAfter,  // ... after it
  kWasmMemoryBefore,
  kWasmMemoryAfter,
  kGrowCallsBefore, // kit_get_stats().grow_calls, all the run's, before the big request
  kGrowCallsBig,    // those the big request made
  kMovedBlocks,     // fragment, handles: surviving blocks whose address changed
  kMovedBytes,      // and their requested bytes
  kFigureCount,
};
constexpr const char* kFigureNames[kFigureCount] = {
    "elapsedNs",       "allocateNs",      "releaseNs",        "blocks",
    "requestedBytes",  "survivingBlocks", "survivingBytes",   "bigBytes",
    "kitMemoryBefore", "kitMemoryAfter",  "wasmMemoryBefore", "wasmMemoryAfter",
    "growCallsBefore", "growCallsBig",    "movedBlocks",      "movedBytes",
};

struct RunResult {
  Status status = Status::ok;
  const char* failure = "";
  double figures[kFigureCount];

  void reset() {
    status = Status::ok;
    failure = "";
    for (double& figure : figures)
      figure = __builtin_nan("");
  }
  bool fail(Status why, const char* message) {
    if (status == Status::ok) {
      status = why;
      failure = message;
    }
    return false;
  }
  void set(Figure figure, double value) { figures[figure] = value; }
} result;

#ifndef HEAPS_PEER
kit_stats heap_stats() {
  kit_stats stats;
  kit_get_stats(&stats);
  return stats;
}
#endif

// ── fragment ─────────────────────────────────────────────────────────────────────────────────
constexpr uint32_t kFragmentBytes = 3u << 20; // requested in small blocks
constexpr uint32_t kFragmentMin = 32;
constexpr uint32_t kFragmentMax = 2048;
constexpr uint32_t kBigRequest = 3u << 19; // 1.5 MiB: more than any hole, less than what is freed
constexpr uint32_t kMaxFragmentBlocks = kFragmentBytes / kFragmentMin;

struct FragmentBlock {
  unsigned char* bytes; // malloc: the block; handles: its address when last locked
  uint32_t handle;      // handles: the kit_handle; 0 otherwise
  uint32_t size;        // requested, a multiple of 4
  bool live;
};
FragmentBlock fragment_blocks[kMaxFragmentBlocks];
uint32_t fragment_order[kMaxFragmentBlocks];

enum class Storage { malloc, handles };

#ifndef HEAPS_PEER
// Pins a handle, returns its address (nullptr for a bad handle).
unsigned char* lock(uint32_t handle) {
  return static_cast<unsigned char*>(kit_handle_lock(handle));
}
bool unlock(uint32_t handle) { return kit_handle_unlock(handle) == KIT_OK; }
#endif

bool fragment_allocate(FragmentBlock& block, Storage storage, uint32_t tag) {
  if (storage == Storage::malloc) {
    block.bytes = static_cast<unsigned char*>(malloc(block.size));
    if (block.bytes == nullptr)
      return result.fail(Status::out_of_memory, "out of memory (malloc)");
    fill(block.bytes, 0, block.size, tag);
    return true;
  }
#ifndef HEAPS_PEER
  block.handle = kit_handle_alloc(block.size);
  if (block.handle == 0)
    return result.fail(Status::out_of_memory, "out of memory (kit_handle_alloc)");
  if (kit_handle_size(block.handle) < block.size)
    return result.fail(Status::check_failed, "kit_handle_size is below the size asked");
  block.bytes = lock(block.handle);
  if (block.bytes == nullptr || (uintptr_t(block.bytes) & 15) != 0)
    return result.fail(Status::check_failed, "kit_handle_lock of a new handle: NULL or misaligned");
  fill(block.bytes, 0, block.size, tag);
  if (!unlock(block.handle))
    return result.fail(Status::check_failed, "kit_handle_unlock after a lock failed");
  return true;
#else
  return result.fail(Status::bad_request, "no handles in this build");
#endif
}

bool fragment_release(FragmentBlock& block, Storage storage) {
  block.live = false;
  if (storage == Storage::malloc) {
    free(block.bytes);
    return true;
  }
#ifndef HEAPS_PEER
  if (kit_handle_free(block.handle) != KIT_OK)
    return result.fail(Status::check_failed, "kit_handle_free of an unlocked handle failed");
  return true;
#else
  return false;
#endif
}

// Checks every byte of every surviving block; counts the handle blocks that moved.
bool fragment_verify(uint32_t count, Storage storage) {
  uint64_t moved = 0;
  uint64_t moved_bytes = 0;
  for (uint32_t i = 0; i < count; ++i) {
    FragmentBlock& block = fragment_blocks[i];
    if (!block.live)
      continue;
    unsigned char* bytes = block.bytes;
#ifndef HEAPS_PEER
    if (storage == Storage::handles) {
      bytes = lock(block.handle);
      if (bytes == nullptr)
        return result.fail(Status::check_failed, "a surviving handle became bad");
      if ((uintptr_t(bytes) & 15) != 0)
        return result.fail(Status::check_failed, "a moved handle block is misaligned");
      if (bytes != block.bytes) {
        moved += 1;
        moved_bytes += block.size;
      }
    }
#endif
    if (!intact(bytes, 0, block.size, i + 1))
      return result.fail(Status::check_failed,
                         storage == Storage::handles
                             ? "a surviving handle block's contents changed (compaction?)"
                             : "a surviving block's contents changed");
#ifndef HEAPS_PEER
    if (storage == Storage::handles && !unlock(block.handle))
      return result.fail(Status::check_failed, "kit_handle_unlock failed");
#endif
  }
  if (storage == Storage::handles) {
    result.set(kMovedBlocks, double(moved));
    result.set(kMovedBytes, double(moved_bytes));
  }
  return true;
}

void fragment(Storage storage, Rng& rng) {
  uint32_t count = 0;
  uint64_t requested = 0;
  while (requested < kFragmentBytes && count < kMaxFragmentBlocks) {
    FragmentBlock& block = fragment_blocks[count];
    block = FragmentBlock{nullptr, 0, rng.between(kFragmentMin / 4, kFragmentMax / 4) * 4, true};
    if (!fragment_allocate(block, storage, count + 1))
      return;
    requested += block.size;
    count += 1;
  }
  result.set(kBlocks, count);
  result.set(kRequestedBytes, double(requested));

  // Half of the blocks, chosen at random (Fisher-Yates), are freed.
  for (uint32_t i = 0; i < count; ++i)
    fragment_order[i] = i;
  for (uint32_t i = count - 1; i > 0; --i) {
    uint32_t j = rng.below(i + 1);
    uint32_t swap = fragment_order[i];
    fragment_order[i] = fragment_order[j];
    fragment_order[j] = swap;
  }
  uint64_t surviving_bytes = requested;
  for (uint32_t i = 0; i < count / 2; ++i) {
    FragmentBlock& block = fragment_blocks[fragment_order[i]];
    surviving_bytes -= block.size;
    if (!fragment_release(block, storage))
      return;
  }
  result.set(kSurvivingBlocks, count - count / 2);
  result.set(kSurvivingBytes, double(surviving_bytes));

  // The big request: malloc in both cases (with handles, auto-compaction makes room for it).
  result.set(kBigBytes, kBigRequest);
  result.set(kWasmMemoryBefore, double(wasm_memory_bytes()));
#ifndef HEAPS_PEER
  kit_stats before = heap_stats();
  result.set(kKitMemoryBefore, double(before.memory_bytes));
  result.set(kGrowCallsBefore, before.grow_calls);
#endif
  uint64_t started = now_ns();
  auto* big = static_cast<unsigned char*>(malloc(kBigRequest));
  result.set(kElapsedNs, double(now_ns() - started));
  if (big == nullptr) {
    result.fail(Status::out_of_memory, "out of memory (the big malloc)");
    return;
  }
  result.set(kWasmMemoryAfter, double(wasm_memory_bytes()));
#ifndef HEAPS_PEER
  kit_stats after = heap_stats();
  result.set(kKitMemoryAfter, double(after.memory_bytes));
  result.set(kGrowCallsBig, after.grow_calls - before.grow_calls);
#endif
  // The big block is used, all of it; then every survivor must still hold its pattern.
  fill(big, 0, kBigRequest, 0xB16B10C);
  if (!fragment_verify(count, storage))
    return;
  if (!intact(big, 0, kBigRequest, 0xB16B10C)) {
    result.fail(Status::check_failed, "the big block overlaps a surviving block");
    return;
  }
  free(big);
  for (uint32_t i = 0; i < count; ++i)
    if (fragment_blocks[i].live && !fragment_release(fragment_blocks[i], storage))
      return;
#ifndef HEAPS_PEER
  if (const char* breach = kit_check())
    result.fail(Status::check_failed, breach);
#endif
}

// ── objects ──────────────────────────────────────────────────────────────────────────────────
constexpr uint32_t kObjects = 1000000;
constexpr uint32_t kObjectMin = 16;
constexpr uint32_t kObjectMax = 64;

// An object: the next object's address, its number and size, then (checked runs) the pattern
// up to its end.
struct Object {
  Object* next;
  uint32_t tag;
  uint32_t size;
};
static_assert(sizeof(Object) <= kObjectMin);

enum class Release { heap_drop, kit_free, free };

void* object_malloc(Release release, [[maybe_unused]] void* heap, size_t size) {
#ifndef HEAPS_PEER
  if (release == Release::heap_drop)
    return kit_heap_malloc(static_cast<kit_heap*>(heap), size);
  if (release == Release::kit_free)
    return kit_malloc(size);
#endif
  (void)release;
  return malloc(size);
}

void objects(Release release, Rng& rng, bool checked) {
  void* heap = nullptr;
#ifndef HEAPS_PEER
  uint64_t in_use_before = heap_stats().bytes_in_use;
  if (release == Release::heap_drop) {
    // Untimed, like the malloc runs' first growth is not: creating the heap reserves nothing.
    heap = kit_heap_create(nullptr, 0);
    if (heap == nullptr) {
      result.fail(Status::out_of_memory, "kit_heap_create failed");
      return;
    }
  }
#endif
  // Every variant draws the same sizes in the same order (the drawing is timed in all of them).
  Object* first = nullptr;
  Object* last = nullptr;
  uint64_t requested = 0;
  uint64_t started = now_ns();
  for (uint32_t i = 0; i < kObjects; ++i) {
    uint32_t size = rng.between(kObjectMin / 4, kObjectMax / 4) * 4;
    auto* object = static_cast<Object*>(object_malloc(release, heap, size));
    if (object == nullptr) {
      result.fail(Status::out_of_memory, "out of memory");
      return;
    }
    object->next = nullptr;
    object->tag = i;
    object->size = size;
    if (checked)
      fill(reinterpret_cast<unsigned char*>(object), sizeof(Object), size, i);
    if (last != nullptr)
      last->next = object;
    else
      first = object;
    last = object;
    requested += size;
  }
  uint64_t allocated = now_ns();
  result.set(kAllocateNs, double(allocated - started));
  result.set(kBlocks, kObjects);
  result.set(kRequestedBytes, double(requested));
  result.set(kWasmMemoryBefore, double(wasm_memory_bytes()));

  // Untimed: the list is whole and, in checked runs, every byte is as written.
  uint32_t expected = 0;
  for (Object* object = first; object != nullptr; object = object->next, ++expected) {
    auto* bytes = reinterpret_cast<const unsigned char*>(object);
    if (object->tag != expected || object->size < kObjectMin || object->size > kObjectMax ||
        (checked && !intact(bytes, sizeof(Object), object->size, object->tag))) {
      result.fail(Status::check_failed, "an object's contents changed");
      return;
    }
  }
  if (expected != kObjects) {
    result.fail(Status::check_failed, "the list of objects lost some");
    return;
  }
#ifndef HEAPS_PEER
  if (release == Release::heap_drop) {
    kit_stats stats;
    if (kit_heap_get_stats(static_cast<kit_heap*>(heap), &stats) != KIT_OK) {
      result.fail(Status::check_failed, "kit_heap_get_stats of a live heap failed");
      return;
    }
    if (stats.small.live_blocks != kObjects || stats.bytes_in_use < requested) {
      result.fail(Status::check_failed, "kit_heap_get_stats does not count the heap's objects");
      return;
    }
    result.set(kKitMemoryBefore, double(stats.memory_bytes)); // the private heap's memory
  } else {
    result.set(kKitMemoryBefore, double(heap_stats().memory_bytes));
  }
#endif

  uint64_t released_at = now_ns();
  if (release == Release::heap_drop) {
#ifndef HEAPS_PEER
    if (kit_heap_drop(static_cast<kit_heap*>(heap)) != KIT_OK) {
      result.fail(Status::check_failed, "kit_heap_drop failed");
      return;
    }
#endif
  } else {
    for (Object* object = first; object != nullptr;) {
      Object* next = object->next;
#ifndef HEAPS_PEER
      if (release == Release::kit_free)
        kit_free(object);
      else
#endif
        free(object);
      object = next;
    }
  }
  uint64_t finished = now_ns();
  result.set(kReleaseNs, double(finished - released_at));
  result.set(kElapsedNs, double(finished - started));
  result.set(kWasmMemoryAfter, double(wasm_memory_bytes()));

#ifndef HEAPS_PEER
  // Everything went back: the main heap holds what it held before, the heap is gone.
  kit_stats stats = heap_stats();
  result.set(kKitMemoryAfter, double(stats.memory_bytes));
  if (stats.bytes_in_use != in_use_before) {
    result.fail(Status::check_failed, "bytes in use did not come back after the release");
    return;
  }
  kit_stats dead;
  if (release == Release::heap_drop &&
      kit_heap_get_stats(static_cast<kit_heap*>(heap), &dead) != KIT_E_BAD_HEAP) {
    result.fail(Status::check_failed, "a dropped heap is not refused");
    return;
  }
  if (const char* breach = kit_check())
    result.fail(Status::check_failed, breach);
#endif
}

// ── The jobs ─────────────────────────────────────────────────────────────────────────────────
enum class Builds { both, kitalloc, peer }; // which builds run a job

struct Job {
  const char* name;
  const char* description; // for docs/BENCHMARKS.md
  Builds builds;
  void (*run)(Rng&, bool checked);
};

constexpr Job kHeapsJobs[] = {
    {"fragment: malloc",
     "~3 MiB of malloc blocks of 32..2,048 B, half freed at random, then malloc(1.5 MiB)",
     Builds::both, [](Rng& rng, bool) { fragment(Storage::malloc, rng); }},
    {"fragment: handles",
     "the same blocks as handles (kit_handle_alloc, unlocked), half freed, then malloc(1.5 MiB) "
     "with auto-compaction on",
     Builds::kitalloc, [](Rng& rng, bool) { fragment(Storage::handles, rng); }},
    {"objects: private heap + drop",
     "1,000,000 objects of 16..64 B in a list, by kit_heap_malloc in a new heap, then "
     "kit_heap_drop",
     Builds::kitalloc, [](Rng& rng, bool checked) { objects(Release::heap_drop, rng, checked); }},
    {"objects: kit_malloc + kit_free",
     "the same objects by kit_malloc, then kit_free of each in allocation order", Builds::kitalloc,
     [](Rng& rng, bool checked) { objects(Release::kit_free, rng, checked); }},
    {"objects: malloc + free",
     "the same objects by malloc, then free of each in allocation order (in kitalloc's module "
     "that is kit_malloc: the job runs on the other allocators only)",
     Builds::peer, [](Rng& rng, bool checked) { objects(Release::free, rng, checked); }},
};
constexpr uint32_t kJobCount = sizeof kHeapsJobs / sizeof kHeapsJobs[0];

#ifdef HEAPS_PEER
constexpr Builds kThisBuild = Builds::peer;
#else
constexpr Builds kThisBuild = Builds::kitalloc;
#endif

} // namespace

// The module's interface to bench/lib/heaps-worker.mjs; one heaps_run per instance.
extern "C" {

__attribute__((export_name("heaps_job_count"))) uint32_t heaps_job_count() { return kJobCount; }
__attribute__((export_name("heaps_job_name"))) const char* heaps_job_name(uint32_t i) {
  return i < kJobCount ? kHeapsJobs[i].name : "";
}
__attribute__((export_name("heaps_job_description"))) const char*
heaps_job_description(uint32_t i) {
  return i < kJobCount ? kHeapsJobs[i].description : "";
}
// Whether this module runs job i (the dlmalloc build has no handles and no heaps).
__attribute__((export_name("heaps_job_available"))) uint32_t heaps_job_available(uint32_t i) {
  return i < kJobCount &&
         (kHeapsJobs[i].builds == Builds::both || kHeapsJobs[i].builds == kThisBuild);
}

// Runs job `index` with `seed`; `checked` != 0 fills and verifies every object's bytes too.
// Returns the status: 0 ok, 1 out of memory, 2 a check failed, 3 bad request.
__attribute__((export_name("heaps_run"))) int heaps_run(uint32_t index, uint32_t seed,
                                                        uint32_t checked) {
  result.reset();
  if (!heaps_job_available(index))
    return int(Status::bad_request);
  Rng rng(seed);
  kHeapsJobs[index].run(rng, checked != 0);
  return int(result.status);
}

__attribute__((export_name("heaps_failure"))) const char* heaps_failure() { return result.failure; }
__attribute__((export_name("heaps_figure_count"))) uint32_t heaps_figure_count() {
  return kFigureCount;
}
__attribute__((export_name("heaps_figure_name"))) const char* heaps_figure_name(uint32_t i) {
  return i < kFigureCount ? kFigureNames[i] : "";
}
__attribute__((export_name("heaps_figure"))) double heaps_figure(uint32_t i) {
  return i < kFigureCount ? result.figures[i] : __builtin_nan("");
}

} // extern "C"
