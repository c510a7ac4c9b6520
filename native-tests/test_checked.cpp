// The checked build (KITALLOC_CHECKED): each bad pointer is reported through the failure hook
// with what is wrong, the call does nothing, and the heap stays consistent.
#include "kitalloc.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace {

struct Report {
  std::string call, problem;
  const void* pointer;
};
std::vector<Report> reports;

void record(const char* call, const char* problem, const void* pointer) {
  reports.push_back({call, problem, pointer});
}

// Runs `bad_call` with the recording hook and returns the one report it made.
template <typename Call> Report reported_by(Call bad_call) {
  reports.clear();
  kit_failure_hook previous = kit_set_failure_hook(record);
  bad_call();
  kit_set_failure_hook(previous);
  REQUIRE(reports.size() == 1);
  return reports[0];
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

const char* check() {
  const char* breach = kit_check();
  return breach ? breach : "ok";
}

} // namespace

TEST_SUITE("checked build") {
  TEST_CASE("double free, small and large, is named; the block is freed once") {
    for (size_t size : {size_t(24), size_t(3000), size_t(100000)}) {
      CAPTURE(size);
      // Neighbours on both sides, so that the freed block merges in some cases and not others.
      void* before = kit_malloc(size);
      void* block = kit_malloc(size);
      void* after = kit_malloc(size);
      kit_free(before);
      kit_free(block); // merges with `before`: its header is left inside a free block
      Report report = reported_by([&] { kit_free(block); });
      CHECK(report.call == "free");
      CHECK(contains(report.problem, "double free"));
      CHECK(report.pointer == block);
      CHECK(std::string(check()) == "ok");
      kit_free(after);
    }
  }

  // A freed run that starts a free run keeps the free list's link where its kind was; one at
  // the top goes back to the bump area.
  TEST_CASE("double free of large blocks whose runs are free runs of their own or the top") {
    std::vector<void*> blocks;
    for (int i = 0; i < 7; ++i)
      blocks.push_back(kit_malloc(100000)); // 2 pages each; odd ones stay as guards
    for (int i : {0, 2, 4, 6}) {
      CAPTURE(i);
      kit_free(blocks[size_t(i)]);
      Report report = reported_by([&] { kit_free(blocks[size_t(i)]); });
      CHECK(contains(report.problem, "double free"));
      CHECK(std::string(check()) == "ok");
    }
    for (int i : {1, 3, 5})
      kit_free(blocks[size_t(i)]);
  }

  // Its header lies inside the free block it merged into, where only the checked build's mark
  // tells it is free: the mark must not depend on where the block starts.
  TEST_CASE("double free of a small block that starts on a page boundary is named") {
    std::vector<void*> blocks;
    size_t on_page = 0;
    for (size_t i = 1; i < 20000 && on_page == 0; ++i) {
      // 304-byte blocks, trailer included (19 x 16 bytes: every 16-byte step of a page comes
      // up), above what is parked.
      blocks.push_back(kit_malloc(290));
      if (blocks.size() > 1 && reinterpret_cast<uintptr_t>(blocks.back()) % 65536 == 0 &&
          static_cast<char*>(blocks.back()) - static_cast<char*>(blocks[blocks.size() - 2]) == 304)
        on_page = blocks.size() - 1;
    }
    REQUIRE(on_page != 0);
    kit_free(blocks[on_page - 1]);
    kit_free(blocks[on_page]); // merges with the block before
    Report report = reported_by([&] { kit_free(blocks[on_page]); });
    CHECK(contains(report.problem, "double free"));
    CHECK(std::string(check()) == "ok");
    for (size_t i = 0; i < blocks.size(); ++i)
      if (i != on_page && i != on_page - 1)
        kit_free(blocks[i]);
  }

  TEST_CASE("a pointer into a block, misaligned, outside the heap: reported, nothing freed") {
    auto* block = static_cast<unsigned char*>(kit_malloc(256));
    std::memset(block, 0x5A, 256);
    kit_stats before;
    kit_get_stats(&before);

    Report inside = reported_by([&] { kit_free(block + 64); });
    CHECK(contains(inside.problem, "not a pointer kitalloc returned"));
    Report misaligned = reported_by([&] { kit_free(block + 2); });
    CHECK(contains(misaligned.problem, "misaligned"));
    static int not_heap;
    Report outside = reported_by([&] { kit_free(&not_heap); });
    CHECK(contains(outside.problem, "outside the heap"));
    Report realloc_inside = reported_by([&] { CHECK(kit_realloc(block + 16, 10) == nullptr); });
    CHECK(realloc_inside.call == "realloc");
    Report usable = reported_by([&] { CHECK(kit_malloc_usable_size(block + 32) == 0); });
    CHECK(usable.call == "malloc_usable_size");

    kit_stats after;
    kit_get_stats(&after);
    CHECK(after.bytes_in_use == before.bytes_in_use);
    for (int i = 0; i < 256; ++i)
      REQUIRE(block[i] == 0x5A);
    CHECK(std::string(check()) == "ok");
    kit_free(block);
  }

  TEST_CASE("a write past the end is caught at free and at realloc, for every small size") {
    for (size_t size = 1; size <= 200; ++size) {
      CAPTURE(size);
      auto* block = static_cast<unsigned char*>(kit_malloc(size));
      CHECK(kit_malloc_usable_size(block) == size); // the caller may use what it asked for
      block[size] = 0;                              // one byte too far
      Report report = reported_by([&] { kit_free(block); });
      CHECK(contains(report.problem, "write past the end"));
      block[size] = 0xA5; // repaired: the free goes through
      kit_free(block);
    }
    auto* block = static_cast<unsigned char*>(kit_malloc(100000));
    block[100000 + 7] = 1;
    Report report = reported_by([&] { CHECK(kit_realloc(block, 200000) == nullptr); });
    CHECK(contains(report.problem, "write past the end"));
    block[100000 + 7] = 0xA5;
    kit_free(block);
    CHECK(std::string(check()) == "ok");
  }

  TEST_CASE("realloc keeps the seal: in place and moved blocks verify, contents survive") {
    auto* block = static_cast<unsigned char*>(kit_malloc(10));
    std::memset(block, 7, 10);
    for (size_t size = 20; size < 300000; size = size * 3 / 2) {
      block = static_cast<unsigned char*>(kit_realloc(block, size));
      REQUIRE(block != nullptr);
      CHECK(kit_malloc_usable_size(block) == size);
      CHECK(block[9] == 7);
      block[size - 1] = 1; // the last byte is the caller's
    }
    kit_free(block);
    CHECK(std::string(check()) == "ok");
  }

  TEST_CASE("the default hook prints what and where, then traps") {
    // In a child process: the trap ends it. Its standard error comes back through a pipe.
    kit_failure_hook previous = kit_set_failure_hook(nullptr);
    bool was_recording = previous == nullptr || previous == record;
    CHECK(was_recording);
    auto* block = static_cast<char*>(kit_malloc(64));
    std::memset(block, 0, 64); // the word before block + 8 reads as no header at all
    int pipe_ends[2];
    REQUIRE(pipe(pipe_ends) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      signal(SIGILL, SIG_DFL); // doctest's handler would catch the trap
      signal(SIGTRAP, SIG_DFL);
      dup2(pipe_ends[1], STDERR_FILENO);
      kit_free(block + 8);
      _exit(0); // not reached when the hook traps
    }
    close(pipe_ends[1]);
    char output[256] = {};
    ssize_t length = read(pipe_ends[0], output, sizeof output - 1);
    close(pipe_ends[0]);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(length > 0);
    std::string line(output);
    INFO(line);
    CHECK(contains(line, "kitalloc: free(0x"));
    CHECK(contains(line, "not a pointer kitalloc returned"));
    kit_free(block);
  }
}
