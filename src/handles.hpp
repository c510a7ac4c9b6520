// Relocatable handles: the table from handle to block, and compaction's relocator.
//
//   handle (32 bits):  generation (12) │ index (20)        index 0 is never used: 0 is no handle
//   table entry:       block (32: payload offset from the heap's begin; a free entry: the next
//                      free index) │ state (32: generation 12 │ locks 19 │ live 1)
//   handle block:      │ header │ index │ payload (16-byte aligned) ...   (see allocator.hpp)
//
// A handle is good while its entry is live with the same generation; freeing an entry bumps
// its generation, so a stale handle is refused until the entry has been reused 4096 times.
// The table is one block of the main heap (8 bytes per entry), doubled when full; freed entries
// are reused first. Blocks of 32 KiB and more are large runs of the handle space: they never
// fragment the regions, and compaction leaves them where they are.
#pragma once

#include "allocator.hpp"

namespace kit {

class Handles {
public:
  kit_handle alloc(Allocator& heap, size_t bytes);
  void* lock(kit_handle handle);
  kit_status unlock(kit_handle handle);
  kit_status free(Allocator& heap, kit_handle handle);
  size_t size(const Allocator& heap, kit_handle handle) const;
  void compact(Allocator& heap, kit_compact_result* result);
  bool set_auto_compact(Allocator& heap, bool enabled);

private:
  struct Entry {
    Word block;
    Word state;
  };
  Entry* entry_of(kit_handle handle) const;
  void* payload_of(const Entry& entry) const;
  bool grow_table(Allocator& heap);
  static bool relocate(void* context, void* from, void* to);
  static void before_growth(void* context, const Space& space, size_t bytes);
  void hook(Allocator& heap);

  Entry* table_ = nullptr;
  uint32_t capacity_ = 0;  // entries in the table
  uint32_t used_ = 1;      // entries below it have been handed out (entry 0 never is)
  uint32_t free_head_ = 0; // the first free entry, 0: none
  uintptr_t base_ = 0;     // the heap's begin: entries hold offsets from it
  bool auto_compact_ = true;
  Allocator* heap_ = nullptr; // set once the hook is
};

} // namespace kit
