// What the native tests (native-tests/heap_figures.hpp) and the wasm-test programs
// (support.hpp) share: a deterministic sequence, the same on every target, and the byte
// pattern blocks are filled with (it tells whether a block kept its bytes). Freestanding.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kit_test {

// xorshift64.
struct Random {
  uint64_t state;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return uint32_t(state);
  }
  uint32_t below(uint32_t bound) { return next() % bound; }
};

inline unsigned char pattern_byte(uint32_t seed, size_t index) {
  return static_cast<unsigned char>(seed * 131 + index * 7 + (index >> 9));
}

} // namespace kit_test
