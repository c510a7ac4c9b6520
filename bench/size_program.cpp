// A small, ordinary C++ program for the code-size comparison (docs/BENCHMARKS.md): built with
// the toolchain's malloc and again with libkitalloc.a, the difference in bytes is what kitalloc
// adds to (or saves from) a real program. It counts words with std::map, sorts them in a
// std::vector and prints them with printf.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::map<std::string, int> counts;
  std::string text = "the quick brown fox jumps over the lazy dog and the dog sleeps";
  for (int i = 1; i < argc; ++i)
    text += std::string(" ") + argv[i];
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos)
      end = text.size();
    if (end > start)
      ++counts[text.substr(start, end - start)];
    start = end + 1;
  }
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [word, count] : counts)
    ranked.emplace_back(count, word);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (const auto& [count, word] : ranked)
    std::printf("%3d %s\n", count, word.c_str());
  return 0;
}
