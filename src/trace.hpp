// The trace build (cmake -DKITALLOC_TRACE=ON): every successful call of the C ABI writes one
// line to standard error, so that any program linked with kitalloc records its allocations
// for bench/ to replay on every allocator (format: docs/BENCHMARKS.md, "Trace formats").
//   kitalloc-trace 1          once, first
//   a <p> <n> [<align>]       malloc, aligned_alloc / memalign / posix_memalign, realloc(NULL, n)
//   c <p> <count> <size>      calloc
//   r <p> <n> [<q>]           realloc resized in place, or moved to q
//   f <p>                     free, realloc(p, 0)
// Pointers in hex, numbers in decimal. Freestanding modules write through the import
// env.kit_write_stderr. In the normal build kEnabled is false and the calls compile away.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifndef KITALLOC_TRACE
#define KITALLOC_TRACE 0
#endif

namespace kit::trace {

inline constexpr bool kEnabled = KITALLOC_TRACE;

// One line: the operation, the block, then `count` (0 to 2) decimal numbers.
void record(char operation, const void* ptr, int count = 0, uint64_t first = 0,
            uint64_t second = 0);
// realloc that moved the block from `from` to `to`.
void record_move(const void* from, uint64_t size, const void* to);

} // namespace kit::trace
