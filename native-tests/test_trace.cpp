// The trace build (KITALLOC_TRACE): one line per successful call, in the format bench/ replays
// (src/trace.hpp). Standard error goes to a file for the calls, then the lines are read back.
#include "kitalloc.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// Runs `calls` with standard error in a temporary file; returns its lines.
template <typename Calls> std::vector<std::string> traced_lines(Calls calls) {
  char path[] = "/tmp/kitalloc-trace-XXXXXX";
  int file = mkstemp(path);
  REQUIRE(file >= 0);
  int saved = dup(STDERR_FILENO);
  dup2(file, STDERR_FILENO);
  calls();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(file);
  std::vector<std::string> lines;
  FILE* input = std::fopen(path, "r");
  char buffer[256];
  while (input != nullptr && std::fgets(buffer, sizeof buffer, input) != nullptr)
    lines.emplace_back(buffer, std::string(buffer).find('\n'));
  if (input != nullptr)
    std::fclose(input);
  std::remove(path);
  return lines;
}

std::string hex(const void* ptr) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%lx",
                static_cast<unsigned long>(reinterpret_cast<uintptr_t>(ptr)));
  return text;
}

} // namespace

TEST_CASE("trace build: one line per successful call, header first, failures not written") {
  void *small = nullptr, *zeroed = nullptr, *aligned = nullptr, *posix = nullptr;
  void *grown = nullptr, *moved = nullptr, *from_null = nullptr;
  void* in_place_before = nullptr;
  std::vector<std::string> lines = traced_lines([&] {
    small = kit_malloc(24);
    zeroed = kit_calloc(3, 10);
    aligned = kit_aligned_alloc(64, 100);
    CHECK(kit_posix_memalign(&posix, 32, 50) == 0);
    CHECK(kit_malloc(SIZE_MAX) == nullptr); // failed: no line
    kit_free(nullptr);                      // no line
    in_place_before = kit_malloc(40000);
    grown = kit_realloc(in_place_before, 50000); // the top large block grows in place
    void* blocker = kit_malloc(100);
    moved = kit_realloc(small, 20000); // no room after a small block among others: moves
    from_null = kit_realloc(nullptr, 7);
    CHECK(kit_realloc(from_null, 0) == nullptr);
    kit_free(zeroed);
    kit_free(aligned);
    kit_free(posix);
    kit_free(grown);
    kit_free(moved);
    kit_free(blocker);
  });
  REQUIRE(lines.size() >= 14);
  CHECK(lines[0] == "kitalloc-trace 1");
  CHECK(lines[1] == "a " + hex(small) + " 24");
  CHECK(lines[2] == "c " + hex(zeroed) + " 3 10");
  CHECK(lines[3] == "a " + hex(aligned) + " 100 64");
  CHECK(lines[4] == "a " + hex(posix) + " 50 32");
  CHECK(lines[5] == "a " + hex(in_place_before) + " 40000");
  CHECK(grown == in_place_before);
  CHECK(lines[6] == "r " + hex(grown) + " 50000");
  CHECK(lines[8] == "r " + hex(small) + " 20000 " + hex(moved));
  CHECK(lines[9] == "a " + hex(from_null) + " 7");
  CHECK(lines[10] == "f " + hex(from_null));
  CHECK(lines[11] == "f " + hex(zeroed));
  CHECK(lines.size() == 17);
}
