// What the private-heap and handle tests share: the heap's figures, its check, random numbers,
// and blocks filled with a pattern that tells whether they kept their bytes.
#pragma once

#include "../wasm-tests/random.hpp"
#include "kitalloc.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

inline uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

// kit_check(), with "ok" for no breach (so a failure prints what broke).
inline std::string check() {
  const char* breach = kit_check();
  return breach ? breach : "ok";
}

inline kit_stats global() {
  kit_stats figures;
  kit_get_stats(&figures);
  return figures;
}

// Pages of the page store in use: runs holding regions and large blocks. kitalloc's own runs
// (the page map, the region table) are left out: they only ever grow, whichever test made
// memory or the regions outgrow them first.
inline uint64_t pages_in_use(const kit_stats& figures) {
  return uint64_t(figures.pages.allocated_words) - figures.pages.fragment_words - figures.own_pages;
}

// The heap's shape, without the call counters (a refused call may count as failed).
inline bool same_shape(const kit_stats& a, const kit_stats& b) {
  // Every figure up to bytes_in_use: regions, pages, large blocks, own runs, growth, memory.
  return std::memcmp(&a, &b, offsetof(kit_stats, peak_bytes)) == 0;
}

using kit_test::pattern_byte;
using kit_test::Random;

inline void fill(void* block, size_t size, uint32_t seed) {
  auto* bytes = static_cast<unsigned char*>(block);
  for (size_t i = 0; i < size; ++i)
    bytes[i] = pattern_byte(seed, i);
}

inline bool intact(const void* block, size_t size, uint32_t seed) {
  auto* bytes = static_cast<const unsigned char*>(block);
  for (size_t i = 0; i < size; ++i)
    if (bytes[i] != pattern_byte(seed, i))
      return false;
  return true;
}
