// The checked build's seals and checks; the layout is drawn in checked.hpp.
#include "checked.hpp"

#include "line.hpp"

namespace kit::checked {
namespace {

constexpr size_t kTrailerBytes = 2 * kWordBytes;
constexpr unsigned char kCanary = 0xA5;
// Header bits 0 (FREE) set, tag 0: the header of no live block (see mark_freed's comment).
constexpr Word kFreedHeader = 1;

constinit kit_failure_hook failure_hook = nullptr;

Word* trailer_of(const Allocator& heap, const void* ptr) {
  return reinterpret_cast<Word*>(uintptr_t(ptr) + heap.usable_size(ptr) - kTrailerBytes);
}

Word seal_for(const void* ptr, size_t size) {
  uint32_t mixed = (uint32_t(uintptr_t(ptr)) ^ uint32_t(size) * 0x9E3779B1u) * 0x85EBCA6Bu;
  return mixed ^ (mixed >> 15) ^ 0x6B174C4Bu;
}

} // namespace

void report(const char* call, const char* problem, const void* ptr) {
  if (failure_hook != nullptr) {
    failure_hook(call, problem, ptr);
    return;
  }
  Line()
      .text("kitalloc: ")
      .text(call)
      .text("(")
      .hex(uintptr_t(ptr))
      .text("): ")
      .text(problem)
      .write();
  __builtin_trap();
}

bool padded_size(size_t size, size_t* padded) {
  return !__builtin_add_overflow(size, kTrailerBytes + 1, padded) && size <= UINT32_MAX;
}

void seal(const Allocator& heap, void* ptr, size_t size) {
  Word* trailer = trailer_of(heap, ptr);
  __builtin_memset(static_cast<unsigned char*>(ptr) + size, kCanary,
                   uintptr_t(trailer) - uintptr_t(ptr) - size);
  trailer[0] = Word(size);
  trailer[1] = seal_for(ptr, size);
}

bool verify(const Allocator& heap, const void* ptr, const char* call) {
  const char* problem = heap.block_problem(ptr);
  if (problem == nullptr) {
    const Word* trailer = trailer_of(heap, ptr);
    size_t size = trailer[0];
    if (size > uintptr_t(trailer) - uintptr_t(ptr) - 1 || trailer[1] != seal_for(ptr, size)) {
      problem = "not a pointer kitalloc returned, or the end of its block was overwritten";
    } else {
      auto* canary = static_cast<const unsigned char*>(ptr) + size;
      for (; canary < reinterpret_cast<const unsigned char*>(trailer); ++canary)
        if (*canary != kCanary) {
          problem = "write past the end of the block";
          break;
        }
    }
  }
  if (problem != nullptr)
    report(call, problem, ptr);
  return problem == nullptr;
}

size_t requested_size(const Allocator& heap, const void* ptr) { return trailer_of(heap, ptr)[0]; }

// Safe to write after free: if the block merged into a free block before it, its old header
// lies past that block's links and before its footer; if it went back to the bump area, it is
// unused memory, or a free page run when the region gave those pages back (a run's pages hold
// none of the page store's metadata: the map does). If it now starts a free block, the header
// already reads free and is left alone. (A large block's word before it is not its own: the
// caller knows which it freed.)
void mark_freed(void* ptr) {
  Word* header = static_cast<Word*>(ptr) - 1;
  if (!SimpleAllocator::header_says_free(ptr))
    *header = kFreedHeader;
}

} // namespace kit::checked

extern "C" kit_failure_hook kit_set_failure_hook(kit_failure_hook hook) {
  kit_failure_hook previous = kit::checked::failure_hook;
  kit::checked::failure_hook = hook;
  return previous;
}
