// The code-size floor of kitalloc's design (docs/BENCHMARKS.md, "Code size"): the malloc family
// on the core alone, SimpleAllocator on one region of up to 2 MiB at __heap_base, grown once,
// with no page store, large blocks, statistics or parked lists. It is a measuring stick, not a
// flavour: what the 1,200-byte bar would leave for everything else. Built by scripts/bench.sh
// for freestanding wasm32 with -Oz; not run.
#include "kitalloc/simple_allocator.hpp"

namespace {

using kit::SimpleAllocator;

extern "C" unsigned char __heap_base;
SimpleAllocator* region = nullptr;

SimpleAllocator* the_region() {
  if (region == nullptr) {
    auto begin = reinterpret_cast<uintptr_t>(&__heap_base);
    uintptr_t end = begin + kit::kMaxRegionBytes;
    uintptr_t have = __builtin_wasm_memory_size(0) << kit::kPageShift;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + (1u << kit::kPageShift) - 1) >>
                                                        kit::kPageShift) == SIZE_MAX)
      return nullptr;
    region = SimpleAllocator::create(&__heap_base, reinterpret_cast<void*>(end));
  }
  return region;
}

size_t words_for(size_t bytes) { return (bytes + kit::kWordBytes - 1) / kit::kWordBytes; }

void* allocate(size_t bytes, uint32_t align_bits) {
  SimpleAllocator* heap = the_region();
  return heap == nullptr || bytes > kit::kMaxAllocBytes ? nullptr
                                                        : heap->alloc(words_for(bytes), align_bits);
}

bool valid_alignment(size_t alignment) {
  return alignment != 0 && (alignment & (alignment - 1)) == 0;
}

} // namespace

extern "C" {

void* malloc(size_t bytes) { return allocate(bytes, 4); }

void free(void* ptr) {
  if (ptr != nullptr && region != nullptr)
    region->dealloc(ptr);
}

void* calloc(size_t count, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes))
    return nullptr;
  void* ptr = malloc(bytes);
  if (ptr != nullptr)
    __builtin_memset(ptr, 0, bytes);
  return ptr;
}

size_t malloc_usable_size(void* ptr) {
  return ptr == nullptr ? 0 : SimpleAllocator::usable_words(ptr) * kit::kWordBytes;
}

void* realloc(void* ptr, size_t bytes) {
  if (ptr == nullptr)
    return malloc(bytes);
  if (bytes <= kit::kMaxAllocBytes && region->resize_in_place(ptr, words_for(bytes)))
    return ptr;
  void* moved = malloc(bytes);
  if (moved != nullptr) {
    size_t old_bytes = malloc_usable_size(ptr);
    __builtin_memcpy(moved, ptr, old_bytes < bytes ? old_bytes : bytes);
    free(ptr);
  }
  return moved;
}

void* aligned_alloc(size_t alignment, size_t bytes) {
  return valid_alignment(alignment) ? allocate(bytes, uint32_t(__builtin_ctzl(alignment)))
                                    : nullptr;
}

int posix_memalign(void** out, size_t alignment, size_t bytes) {
  if (!valid_alignment(alignment) || alignment % sizeof(void*) != 0)
    return 22; // EINVAL
  void* ptr = aligned_alloc(alignment, bytes);
  if (ptr == nullptr)
    return 12; // ENOMEM
  *out = ptr;
  return 0;
}

} // extern "C"
