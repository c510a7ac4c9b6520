// The trace build's lines; the format is in trace.hpp.
#include "trace.hpp"

#include "line.hpp"

namespace kit::trace {
namespace {

constinit bool header_written = false;

Line start(char operation, const void* ptr) {
  if (!header_written) {
    header_written = true;
    Line().text("kitalloc-trace 1").write();
  }
  Line line;
  char text[3] = {operation, ' ', 0};
  line.text(text).hex(uintptr_t(ptr));
  return line;
}

} // namespace

void record(char operation, const void* ptr, int count, uint64_t first, uint64_t second) {
  Line line = start(operation, ptr);
  if (count >= 1)
    line.text(" ").decimal(first);
  if (count >= 2)
    line.text(" ").decimal(second);
  line.write();
}

void record_move(const void* from, uint64_t size, const void* to) {
  start('r', from).text(" ").decimal(size).text(" ").hex(uintptr_t(to)).write();
}

} // namespace kit::trace
