// The native heap: emulates wasm memory for tests. It reserves 4 GiB of address space once (no
// memory is committed until used), starts with a module-like layout (data below "heap base",
// two pages of memory) and grows page by page up to a settable limit, so native tests take
// the same growth and out-of-memory paths as wasm.
#include "heap.hpp"

#include "kitalloc.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

namespace kit {
namespace {

constexpr uintptr_t kPageBytes = uintptr_t(1) << 16;
constexpr uintptr_t kReserveBytes = uintptr_t(4) << 30;
constexpr uintptr_t kInitialBytes = 2 * kPageBytes;
constexpr uintptr_t kHeapBaseOffset = 5000; // where a module's data and stack would end

struct NativeMemory {
  uintptr_t start = 0; // page-aligned
  uintptr_t end = 0;
  uintptr_t limit = kReserveBytes;
  uint32_t overgrow_percent = 0; // each growth gives at least this share of memory's size
};
NativeMemory memory;

bool reserve() {
  if (memory.start != 0)
    return true;
  void* mapped = mmap(nullptr, kReserveBytes + kPageBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED)
    return false;
  memory.start = (uintptr_t(mapped) + kPageBytes - 1) & ~(kPageBytes - 1);
  memory.end = memory.start + kInitialBytes;
  return true;
}

// Grows memory by `pages`, or by more as Emscripten's emscripten_resize_heap does (overgrow:
// at least overgrow_percent of its size, where the limit leaves room); returns where the new
// pages start, or 0.
uintptr_t grow_pages(uint32_t pages, bool overgrow, uintptr_t* new_end) {
  if (!reserve())
    return 0;
  uintptr_t bytes = uintptr_t(pages) * kPageBytes;
  uintptr_t room = memory.limit - (memory.end - memory.start);
  if (bytes > room)
    return 0;
  uintptr_t overgrown = (memory.end - memory.start) / 100 * memory.overgrow_percent;
  if (overgrow && overgrown > bytes && overgrown <= room)
    bytes = overgrown & ~(kPageBytes - 1);
  uintptr_t old_end = memory.end;
  memory.end += bytes;
  *new_end = memory.end;
  return old_end;
}

uintptr_t grow_memory(uint32_t pages, uintptr_t* new_end) {
  return grow_pages(pages, true, new_end);
}

} // namespace

Heap platform_heap() {
  reserve();
  return Heap{grow_memory, memory.start + kHeapBaseOffset, memory.end};
}

bool restart_platform_heap() {
  if (!reserve())
    return false;
  // Private anonymous pages read as zeros again after MADV_DONTNEED, as grown memory does.
  if (madvise(reinterpret_cast<void*>(memory.start), memory.end - memory.start, MADV_DONTNEED) != 0)
    return false;
  memory.end = memory.start + kInitialBytes;
  return true;
}

int error_code(Error error) { return error == Error::out_of_memory ? ENOMEM : EINVAL; }
void set_errno(Error error) { errno = error_code(error); }

void write_stderr(const char* bytes, size_t length) {
  while (length > 0) {
    ssize_t written = write(STDERR_FILENO, bytes, length);
    if (written <= 0)
      return; // nowhere else to say it
    bytes += written;
    length -= size_t(written);
  }
}

} // namespace kit

extern "C" void kit_native_heap_limit(size_t bytes) {
  kit::memory.limit = bytes < kit::kReserveBytes ? bytes : kit::kReserveBytes;
}

extern "C" void kit_native_heap_overgrow(uint32_t percent) {
  kit::memory.overgrow_percent = percent;
}

// Grows memory by exactly `pages` as other code would (memory.grow); returns where the new
// pages start, or 0.
extern "C" uintptr_t kit_native_heap_grow_foreign(uint32_t pages) {
  uintptr_t new_end;
  return kit::grow_pages(pages, false, &new_end);
}
