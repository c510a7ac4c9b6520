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

/* The global heap's figures. Byte figures count usable bytes (malloc_usable_size) of live
 * blocks. Every field after `pages` is kept as it happens (O(1)); the two kit_region_stats sum
 * over their chains (O(regions)). The layout is the same on wasm32 and 64-bit hosts: 20 32-bit
 * fields, then 64-bit ones from byte 80 (JavaScript reads it with a DataView). */
typedef struct kit_stats {
  kit_region_stats small;   /* blocks below 32 KiB, in words */
  kit_region_stats pages;   /* the page store, in 64 KiB pages */
  uint32_t large_blocks;    /* blocks of 32 KiB and more */
  uint32_t large_pages;     /* pages those blocks' runs take */
  uint32_t own_runs;        /* kitalloc's own page runs (0-2): the page map once memory passes */
  uint32_t own_pages;       /* 8 MiB, the region table once a 65th region is needed; their pages */
  uint32_t grow_calls;      /* successful calls to grow memory */
  uint32_t grown_pages;     /* pages those calls added */
  uint64_t memory_bytes;    /* memory kitalloc owns: from its heap start to the end of memory */
  uint64_t bytes_in_use;    /* usable bytes of live blocks */
  uint64_t peak_bytes;      /* highest bytes_in_use so far */
  uint64_t trip_peak_bytes; /* highest bytes_in_use since kit_reset_trip_peak() */
  uint64_t malloc_calls;    /* malloc, and operator new */
  uint64_t calloc_calls;
  uint64_t realloc_calls;
  uint64_t aligned_calls; /* aligned_alloc, posix_memalign, memalign, aligned operator new */
  uint64_t free_calls;    /* free of a non-NULL pointer, and operator delete */
  uint64_t failed_calls;  /* calls that returned NULL or an error: out of memory, bad input */
} kit_stats;

void kit_get_stats(kit_stats* out);
/* Starts a new trip: trip_peak_bytes becomes the current bytes_in_use. */
void kit_reset_trip_peak(void);

/* Verifies every invariant of every region and span: NULL when all hold, else a description
 * of the first breach. Costs O(blocks). */
const char* kit_check(void);

/* The checked build (cmake -DKITALLOC_CHECKED=ON) verifies every pointer given to free,
 * realloc and malloc_usable_size: misaligned, outside the heap, not a live block (a double
 * free, a pointer into a block), or a block whose end was written past. Each failure is
 * reported to the hook and the call does nothing (realloc returns NULL, malloc_usable_size 0).
 * The default hook (NULL) prints "kitalloc: <call>(<pointer>): <problem>" to standard error
 * where there is one, then traps. Returns the previous hook. The normal build never calls the
 * hook: it ignores the pointers it can tell are bad (README, "What bad input gets"). */
typedef void (*kit_failure_hook)(const char* call, const char* problem, const void* pointer);
kit_failure_hook kit_set_failure_hook(kit_failure_hook hook);

/* kit_walk: every part of the heap, in address order. A span (memory kitalloc owns in one
 * piece) is followed by its page runs: a small-block region (followed by its blocks, then its
 * unused tail), a large block, a run of kitalloc's own, or a free run; then the span's unused
 * top. The region below the
 * first page boundary, if any, comes first. Addresses and sizes in bytes; `index` is the
 * region's number (regions, blocks) or the span's (spans, runs). */
typedef enum kit_walk_kind {
  KIT_WALK_SPAN = 0,
  KIT_WALK_REGION = 1,
  KIT_WALK_USED = 2,     /* a used block in a region (header included) */
  KIT_WALK_FREE = 3,     /* a free block in a region */
  KIT_WALK_UNUSED = 4,   /* above a bump pointer: a region's tail, a span's top */
  KIT_WALK_LARGE = 5,    /* a large block's page run */
  KIT_WALK_FREE_RUN = 6, /* a free page run */
  KIT_WALK_OWN = 7,      /* a page run of kitalloc's own: the page map, the region table */
} kit_walk_kind;

typedef struct kit_walk_entry {
  uint64_t address;
  uint64_t bytes;
  uint32_t kind; /* kit_walk_kind */
  uint32_t index;
} kit_walk_entry;

typedef void (*kit_walk_visitor)(const kit_walk_entry* entry, void* context);
/* Calls visit for each entry; the heap must not change meanwhile. O(blocks). */
void kit_walk(kit_walk_visitor visit, void* context);
/* The same into an array (for JavaScript): writes up to `capacity` entries, returns how many
 * there are in all. */
size_t kit_walk_into(kit_walk_entry* out, size_t capacity);

/* A histogram of request sizes, only in builds with -DKITALLOC_SIZE_HISTOGRAM=ON (alloc_cat's
 * audit_sizes): bucket i counts requests of bit-width i bytes (0: size 0, 1: 1, 2: 2..3,
 * ... 32: 2^31 and more). Writes min(count, 33) buckets and returns that number; returns 0,
 * writing nothing, in builds without it. */
size_t kit_size_histogram(uint64_t* buckets, size_t count);

/* ── Private heaps ─────────────────────────────────────────────────────────────────────────
 * A private heap is a set of small-block regions and large blocks of its own, carved from the
 * page store of the global heap: allocating in it touches no other heap's free lists. At the
 * end of a task it is either dropped (every block it holds is released at once: O(regions and
 * large blocks), never per block) or merged into its parent (its blocks stay valid and become
 * the parent's; its free space is the parent's to allocate from). Heaps nest: a heap's
 * children are dropped with it, and become its parent's children when it merges.
 * NULL as a heap means the main heap (the one malloc uses). A block's heap is known from its
 * address, so kit_free, free and kit_heap_free all free any heap's block into its own heap,
 * and realloc keeps a block in its heap. A heap that was dropped or merged (or any pointer
 * kitalloc did not return from kit_heap_create) is refused: calls return NULL or
 * KIT_E_BAD_HEAP and change nothing. Memory: the heap's record is a block of the main heap
 * (88 bytes on a 64-bit host, 64 on wasm32); its regions are page runs (64 KiB each at least). */
typedef struct kit_heap kit_heap;

typedef enum kit_status {
  KIT_OK = 0,
  KIT_E_NO_MEMORY = 1,  /* nothing changed */
  KIT_E_BAD_HEAP = 2,   /* not a live heap from kit_heap_create */
  KIT_E_BAD_HANDLE = 3, /* never handed out, already freed, or forged */
  KIT_E_LOCKED = 4,     /* kit_handle_free of a locked handle: unlock it first */
  KIT_E_NOT_LOCKED = 5, /* kit_handle_unlock of a handle that is not locked */
} kit_status;

/* A new heap under parent (NULL: the main heap) with room for initial_bytes of small blocks
 * reserved at once (0: none until the first allocation). NULL when out of memory or parent is
 * not a live heap. */
kit_heap* kit_heap_create(kit_heap* parent, size_t initial_bytes);
/* malloc in heap: blocks below 32 KiB in its regions, larger ones in page runs it owns. */
void* kit_heap_malloc(kit_heap* heap, size_t size);
/* free of a block of any heap, by its address (heap is not consulted): as kit_free. */
void kit_heap_free(kit_heap* heap, void* ptr);
/* realloc: ptr NULL allocates in heap; otherwise the block is resized, or moved within the
 * heap it belongs to. */
void* kit_heap_realloc(kit_heap* heap, void* ptr, size_t size);
/* Releases every block of heap and of the heaps under it, and the heaps themselves. */
kit_status kit_heap_drop(kit_heap* heap);
/* heap's blocks, regions and child heaps become its parent's; heap itself is gone. */
kit_status kit_heap_merge(kit_heap* heap);
/* kit_stats of one heap (NULL: the main heap's own blocks): its regions, large blocks, bytes
 * in use and peak, and memory_bytes = the memory its regions and large runs take. Call counts
 * are the global heap's only and read 0 here. KIT_E_BAD_HEAP for a dead heap. */
kit_status kit_heap_get_stats(kit_heap* heap, kit_stats* out);

/* ── Relocatable handles and compaction ───────────────────────────────────────────────────
 * A block that may move. kit_handle_lock pins it and returns its address (16-byte aligned);
 * while no lock is held, kit_compact may move it. Handle blocks live in regions of their own
 * in the main heap's page store (so compaction never has to step around malloc blocks);
 * malloc and handles share the heap's memory. The handle table is one block of the main heap,
 * 8 bytes per handle, grown by doubling; each handle block also carries its handle's number
 * in a hidden word before the payload (so with the block header a handle costs 16 bytes more
 * than its payload, rounded to 16). A handle is (generation << 20 | index): about a million
 * live handles, and a freed handle is refused until its slot has been reused 4095 times.
 * kit_handle 0 is never a handle. Not for private heaps: handles belong to the main heap. */
typedef uint32_t kit_handle;

/* A handle for size bytes (its contents undefined), or 0 when out of memory. */
kit_handle kit_handle_alloc(size_t size);
/* Pins the block and returns its address; locks nest (each lock needs an unlock). NULL for a
 * bad handle. */
void* kit_handle_lock(kit_handle handle);
/* Undoes one lock. KIT_E_NOT_LOCKED when there is none (nothing changes). */
kit_status kit_handle_unlock(kit_handle handle);
/* Frees the block; the handle becomes bad. KIT_E_LOCKED while locked (nothing changes). */
kit_status kit_handle_free(kit_handle handle);
/* Bytes the block can hold (at least what was asked), or 0 for a bad handle. */
size_t kit_handle_size(kit_handle handle);

typedef struct kit_compact_result {
  uint64_t moved_blocks;       /* handle blocks that moved */
  uint64_t moved_bytes;        /* and their bytes */
  uint64_t released_bytes;     /* memory handle regions gave back to the page store */
  uint64_t largest_free_bytes; /* the largest malloc the heap can now serve without growing */
  uint32_t locked_blocks;      /* handle blocks that stayed because they were locked */
  uint32_t reserved;
} kit_compact_result;

/* Slides every unlocked handle block down over the free space before it, moves blocks of
 * newer handle regions into older ones where they fit, and gives emptied pages back to the
 * page store. Locked blocks stay; the free space around them is merged. O(handle blocks).
 * out may be NULL. */
void kit_compact(kit_compact_result* out);
/* Whether an allocation that would otherwise grow memory first compacts, when the handle
 * regions hold enough free memory that compaction could make room (on by default). Returns the
 * previous setting. */
int kit_set_auto_compact(int enabled);

#ifdef __cplusplus
}
#endif

#endif /* KITALLOC_H */
