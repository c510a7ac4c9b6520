// The C ABI over the global heap (semantics: README.md, "C ABI").
#include "kitalloc.h"

#include "allocator.hpp"
#include "checked.hpp"
#include "handles.hpp"
#include "trace.hpp"

namespace kit {
namespace {

constinit Allocator global;
constinit bool ready = false;

// Out of line, so that the calls that find the heap ready need no stack frame.
[[gnu::noinline, gnu::cold]] void init_heap() {
  global.init(platform_heap());
  ready = true;
}

Allocator& heap() {
  if (!ready) [[unlikely]]
    init_heap();
  return global;
}

constinit Handles handles;

// What kit_stats reports of the calls themselves. Calls made on behalf of another (realloc's
// malloc and free) are not counted again.
struct CallCounts {
  uint64_t malloc, calloc, realloc, aligned, free, failed;
};
constinit CallCounts calls = {};

// Requests by bit width of their size, in builds with KITALLOC_SIZE_HISTOGRAM.
#ifndef KITALLOC_SIZE_HISTOGRAM
#define KITALLOC_SIZE_HISTOGRAM 0
#endif
constexpr size_t kHistogramBuckets = 33;
constexpr size_t kHistogramSlots = KITALLOC_SIZE_HISTOGRAM ? kHistogramBuckets : 1;
constinit uint64_t size_histogram[kHistogramSlots] = {};

void count_request(size_t size) {
  if constexpr (KITALLOC_SIZE_HISTOGRAM) {
    size_t width = size == 0 ? 0 : sizeof(size_t) * 8 - __builtin_clzll(size);
    size_histogram[width < kHistogramBuckets ? width : kHistogramBuckets - 1] += 1;
  }
}

template <typename T> T failed(T result) {
  calls.failed += 1;
  return result;
}

constexpr uint32_t kDefaultAlignBits = __builtin_ctz(alignof(max_align_t));

bool valid_alignment(size_t alignment) {
  return alignment != 0 && (alignment & (alignment - 1)) == 0 &&
         alignment <= (size_t(1) << kMaxAlignBits);
}

uint32_t align_bits_of(size_t alignment) {
  auto bits = uint32_t(__builtin_ctzll(alignment));
  return bits > kDefaultAlignBits ? bits : kDefaultAlignBits;
}

// In the trace build: one line for a successful call (trace.hpp). Returns ptr.
template <typename... Numbers> void* traced(char operation, void* ptr, Numbers... numbers) {
  if constexpr (trace::kEnabled)
    if (ptr != nullptr)
      trace::record(operation, ptr, int(sizeof...(numbers)), uint64_t(numbers)...);
  return ptr;
}

// What a new block's bytes must be: calloc's zeros, or anything.
enum class Fill { any, zeros };

// A block for `size` bytes in `space` (sealed in the checked build), or nullptr; sets no errno.
// The fill is a template argument, so that only calloc's copy gives `fresh` an address (and
// a stack frame).
template <Fill kFill> KIT_HOT_PATH void* allocate(size_t size, uint32_t align_bits, Space& space) {
  constexpr bool zeroed = kFill == Fill::zeros;
  count_request(size);
  size_t request = size;
  if (checked::kEnabled && !checked::padded_size(size, &request))
    return nullptr;
  bool fresh = false;
  void* ptr = heap().alloc(space, request, align_bits, zeroed ? &fresh : nullptr);
  if (ptr == nullptr)
    return nullptr;
  if (zeroed && !fresh)
    __builtin_memset(ptr, 0, size);
  if constexpr (checked::kEnabled)
    checked::seal(heap(), ptr, size);
  return ptr;
}

// allocate, setting errno and counting the failure when there is no block.
template <Fill kFill = Fill::any> void* alloc(size_t size, uint32_t align_bits, Space& space) {
  void* ptr = allocate<kFill>(size, align_bits, space);
  if (ptr == nullptr) {
    set_errno(Error::out_of_memory);
    return failed(nullptr);
  }
  return ptr;
}

// The same in the main heap.
template <Fill kFill = Fill::any> void* alloc(size_t size, uint32_t align_bits) {
  return alloc<kFill>(size, align_bits, heap().main_space());
}

// The space a kit_heap names (NULL: the main heap), or nullptr when it is not a live heap.
Space* space_of(kit_heap* heap_handle) {
  auto* space = reinterpret_cast<Space*>(heap_handle);
  if (space == nullptr)
    return &heap().main_space();
  return heap().is_live(space) ? space : nullptr;
}

// Frees a block the caller already verified (checked build) or that kitalloc cannot tell is
// bad; false, changing nothing, for a pointer it can.
KIT_HOT_PATH bool release(void* ptr) {
  bool small = checked::kEnabled && !heap().is_large(ptr);
  if (!heap().free(ptr))
    return false;
  if constexpr (checked::kEnabled)
    if (small)
      checked::mark_freed(ptr);
  return true;
}

// In the checked build: verifies ptr for `call`, reporting a failure. Always true otherwise.
bool verified(const void* ptr, const char* call) {
  if constexpr (checked::kEnabled)
    return checked::verify(heap(), ptr, call);
  return true;
}

// Bytes of the block the caller may use: what it asked for, in the checked build.
size_t usable_bytes(const void* ptr) {
  if constexpr (checked::kEnabled)
    return checked::requested_size(heap(), ptr);
  return heap().usable_size(ptr);
}

} // namespace
} // namespace kit

using namespace kit;

// In WASI and Emscripten modules these are exported to JavaScript under their own names (the
// heap viewer, a test harness need nothing else), unless built with -DKITALLOC_JS_EXPORTS=OFF:
// an export keeps its function and all it calls in every program (about 20 KB). A freestanding
// module lists its exports itself (-Wl,--export=kit_get_stats), so one exporting only the
// malloc family stays small.
#ifndef KITALLOC_JS_EXPORTS
#define KITALLOC_JS_EXPORTS 1
#endif
#if defined(__wasm__) && __STDC_HOSTED__ && KITALLOC_JS_EXPORTS
#define KIT_JS_EXPORTS_ON 1
#define KIT_JS_EXPORT(name) __attribute__((export_name(#name))) name
#else
#define KIT_JS_EXPORTS_ON 0
#define KIT_JS_EXPORT(name) name
#endif

extern "C" {

void* kit_malloc(size_t size) {
  calls.malloc += 1;
  return traced('a', alloc(size, kDefaultAlignBits), size);
}

void kit_free(void* ptr) {
  if (ptr == nullptr)
    return;
  calls.free += 1;
  if (!verified(ptr, "free") || !release(ptr))
    calls.failed += 1;
  else
    traced('f', ptr);
}

void* kit_calloc(size_t count, size_t size) {
  calls.calloc += 1;
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    set_errno(Error::out_of_memory);
    return failed(nullptr);
  }
  return traced('c', alloc<Fill::zeros>(bytes, kDefaultAlignBits), count, size);
}

void* kit_realloc(void* ptr, size_t size) {
  calls.realloc += 1;
  if (ptr == nullptr)
    return traced('a', alloc(size, kDefaultAlignBits), size);
  if (!verified(ptr, "realloc"))
    return failed(nullptr);
  Space* space = heap().malloc_space_of(ptr);
  if (space == nullptr) // the normal build's cheap check: freed, parked, or a handle's block
    return failed(nullptr);
  if (size == 0) { // as dlmalloc and emmalloc, which kitalloc replaces: free, return NULL
    if (release(ptr))
      traced('f', ptr);
    return nullptr;
  }
  size_t request = size;
  if (checked::kEnabled && !checked::padded_size(size, &request))
    return failed(nullptr);
  size_t old_size = usable_bytes(ptr);
  if (heap().resize(ptr, request, kDefaultAlignBits)) {
    if constexpr (checked::kEnabled)
      checked::seal(heap(), ptr, size);
    return traced('r', ptr, size);
  }
  void* moved = alloc(size, kDefaultAlignBits, *space);
  if (moved == nullptr)
    return nullptr; // the old block is untouched
  __builtin_memcpy(moved, ptr, old_size < size ? old_size : size);
  release(ptr);
  if constexpr (trace::kEnabled)
    trace::record_move(ptr, size, moved);
  return moved;
}

void* kit_aligned_alloc(size_t alignment, size_t size) {
  calls.aligned += 1;
  if (!valid_alignment(alignment)) {
    set_errno(Error::invalid_argument);
    return failed(nullptr);
  }
  return traced('a', alloc(size, align_bits_of(alignment)), size, alignment);
}

void* kit_memalign(size_t alignment, size_t size) { return kit_aligned_alloc(alignment, size); }

int kit_posix_memalign(void** out, size_t alignment, size_t size) {
  calls.aligned += 1;
  if (!valid_alignment(alignment) || alignment % sizeof(void*) != 0)
    return failed(error_code(Error::invalid_argument));
  void* ptr = allocate<Fill::any>(size, align_bits_of(alignment), heap().main_space());
  if (ptr == nullptr)
    return failed(error_code(Error::out_of_memory));
  *out = traced('a', ptr, size, alignment);
  return 0;
}

size_t kit_malloc_usable_size(const void* ptr) {
  return ptr == nullptr || !verified(ptr, "malloc_usable_size") ? 0 : usable_bytes(ptr);
}

void KIT_JS_EXPORT(kit_get_stats)(kit_stats* out) {
  *out = heap().stats();
  out->malloc_calls = calls.malloc;
  out->calloc_calls = calls.calloc;
  out->realloc_calls = calls.realloc;
  out->aligned_calls = calls.aligned;
  out->free_calls = calls.free;
  out->failed_calls = calls.failed;
}

void KIT_JS_EXPORT(kit_reset_trip_peak)(void) { heap().reset_trip_peak(); }

const char* KIT_JS_EXPORT(kit_check)(void) { return heap().check(); }

void kit_walk(kit_walk_visitor visit, void* context) { heap().walk(visit, context); }

size_t KIT_JS_EXPORT(kit_walk_into)(kit_walk_entry* out, size_t capacity) {
  struct Into {
    kit_walk_entry* out;
    size_t capacity, count;
  } into = {out, capacity, 0};
  kit_walk(
      [](const kit_walk_entry* entry, void* context) {
        auto* into = static_cast<Into*>(context);
        if (into->count < into->capacity)
          into->out[into->count] = *entry;
        into->count += 1;
      },
      &into);
  return into.count;
}

size_t KIT_JS_EXPORT(kit_size_histogram)(uint64_t* buckets, size_t count) {
  if (!KITALLOC_SIZE_HISTOGRAM)
    return 0;
  size_t filled = count < kHistogramBuckets ? count : kHistogramBuckets;
  for (size_t bucket = 0; bucket < filled; ++bucket)
    buckets[bucket] = size_histogram[bucket];
  return filled;
}

// ── Private heaps ────────────────────────────────────────────────────────────────────────────

kit_heap* KIT_JS_EXPORT(kit_heap_create)(kit_heap* parent, size_t initial_bytes) {
  Space* parent_space = space_of(parent);
  Space* space =
      parent_space == nullptr ? nullptr : heap().create_space(*parent_space, initial_bytes);
  if (space == nullptr) {
    set_errno(parent_space == nullptr ? Error::invalid_argument : Error::out_of_memory);
    return failed(nullptr);
  }
  return reinterpret_cast<kit_heap*>(space);
}

void* KIT_JS_EXPORT(kit_heap_malloc)(kit_heap* heap_handle, size_t size) {
  calls.malloc += 1;
  Space* space = space_of(heap_handle);
  if (space == nullptr) {
    set_errno(Error::invalid_argument);
    return failed(nullptr);
  }
  return alloc(size, kDefaultAlignBits, *space);
}

void KIT_JS_EXPORT(kit_heap_free)(kit_heap*, void* ptr) { kit_free(ptr); }

void* KIT_JS_EXPORT(kit_heap_realloc)(kit_heap* heap_handle, void* ptr, size_t size) {
  if (ptr == nullptr)
    return kit_heap_malloc(heap_handle, size);
  if (space_of(heap_handle) == nullptr) {
    calls.realloc += 1;
    set_errno(Error::invalid_argument);
    return failed(nullptr);
  }
  return kit_realloc(ptr, size);
}

kit_status KIT_JS_EXPORT(kit_heap_drop)(kit_heap* heap_handle) {
  Space* space = space_of(heap_handle);
  if (space == nullptr || space == &heap().main_space())
    return failed(KIT_E_BAD_HEAP);
  heap().drop(*space);
  return KIT_OK;
}

kit_status KIT_JS_EXPORT(kit_heap_merge)(kit_heap* heap_handle) {
  Space* space = space_of(heap_handle);
  if (space == nullptr || space == &heap().main_space())
    return failed(KIT_E_BAD_HEAP);
  heap().merge(*space);
  return KIT_OK;
}

kit_status KIT_JS_EXPORT(kit_heap_get_stats)(kit_heap* heap_handle, kit_stats* out) {
  Space* space = space_of(heap_handle);
  if (space == nullptr)
    return KIT_E_BAD_HEAP;
  *out = heap().space_stats(*space);
  return KIT_OK;
}

// ── Relocatable handles ──────────────────────────────────────────────────────────────────────

kit_handle KIT_JS_EXPORT(kit_handle_alloc)(size_t size) {
  kit_handle handle = handles.alloc(heap(), size);
  if (handle == 0) {
    set_errno(Error::out_of_memory);
    return failed(kit_handle(0));
  }
  return handle;
}

void* KIT_JS_EXPORT(kit_handle_lock)(kit_handle handle) { return handles.lock(handle); }

kit_status KIT_JS_EXPORT(kit_handle_unlock)(kit_handle handle) { return handles.unlock(handle); }

kit_status KIT_JS_EXPORT(kit_handle_free)(kit_handle handle) {
  return handles.free(heap(), handle);
}

size_t KIT_JS_EXPORT(kit_handle_size)(kit_handle handle) { return handles.size(heap(), handle); }

void KIT_JS_EXPORT(kit_compact)(kit_compact_result* out) {
  kit_compact_result result;
  handles.compact(heap(), &result);
  if (out != nullptr)
    *out = result;
}

int KIT_JS_EXPORT(kit_set_auto_compact)(int enabled) {
  return handles.set_auto_compact(heap(), enabled != 0) ? 1 : 0;
}

// The global heap's state goes with its memory (heap.hpp).
int kit_native_heap_restart(void) {
  if (!restart_platform_heap())
    return 0;
  global = Allocator{};
  ready = false;
  handles = Handles{};
  calls = {};
  for (uint64_t& bucket : size_histogram)
    bucket = 0;
  return 1;
}

// ── The standard names, in wasm builds ──────────────────────────────────────────────────────
// Linking libkitalloc.a replaces the toolchain's malloc. wasi-libc keeps its whole malloc family
// (and __libc_*) in one member, dlmalloc.o: defining every name it defines keeps that member out
// of the link. Each name is an alias of the kit_ function, not a function calling it: a call
// that forwards costs a malloc + free pair about 5% (docs/BENCHMARKS.md, small LIFO). Natively
// the host's malloc stays.
//
// An alias shares its function's export name: were kit_malloc exported by that name, a module
// exporting malloc (Emscripten's do; a program may ask -Wl,--export=malloc) would export
// "kit_malloc" twice and not load. JavaScript gets kit_malloc and kit_free from functions of
// their own.
#if KIT_JS_EXPORTS_ON
__attribute__((export_name("kit_malloc"))) void* kit_malloc_for_js(size_t size) {
  return kit_malloc(size);
}
__attribute__((export_name("kit_free"))) void kit_free_for_js(void* ptr) { kit_free(ptr); }
#endif
#if KITALLOC_STANDARD_NAMES
#define KIT_STANDARD_NAME(kit_name) __attribute__((alias(#kit_name)))
void* malloc(size_t size) KIT_STANDARD_NAME(kit_malloc);
void free(void* ptr) KIT_STANDARD_NAME(kit_free);
void* calloc(size_t count, size_t size) KIT_STANDARD_NAME(kit_calloc);
void* realloc(void* ptr, size_t size) KIT_STANDARD_NAME(kit_realloc);
void* aligned_alloc(size_t alignment, size_t size) KIT_STANDARD_NAME(kit_aligned_alloc);
int posix_memalign(void** out, size_t alignment, size_t size) KIT_STANDARD_NAME(kit_posix_memalign);
void* memalign(size_t alignment, size_t size) KIT_STANDARD_NAME(kit_aligned_alloc);
size_t malloc_usable_size(void* ptr) KIT_STANDARD_NAME(kit_malloc_usable_size);
void* __libc_malloc(size_t size) KIT_STANDARD_NAME(kit_malloc);
void __libc_free(void* ptr) KIT_STANDARD_NAME(kit_free);
void* __libc_calloc(size_t count, size_t size) KIT_STANDARD_NAME(kit_calloc);
#endif

} // extern "C"
