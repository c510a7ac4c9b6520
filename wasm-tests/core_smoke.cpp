// Smoke test of the core (kit::SimpleAllocator), one source for every build: freestanding
// wasm32 (no libc at all: only <stddef.h>, <stdint.h> and the core header), WASI, Emscripten
// and native. `kit_core_smoke()` returns 0, or the number of the first failed step (< 256, so
// it survives as a process exit code). KIT_FREESTANDING (set by CMake) drops the printing main.
#include "kitalloc/simple_allocator.hpp"

#include <stddef.h>
#include <stdint.h>

#if defined(__EMSCRIPTEN__)
#include <emscripten/emscripten.h>
#define KIT_SMOKE_EXPORT extern "C" EMSCRIPTEN_KEEPALIVE
#elif defined(__wasm__)
#define KIT_SMOKE_EXPORT extern "C" __attribute__((export_name("kit_core_smoke")))
#else
#define KIT_SMOKE_EXPORT extern "C"
#endif

#if !defined(KIT_FREESTANDING)
#include <stdio.h>
#endif

#define KIT_STEP(n, cond)                                                                          \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      return (n);                                                                                  \
  } while (0)

namespace {

alignas(8) uint32_t region[16384];

struct Request {
  uint32_t words;
  uint32_t align_bits;
};

// clang-format off
constexpr Request kRequests[] = {
    {1, 2},  {3, 2},    {4, 3},  {7, 4}, {16, 5},   {33, 6}, {100, 8},
    {5, 10}, {200, 12}, {1, 12}, {2, 3}, {1000, 7}, {kit::kMaxAllocWords, 2}, // largest allowed
};
// clang-format on
constexpr uint32_t kCount = sizeof(kRequests) / sizeof(kRequests[0]);
static_assert(kCount <= 16, "step numbers are 16 apart");

struct Block {
  uint32_t* ptr;
  uint32_t words;
};

uint32_t pattern(uint32_t block, uint32_t word) {
  return (block + 1) * 0x9E3779B1u ^ word * 0x85EBCA77u;
}

void fill(const Block& b, uint32_t id) {
  for (uint32_t j = 0; j < b.words; ++j)
    b.ptr[j] = pattern(id, j);
}

bool intact(const Block& b, uint32_t id) {
  for (uint32_t j = 0; j < b.words; ++j)
    if (b.ptr[j] != pattern(id, j))
      return false;
  return true;
}

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

bool inside_region(const Block& b) {
  return addr(b.ptr) >= addr(region) &&
         addr(b.ptr) + uintptr_t{b.words} * 4 <= addr(region) + sizeof(region);
}

bool overlap(const Block& a, const Block& b) {
  return addr(a.ptr) < addr(b.ptr) + uintptr_t{b.words} * 4 &&
         addr(b.ptr) < addr(a.ptr) + uintptr_t{a.words} * 4;
}

bool empty(const kit::SimpleAllocator* a) {
  kit::RegionStats s = a->stats();
  return s.regions == 1 && s.allocated_words == 0 && s.fragments == 0 && s.fragment_words == 0 &&
         s.live_blocks == 0;
}

uint32_t lcg(uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return state >> 8;
}

} // namespace

KIT_SMOKE_EXPORT int kit_core_smoke() {
  // 1-9: a fresh region.
  kit::SimpleAllocator* a = kit::SimpleAllocator::create(region);
  KIT_STEP(1, a != nullptr);
  KIT_STEP(2, a->check() == nullptr);
  KIT_STEP(3, empty(a));
  KIT_STEP(4, a->stats().unused_words > 0);
  KIT_STEP(5, a->alloc(kit::kMaxAllocWords + 1, 2) == nullptr);
  KIT_STEP(6, a->alloc(1, kit::kMaxAlignBits + 1) == nullptr);
  KIT_STEP(7, empty(a) && a->check() == nullptr);

  // 10-91: blocks of various sizes and alignments, disjoint, inside the region.
  Block blocks[kCount] = {};
  for (uint32_t i = 0; i < kCount; ++i) {
    const Request r = kRequests[i];
    blocks[i] = {static_cast<uint32_t*>(a->alloc(r.words, r.align_bits)), r.words};
    const Block& b = blocks[i];
    KIT_STEP(10 + i, b.ptr != nullptr);
    KIT_STEP(30 + i, (addr(b.ptr) & ((uintptr_t{1} << r.align_bits) - 1)) == 0);
    KIT_STEP(50 + i, inside_region(b) && a->contains(b.ptr) && a->usable_words(b.ptr) >= r.words);
    for (uint32_t j = 0; j < i; ++j)
      KIT_STEP(70 + i, !overlap(blocks[j], b));
    fill(b, i);
  }
  KIT_STEP(90, a->check() == nullptr);
  KIT_STEP(91, a->stats().live_blocks == kCount);

  // 100-199: the data survives every allocation and every free of the other blocks.
  for (uint32_t i = 0; i < kCount; ++i)
    KIT_STEP(100 + i, intact(blocks[i], i));
  for (uint32_t i = 1; i < kCount; i += 2) {
    KIT_STEP(120 + i, a->dealloc(blocks[i].ptr));
    KIT_STEP(140 + i, a->check() == nullptr);
  }
  for (uint32_t i = 0; i < kCount; i += 2)
    KIT_STEP(160 + i, intact(blocks[i], i));
  for (uint32_t k = 0; k < kCount; k += 2) {
    const uint32_t i = (kCount - 1) / 2 * 2 - k; // even indices, highest first
    KIT_STEP(180 + i, a->dealloc(blocks[i].ptr) && a->check() == nullptr);
  }
  KIT_STEP(196, a->check() == nullptr);
  KIT_STEP(197, empty(a));

  // 200-209: refused frees. b sits between two used blocks, so its header says free.
  uint32_t* x = static_cast<uint32_t*>(a->alloc(8, 2));
  uint32_t* y = static_cast<uint32_t*>(a->alloc(8, 2));
  uint32_t* z = static_cast<uint32_t*>(a->alloc(8, 2));
  KIT_STEP(200, x != nullptr && y != nullptr && z != nullptr);
  KIT_STEP(201, a->dealloc(y));
  KIT_STEP(202, !a->dealloc(y));
  uint32_t outside = 0;
  KIT_STEP(203, !a->dealloc(&outside) && !a->dealloc(nullptr));
  KIT_STEP(204, a->stats().fragments == 1 && a->stats().live_blocks == 2);
  KIT_STEP(205, a->check() == nullptr);
  KIT_STEP(206, a->dealloc(z) && a->dealloc(x));
  KIT_STEP(207, empty(a) && a->check() == nullptr);

  // 210-219: churn. 32 slots, random sizes and alignments, tags at both ends.
  constexpr uint32_t kSlots = 32;
  Block slots[kSlots] = {};
  uint32_t tags[kSlots] = {};
  uint32_t seed = 12345;
  for (uint32_t round = 0; round < 3000; ++round) {
    const uint32_t s = lcg(seed) % kSlots;
    Block& b = slots[s];
    if (b.ptr == nullptr) {
      const uint32_t words = 1 + lcg(seed) % 300;
      const uint32_t align_bits = 2 + lcg(seed) % 7;
      b = {static_cast<uint32_t*>(a->alloc(words, align_bits)), words};
      KIT_STEP(210, b.ptr != nullptr);
      KIT_STEP(211, (addr(b.ptr) & ((uintptr_t{1} << align_bits) - 1)) == 0 && inside_region(b));
      tags[s] = lcg(seed);
      b.ptr[0] = tags[s];
      b.ptr[b.words - 1] = ~tags[s];
    } else {
      KIT_STEP(212, b.ptr[0] == tags[s] && b.ptr[b.words - 1] == ~tags[s]);
      KIT_STEP(213, a->dealloc(b.ptr));
      b.ptr = nullptr;
    }
    if (round % 64 == 0)
      KIT_STEP(214, a->check() == nullptr);
  }
  for (uint32_t s = 0; s < kSlots; ++s) {
    if (slots[s].ptr != nullptr) {
      KIT_STEP(215, slots[s].ptr[0] == tags[s] && slots[s].ptr[slots[s].words - 1] == ~tags[s]);
      KIT_STEP(216, a->dealloc(slots[s].ptr));
    }
  }

  // 220-229: back to an empty region.
  KIT_STEP(220, a->check() == nullptr);
  KIT_STEP(221, empty(a));
  return 0;
}

#if !defined(KIT_FREESTANDING)
int main() {
  const int result = kit_core_smoke();
  if (result == 0)
    printf("kit_core_smoke: ok\n");
  else
    printf("kit_core_smoke: FAILED at step %d\n", result);
  return result;
}
#endif
