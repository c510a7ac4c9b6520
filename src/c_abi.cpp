// The C ABI over the global heap (semantics: README.md, "C ABI").
#include "kitalloc.h"

#include "allocator.hpp"

namespace kit {
namespace {

constinit Allocator global;
constinit bool ready = false;

Allocator& heap() {
  if (!ready) {
    global.init(platform_heap());
    ready = true;
  }
  return global;
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

void* alloc(size_t size, uint32_t align_bits, bool zeroed) {
  bool fresh = false;
  void* ptr = heap().alloc(size, align_bits, &fresh);
  if (ptr == nullptr)
    set_errno(Error::out_of_memory);
  else if (zeroed && !fresh)
    __builtin_memset(ptr, 0, size);
  return ptr;
}

} // namespace
} // namespace kit

using namespace kit;

extern "C" {

void* kit_malloc(size_t size) { return alloc(size, kDefaultAlignBits, false); }

void kit_free(void* ptr) {
  if (ptr != nullptr)
    heap().free(ptr);
}

void* kit_calloc(size_t count, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    set_errno(Error::out_of_memory);
    return nullptr;
  }
  return alloc(bytes, kDefaultAlignBits, true);
}

void* kit_realloc(void* ptr, size_t size) {
  if (ptr == nullptr)
    return kit_malloc(size);
  if (size == 0) { // as dlmalloc and emmalloc, which kitalloc replaces: free, return NULL
    kit_free(ptr);
    return nullptr;
  }
  if (heap().resize(ptr, size, kDefaultAlignBits))
    return ptr;
  void* moved = kit_malloc(size);
  if (moved == nullptr)
    return nullptr; // the old block is untouched
  size_t old_size = heap().usable_size(ptr);
  __builtin_memcpy(moved, ptr, old_size < size ? old_size : size);
  heap().free(ptr);
  return moved;
}

void* kit_aligned_alloc(size_t alignment, size_t size) {
  if (!valid_alignment(alignment)) {
    set_errno(Error::invalid_argument);
    return nullptr;
  }
  return alloc(size, align_bits_of(alignment), false);
}

void* kit_memalign(size_t alignment, size_t size) { return kit_aligned_alloc(alignment, size); }

int kit_posix_memalign(void** out, size_t alignment, size_t size) {
  if (!valid_alignment(alignment) || alignment % sizeof(void*) != 0)
    return error_code(Error::invalid_argument);
  bool fresh = false;
  void* ptr = heap().alloc(size, align_bits_of(alignment), &fresh);
  if (ptr == nullptr)
    return error_code(Error::out_of_memory);
  *out = ptr;
  return 0;
}

size_t kit_malloc_usable_size(const void* ptr) {
  return ptr == nullptr ? 0 : heap().usable_size(ptr);
}

void kit_get_stats(kit_stats* out) { *out = heap().stats(); }

const char* kit_check(void) { return heap().check(); }

} // extern "C"
