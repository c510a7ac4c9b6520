// The demo program: an ordinary C++ program (strings, a map, a tree of `new` nodes, a big
// vector) that knows nothing of kitalloc except the stats it prints. The same source builds
// for WASI (examples/wasi) and Emscripten (examples/emscripten); what switches it to kitalloc
// is one line in those projects' CMakeLists.txt.
// Exits 1 if kitalloc did not serve the allocations (another malloc linked) or its heap check
// fails, so the examples double as a test of the installed package.
#include <kitalloc.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct TreeNode {
  std::unique_ptr<TreeNode> left, right;
  unsigned key;
};

// A random binary search tree of `count` nodes: one `new` per node.
std::unique_ptr<TreeNode> build_tree(unsigned count) {
  std::unique_ptr<TreeNode> root;
  unsigned state = 12345;
  for (unsigned i = 0; i < count; ++i) {
    state = state * 1103515245u + 12345u;
    std::unique_ptr<TreeNode>* slot = &root;
    while (*slot)
      slot = state < (*slot)->key ? &(*slot)->left : &(*slot)->right;
    *slot = std::make_unique<TreeNode>();
    (*slot)->key = state;
  }
  return root;
}

void print_stats(const char* phase) {
  kit_stats stats;
  kit_get_stats(&stats);
  std::printf("%-40s %7u live blocks, %8u KiB in small regions (%u free fragments), "
              "%u large blocks, %u pages grown in %u calls (%u in kitalloc's own runs)\n",
              phase, stats.small.live_blocks, stats.small.allocated_words / 256,
              stats.small.fragments, stats.large_blocks, stats.grown_pages, stats.grow_calls,
              stats.own_pages);
}

} // namespace

int main() {
  std::printf("kitalloc demo: a C++ program whose malloc is kitalloc\n\n");
  print_stats("start");

  std::vector<std::string> words;
  std::map<std::string, unsigned> counts;
  for (unsigned i = 0; i < 20000; ++i) {
    words.push_back("word-" + std::to_string(i * 7919u % 5000u) + "-long-enough-for-the-heap");
    ++counts[words.back()];
  }
  print_stats("20,000 strings, a map of 5,000 keys");

  std::unique_ptr<TreeNode> tree = build_tree(100000);
  print_stats("+ a tree of 100,000 nodes");

  std::vector<double> samples(1 << 20, 1.0);
  samples.back() = double(counts.size()); // used below, so the compiler keeps the allocation
  print_stats("+ a vector of 8 MiB");

  for (size_t i = 0; i < words.size(); i += 2)
    std::string().swap(words[i]);
  print_stats("every other string freed");

  kit_stats during;
  kit_get_stats(&during);
  std::printf("(last sample %.0f, %zu distinct words)\n", samples.back(), counts.size());
  tree.reset();
  std::vector<double>().swap(samples); // swap with an empty one: clear() keeps the capacity
  std::vector<std::string>().swap(words);
  counts.clear();
  print_stats("everything freed");
  kit_stats after;
  kit_get_stats(&after);

  const char* breach = kit_check();
  if (breach) {
    std::printf("kit_check: %s\n", breach);
    return 1;
  }
  if (during.small.live_blocks < 100000 || during.large_blocks < 1) {
    std::printf("the allocations did not reach kitalloc: is another malloc linked?\n");
    return 1;
  }
  if (after.large_blocks != 0) {
    std::printf("%u large blocks left once everything was freed\n", after.large_blocks);
    return 1;
  }
  std::printf("\nkit_check: every region and page run is consistent\n");
  return 0;
}
