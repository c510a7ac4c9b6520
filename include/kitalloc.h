/* kitalloc's C ABI.
 *
 * The malloc family under kitalloc's own names. In wasm builds the library also defines the
 * standard names (malloc, free, calloc, realloc, aligned_alloc, posix_memalign, memalign,
 * malloc_usable_size; __libc_malloc, __libc_free, __libc_calloc for wasi-libc) and, in the
 * freestanding build, C++ operator new and delete: linking libkitalloc.a is all it takes to
 * switch a module to kitalloc. Semantics of each call and edge case: README.md, "C ABI".
 * Not thread-safe: wasm modules here are single-threaded. */
#ifndef KITALLOC_H
#define KITALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void* kit_malloc(size_t size);
void kit_free(void* ptr);
void* kit_calloc(size_t count, size_t size);
void* kit_realloc(void* ptr, size_t size);
void* kit_aligned_alloc(size_t alignment, size_t size);
int kit_posix_memalign(void** out, size_t alignment, size_t size);
void* kit_memalign(size_t alignment, size_t size);
size_t kit_malloc_usable_size(const void* ptr);

/* One kind of region, summed along its chain. Units: 32-bit words for the small-block regions,
 * 64 KiB pages for the page store (large blocks and the runs holding small regions). */
typedef struct kit_region_stats {
  uint32_t regions;         /* regions in the chain */
  uint32_t total_words;     /* units managed */
  uint32_t allocated_words; /* up to the bump pointers: used blocks and fragments */
  uint32_t unused_words;    /* above the bump pointers */
  uint32_t fragment_words;  /* in free blocks */
  uint32_t fragments;       /* free blocks */
  uint32_t live_blocks;     /* used blocks */
} kit_region_stats;

typedef struct kit_stats {
  kit_region_stats small; /* blocks below 32 KiB, in words */
  kit_region_stats pages; /* the page store, in 64 KiB pages */
  uint32_t large_blocks;  /* blocks of 32 KiB and more */
  uint32_t grow_calls;    /* successful calls to grow memory */
  uint32_t grown_pages;   /* pages those calls added */
} kit_stats;

/* The global heap's figures. */
void kit_get_stats(kit_stats* out);
/* Verifies every invariant of every region and span: NULL when all hold, else a description
 * of the first breach. Costs O(blocks). */
const char* kit_check(void);

#ifdef __cplusplus
}
#endif

#endif /* KITALLOC_H */
