// The wasm heap: from __heap_base to memory.size, grown with memory.grow. Under Emscripten,
// growth goes through emscripten_resize_heap so that the JS views of memory are renewed.
#include "heap.hpp"

#ifdef __EMSCRIPTEN__
#include <emscripten/heap.h>
#endif
#if __has_include(<errno.h>)
#include <errno.h>
#endif
#if __STDC_HOSTED__
#include <stdio.h>
#endif

extern "C" unsigned char __heap_base;

namespace kit {
namespace {

constexpr uint32_t kPageShift = 16;

uintptr_t memory_end() { return uintptr_t(__builtin_wasm_memory_size(0)) << kPageShift; }

uintptr_t grow_memory(uint32_t pages, uintptr_t* new_end) {
  uintptr_t old_end = memory_end();
#ifdef __EMSCRIPTEN__
  uintptr_t wanted = old_end + (uintptr_t(pages) << kPageShift);
  if (pages > (UINTPTR_MAX - old_end) >> kPageShift || !emscripten_resize_heap(wanted))
    return 0;
#else
  if (__builtin_wasm_memory_grow(0, pages) == size_t(-1)) // size_t: -1 is failure, not < 0
    return 0;
#endif
  *new_end = memory_end();
  return old_end;
}

} // namespace

Heap platform_heap() { return Heap{grow_memory, uintptr_t(&__heap_base), memory_end()}; }

bool restart_platform_heap() { return false; } // wasm memory never shrinks

#if __has_include(<errno.h>)
int error_code(Error error) { return error == Error::out_of_memory ? ENOMEM : EINVAL; }
void set_errno(Error error) { errno = error_code(error); }
#else
int error_code(Error error) { return error == Error::out_of_memory ? 12 : 22; }
void set_errno(Error) {}
#endif

#if __STDC_HOSTED__
void write_stderr(const char* bytes, size_t length) { fwrite(bytes, 1, length, stderr); }
#else
extern "C" __attribute__((import_module("env"), import_name("kit_write_stderr"))) void
kit_write_stderr(const char* bytes, size_t length);
void write_stderr(const char* bytes, size_t length) { kit_write_stderr(bytes, length); }
#endif

} // namespace kit
