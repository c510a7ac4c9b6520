// What bench/harness.cpp and bench/heaps.cpp share: random numbers with fixed seeds (the same
// sequence on every allocator) and a monotonic clock.
#pragma once

#include <stdint.h>
#include <time.h>

namespace bench {

class Rng {
public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint32_t next() { // xorshift64*
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return uint32_t((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }
  uint32_t below(uint32_t bound) { return uint32_t((uint64_t(next()) * bound) >> 32); }
  uint32_t between(uint32_t low, uint32_t high) { return low + below(high - low + 1); }

private:
  uint64_t state_;
};

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

} // namespace bench
