// One line of text built without libc (the checked build's reports, the trace build's lines),
// then written to standard error through the heap layer. Text past the buffer is dropped.
#pragma once

#include "heap.hpp"

namespace kit {

class Line {
public:
  Line& text(const char* characters) {
    while (*characters != 0)
      put(*characters++);
    return *this;
  }
  Line& hex(uintptr_t value) {
    text("0x");
    int shift = int(sizeof(uintptr_t) * 8) - 4;
    while (shift > 0 && ((value >> shift) & 15) == 0)
      shift -= 4;
    for (; shift >= 0; shift -= 4)
      put("0123456789abcdef"[(value >> shift) & 15]);
    return *this;
  }
  Line& decimal(uint64_t value) {
    char digits[20];
    int count = 0;
    do {
      digits[count++] = char('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (count > 0)
      put(digits[--count]);
    return *this;
  }
  void write() {
    put('\n');
    write_stderr(characters_, length_);
  }

private:
  void put(char character) {
    if (length_ < sizeof characters_)
      characters_[length_++] = character;
  }
  char characters_[200];
  size_t length_ = 0;
};

} // namespace kit
