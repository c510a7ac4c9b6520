// What the wasm-test programs (reliability.cpp, heaps_handles.cpp) share: EXPECT records the
// first failing line (the program's result) and prints the first 20 failures where there is a
// printf (KIT_FREESTANDING: none; include after <stdio.h> where there is one); deterministic
// random numbers and the byte pattern blocks are filled with (random.hpp).
#pragma once

#include "random.hpp"

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

using kit_test::pattern_byte;
using kit_test::Random;

} // namespace

#define EXPECT(condition)                                                                          \
  do {                                                                                             \
    if (!(condition))                                                                              \
      fail(__LINE__, #condition);                                                                  \
  } while (0)
