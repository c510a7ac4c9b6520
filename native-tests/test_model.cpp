// Randomized model test of the core: random alloc / dealloc / resize_in_place on a chain of
// regions, checked against a shadow model after every operation.
//   KITALLOC_SEED=n        the seed (default below; printed either way)
//   KITALLOC_MODEL_OPS=n   the number of operations (default 1,000,000)
#include "kitalloc/simple_allocator.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

using kit::RegionStats;
using kit::SimpleAllocator;

namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text ? std::strtoull(text, nullptr, 0) : fallback;
}

// splitmix64: the same sequence on every platform, unlike std's distributions.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t bound) { return uint32_t(next() % bound); }
  uint32_t between(uint32_t low, uint32_t high) { return low + below(high - low + 1); }
  bool chance(uint32_t percent) { return below(100) < percent; }
};

struct Live {
  uint32_t* payload;
  size_t word_count; // what was asked for
  uint32_t align_bits;
  uint32_t tag;
};

uint32_t pattern(uint32_t tag, size_t index) { return tag ^ uint32_t(index * 0x9E3779B9u); }

class Model {
public:
  explicit Model(uint64_t seed) : rng{seed} {
    const size_t sizes[] = {2 << 20, 256 << 10, 64 << 10};
    SimpleAllocator* previous = nullptr;
    for (size_t bytes : sizes) {
      buffers.emplace_back(bytes / 8);
      char* begin = reinterpret_cast<char*>(buffers.back().data());
      SimpleAllocator* region = SimpleAllocator::create(begin, begin + bytes);
      REQUIRE(region != nullptr);
      regions.push_back(region);
      if (previous)
        previous->chain(region);
      previous = region;
    }
    initial = regions[0]->stats();
  }

  void step(uint64_t index) {
    if (index % 50000 == 0)
      target_live = rng.below(6000);
    uint32_t roll = rng.below(100);
    bool grow = live.size() < target_live;
    if (roll < 10 && !live.empty())
      resize();
    else if (live.empty() || (grow ? roll < 75 : roll < 30))
      alloc();
    else
      dealloc(rng.below(uint32_t(live.size())));
    check_stats();
    if (index % 997 == 0)
      check_heap();
  }

  void finish() {
    while (!live.empty())
      dealloc(uint32_t(live.size() - 1));
    check_heap();
    RegionStats stats = regions[0]->stats();
    CHECK(stats.allocated_words == 0);
    CHECK(stats.fragments == 0);
    CHECK(stats.unused_words == initial.unused_words);
  }

  uint64_t allocs = 0, failed_allocs = 0, deallocs = 0, resizes = 0, failed_resizes = 0;

private:
  size_t random_word_count() {
    uint32_t roll = rng.below(100);
    if (roll < 70)
      return rng.between(0, 16);
    if (roll < 95)
      return rng.between(17, 256);
    if (roll < 99)
      return rng.between(257, 2048);
    return rng.between(2049, kit::kMaxAllocWords);
  }

  uint32_t random_align_bits() {
    uint32_t roll = rng.below(100);
    if (roll < 70)
      return 2;
    if (roll < 98)
      return rng.between(3, 12);
    return rng.between(13, kit::kMaxAlignBits);
  }

  void alloc() {
    size_t word_count = random_word_count();
    uint32_t align_bits = random_align_bits();
    RegionStats before = regions[0]->stats();
    auto* payload = static_cast<uint32_t*>(regions[0]->alloc(word_count, align_bits));
    if (payload == nullptr) {
      failed_allocs += 1;
      REQUIRE(same(regions[0]->stats(), before));
      require_no_region_had_room(word_count, align_bits);
      return;
    }
    allocs += 1;
    REQUIRE(reinterpret_cast<uintptr_t>(payload) % (uintptr_t(1) << align_bits) == 0);
    REQUIRE(SimpleAllocator::usable_words(payload) >= word_count);
    add_extent(payload);
    Live block{payload, word_count, align_bits, uint32_t(rng.next())};
    fill(block, 0);
    live.push_back(block);
  }

  void dealloc(uint32_t which) {
    Live block = live[which];
    verify(block);
    remove_extent(block.payload);
    REQUIRE(regions[0]->dealloc(block.payload, block.word_count));
    live[which] = live.back();
    live.pop_back();
    deallocs += 1;
  }

  void resize() {
    uint32_t which = rng.below(uint32_t(live.size()));
    Live& block = live[which];
    size_t word_count = rng.chance(50) ? random_word_count() : block.word_count + rng.below(64);
    remove_extent(block.payload);
    bool resized = regions[0]->resize_in_place(block.payload, word_count);
    add_extent(block.payload);
    if (!resized) {
      failed_resizes += 1;
      verify(block);
      return;
    }
    resizes += 1;
    REQUIRE(SimpleAllocator::usable_words(block.payload) >= word_count);
    size_t kept = word_count < block.word_count ? word_count : block.word_count;
    block.word_count = kept;
    verify(block);
    block.word_count = word_count;
    fill(block, kept);
  }

  // A failed request must mean no region had this much room above its bump pointer.
  void require_no_region_had_room(size_t word_count, uint32_t align_bits) {
    uint32_t align_words = align_bits > 2 ? 1u << (align_bits - 2) : 0;
    uint32_t worst_gap = align_words ? align_words + (align_words > 4 ? align_words : 4) : 0;
    uint32_t worst_case = uint32_t(word_count) + 1 + kit::kMinBlockWords + worst_gap;
    for (size_t i = 0; i < regions.size(); ++i) {
      uint32_t unused = regions[i]->stats().unused_words -
                        (i + 1 < regions.size() ? regions[i + 1]->stats().unused_words : 0);
      REQUIRE_MESSAGE(unused < worst_case, "alloc failed although region ", i, " had room");
    }
  }

  void fill(const Live& block, size_t from) {
    for (size_t i = from; i < block.word_count; ++i)
      block.payload[i] = pattern(block.tag, i);
  }

  void verify(const Live& block) {
    for (size_t i = 0; i < block.word_count; ++i)
      if (block.payload[i] != pattern(block.tag, i))
        FAIL("contents of a live block changed at word ", i, " of ", block.word_count);
  }

  // Each live block, header included, as [first byte, last byte + 1): none may overlap, and
  // each must lie inside one region.
  void add_extent(uint32_t* payload) {
    auto begin = reinterpret_cast<uintptr_t>(payload - 1);
    auto end = reinterpret_cast<uintptr_t>(payload + SimpleAllocator::usable_words(payload));
    auto after = extents.lower_bound(begin);
    REQUIRE_MESSAGE((after == extents.end() || after->first >= end), "blocks overlap");
    REQUIRE_MESSAGE((after == extents.begin() || std::prev(after)->second <= begin),
                    "blocks overlap");
    bool inside = false;
    for (SimpleAllocator* region : regions) {
      auto first = region->heap_start();
      auto last = region->end();
      inside = inside || (begin >= first && end <= last);
    }
    REQUIRE_MESSAGE(inside, "a block lies outside every region");
    extents.emplace(begin, end);
    live_words += (end - begin) / 4;
  }

  void remove_extent(uint32_t* payload) {
    auto found = extents.find(reinterpret_cast<uintptr_t>(payload - 1));
    REQUIRE(found != extents.end());
    live_words -= (found->second - found->first) / 4;
    extents.erase(found);
  }

  void check_stats() {
    RegionStats stats = regions[0]->stats();
    REQUIRE(stats.live_blocks == live.size());
    REQUIRE(stats.allocated_words - stats.fragment_words == live_words);
    REQUIRE(stats.allocated_words + stats.unused_words == initial.total_words);
    REQUIRE(stats.total_words == initial.total_words);
    REQUIRE(stats.regions == regions.size());
  }

  void check_heap() {
    const char* breach = regions[0]->check();
    REQUIRE_MESSAGE(breach == nullptr, breach);
  }

  static bool same(const RegionStats& a, const RegionStats& b) {
    return a.allocated_words == b.allocated_words && a.unused_words == b.unused_words &&
           a.fragment_words == b.fragment_words && a.fragments == b.fragments &&
           a.live_blocks == b.live_blocks;
  }

  Rng rng;
  std::vector<std::vector<uint64_t>> buffers;
  std::vector<SimpleAllocator*> regions;
  RegionStats initial{};
  std::vector<Live> live;
  std::map<uintptr_t, uintptr_t> extents;
  uint64_t live_words = 0;
  uint32_t target_live = 0;
};

} // namespace

TEST_CASE("random operations against a shadow model") {
  uint64_t seed = env_or("KITALLOC_SEED", 20261122);
  uint64_t operations = env_or("KITALLOC_MODEL_OPS", 1000000);
  std::printf("model test: seed %llu, %llu operations (set KITALLOC_SEED / KITALLOC_MODEL_OPS)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(operations));
  Model model(seed);
  for (uint64_t index = 0; index < operations; ++index)
    model.step(index);
  model.finish();
  std::printf("model test: %llu allocs (%llu failed: region full), %llu frees, %llu resizes "
              "(%llu refused)\n",
              static_cast<unsigned long long>(model.allocs),
              static_cast<unsigned long long>(model.failed_allocs),
              static_cast<unsigned long long>(model.deallocs),
              static_cast<unsigned long long>(model.resizes),
              static_cast<unsigned long long>(model.failed_resizes));
  CHECK(model.allocs > operations / 4);
  CHECK(model.deallocs > operations / 4);
  CHECK(model.resizes > 0);
}
