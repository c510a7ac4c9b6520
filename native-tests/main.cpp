// The doctest runner: every native-tests/test_*.cpp is linked into this one executable.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
