// A real C++ program on kitalloc (WASI and Emscripten): std::vector, std::string, new/delete
// and printf, then the malloc family's edge cases, every size class and alignment, growth past
// 256 MiB, or (argument "oom", in a module with a small memory maximum) running out of memory.
// Prints what failed and kitalloc's figures; exits with the number of failures.
#include "kitalloc.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <malloc.h>

namespace {

int failures = 0;
#define EXPECT(condition)                                                                          \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::printf("FAILED line %d: %s\n", __LINE__, #condition);                                   \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }
size_t memory_bytes() { return size_t(__builtin_wasm_memory_size(0)) << 16; }

kit_stats stats() {
  kit_stats figures;
  kit_get_stats(&figures);
  return figures;
}

// Whether the large block at ptr is the top run: nothing but kitalloc's own runs and unused
// memory above it in its span (kit_walk).
bool is_top_run(const void* ptr) {
  struct Search {
    uint64_t block;
    bool found, decided, top;
  } search = {address(ptr), false, false, false};
  kit_walk(
      [](const kit_walk_entry* entry, void* context) {
        auto* search = static_cast<Search*>(context);
        if (search->decided)
          return;
        if (!search->found) {
          search->found = entry->kind == KIT_WALK_LARGE && entry->address == search->block;
          return;
        }
        if (entry->kind == KIT_WALK_OWN)
          return;
        search->decided = true;
        search->top = entry->kind == KIT_WALK_UNUSED || entry->kind == KIT_WALK_SPAN;
      },
      &search);
  return search.found && (!search.decided || search.top);
}

void print_stats(const char* when) {
  kit_stats figures = stats();
  std::printf("%-22s small: %u regions, %u live blocks, %u words allocated, %u fragments | "
              "pages: %u spans, %u live runs, %u free at top | large blocks %u | memory %zu KiB, "
              "%u grow calls\n",
              when, figures.small.regions, figures.small.live_blocks, figures.small.allocated_words,
              figures.small.fragments, figures.pages.regions, figures.pages.live_blocks,
              figures.pages.unused_words, figures.large_blocks, memory_bytes() / 1024,
              figures.grow_calls);
}

void containers() {
  kit_stats before = stats();
  std::vector<std::string> words;
  for (int i = 0; i < 20000; ++i)
    words.push_back("word number " + std::to_string(i) + " of a table that outgrows SSO");
  auto numbers = std::make_unique<std::vector<int>>();
  for (int i = 0; i < 100000; ++i)
    numbers->push_back(i);
  int* array = new int[5000];
  array[4999] = 7;
  kit_stats during = stats();
  // The strings' buffers came from kitalloc: its live block count saw them.
  EXPECT(during.small.live_blocks >= before.small.live_blocks + 20000);
  EXPECT(words[12345] == "word number 12345 of a table that outgrows SSO");
  EXPECT((*numbers)[99999] == 99999);
  print_stats("with 20,000 strings:");
  delete[] array;
  words.clear();
  words.shrink_to_fit();
  numbers.reset();
  EXPECT(stats().small.live_blocks == before.small.live_blocks);
}

void edge_cases() {
  void* first = malloc(0);
  void* second = malloc(0);
  EXPECT(first != nullptr && second != nullptr && first != second);
  free(first);
  free(second);
  free(nullptr);
  EXPECT(address(malloc(1)) % alignof(max_align_t) == 0);
  void* block = realloc(nullptr, 10);
  EXPECT(block != nullptr);
  EXPECT(realloc(block, 0) == nullptr);
  errno = 0;
  EXPECT(calloc(SIZE_MAX, 2) == nullptr && errno == ENOMEM);
  errno = 0;
  EXPECT(aligned_alloc(3, 10) == nullptr && errno == EINVAL);
  void* out = nullptr;
  EXPECT(posix_memalign(&out, 3, 10) == EINVAL && out == nullptr);
  EXPECT(posix_memalign(&out, 0, 10) == EINVAL);
  size_t non_null = 0;
  for (size_t size = SIZE_MAX - 65535; size != 0; ++size)
    non_null += malloc(size) != nullptr;
  EXPECT(non_null == 0);
  auto* zeroed = static_cast<unsigned char*>(calloc(1000, 100));
  size_t nonzero = 0;
  for (int i = 0; i < 100000; ++i)
    nonzero += zeroed[i];
  EXPECT(nonzero == 0);
  free(zeroed);
  // Doubling: a block may move while it has a used neighbour (to the smallest free run that
  // holds it: how often depends on the holes the heap has); once it is the top run it grows in
  // place with memory.
  char* grown = static_cast<char*>(malloc(40000));
  std::strcpy(grown, "kept");
  int moves_from_top = 0;
  for (size_t size = 80000; size <= (size_t(16) << 20); size *= 2) {
    bool on_top = is_top_run(grown);
    char* again = static_cast<char*>(realloc(grown, size));
    EXPECT(again != nullptr);
    moves_from_top += on_top && again != grown;
    grown = again;
  }
  EXPECT(is_top_run(grown));
  EXPECT(moves_from_top == 0);
  EXPECT(std::strcmp(grown, "kept") == 0);
  free(grown);
}

void sizes_and_alignments() {
  std::vector<void*> blocks;
  for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
    for (size_t size = 0; size < 70000; size = size * 3 / 2 + 1) {
      void* block = aligned_alloc(alignment, size);
      EXPECT(block != nullptr && address(block) % alignment == 0);
      EXPECT(malloc_usable_size(block) >= size);
      std::memset(block, int(size & 0xFF), size);
      blocks.push_back(block);
    }
  }
  for (void* block : blocks)
    free(block);
}

void growth_past_256_mib() {
  std::vector<char*> blocks;
  for (int i = 0; i < 300; ++i) {
    char* block = static_cast<char*>(malloc(1 << 20));
    EXPECT(block != nullptr);
    if (block == nullptr)
      return;
    block[0] = char(i);
    block[(1 << 20) - 1] = char(i);
    blocks.push_back(block);
  }
  EXPECT(memory_bytes() > (size_t(256) << 20));
  print_stats("with 300 MiB:");
  for (size_t i = 0; i < blocks.size(); ++i)
    EXPECT(blocks[i][0] == char(i) && blocks[i][(1 << 20) - 1] == char(i));
  for (char* block : blocks)
    free(block);
}

void out_of_memory() {
  std::vector<void*> blocks;
  blocks.reserve(100000);
  errno = 0;
  while (void* block = malloc(100000))
    blocks.push_back(block);
  EXPECT(errno == ENOMEM);
  // It failed only because memory is at its maximum: not even the 2 pages a block needs are left.
  EXPECT(__builtin_wasm_memory_grow(0, 2) == size_t(-1));
  while (void* block = malloc(100))
    blocks.push_back(block);
  print_stats("out of memory:");
  EXPECT(malloc(100) == nullptr);
  for (size_t i = 0; i < blocks.size(); i += 2)
    free(blocks[i]);
  EXPECT(malloc(100000) != nullptr); // recovered
  EXPECT(malloc(100) != nullptr);
}

} // namespace

int main(int argc, char** argv) {
  bool oom = argc > 1 && std::strcmp(argv[1], "oom") == 0;
  print_stats("start:");
  if (oom) {
    out_of_memory();
  } else {
    containers();
    edge_cases();
    sizes_and_alignments();
    growth_past_256_mib();
  }
  const char* breach = kit_check();
  EXPECT(breach == nullptr);
  print_stats("end:");
  std::printf("%s: %d failure(s)%s%s\n", oom ? "malloc-program oom" : "malloc-program", failures,
              breach ? ", heap check: " : "", breach ? breach : "");
  return failures;
}
