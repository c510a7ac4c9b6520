// The checks of the wasm-test programs (reliability.cpp, heaps_handles.cpp): EXPECT records
// the first failing line (the program's result) and prints the first 20 failures where there
// is a printf (KIT_FREESTANDING: none). Include after <stdio.h>, where there is one.
#pragma once

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

} // namespace

#define EXPECT(condition)                                                                          \
  do {                                                                                             \
    if (!(condition))                                                                              \
      fail(__LINE__, #condition);                                                                  \
  } while (0)
