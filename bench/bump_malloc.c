/* The benchmark's floor: a bump allocator that never frees. Each block has a 16-byte header
 * holding its size (for realloc and malloc_usable_size); memory grows in 16 MiB steps, since
 * growing a page at a time would make the floor mostly the cost of memory.grow. Memory is never
 * reused, and fresh memory reads as zeros, so calloc needs no memset.
 *
 * Defines the whole malloc family, including wasi-libc's __libc_* names, so that linking it
 * keeps wasi-libc's dlmalloc out (docs/BENCHMARKS.md). Builds for WASI and freestanding wasm32
 * (no libc: memcpy is memory.copy through -mbulk-memory, no errno). */
#include <stddef.h>
#include <stdint.h>
#ifdef __wasi__
#include <errno.h>
#define SET_ERRNO(code) (errno = (code))
#else
#define SET_ERRNO(code) ((void)0)
#define ENOMEM 12
#define EINVAL 22
#endif

#define HEADER_BYTES 16u
#define PAGE_BYTES 65536u
#define GROWTH_STEP_BYTES (16u << 20)

extern unsigned char __heap_base;

static uintptr_t next_free; /* 0 until the first allocation */

static int is_valid_alignment(size_t alignment) {
  return alignment != 0 && (alignment & (alignment - 1)) == 0 && alignment <= PAGE_BYTES;
}

/* Makes memory reach `end`: a whole growth step when possible, else exactly what is missing. */
static int reach(uintptr_t end) {
  uintptr_t memory_end = __builtin_wasm_memory_size(0) * (uintptr_t)PAGE_BYTES;
  if (end <= memory_end)
    return 1;
  size_t missing_pages = (end - memory_end + PAGE_BYTES - 1) / PAGE_BYTES;
  size_t step_pages = GROWTH_STEP_BYTES / PAGE_BYTES;
  if (missing_pages < step_pages && __builtin_wasm_memory_grow(0, step_pages) != (size_t)-1)
    return 1;
  return __builtin_wasm_memory_grow(0, missing_pages) != (size_t)-1;
}

static void* bump(size_t alignment, size_t size) {
  if (next_free == 0)
    next_free = (uintptr_t)&__heap_base;
  if (alignment < HEADER_BYTES)
    alignment = HEADER_BYTES;
  uintptr_t payload = (next_free + HEADER_BYTES + alignment - 1) & ~(uintptr_t)(alignment - 1);
  uintptr_t end = payload + size;
  if (size > UINTPTR_MAX - payload || !reach(end)) {
    SET_ERRNO(ENOMEM);
    return NULL;
  }
  *(size_t*)(payload - HEADER_BYTES) = size;
  next_free = end;
  return (void*)payload;
}

static size_t block_size(const void* ptr) {
  return *(const size_t*)((uintptr_t)ptr - HEADER_BYTES);
}

void* malloc(size_t size) { return bump(HEADER_BYTES, size); }

void free(void* ptr) { (void)ptr; }

void* calloc(size_t count, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    SET_ERRNO(ENOMEM);
    return NULL;
  }
  return bump(HEADER_BYTES, bytes);
}

void* realloc(void* ptr, size_t size) {
  if (ptr == NULL)
    return malloc(size);
  size_t old_size = block_size(ptr);
  if (size <= old_size) {
    *(size_t*)((uintptr_t)ptr - HEADER_BYTES) = size;
    return ptr;
  }
  void* moved = malloc(size);
  if (moved != NULL)
    __builtin_memcpy(moved, ptr, old_size);
  return moved;
}

void* aligned_alloc(size_t alignment, size_t size) {
  if (!is_valid_alignment(alignment)) {
    SET_ERRNO(EINVAL);
    return NULL;
  }
  return bump(alignment, size);
}

void* memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!is_valid_alignment(alignment) || alignment % sizeof(void*) != 0)
    return EINVAL;
  void* ptr = bump(alignment, size);
  if (ptr == NULL)
    return ENOMEM;
  *out = ptr;
  return 0;
}

size_t malloc_usable_size(void* ptr) { return ptr == NULL ? 0 : block_size(ptr); }

#ifdef __wasi__
void* __libc_malloc(size_t size) { return malloc(size); }
void __libc_free(void* ptr) { free(ptr); }
void* __libc_calloc(size_t count, size_t size) { return calloc(count, size); }
#endif
