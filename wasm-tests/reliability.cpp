// The global heap's reliability suite, one source for every build (freestanding wasm32, WASI,
// Emscripten, native), through kitalloc's C ABI only:
//   conformance  the malloc family's documented behaviour, table-driven: edge cases, errno,
//                sizes from SIZE_MAX - 65535 to SIZE_MAX, bad alignments;
//   regressions  the peers' bug reports (../shared/ANCHORS.md), each asserting nothing is lost
//                and memory reaches a steady state;
//   model        1,000,000 random malloc/calloc/realloc/aligned_alloc/free calls against a
//                shadow of the live blocks: contents, alignment, usable sizes, no overlap, and
//                kit_check() along the way.
// `kit_reliability()` returns 0, or the source line of the first failed check. Where there is a
// printf, every failure is printed. KIT_FREESTANDING (set by CMake) drops main and printf.
#include "kitalloc.h"

#include <stddef.h>
#include <stdint.h>

#if !defined(KIT_FREESTANDING)
#include <errno.h>
#include <stdio.h>
#define KIT_HAS_ERRNO 1
#else
#define KIT_HAS_ERRNO 0
#endif

#if defined(__wasm__)
#define KIT_RELIABILITY_EXPORT extern "C" __attribute__((export_name("kit_reliability")))
#else
#define KIT_RELIABILITY_EXPORT extern "C"
#endif

#include "support.hpp"

namespace {

#if KIT_HAS_ERRNO
#define EXPECT_ERRNO(value) EXPECT(errno == (value))
#define CLEAR_ERRNO() (errno = 0)
#else
#define EXPECT_ERRNO(value) ((void)0)
#define CLEAR_ERRNO() ((void)0)
#endif
// posix_memalign's error codes: the libc's (WASI numbers them differently from Linux), or
// Linux's where there is no libc (src/heap_wasm.cpp).
#if KIT_HAS_ERRNO
constexpr int kNoMemory = ENOMEM;
constexpr int kInvalid = EINVAL;
#else
constexpr int kNoMemory = 12;
constexpr int kInvalid = 22;
#endif

kit_stats stats() {
  kit_stats figures;
  kit_get_stats(&figures);
  return figures;
}

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

bool heap_consistent() { return kit_check() == nullptr; }

// ── Deterministic randomness and block contents ──────────────────────────────────────────────
// Writes the pattern to every byte of small blocks, and to the first and last 16 bytes of
// larger ones (the model's overlap check covers the middle).
void fill(void* block, size_t size, uint32_t seed) {
  auto* bytes = static_cast<unsigned char*>(block);
  for (size_t i = 0; i < size; ++i) {
    if (size > 256 && i == 16 && size > 32)
      i = size - 16;
    bytes[i] = pattern_byte(seed, i);
  }
}

bool intact(const void* block, size_t size, uint32_t seed) {
  auto* bytes = static_cast<const unsigned char*>(block);
  for (size_t i = 0; i < size; ++i) {
    if (size > 256 && i == 16 && size > 32)
      i = size - 16;
    if (bytes[i] != pattern_byte(seed, i))
      return false;
  }
  return true;
}

// ── Conformance ─────────────────────────────────────────────────────────────────────────────
// Every request in [SIZE_MAX - 65535, SIZE_MAX], through every allocating call, must fail
// cleanly: two peers hand out tiny blocks there because a size or pointer sum wraps.
void huge_requests_fail(void* existing) {
  for (size_t back = 0; back <= 65535; ++back) {
    size_t size = SIZE_MAX - back;
    CLEAR_ERRNO();
    if (kit_malloc(size) != nullptr)
      return fail(__LINE__, "malloc(SIZE_MAX - back) == NULL");
    EXPECT_ERRNO(kNoMemory);
    if (kit_aligned_alloc(16, size) != nullptr || kit_calloc(1, size) != nullptr ||
        kit_realloc(existing, size) != nullptr || kit_aligned_alloc(4096, size) != nullptr)
      return fail(__LINE__, "aligned_alloc, calloc, realloc of SIZE_MAX - back == NULL");
    void* out = existing;
    if (kit_posix_memalign(&out, 64, size) != kNoMemory || out != existing)
      return fail(__LINE__, "posix_memalign(SIZE_MAX - back) == ENOMEM, *out untouched");
  }
}

void conformance() {
  kit_stats start = stats();

  // malloc(0): a unique pointer that can be freed.
  void* zero_a = kit_malloc(0);
  void* zero_b = kit_malloc(0);
  EXPECT(zero_a != nullptr && zero_b != nullptr && zero_a != zero_b);
  kit_free(zero_a);
  kit_free(zero_b);
  kit_free(nullptr);
  EXPECT(kit_malloc_usable_size(nullptr) == 0);

  // Default alignment: alignof(max_align_t) of the toolchain.
  const size_t sizes[] = {1, 7, 8, 15, 16, 33, 1000, 40000};
  for (size_t size : sizes) {
    void* block = kit_malloc(size);
    EXPECT(block != nullptr && address(block) % alignof(max_align_t) == 0);
    EXPECT(kit_malloc_usable_size(block) >= size);
    kit_free(block);
  }

  // realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns NULL.
  void* fresh = kit_realloc(nullptr, 40);
  EXPECT(fresh != nullptr && kit_malloc_usable_size(fresh) >= 40);
  EXPECT(kit_realloc(fresh, 0) == nullptr);

  // calloc: n * size overflow; zero-sized products.
  CLEAR_ERRNO();
  EXPECT(kit_calloc(SIZE_MAX, 2) == nullptr);
  EXPECT_ERRNO(kNoMemory);
  EXPECT(kit_calloc(SIZE_MAX / 2 + 1, 2) == nullptr);
  if (sizeof(size_t) == 4)
    EXPECT(kit_calloc(65536, 65537) == nullptr);
  void* empty = kit_calloc(0, 100);
  EXPECT(empty != nullptr);
  kit_free(empty);

  // Alignments: 0, not a power of two, above 64 KiB -> NULL and EINVAL (posix_memalign: the
  // error code, *out untouched; it also refuses alignments below sizeof(void*)).
  const size_t bad_alignments[] = {
      0, 3, 5, 6, 12, 24, 48, 100, 65536 * 2, size_t(1) << 31, SIZE_MAX, SIZE_MAX / 2 + 1};
  for (size_t alignment : bad_alignments) {
    CLEAR_ERRNO();
    EXPECT(kit_aligned_alloc(alignment, 8) == nullptr);
    EXPECT_ERRNO(kInvalid);
    EXPECT(kit_memalign(alignment, 8) == nullptr);
    void* out = &start;
    EXPECT(kit_posix_memalign(&out, alignment, 8) == kInvalid && out == &start);
  }
  void* out = &start;
  EXPECT(kit_posix_memalign(&out, 2, 8) == kInvalid && out == &start);
  EXPECT(kit_posix_memalign(&out, sizeof(void*) / 2, 8) == kInvalid);
  // Every valid alignment, up to a wasm page.
  for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
    void* block = kit_aligned_alloc(alignment, 24);
    EXPECT(block != nullptr && address(block) % alignment == 0);
    kit_free(block);
    if (alignment >= sizeof(void*)) {
      EXPECT(kit_posix_memalign(&out, alignment, 100000) == 0 && address(out) % alignment == 0);
      kit_free(out);
    }
  }
  // An alignment the heap could serve, for a size it cannot: ENOMEM, not EINVAL.
  CLEAR_ERRNO();
  if (sizeof(size_t) == 4) // more than the 1 GiB maximum of the wasm test modules
    EXPECT(kit_aligned_alloc(65536, size_t(3) << 30) == nullptr);
  EXPECT(kit_aligned_alloc(65536, SIZE_MAX - 100) == nullptr);
  EXPECT_ERRNO(kNoMemory);

  // Huge requests, fresh and after other failed ones (run twice), leave existing blocks alone.
  auto* existing = static_cast<unsigned char*>(kit_malloc(64));
  fill(existing, 64, 99);
  huge_requests_fail(existing);
  huge_requests_fail(existing);
  EXPECT(intact(existing, 64, 99));
  kit_free(existing);

  // The heap is whole and usable after all of it.
  void* after = kit_malloc(100);
  EXPECT(after != nullptr);
  kit_free(after);
  EXPECT(heap_consistent());
  EXPECT(stats().bytes_in_use == start.bytes_in_use);
}

// ── Regressions from peers' bug reports ─────────────────────────────────────────────────────
uint64_t memory_bytes() { return stats().memory_bytes; }

// wee_alloc #106: alloc 85,196 and 80,000 bytes, free both, repeat: memory grew without bound.
void wee_alloc_106() {
  uint64_t steady = 0;
  for (int round = 0; round < 2000; ++round) {
    void* first = kit_malloc(85196);
    void* second = kit_malloc(80000);
    EXPECT(first != nullptr && second != nullptr);
    if (round % 2 == 0) {
      kit_free(first);
      kit_free(second);
    } else {
      kit_free(second);
      kit_free(first);
    }
    if (round == 10)
      steady = memory_bytes();
  }
  EXPECT(memory_bytes() == steady);
}

// talc #47: requests near 64 KiB and at page multiples miscomputed the pages to grow.
void talc_47() {
  uint64_t before = memory_bytes();
  uint64_t after_first_pass = 0;
  for (int pass = 0; pass < 3; ++pass) {
    for (size_t pages = 1; pages <= 8; ++pages)
      for (long delta = -80; delta <= 80; delta += 4) {
        size_t size = pages * 65536 + size_t(delta);
        auto* block = static_cast<unsigned char*>(kit_malloc(size));
        EXPECT(block != nullptr);
        if (block == nullptr)
          continue;
        block[0] = 1;
        block[size - 1] = 2;
        EXPECT(kit_malloc_usable_size(block) >= size);
        kit_free(block);
      }
    if (pass == 0)
      after_first_pass = memory_bytes();
  }
  EXPECT(memory_bytes() == after_first_pass);
  EXPECT(memory_bytes() - before < (uint64_t(8) << 20) + 2 * 8 * 65536 + 200);
}

// talc PR #49: free gaps of 16 MiB and more next to small blocks corrupted a tag.
void talc_49() {
  const size_t gap_sizes[] = {size_t(16) << 20, (size_t(16) << 20) + 4096, size_t(20) << 20};
  void* smalls[4];
  void* gaps[3];
  for (int i = 0; i < 3; ++i) {
    smalls[i] = kit_malloc(40);
    fill(smalls[i], 40, 1000 + i);
    gaps[i] = kit_malloc(gap_sizes[i]);
    EXPECT(gaps[i] != nullptr);
  }
  smalls[3] = kit_malloc(40);
  fill(smalls[3], 40, 1003);
  for (void* gap : gaps)
    kit_free(gap);
  EXPECT(heap_consistent());
  uint64_t before = memory_bytes();
  // The gaps are reused, for small and huge blocks alike, without growing and without harm.
  void* again = kit_malloc(gap_sizes[2]);
  EXPECT(again != nullptr);
  void* many[1000];
  for (int i = 0; i < 1000; ++i)
    many[i] = kit_malloc(16 + i % 200);
  for (int i = 0; i < 4; ++i)
    EXPECT(intact(smalls[i], 40, 1000 + i));
  EXPECT(memory_bytes() == before);
  EXPECT(heap_consistent());
  for (void* block : many)
    kit_free(block);
  kit_free(again);
  for (void* small : smalls)
    kit_free(small);
}

// A churn of `live` blocks, sizes from `size_of`, optionally aligned: memory after the
// warm-up must equal memory at the end, and every block's contents survive.
template <typename SizeOf>
void churn(uint32_t live, uint32_t steps, size_t alignment, SizeOf size_of, uint64_t seed) {
  static void* blocks[2048];
  static size_t sizes[2048];
  Random random{seed};
  auto allocate = [&](uint32_t slot) {
    sizes[slot] = size_of(random);
    blocks[slot] = alignment ? kit_aligned_alloc(alignment, sizes[slot]) : kit_malloc(sizes[slot]);
    EXPECT(blocks[slot] != nullptr && address(blocks[slot]) % (alignment ? alignment : 1) == 0);
    fill(blocks[slot], sizes[slot], slot);
  };
  for (uint32_t slot = 0; slot < live; ++slot)
    allocate(slot);
  uint64_t steady = 0;
  for (uint32_t step = 0; step < steps; ++step) {
    uint32_t slot = random.below(live);
    if (!intact(blocks[slot], sizes[slot], slot))
      return fail(__LINE__, "churn: contents survive");
    kit_free(blocks[slot]);
    allocate(slot);
    if (step == steps / 4)
      steady = memory_bytes();
  }
  EXPECT(memory_bytes() == steady);
  EXPECT(heap_consistent());
  for (uint32_t slot = 0; slot < live; ++slot)
    kit_free(blocks[slot]);
}

// talc #53 (free-list corruption under small churn); emmalloc #21277 (16-byte-aligned churn
// grew the heap from 50 MB to 2 GB).
void small_churns() {
  churn(
      2000, 400000, 0, [](Random& random) { return size_t(1 + random.below(64)); }, 53);
  churn(
      2000, 400000, 16, [](Random& random) { return size_t(16 + random.below(500)); }, 21277);
}

// alloc_cat's 13-bit size field: a freed run merging past 32 KiB (8,191 words).
void merge_past_32k() {
  void* blocks[3000];
  for (void*& block : blocks)
    block = kit_malloc(100);
  uint64_t before = memory_bytes();
  for (int i = 1; i < 2999; ++i) // the first and the last keep the run off the bump pointer
    kit_free(blocks[i]);
  EXPECT(heap_consistent());
  kit_stats merged = stats();
  EXPECT(merged.small.fragment_words >= 2998 * 104 / 4);
  for (int i = 1; i < 2999; ++i) // the merged run serves them all again
    blocks[i] = kit_malloc(100);
  EXPECT(memory_bytes() == before);
  EXPECT(heap_consistent());
  for (void* block : blocks)
    kit_free(block);
}

// Realloc doubling from 16 bytes to 64 MiB: contents survive, and the block grows in place at
// the top of memory, so memory grows by little more than 64 MiB (every peer: twice that).
void realloc_doubling() {
  uint64_t before = memory_bytes();
  uint64_t first_chain_memory = 0;
  for (int chain = 0; chain < 2; ++chain) {
    auto* block = static_cast<unsigned char*>(kit_malloc(16));
    fill(block, 16, 7);
    for (size_t size = 32; size <= (size_t(64) << 20); size *= 2) {
      block = static_cast<unsigned char*>(kit_realloc(block, size));
      EXPECT(block != nullptr);
      if (block == nullptr)
        return;
      EXPECT(intact(block, 16, 7));
    }
    kit_free(block);
    if (chain == 0)
      first_chain_memory = memory_bytes();
  }
  EXPECT(memory_bytes() == first_chain_memory);
  EXPECT(memory_bytes() - before < (uint64_t(64) << 20) * 10 / 9 + (uint64_t(4) << 20));
}

void regressions() {
  kit_stats start = stats();
  realloc_doubling();
  wee_alloc_106();
  talc_47();
  talc_49();
  small_churns();
  merge_past_32k();
  EXPECT(stats().bytes_in_use == start.bytes_in_use);
  EXPECT(heap_consistent());
}

// ── Random model ────────────────────────────────────────────────────────────────────────────
constexpr uint32_t kModelSlots = 1024;

struct LiveBlock {
  unsigned char* ptr;
  size_t size;
  uint32_t seed;
};

size_t model_size(Random& random) {
  uint32_t kind = random.below(100);
  if (kind < 70)
    return random.below(257);
  if (kind < 97)
    return 257 + random.below(16 * 1024);
  return 32 * 1024 + random.below(300 * 1024);
}

// Sorts the live blocks by address (shell sort: no libc here) and checks neighbours.
bool no_overlap(LiveBlock* blocks, uint32_t count) {
  static LiveBlock sorted[kModelSlots];
  uint32_t used = 0;
  for (uint32_t i = 0; i < count; ++i)
    if (blocks[i].ptr != nullptr)
      sorted[used++] = blocks[i];
  for (uint32_t gap = used / 2; gap > 0; gap /= 2)
    for (uint32_t i = gap; i < used; ++i)
      for (uint32_t j = i; j >= gap && sorted[j - gap].ptr > sorted[j].ptr; j -= gap) {
        LiveBlock swap = sorted[j];
        sorted[j] = sorted[j - gap];
        sorted[j - gap] = swap;
      }
  for (uint32_t i = 1; i < used; ++i)
    if (sorted[i - 1].ptr + kit_malloc_usable_size(sorted[i - 1].ptr) > sorted[i].ptr)
      return false;
  return true;
}

void model(uint32_t operations, uint64_t seed) {
  static LiveBlock blocks[kModelSlots];
  Random random{seed};
  uint32_t next_seed = 1;
  for (uint32_t op = 0; op < operations; ++op) {
    LiveBlock& slot = blocks[random.below(kModelSlots)];
    if (slot.ptr != nullptr) {
      if (!intact(slot.ptr, slot.size, slot.seed))
        return fail(__LINE__, "model: contents survive");
      if (random.below(3) == 0) { // realloc: the common prefix survives
        size_t size = model_size(random);
        auto* moved = static_cast<unsigned char*>(kit_realloc(slot.ptr, size == 0 ? 1 : size));
        if (moved == nullptr)
          return fail(__LINE__, "model: realloc");
        size_t kept = slot.size < size ? slot.size : size;
        if (!intact(moved, kept < 16 ? kept : 16, slot.seed)) // always filled: see fill()
          return fail(__LINE__, "model: realloc keeps the contents");
        slot = {moved, size == 0 ? 1 : size, next_seed++};
        fill(slot.ptr, slot.size, slot.seed);
      } else {
        kit_free(slot.ptr);
        slot.ptr = nullptr;
      }
    } else {
      size_t size = model_size(random);
      uint32_t kind = random.below(10);
      size_t alignment = kind < 7 ? alignof(max_align_t) : size_t(1) << random.below(17);
      void* ptr = kind < 6   ? kit_malloc(size)
                  : kind < 7 ? kit_calloc(1, size)
                             : kit_aligned_alloc(alignment, size);
      if (ptr == nullptr)
        return fail(__LINE__, "model: allocation");
      if (address(ptr) % alignment != 0 || kit_malloc_usable_size(ptr) < size)
        return fail(__LINE__, "model: alignment and usable size");
      if (kind == 6)
        for (size_t i = 0; i < size; i += 1 + i / 8)
          if (static_cast<unsigned char*>(ptr)[i] != 0)
            return fail(__LINE__, "model: calloc memory is zero");
      slot = {static_cast<unsigned char*>(ptr), size, next_seed++};
      fill(slot.ptr, slot.size, slot.seed);
    }
    if (op % 8192 == 0) {
      if (!no_overlap(blocks, kModelSlots))
        return fail(__LINE__, "model: live blocks do not overlap");
      if (!heap_consistent())
        return fail(__LINE__, "model: kit_check");
    }
  }
  for (LiveBlock& slot : blocks) {
    if (slot.ptr != nullptr && !intact(slot.ptr, slot.size, slot.seed))
      fail(__LINE__, "model: contents survive to the end");
    kit_free(slot.ptr);
    slot.ptr = nullptr;
  }
  EXPECT(heap_consistent());
}

} // namespace

KIT_RELIABILITY_EXPORT int kit_reliability() {
  conformance();
  regressions();
  model(1000000, 20261122);
  return first_failure;
}

#if !defined(KIT_FREESTANDING)
int main() {
  int result = kit_reliability();
  kit_stats figures;
  kit_get_stats(&figures);
  if (result == 0)
    printf("reliability: ok (conformance, 7 regressions, 1,000,000 model operations; "
           "%llu calls, memory %llu KiB)\n",
           (unsigned long long)(figures.malloc_calls + figures.calloc_calls +
                                figures.realloc_calls + figures.aligned_calls + figures.free_calls),
           (unsigned long long)(figures.memory_bytes / 1024));
  else
    printf("reliability: %d failures, first at line %d\n", failure_count, result);
  return result == 0 ? 0 : 1;
}
#endif
