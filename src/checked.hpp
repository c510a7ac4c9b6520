// The checked build (cmake -DKITALLOC_CHECKED=ON), for debugging: the C ABI seals every block
// and verifies the seal before free, realloc and malloc_usable_size.
//
//   payload: │ the caller's `size` bytes │ canary bytes (≥ 1) │ size │ seal │   <- usable end
//                                                                ^ trailer (8 bytes)
//   seal = a hash of the payload's address and size. A freed block's header is left reading
//   "free" (written only where the free lists do not use it), so a second free is named.
//
// Each call is checked, in this order: the pointer is word-aligned, inside the heap, a live
// block by its header (allocator.cpp's block_problem), its seal matches (else: a double free,
// a pointer into a block, or a trailer overwritten), its canary bytes are intact (else: a
// write past the end). A failure is reported through the failure hook (kitalloc.h) and the
// call does nothing. Costs: 9 to 12 bytes per block, and O(usable bytes - size) per check.
// In the normal build kEnabled is false and every function here compiles away.
#pragma once

#include "allocator.hpp"

#ifndef KITALLOC_CHECKED
#define KITALLOC_CHECKED 0
#endif

namespace kit::checked {

inline constexpr bool kEnabled = KITALLOC_CHECKED;

// The size to ask the allocator for; false when size plus the trailer overflows.
bool padded_size(size_t size, size_t* padded);
// Writes the canary bytes and the trailer of a block just allocated (or resized) for `size`.
void seal(const Allocator& heap, void* ptr, size_t size);
// Verifies ptr for `call`; reports a failure through the hook and returns false.
bool verify(const Allocator& heap, const void* ptr, const char* call);
// The size the caller asked for (ptr verified).
size_t requested_size(const Allocator& heap, const void* ptr);
// After free of a small block: makes the header before ptr read as free if merging left it
// reading as used, so that a second free of ptr is named as such (until the memory is reused).
void mark_freed(void* ptr);
// Reports a failure through the hook: the default prints and traps.
void report(const char* call, const char* problem, const void* ptr);

} // namespace kit::checked
