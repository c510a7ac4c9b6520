// Demo: a region of 256 KiB, a few phases of allocation, and the core's stats after each.
#include "kitalloc/simple_allocator.hpp"

#include <cstdio>

namespace {

alignas(8) uint32_t region_words[256 * 1024 / 4];

void print_stats(const char* phase, const kit::SimpleAllocator* heap) {
  kit::RegionStats stats = heap->stats();
  std::printf("%-34s regions %u  total %6u  allocated %6u  unused %6u  fragments %4u (%5u words)"
              "  live blocks %4u  check: %s\n",
              phase, stats.regions, stats.total_words, stats.allocated_words, stats.unused_words,
              stats.fragments, stats.fragment_words, stats.live_blocks,
              heap->check() ? heap->check() : "ok");
}

} // namespace

int main() {
  kit::SimpleAllocator* heap = kit::SimpleAllocator::create(region_words);
  std::printf("kitalloc core demo: one %zu KiB region (stats in 32-bit words)\n\n",
              sizeof region_words / 1024);
  print_stats("fresh", heap);

  void* blocks[1000];
  for (unsigned i = 0; i < 1000; ++i)
    blocks[i] = heap->alloc(1 + i % 37, 2);
  print_stats("1000 blocks of 1..37 words", heap);

  for (unsigned i = 0; i < 1000; i += 2)
    heap->dealloc(blocks[i]);
  print_stats("every other one freed", heap);

  void* page_aligned = heap->alloc(100, 12);
  std::printf("%-34s at offset %#zx (4 KiB aligned: %s)\n", "one 4 KiB-aligned block",
              size_t(static_cast<char*>(page_aligned) - reinterpret_cast<char*>(region_words)),
              reinterpret_cast<uintptr_t>(page_aligned) % 4096 == 0 ? "yes" : "no");
  print_stats("", heap);

  for (unsigned i = 1; i < 1000; i += 2)
    heap->dealloc(blocks[i]);
  print_stats("the rest freed (merged)", heap);

  heap->dealloc(page_aligned);
  print_stats("all freed: back to the bump pointer", heap);
  return heap->check() == nullptr ? 0 : 1;
}
