// What the wasm-test programs (reliability.cpp, heaps_handles.cpp) share: EXPECT records the
// first failing line (the program's result) and prints the first 20 failures where there is a
// printf (KIT_FREESTANDING: none; include after <stdio.h> where there is one); deterministic
// random numbers and the byte pattern blocks are filled with.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace {

int first_failure = 0;
int failure_count = 0;

void fail(int line, const char* condition) {
  if (first_failure == 0)
    first_failure = line;
  failure_count += 1;
#if !defined(KIT_FREESTANDING)
  if (failure_count <= 20)
    printf("FAILED line %d: %s\n", line, condition);
#else
  (void)condition;
#endif
}

// xorshift64: the same sequence on every target.
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

unsigned char pattern_byte(uint32_t seed, size_t index) {
  return static_cast<unsigned char>(seed * 31 + index * 7 + (index >> 8));
}

} // namespace

#define EXPECT(condition)                                                                          \
  do {                                                                                             \
    if (!(condition))                                                                              \
      fail(__LINE__, #condition);                                                                  \
  } while (0)
