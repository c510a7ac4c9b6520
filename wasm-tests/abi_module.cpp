// A freestanding wasm32 module (no libc) that exports kitalloc's C ABI for JavaScript to drive
// (wasm-tests/abi.mjs), and kit_abi_selftest, which exercises the same calls and C++ new and
// delete from inside wasm, so that a second engine (wabt's wasm-interp) runs them too.
#include "kitalloc.h"

extern "C" {
void* malloc(size_t size);
void free(void* ptr);
void* calloc(size_t count, size_t size);
void* realloc(void* ptr, size_t size);
void* aligned_alloc(size_t alignment, size_t size);
int posix_memalign(void** out, size_t alignment, size_t size);
size_t malloc_usable_size(void* ptr);
}

namespace std {
enum class align_val_t : size_t;
}

namespace {

struct alignas(64) Wide {
  int values[16];
};

uintptr_t address(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr); }

} // namespace

// 0 when every step passes, else the number of the first that failed.
extern "C" __attribute__((export_name("kit_abi_selftest"))) int kit_abi_selftest() {
  void* first = malloc(0);
  void* second = malloc(0);
  if (!first || !second || first == second)
    return 1;
  free(first);
  free(second);
  free(nullptr);
  if (address(malloc(1)) % 16 != 0)
    return 2;
  for (size_t alignment = 1; alignment <= 65536; alignment *= 2) {
    for (size_t size = 0; size < 100000; size = size * 2 + 1) {
      auto* block = static_cast<unsigned char*>(aligned_alloc(alignment, size));
      if (block == nullptr || address(block) % alignment != 0 || malloc_usable_size(block) < size)
        return 3;
      __builtin_memset(block, 0xA5, size);
      free(block);
    }
  }
  auto* zeroed = static_cast<unsigned char*>(calloc(100, 1000));
  for (int i = 0; i < 100000; ++i)
    if (zeroed == nullptr || zeroed[i] != 0)
      return 4;
  if (calloc(SIZE_MAX, 2) != nullptr || malloc(SIZE_MAX) != nullptr)
    return 5;
  void* out = nullptr;
  if (posix_memalign(&out, 3, 10) == 0 || posix_memalign(&out, 256, 10) != 0 ||
      address(out) % 256 != 0)
    return 6;
  auto* grown = static_cast<unsigned char*>(malloc(10));
  grown[9] = 42;
  grown = static_cast<unsigned char*>(realloc(grown, 200000));
  if (grown == nullptr || grown[9] != 42 || realloc(grown, 0) != nullptr)
    return 7;
  int* numbers = new int[1000];
  numbers[999] = 1;
  delete[] numbers;
  auto* wide = new Wide;
  if (address(wide) % 64 != 0)
    return 8;
  delete wide;
  void* aligned = ::operator new(100, std::align_val_t(4096));
  if (address(aligned) % 4096 != 0)
    return 9;
  ::operator delete(aligned, std::align_val_t(4096));
  return kit_check() == nullptr ? 0 : 10;
}
