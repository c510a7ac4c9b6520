// Benchmark: the cost of one alloc + free as the number of free blocks grows.
// alloc_cat and lol_alloc walk one address-ordered list, so their cost grows with it; the
// core's class lists and boundary tags should keep it flat. Prints a table; asserts nothing.
//   bench-free-blocks [operations per row, default 2000000]
#include "kitalloc/simple_allocator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

using kit::SimpleAllocator;

namespace {

struct Rng {
  uint64_t state;
  uint32_t below(uint32_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(state >> 33) % bound;
  }
};

// A chain of 2 MiB regions with `free_blocks` free blocks of 4..16 words, each between two
// used blocks so nothing merges.
struct FragmentedHeap {
  explicit FragmentedHeap(uint32_t free_blocks) {
    Rng rng{free_blocks};
    std::vector<void*> to_free;
    while (to_free.size() < free_blocks) {
      void* payload = head ? head->alloc(rng.below(13) + 3, 2) : nullptr;
      if (payload == nullptr) {
        add_region();
        continue;
      }
      to_free.push_back(payload);
      head->alloc(3, 2); // the used block that keeps free blocks apart
    }
    for (void* payload : to_free)
      head->dealloc(payload);
  }
  void add_region() {
    storage.emplace_back((2u << 20) / 8);
    char* begin = reinterpret_cast<char*>(storage.back().data());
    SimpleAllocator* region = SimpleAllocator::create(begin, begin + (2u << 20));
    region->chain(head);
    head = region;
  }
  std::vector<std::vector<uint64_t>> storage;
  SimpleAllocator* head = nullptr;
};

double nanoseconds_per_pair(SimpleAllocator* heap, uint32_t operations, uint32_t seed) {
  Rng rng{seed};
  uint32_t sink = 0;
  auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < operations; ++i) {
    auto* payload = static_cast<uint32_t*>(heap->alloc(rng.below(15), 2));
    payload[0] = i; // consume the block so nothing is optimized away
    sink += payload[0];
    heap->dealloc(payload);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  if (sink == 1)
    std::puts("");
  return std::chrono::duration<double, std::nano>(elapsed).count() / operations;
}

} // namespace

int main(int argc, char** argv) {
  uint32_t operations = argc > 1 ? uint32_t(std::strtoul(argv[1], nullptr, 0)) : 2000000;
  std::printf("alloc + free of 0..14 words among N free blocks of 4..16 words "
              "(%u pairs a run, median of 5 runs)\n\n",
              operations);
  std::printf("| free blocks N | regions | ns per alloc+free (median) | min | max |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (uint32_t free_blocks : {10u, 100u, 1000u, 10000u, 100000u}) {
    FragmentedHeap heap(free_blocks);
    kit::RegionStats stats = heap.head->stats();
    double runs[5];
    for (double& run : runs)
      run = nanoseconds_per_pair(heap.head, operations, free_blocks);
    std::sort(std::begin(runs), std::end(runs));
    std::printf("| %u | %u | %.1f | %.1f | %.1f |\n", stats.fragments, stats.regions, runs[2],
                runs[0], runs[4]);
  }
  return 0;
}
