// A freestanding wasm32 module (no libc, no WASI): C++ `new`/`delete` and the malloc family come
// from kitalloc. It exports one function for JavaScript, which builds and frees a linked list
// and a large array and returns 0 when kitalloc served them and its heap check holds.
//   node wasm-tests/run.mjs freestanding demo.wasm kit_example_run
#include <kitalloc.h>

namespace {

struct ListNode {
  ListNode* next;
  unsigned value;
};

} // namespace

extern "C" __attribute__((export_name("kit_example_run"))) int kit_example_run() {
  ListNode* head = nullptr;
  for (unsigned i = 0; i < 10000; ++i)
    head = new ListNode{head, i};
  unsigned* table = new unsigned[64 * 1024]; // 256 KiB: whole pages
  table[64 * 1024 - 1] = 1;

  kit_stats during;
  kit_get_stats(&during);
  bool served = during.small.live_blocks >= 10000 && during.large_blocks == 1;

  delete[] table;
  while (head) {
    ListNode* next = head->next;
    delete head;
    head = next;
  }
  kit_stats after;
  kit_get_stats(&after);
  bool all_freed = after.small.live_blocks == 0 && after.large_blocks == 0;
  return served && all_freed && kit_check() == nullptr ? 0 : 1;
}
