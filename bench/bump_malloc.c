/* The benchmark's two reference points, from one file:
 * - the floor (default): a bump allocator that never frees, the least work per malloc;
 * - with -DFREE_LISTS=1, the ceiling: the same bump allocator with one LIFO free list per power
 *   of two. A block takes the power of two its size rounds up to; free pushes it on its list
 *   and the next request of that class pops it. No checks, no coalescing, no figures, memory
 *   never given back: the least work an allocator that reuses memory can do per malloc and
 *   free, so its speed is about what this harness can show of any allocator
 *   (docs/BENCHMARKS.md).
 * Each block has a 16-byte header holding its size (for realloc and malloc_usable_size) and,
 * with free lists, its list (class and alignment); memory grows in 16 MiB steps, since growing
 * a page at a time would make the floor mostly the cost of memory.grow. Fresh memory reads as
 * zeros: the floor's calloc needs no memset (with free lists, calloc clears every block).
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
  uintptr_t payload = (next_free + HEADER_BYTES + alignment - 1) & ~(uintptr_t)(alignment - 1);
  uintptr_t end = payload + size;
  if (size > UINTPTR_MAX - payload || !reach(end)) {
    SET_ERRNO(ENOMEM);
    return NULL;
  }
  next_free = end;
  return (void*)payload;
}

/* The header: the size asked for, then (free lists) the block's class. */
static size_t* header(const void* ptr) { return (size_t*)((uintptr_t)ptr - HEADER_BYTES); }
static size_t block_size(const void* ptr) { return header(ptr)[0]; }

#ifndef FREE_LISTS
#define FREE_LISTS 0
#endif
#define CLASSES 32
/* Lists by alignment too (16, 32, ..., 4096 bytes): a block keeps the alignment it was made
 * for, and only requests of that alignment reuse it. */
#define ALIGNMENTS 9
#define MIN_ALIGNMENT_SHIFT 4
static void* free_lists[ALIGNMENTS][CLASSES]; /* the newest free block of each list */

/* The power of two (at least 16) that `size` rounds up to; CLASSES when there is none. */
static uint32_t class_of(size_t size) {
  if (size <= HEADER_BYTES)
    return 4;
  return size - 1 > UINT32_MAX >> 1 ? CLASSES : 32 - (uint32_t)__builtin_clz((uint32_t)(size - 1));
}

/* The list of a block of size_class made for `alignment`: header word 1 holds both indexes. */
static uint32_t list_of(uint32_t size_class, size_t alignment) {
  uint32_t shift = (uint32_t)__builtin_ctz((uint32_t)alignment) - MIN_ALIGNMENT_SHIFT;
  return (shift < ALIGNMENTS ? shift : ALIGNMENTS - 1) * CLASSES + size_class;
}
static void** list_head(uint32_t list) { return &free_lists[0][0] + list; }

/* The bytes the block at ptr can hold. */
static size_t capacity(const void* ptr) {
  return FREE_LISTS ? (size_t)1 << (header(ptr)[1] % CLASSES) : block_size(ptr);
}

static void* allocate(size_t alignment, size_t size) {
  if (alignment < HEADER_BYTES)
    alignment = HEADER_BYTES;
  void* payload;
  if (!FREE_LISTS) {
    payload = bump(alignment, size);
  } else {
    uint32_t size_class = class_of(size);
    if (size_class == CLASSES) {
      SET_ERRNO(ENOMEM);
      return NULL;
    }
    uint32_t list = list_of(size_class, alignment);
    void** head = list_head(list);
    /* Blocks made for more than the largest list's alignment go on that list when freed. */
    payload = alignment >> MIN_ALIGNMENT_SHIFT < 1u << ALIGNMENTS ? *head : NULL;
    if (payload != NULL)
      *head = *(void**)payload;
    else
      payload = bump(alignment, (size_t)1 << size_class);
    if (payload != NULL)
      header(payload)[1] = list;
  }
  if (payload != NULL)
    header(payload)[0] = size;
  return payload;
}

void* malloc(size_t size) { return allocate(HEADER_BYTES, size); }

void free(void* ptr) {
  if (!FREE_LISTS || ptr == NULL)
    return;
  void** head = list_head(header(ptr)[1]);
  *(void**)ptr = *head;
  *head = ptr;
}

void* calloc(size_t count, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    SET_ERRNO(ENOMEM);
    return NULL;
  }
  void* payload = allocate(HEADER_BYTES, bytes);
  if (FREE_LISTS && payload != NULL) /* a block from a list is not fresh */
    __builtin_memset(payload, 0, bytes);
  return payload;
}

void* realloc(void* ptr, size_t size) {
  if (ptr == NULL)
    return malloc(size);
  if (size <= capacity(ptr)) {
    header(ptr)[0] = size;
    return ptr;
  }
  void* moved = malloc(size);
  if (moved != NULL) {
    __builtin_memcpy(moved, ptr, block_size(ptr));
    free(ptr);
  }
  return moved;
}

void* aligned_alloc(size_t alignment, size_t size) {
  if (!is_valid_alignment(alignment)) {
    SET_ERRNO(EINVAL);
    return NULL;
  }
  return allocate(alignment, size);
}

void* memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!is_valid_alignment(alignment) || alignment % sizeof(void*) != 0)
    return EINVAL;
  void* ptr = allocate(alignment, size);
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
