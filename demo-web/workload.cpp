// The heap viewer's workload: a WASI reactor module that allocates and frees on command from
// JavaScript (demo-web/main.js). demo-web/CMakeLists.txt builds it twice: linked with kitalloc
// (workload-kitalloc.wasm, which also exports kit_get_stats, kit_walk_into, ...) and without it,
// on wasi-libc's dlmalloc (workload-dlmalloc.wasm). Both draw the same pseudo-random numbers,
// so the same steps make the same requests in the same order on both heaps.
//
// Exports: workload_step(kind, steps), workload_reset(), workload_live_bytes(),
// workload_live_blocks(). Kinds:
//   0 random   alloc a random size (1..10,000 B) or free a random live block
//   1 churn    keep kChurnLive blocks live: free one, alloc one
//   2 realloc  one block doubling by realloc (16 B to 32 MiB, then again), each step also
//              keeping a small block, as a program allocates other things meanwhile
//   3 tree     a small program: build a binary search tree of named nodes, then free it
//   4 handles  relocatable blocks: allocate kHandleTarget handles of 64..4,096 B, then free
//              random ones until half are left, and again (the holes are what kit_compact
//              closes). The kitalloc build uses kit_handle_alloc/lock/unlock/free; the dlmalloc
//              build, which has no handles, makes the same requests with malloc and free.
// Handles: workload_compact() (kit_compact; nothing on dlmalloc), workload_pin(on) (keeps every
// 8th handle locked, so compaction has to leave it where it is), workload_handle_count(),
// workload_handle_address(i), workload_verify_handles().
// Compiled with -fno-builtin: clang would otherwise fold unused allocations away.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef WORKLOAD_KITALLOC // set by demo-web/CMakeLists.txt for workload-kitalloc.wasm
#include "kitalloc.h"
#endif

#define WORKLOAD_EXPORT(name) __attribute__((export_name(#name))) name

namespace {

// xorshift32: tiny, deterministic, and the same on both modules.
uint32_t rng_state = 0x9e3779b9u;
uint32_t next_random() {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rng_state = x;
  return x;
}
uint32_t random_below(uint32_t bound) { return next_random() % bound; }

// The workload's own accounting: bytes it asked for and still holds (the same on both heaps,
// unlike each allocator's usable bytes).
size_t live_bytes = 0;
size_t live_blocks = 0;

// Blocks of the random, churn and realloc workloads. A static table, not a heap one: the heap
// should only show the workload's blocks.
constexpr uint32_t kMaxSlots = 4096;
void* slot_block[kMaxSlots];
uint32_t slot_size[kMaxSlots];
uint32_t used_slots = 0;

void* allocate(size_t size) {
  auto* block = static_cast<unsigned char*>(malloc(size));
  if (block == nullptr)
    return nullptr;
  // Touch both ends: the memory is really used, as a program would use it.
  block[0] = 0xa5;
  block[size - 1] = 0x5a;
  live_bytes += size;
  live_blocks += 1;
  return block;
}

void release(void* block, size_t size) {
  free(block);
  live_bytes -= size;
  live_blocks -= 1;
}

void push_slot(size_t size) {
  if (used_slots == kMaxSlots)
    return;
  void* block = allocate(size);
  if (block == nullptr)
    return;
  slot_block[used_slots] = block;
  slot_size[used_slots] = static_cast<uint32_t>(size);
  used_slots += 1;
}

void free_random_slot() {
  if (used_slots == 0)
    return;
  uint32_t victim = random_below(used_slots);
  release(slot_block[victim], slot_size[victim]);
  // Keep the table dense: the last slot moves into the hole.
  used_slots -= 1;
  slot_block[victim] = slot_block[used_slots];
  slot_size[victim] = slot_size[used_slots];
}

void random_step() {
  // Slightly more allocs than frees: the heap grows to a few hundred live blocks, holed.
  if (random_below(100) < 55)
    push_slot(1 + random_below(10000));
  else
    free_random_slot();
}

constexpr uint32_t kChurnLive = 400;
void churn_step() {
  if (used_slots >= kChurnLive)
    free_random_slot();
  push_slot(16 + random_below(2000));
}

// The doubling block lives outside the slot table: realloc moves it.
unsigned char* growing = nullptr;
size_t growing_size = 0;
constexpr size_t kGrowingStart = 16;
constexpr size_t kGrowingLimit = size_t{32} << 20;

void realloc_step() {
  if (growing == nullptr || growing_size >= kGrowingLimit) {
    if (growing != nullptr)
      release(growing, growing_size);
    growing = static_cast<unsigned char*>(allocate(kGrowingStart));
    growing_size = growing == nullptr ? 0 : kGrowingStart;
    return;
  }
  auto* grown = static_cast<unsigned char*>(realloc(growing, growing_size * 2));
  if (grown == nullptr)
    return;
  live_bytes += growing_size;
  growing = grown;
  growing_size *= 2;
  growing[growing_size - 1] = 0x5a;
  push_slot(32 + random_below(96));
}

// A binary search tree keyed by random numbers, each node with a heap-allocated name.
struct Node {
  uint32_t key;
  Node* left;
  Node* right;
  char* name;
  size_t name_size;
};
Node* tree_root = nullptr;
uint32_t tree_nodes = 0;
constexpr uint32_t kTreeSize = 3000;

void tree_insert() {
  auto* node = static_cast<Node*>(allocate(sizeof(Node)));
  if (node == nullptr)
    return;
  node->key = next_random();
  node->left = node->right = nullptr;
  node->name_size = 8 + random_below(56);
  node->name = static_cast<char*>(allocate(node->name_size));
  if (node->name != nullptr) {
    memset(node->name, 'a' + static_cast<int>(node->key % 26), node->name_size - 1);
    node->name[node->name_size - 1] = '\0';
  }
  Node** link = &tree_root;
  while (*link != nullptr)
    link = node->key < (*link)->key ? &(*link)->left : &(*link)->right;
  *link = node;
  tree_nodes += 1;
}

void tree_free(Node* node) {
  if (node == nullptr)
    return;
  tree_free(node->left);
  tree_free(node->right);
  if (node->name != nullptr)
    release(node->name, node->name_size);
  release(node, sizeof(Node));
}

void tree_step() {
  if (tree_nodes < kTreeSize) {
    tree_insert();
    return;
  }
  // The program is done with its tree: all of it goes at once, and the next step starts anew.
  tree_free(tree_root);
  tree_root = nullptr;
  tree_nodes = 0;
}

// Relocatable blocks. Each holds a pattern derived from its tag, so that a block that moved
// can be checked (workload_verify_handles). A dense table, like the slots above.
constexpr uint32_t kHandleTarget = 600;
constexpr uint32_t kPinEvery = 8;
struct HandleSlot {
  uintptr_t id; // kitalloc: the kit_handle; dlmalloc: the block's address
  uint32_t size;
  uint32_t tag;
  bool pinned; // kitalloc: locked (workload_pin)
};
HandleSlot handle_slots[kHandleTarget];
uint32_t handle_count = 0;
uint32_t next_handle_tag = 1;
bool handles_freeing = false; // after filling up: freeing down to half
bool pinning = false;

unsigned char pattern(uint32_t tag, uint32_t offset) {
  return static_cast<unsigned char>((tag * 0x9e3779b1u + offset * 0x85ebca77u) >> 24);
}

// The block's address, pinned while the caller uses it: pair with handle_done.
unsigned char* handle_bytes(const HandleSlot& slot) {
#ifdef WORKLOAD_KITALLOC
  return static_cast<unsigned char*>(kit_handle_lock(static_cast<kit_handle>(slot.id)));
#else
  return reinterpret_cast<unsigned char*>(slot.id);
#endif
}
void handle_done([[maybe_unused]] const HandleSlot& slot) {
#ifdef WORKLOAD_KITALLOC
  kit_handle_unlock(static_cast<kit_handle>(slot.id));
#endif
}

// Keeps the block locked (kitalloc; malloc blocks never move, so dlmalloc's are left alone).
void handle_pin([[maybe_unused]] HandleSlot& slot, [[maybe_unused]] bool pin) {
#ifdef WORKLOAD_KITALLOC
  if (slot.pinned == pin)
    return;
  if (pin)
    kit_handle_lock(static_cast<kit_handle>(slot.id));
  else
    kit_handle_unlock(static_cast<kit_handle>(slot.id));
  slot.pinned = pin;
#endif
}

void handle_new() {
  if (handle_count == kHandleTarget)
    return;
  uint32_t size = 64 + random_below(4096 - 64 + 1);
  HandleSlot slot{0, size, next_handle_tag++, false};
#ifdef WORKLOAD_KITALLOC
  slot.id = kit_handle_alloc(size);
#else
  slot.id = reinterpret_cast<uintptr_t>(malloc(size));
#endif
  if (slot.id == 0)
    return;
  unsigned char* bytes = handle_bytes(slot);
  for (uint32_t i = 0; i < size; ++i)
    bytes[i] = pattern(slot.tag, i);
  handle_done(slot);
  if (pinning && handle_count % kPinEvery == 0)
    handle_pin(slot, true);
  handle_slots[handle_count++] = slot;
  live_bytes += size;
  live_blocks += 1;
}

void handle_release(uint32_t index) {
  HandleSlot& slot = handle_slots[index];
  handle_pin(slot, false);
#ifdef WORKLOAD_KITALLOC
  kit_handle_free(static_cast<kit_handle>(slot.id));
#else
  free(reinterpret_cast<void*>(slot.id));
#endif
  live_bytes -= slot.size;
  live_blocks -= 1;
  handle_slots[index] = handle_slots[--handle_count];
}

void handles_step() {
  if (!handles_freeing) {
    handle_new();
    handles_freeing = handle_count == kHandleTarget;
    return;
  }
  handle_release(random_below(handle_count));
  handles_freeing = handle_count > kHandleTarget / 2;
}

// Pins (or unpins) every kPinEvery-th handle of the table; new handles follow the setting.
void pin_handles(bool on) {
  pinning = on;
  for (uint32_t i = 0; i < handle_count; ++i)
    handle_pin(handle_slots[i], on && i % kPinEvery == 0);
}

#ifdef WORKLOAD_KITALLOC
kit_compact_result last_compaction;
#endif

} // namespace

extern "C" {

// Runs `steps` steps of workload `kind`; returns the workload's live bytes afterwards.
size_t WORKLOAD_EXPORT(workload_step)(int kind, int steps) {
  for (int i = 0; i < steps; ++i) {
    switch (kind) {
    case 0:
      random_step();
      break;
    case 1:
      churn_step();
      break;
    case 2:
      realloc_step();
      break;
    case 3:
      tree_step();
      break;
    case 4:
      handles_step();
      break;
    default:
      return live_bytes;
    }
  }
  return live_bytes;
}

// Frees everything the workload holds. (The page resets by instantiating the module anew, which
// also gives back the memory; this is for a heap that should stay as grown.)
void WORKLOAD_EXPORT(workload_reset)() {
  while (used_slots > 0)
    free_random_slot();
  if (growing != nullptr)
    release(growing, growing_size);
  growing = nullptr;
  growing_size = 0;
  tree_free(tree_root);
  tree_root = nullptr;
  tree_nodes = 0;
  while (handle_count > 0)
    handle_release(handle_count - 1);
  handles_freeing = false;
}

// kit_compact: returns the kit_compact_result (moved_blocks, moved_bytes, released_bytes,
// largest_free_bytes as uint64, then locked_blocks), or NULL in the dlmalloc build, where
// nothing can move.
const void* WORKLOAD_EXPORT(workload_compact)() {
#ifdef WORKLOAD_KITALLOC
  kit_compact(&last_compaction);
  return &last_compaction;
#else
  return nullptr;
#endif
}

// Keeps every 8th handle locked (on != 0) or unlocks them all (kitalloc; nothing on dlmalloc).
void WORKLOAD_EXPORT(workload_pin)(int on) { pin_handles(on != 0); }

size_t WORKLOAD_EXPORT(workload_handle_count)() { return handle_count; }
size_t WORKLOAD_EXPORT(workload_pinned_count)() {
  size_t pinned = 0;
  for (uint32_t i = 0; i < handle_count; ++i)
    pinned += handle_slots[i].pinned ? 1 : 0;
  return pinned;
}

// Where handle i's block is now (0 past the end). The page uses it to tell handle regions from
// malloc regions in the heap map.
uintptr_t WORKLOAD_EXPORT(workload_handle_address)(uint32_t index) {
  if (index >= handle_count)
    return 0;
  uintptr_t address = reinterpret_cast<uintptr_t>(handle_bytes(handle_slots[index]));
  handle_done(handle_slots[index]);
  return address;
}

// Checks every byte of every handle block against its pattern; returns how many differ (0 after
// any number of compactions, or the compaction broke something).
size_t WORKLOAD_EXPORT(workload_verify_handles)() {
  size_t bad = 0;
  for (uint32_t h = 0; h < handle_count; ++h) {
    const HandleSlot& slot = handle_slots[h];
    const unsigned char* bytes = handle_bytes(slot);
    bool same = bytes != nullptr;
    for (uint32_t i = 0; same && i < slot.size; ++i)
      same = bytes[i] == pattern(slot.tag, i);
    if (bytes != nullptr)
      handle_done(slot);
    bad += same ? 0 : 1;
  }
  return bad;
}

size_t WORKLOAD_EXPORT(workload_live_bytes)() { return live_bytes; }
size_t WORKLOAD_EXPORT(workload_live_blocks)() { return live_blocks; }

} // extern "C"
