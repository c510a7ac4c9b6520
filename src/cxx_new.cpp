// C++ operator new and delete in every form, for freestanding builds (WASI and Emscripten get
// theirs from libc++, which calls malloc: kitalloc's). Without exceptions, a throwing new that
// runs out of memory traps; the nothrow forms return nullptr.
#include "kitalloc.h"

// Freestanding builds have no <new>: the two tag types the forms need.
namespace std {
enum class align_val_t : size_t {};
struct nothrow_t {
  explicit nothrow_t() = default;
};
extern const nothrow_t nothrow;
const nothrow_t nothrow{};
} // namespace std

namespace {

void* allocate(size_t size) {
  void* ptr = kit_malloc(size);
  if (ptr == nullptr)
    __builtin_trap();
  return ptr;
}

void* allocate(size_t size, std::align_val_t alignment) {
  void* ptr = kit_aligned_alloc(size_t(alignment), size);
  if (ptr == nullptr)
    __builtin_trap();
  return ptr;
}

} // namespace

void* operator new(size_t size) { return allocate(size); }
void* operator new[](size_t size) { return allocate(size); }
void* operator new(size_t size, std::align_val_t alignment) { return allocate(size, alignment); }
void* operator new[](size_t size, std::align_val_t alignment) { return allocate(size, alignment); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return kit_malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return kit_malloc(size); }
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return kit_aligned_alloc(size_t(alignment), size);
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return kit_aligned_alloc(size_t(alignment), size);
}

void operator delete(void* ptr) noexcept { kit_free(ptr); }
void operator delete[](void* ptr) noexcept { kit_free(ptr); }
void operator delete(void* ptr, size_t) noexcept { kit_free(ptr); }
void operator delete[](void* ptr, size_t) noexcept { kit_free(ptr); }
void operator delete(void* ptr, std::align_val_t) noexcept { kit_free(ptr); }
void operator delete[](void* ptr, std::align_val_t) noexcept { kit_free(ptr); }
void operator delete(void* ptr, size_t, std::align_val_t) noexcept { kit_free(ptr); }
void operator delete[](void* ptr, size_t, std::align_val_t) noexcept { kit_free(ptr); }
void operator delete(void* ptr, const std::nothrow_t&) noexcept { kit_free(ptr); }
void operator delete[](void* ptr, const std::nothrow_t&) noexcept { kit_free(ptr); }
void operator delete(void* ptr, std::align_val_t, const std::nothrow_t&) noexcept { kit_free(ptr); }
void operator delete[](void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
  kit_free(ptr);
}
