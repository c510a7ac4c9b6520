// The README's examples of private heaps and relocatable handles, as a program that checks
// what it shows (built and run natively by the test suite; kit_* names, as natively).
#include "kitalloc.h"
#include "kitalloc/handle.hpp"

#include <cstdio>
#include <cstring>

namespace {

struct Node {
  Node* next;
  int value;
};

// A task builds a list in its own heap; the caller keeps it or throws it away whole.
Node* build_list(kit_heap* heap, int count) {
  Node* head = nullptr;
  for (int value = 0; value < count; ++value) {
    auto* node = static_cast<Node*>(kit_heap_malloc(heap, sizeof(Node)));
    if (node == nullptr)
      return nullptr;
    *node = {head, value};
    head = node;
  }
  return head;
}

int failures = 0;
void expect(bool holds, const char* what) {
  if (!holds) {
    std::printf("FAILED: %s\n", what);
    failures += 1;
  }
}

} // namespace

int main() {
  // ── Private heaps: drop a task's memory at once, or merge it into its parent ──
  kit_heap* request = kit_heap_create(nullptr, 64 * 1024);
  Node* scratch = build_list(request, 10000);
  expect(scratch != nullptr, "the scratch list was built");
  kit_heap_drop(request); // 10,000 nodes released at once; no per-node free

  kit_heap* task = kit_heap_create(nullptr, 0);
  Node* result = build_list(task, 100);
  kit_heap_merge(task); // the nodes stay valid, now the main heap's
  int sum = 0;
  for (Node* node = result; node != nullptr;) {
    Node* next = node->next;
    sum += node->value;
    kit_free(node); // as any malloc block
    node = next;
  }
  expect(sum == 99 * 100 / 2, "the merged list is intact");

  // ── Handles: blocks that may move; compaction closes the holes between them ──
  kit_handle handles[1000];
  for (int index = 0; index < 1000; ++index) {
    handles[index] = kit_handle_alloc(200);
    kit::HandleLock lock(handles[index]);
    std::memset(lock.get(), index % 251, 200);
  }
  for (int index = 0; index < 1000; index += 2)
    kit_handle_free(handles[index]);

  kit_compact_result compacted;
  kit_compact(&compacted);
  std::printf("compaction: %llu blocks moved (%llu bytes), %llu bytes given back, largest free "
              "block %llu bytes\n",
              (unsigned long long)compacted.moved_blocks, (unsigned long long)compacted.moved_bytes,
              (unsigned long long)compacted.released_bytes,
              (unsigned long long)compacted.largest_free_bytes);
  expect(compacted.moved_blocks > 0, "compaction moved blocks");

  for (int index = 1; index < 1000; index += 2) {
    kit::HandleLock lock(handles[index]); // pinned while the lock lives
    const auto* bytes = lock.as<unsigned char>();
    expect(bytes[0] == index % 251 && bytes[199] == index % 251, "a moved block kept its bytes");
    kit_handle_free(handles[index]);
  }
  expect(kit_check() == nullptr, "kit_check holds");
  std::printf("%s\n", failures == 0 ? "heaps and handles: ok" : "heaps and handles: FAILED");
  return failures == 0 ? 0 : 1;
}
