// The standard names, in wasm builds: linking libkitalloc.a replaces the toolchain's malloc.
// wasi-libc keeps its whole malloc family (and __libc_*) in one member, dlmalloc.o: defining
// every name it defines keeps that member out of the link. Not built natively, where the
// host's malloc stays.
#include "kitalloc.h"

extern "C" {

void* malloc(size_t size) { return kit_malloc(size); }
void free(void* ptr) { kit_free(ptr); }
void* calloc(size_t count, size_t size) { return kit_calloc(count, size); }
void* realloc(void* ptr, size_t size) { return kit_realloc(ptr, size); }
void* aligned_alloc(size_t alignment, size_t size) { return kit_aligned_alloc(alignment, size); }
int posix_memalign(void** out, size_t alignment, size_t size) {
  return kit_posix_memalign(out, alignment, size);
}
void* memalign(size_t alignment, size_t size) { return kit_memalign(alignment, size); }
size_t malloc_usable_size(void* ptr) { return kit_malloc_usable_size(ptr); }

void* __libc_malloc(size_t size) { return kit_malloc(size); }
void __libc_free(void* ptr) { kit_free(ptr); }
void* __libc_calloc(size_t count, size_t size) { return kit_calloc(count, size); }

} // extern "C"
