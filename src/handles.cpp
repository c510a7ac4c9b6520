// Relocatable handles: the layout is stated in handles.hpp.
#include "handles.hpp"

namespace kit {
namespace {

constexpr uint32_t kIndexBits = 20;
constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
constexpr uint32_t kGenerationShift = 20;
constexpr uint32_t kGenerationMask = (1u << (32 - kGenerationShift)) - 1;
constexpr uint32_t kLive = 1;
constexpr uint32_t kLockShift = 1;
constexpr uint32_t kLockMask = ((1u << 19) - 1) << kLockShift;
constexpr uint32_t kHiddenBytes = kWordBytes; // the handle's index, before the payload

uint32_t generation_of(uint32_t state) { return state >> kGenerationShift; }
uint32_t locks_of(uint32_t state) { return (state & kLockMask) >> kLockShift; }

} // namespace

Handles::Entry* Handles::entry_of(kit_handle handle) const {
  uint32_t index = handle & kIndexMask;
  if (index == 0 || index >= used_)
    return nullptr;
  Entry* entry = &table_[index];
  bool good = (entry->state & kLive) && generation_of(entry->state) == handle >> kIndexBits;
  return good ? entry : nullptr;
}

void* Handles::payload_of(const Entry& entry) const {
  return reinterpret_cast<void*>(base_ + entry.block);
}

bool Handles::grow_table(Allocator& heap) {
  uint32_t capacity = capacity_ == 0 ? 64 : capacity_ * 2;
  if (capacity > kIndexMask + 1)
    capacity = kIndexMask + 1;
  if (capacity <= capacity_)
    return false;
  auto* table = static_cast<Entry*>(heap.alloc(capacity * sizeof(Entry), 3, nullptr));
  if (table == nullptr)
    return false;
  for (uint32_t index = 0; index < used_ && table_ != nullptr; ++index)
    table[index] = table_[index];
  if (table_ != nullptr)
    heap.free(table_);
  table_ = table;
  capacity_ = capacity;
  return true;
}

kit_handle Handles::alloc(Allocator& heap, size_t bytes) {
  hook(heap);
  void* block;
  bool small = bytes <= kMaxAllocBytes - kHiddenBytes;
  if (small) {
    // A multiple of 16 bytes with the header and the index (see allocator.hpp).
    size_t units = (bytes + kWordBytes + kHiddenBytes + 15) / 16 * 4;
    block = heap.alloc_handle_block(units - 1);
  } else {
    block = heap.alloc_handle_large(bytes);
  }
  if (block == nullptr)
    return 0;
  // The table grows after the block is had (a request that fails sets nothing up). Growing it
  // may compact: index 0 keeps the block where it is until it has its entry.
  if (small)
    *static_cast<Word*>(block) = 0;
  if (free_head_ == 0 && used_ >= capacity_ && !grow_table(heap)) {
    heap.free_handle_block(block);
    return 0;
  }
  uint32_t index;
  if (free_head_ != 0) { // a freed entry keeps its generation
    index = free_head_;
    free_head_ = table_[index].block;
  } else {
    index = used_++;
    table_[index].state = 0;
  }
  Entry& entry = table_[index];
  entry.state |= kLive;
  entry.block = uint32_t(uintptr_t(block) - base_) + (small ? kHiddenBytes : 0);
  if (small)
    *static_cast<Word*>(block) = index;
  return generation_of(entry.state) << kIndexBits | index;
}

void* Handles::lock(kit_handle handle) {
  Entry* entry = entry_of(handle);
  if (entry == nullptr || locks_of(entry->state) == locks_of(kLockMask))
    return nullptr;
  entry->state += 1u << kLockShift;
  return payload_of(*entry);
}

kit_status Handles::unlock(kit_handle handle) {
  Entry* entry = entry_of(handle);
  if (entry == nullptr)
    return KIT_E_BAD_HANDLE;
  if (locks_of(entry->state) == 0)
    return KIT_E_NOT_LOCKED;
  entry->state -= 1u << kLockShift;
  return KIT_OK;
}

kit_status Handles::free(Allocator& heap, kit_handle handle) {
  Entry* entry = entry_of(handle);
  if (entry == nullptr)
    return KIT_E_BAD_HANDLE;
  if (locks_of(entry->state) != 0)
    return KIT_E_LOCKED;
  auto* payload = static_cast<unsigned char*>(payload_of(*entry));
  // A small block's payload follows the index; a large block is all payload.
  bool small = !heap.is_large(payload);
  heap.free_handle_block(small ? payload - kHiddenBytes : payload);
  uint32_t next_generation = (generation_of(entry->state) + 1) & kGenerationMask;
  entry->state = next_generation << kGenerationShift;
  entry->block = free_head_;
  free_head_ = uint32_t(entry - table_);
  return KIT_OK;
}

size_t Handles::size(const Allocator& heap, kit_handle handle) const {
  Entry* entry = entry_of(handle);
  if (entry == nullptr)
    return 0;
  auto* payload = static_cast<unsigned char*>(payload_of(*entry));
  if (heap.is_large(payload))
    return heap.usable_size(payload);
  return heap.usable_size(payload - kHiddenBytes) - kHiddenBytes;
}

// Asked with to == nullptr: whether the block may move (see Allocator::compact_handles).
bool Handles::relocate(void* context, void* from, void* to) {
  auto* handles = static_cast<Handles*>(context);
  uint32_t index = *static_cast<Word*>(from);
  if (index == 0) // a block being handed out (alloc)
    return false;
  Entry& entry = handles->table_[index];
  if (locks_of(entry.state) != 0)
    return false;
  if (to != nullptr)
    entry.block = uint32_t(uintptr_t(to) - handles->base_) + kHiddenBytes;
  return true;
}

void Handles::compact(Allocator& heap, kit_compact_result* result) {
  void* table = table_;
  heap.compact_handles(relocate, this, &table, result);
  table_ = static_cast<Entry*>(table);
  for (uint32_t index = 1; index < used_; ++index)
    if ((table_[index].state & kLive) && locks_of(table_[index].state) != 0)
      result->locked_blocks += 1;
}

// Compacts when that could make room: for a block of the handle space, when some handle region
// has free blocks and, with them merged into its bump area, room for it; for anything else,
// when the whole pages the handle regions could give back, with the free pages there are,
// add up to at least half of what it needs (compaction brings them together at the top, unless
// other runs stand between, and memory grows by only what is still missing).
void Handles::before_growth(void* context, const Space& space, size_t bytes) {
  auto* handles = static_cast<Handles*>(context);
  if (!handles->auto_compact_)
    return;
  Allocator& heap = *handles->heap_;
  const Space& handle_space = heap.handle_space();
  bool for_handles = &space == &handle_space;
  uint64_t pages_needed = (bytes + kPageBytes - 1) >> kPageShift;
  RegionStats page_store = heap.page_store_stats();
  uint64_t pages_reclaimable = page_store.unused_words + page_store.fragment_words;
  bool would_fit = false;
  for (const SimpleAllocator* region = handle_space.small; region != nullptr;
       region = region->next()) {
    RegionStats own = region->own_stats();
    uint64_t free_bytes = uint64_t(own.fragment_words + own.unused_words) * kWordBytes;
    would_fit |= own.fragments != 0 && free_bytes >= bytes;
    pages_reclaimable += free_bytes >> kPageShift;
  }
  if (for_handles ? would_fit : 2 * pages_reclaimable >= pages_needed) {
    kit_compact_result result;
    handles->compact(heap, &result);
  }
}

void Handles::hook(Allocator& heap) {
  if (heap_ != nullptr)
    return;
  heap_ = &heap;
  base_ = heap.heap_begin();
  heap.set_before_growth(before_growth, this);
}

bool Handles::set_auto_compact(Allocator& heap, bool enabled) {
  hook(heap);
  bool was = auto_compact_;
  auto_compact_ = enabled;
  return was;
}

} // namespace kit
