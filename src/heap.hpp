// Where the global allocator's memory comes from. This layer, and only this layer, differs by
// platform: heap_wasm.cpp (memory.grow, or emscripten_resize_heap under Emscripten) and
// heap_native.cpp (one address-space reservation handed out in 64 KiB pages, so native tests
// see the same growth and out-of-memory paths). A caller's arena is a Heap that cannot grow.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kit {

struct Heap {
  // Makes at least `pages` more 64 KiB pages available. Returns the address where the new
  // memory starts (the end of memory before the call, page-aligned) and sets *new_end, or
  // returns 0 when memory cannot grow by that much. Memory between the end the caller last
  // saw and the returned address was grown by someone else: it is not ours.
  uintptr_t (*grow)(uint32_t pages, uintptr_t* new_end);
  uintptr_t begin; // the first byte we may use
  uintptr_t end;   // the end of the memory there is now
};

// The platform's heap, as it is now.
Heap platform_heap();

enum class Error { out_of_memory, invalid_argument };
// The platform's ENOMEM / EINVAL (Linux's numbers where there is no errno).
int error_code(Error error);
// Sets errno where the platform has one; nothing in freestanding wasm.
void set_errno(Error error);
// Gives all memory back and starts over as the program started, zeroed (the native heap); false
// where memory cannot shrink (wasm).
bool restart_platform_heap();
// Writes bytes to standard error: the checked build's default failure report, the trace
// build's lines. Freestanding wasm has none: there it calls the import env.kit_write_stderr
// (pointer, length), which the embedder provides (only modules of those builds import it).
void write_stderr(const char* bytes, size_t length);

} // namespace kit

// The native heap's controls, for tests and fuzzers (heap_native.cpp; native builds only):
// its maximum, its growth by a share of its size as Emscripten's, and growth by other code
// (exactly `pages`, as memory.grow; returns where they start, or 0).
extern "C" void kit_native_heap_limit(size_t bytes);
extern "C" void kit_native_heap_overgrow(uint32_t percent);
extern "C" uintptr_t kit_native_heap_grow_foreign(uint32_t pages);
// Forgets every block, heap and handle, the figures and call counts with them: the global heap
// starts over on fresh memory, as in a new process (c_abi.cpp; its maximum and growth share stay
// as set). Every pointer it gave out dangles. Returns 0, changing nothing, where memory cannot
// be given back (wasm). A fuzzer's inputs then each start from the same state: a finding
// replays from its input alone.
extern "C" int kit_native_heap_restart(void);
