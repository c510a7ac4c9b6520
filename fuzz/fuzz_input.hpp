// What the fuzz targets share besides the shadow model: reading an input as a sequence of
// operations, counting the operations that ran (printed at exit, so that scripts/fuzz.sh can
// report what was really exercised), and reporting a breach in terms of that sequence.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace kit::fuzz {

// Reads bytes front to back. Past the end every read returns 0: any byte string decodes to a
// valid sequence, and the mutator can cut an input anywhere.
class InputDecoder {
public:
  InputDecoder(const uint8_t* data, size_t size) : next_(data), end_(data + size) {}

  bool exhausted() const { return next_ == end_; }
  uint8_t byte() { return next_ == end_ ? 0 : *next_++; }
  uint16_t u16() { return uint16_t(byte() | byte() << 8); }
  uint32_t u24() { return uint32_t(u16()) | uint32_t(byte()) << 16; }

private:
  const uint8_t* next_;
  const uint8_t* end_;
};

// Counts inputs and the operations decoded from them, and names the one running, for the
// failure message. One per target, static: it prints its totals when the fuzzer exits.
class OperationTally {
public:
  explicit OperationTally(const char* target) : target_(target) {
    instance_ = this;
    std::atexit([] { instance_->print_totals(); });
  }

  void start_input() {
    inputs_ += 1;
    operation_in_input_ = 0;
    operation_name_ = "setup";
  }
  void start_operation(const char* name) {
    operations_ += 1;
    operation_in_input_ += 1;
    operation_name_ = name;
  }

  // Reports a breach with the operation that caused it, then aborts: libFuzzer saves the
  // input as a crash and a replay stops at the same place.
  [[noreturn]] __attribute__((format(printf, 2, 3))) void fail(const char* format, ...) {
    std::fprintf(stderr, "\n%s: FAILURE at operation %llu (%s) of this input: ", target_,
                 static_cast<unsigned long long>(operation_in_input_), operation_name_);
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fprintf(stderr, "\n");
    std::abort();
  }

  void require(bool holds, const char* breach) {
    if (!holds)
      fail("%s", breach);
  }

private:
  void print_totals() const {
    std::fprintf(stderr, "%s: %llu operations decoded from %llu inputs\n", target_,
                 static_cast<unsigned long long>(operations_),
                 static_cast<unsigned long long>(inputs_));
  }

  static inline OperationTally* instance_ = nullptr;
  const char* target_;
  uint64_t inputs_ = 0;
  uint64_t operations_ = 0;
  uint64_t operation_in_input_ = 0;
  const char* operation_name_ = "setup";
};

} // namespace kit::fuzz
