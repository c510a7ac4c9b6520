// The allocator benchmark: workloads and a trace replayer, compiled once per toolchain (WASI,
// Emscripten) and linked against each allocator's malloc family; nothing here knows which one it
// got. bench/run.mjs instantiates a fresh module for every run and calls bench_run().
//
// Every block goes through TrackedHeap, which touches what it allocates so that nothing can be
// optimized away and gross corruption shows: timed runs write the first and last byte and read
// them back before free or realloc; checked runs fill the whole block with a pattern derived from
// the block's tag, verify all of it before free/realloc and after realloc, and check each new
// block against every live block for overlap. Compile with -fno-builtin: clang would otherwise
// fold malloc/free pairs away.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "common.hpp"

namespace {

using bench::now_ns;
using bench::Rng;

// Accumulates only the measured parts of a workload (set-up, teardown and trace reading are
// left out).
class Stopwatch {
public:
  void resume() { started_ = now_ns(); }
  void pause() { elapsed_ += now_ns() - started_; }
  uint64_t elapsed_ns() const { return elapsed_; }

private:
  uint64_t started_ = 0;
  uint64_t elapsed_ = 0;
};

// The timed part of every operation is inlined into its workload, so that what is measured is
// the allocator's work: with a call for each step (claim, fill, verify, release) the harness
// took about 15 ns of every allocator's malloc + free pair in V8, more than most allocators'
// own. Checked runs' fills, verifications and overlap index stay out of line.
#define BENCH_INLINE [[gnu::always_inline]] inline
#define BENCH_OUT_OF_LINE [[gnu::noinline]]

// ── The heap under test, seen through numbered slots ─────────────────────────────────────────
enum class Status : int { ok = 0, out_of_memory = 1, check_failed = 2, bad_request = 3 };

// The byte at `offset` of a block with `tag`: words of a hash, so checked runs fill 4 bytes at a
// time, and two blocks with different tags disagree almost everywhere (an overlap shows).
uint32_t pattern_word(uint32_t tag, uint32_t word_index) {
  uint32_t mixed = (tag + 1) * 0x9E3779B1u ^ word_index * 0x85EBCA77u;
  return mixed ^ (mixed >> 15);
}
unsigned char pattern_byte(uint32_t tag, uint32_t offset) {
  return (unsigned char)(pattern_word(tag, offset >> 2) >> ((offset & 3) * 8));
}

struct Block {
  unsigned char* bytes; // nullptr: the slot is empty
  uint32_t size;        // as requested
  uint32_t tag;         // unique per allocation; the block's contents derive from it
};

// Live blocks at once: churn needs 10,000; trace replay maps ids to slots. Static, so the
// table is below __heap_base and is not counted as heap. scripts/bench.sh builds a second set
// of modules with -DBENCH_SLOTS=262144 for the traces that need more (bench/run.mjs picks).
#ifndef BENCH_SLOTS
#define BENCH_SLOTS 16384
#endif
constexpr uint32_t kSlotCount = BENCH_SLOTS;
Block slots[kSlotCount];

// A slot's number in the checker's tables: 16 bits when they do, so that the default modules
// keep their 64 KiB smaller state (and their __heap_base) with the narrow tables.
template <bool kNarrow> struct SlotNumberOf { using type = uint32_t; };
template <> struct SlotNumberOf<true> { using type = uint16_t; };
using SlotNumber = SlotNumberOf<(kSlotCount < 0xFFFF)>::type;

// Checked runs: the live blocks in address order, to find a new block's neighbours. A treap
// over slot numbers in static arrays, so that the checker keeps nothing in the heap under test
// (a broken allocator would corrupt it and the run would crash instead of reporting).
class AddressIndex {
public:
  void clear() {
    root_ = kNone;
    for (uint32_t slot = 0; slot < kSlotCount; ++slot)
      left_[slot] = right_[slot] = kNone;
  }

  // Adds `slot` unless its block [bytes, bytes + max(size, 1)) overlaps one already there.
  BENCH_OUT_OF_LINE bool insert_if_disjoint(SlotNumber slot) {
    uintptr_t begin = start(slot);
    SlotNumber below, rest;
    split(root_, begin, below, rest);
    SlotNumber before = extreme(below, right_);
    SlotNumber after = extreme(rest, left_);
    bool disjoint =
        (before == kNone || end(before) <= begin) && (after == kNone || start(after) >= end(slot));
    if (disjoint)
      below = merge(below, slot);
    root_ = merge(below, rest);
    return disjoint;
  }

  BENCH_OUT_OF_LINE void erase(SlotNumber slot) {
    SlotNumber below, rest, same, above;
    split(root_, start(slot), below, rest);
    split(rest, start(slot) + 1, same, above);
    left_[slot] = right_[slot] = kNone;
    root_ = merge(below, above);
  }

private:
  static constexpr SlotNumber kNone = SlotNumber(~SlotNumber(0));
  static_assert(kSlotCount < kNone, "slot numbers must fit in SlotNumber");

  static uintptr_t start(SlotNumber slot) { return uintptr_t(slots[slot].bytes); }
  static uintptr_t end(SlotNumber slot) {
    return start(slot) + (slots[slot].size > 0 ? slots[slot].size : 1);
  }
  // A fixed pseudo-random priority per slot keeps the tree balanced in expectation.
  static uint32_t priority(SlotNumber slot) { return (slot + 1u) * 0x9E3779B1u; }

  // Splits the tree at `node` into keys below `key` and the rest.
  void split(SlotNumber node, uintptr_t key, SlotNumber& below, SlotNumber& rest) {
    if (node == kNone) {
      below = rest = kNone;
    } else if (start(node) < key) {
      split(right_[node], key, right_[node], rest);
      below = node;
    } else {
      split(left_[node], key, below, left_[node]);
      rest = node;
    }
  }
  // Joins two trees whose keys are all smaller in `low` than in `high`.
  SlotNumber merge(SlotNumber low, SlotNumber high) {
    if (low == kNone || high == kNone)
      return low == kNone ? high : low;
    if (priority(low) > priority(high)) {
      right_[low] = merge(right_[low], high);
      return low;
    }
    left_[high] = merge(low, left_[high]);
    return high;
  }
  // The leftmost (side = left_) or rightmost (side = right_) node of a tree.
  static SlotNumber extreme(SlotNumber node, const SlotNumber* side) {
    while (node != kNone && side[node] != kNone)
      node = side[node];
    return node;
  }

  SlotNumber root_ = kNone;
  SlotNumber left_[kSlotCount];
  SlotNumber right_[kSlotCount];
};
AddressIndex live_blocks_by_address;

class TrackedHeap {
public:
  explicit TrackedHeap(bool checked) : checked_(checked) {
    for (Block& block : slots)
      block = Block{nullptr, 0, 0};
    live_blocks_by_address.clear();
  }

  Status status() const { return status_; }
  const char* failure() const { return failure_; }
  uint64_t peak_live_bytes() const { return peak_live_bytes_; }
  const Block& block(uint32_t slot) const { return slots[slot]; }

  // `alignment` 0: malloc; else posix_memalign (aligned_alloc may insist on sizes that are a
  // multiple of the alignment, as emmalloc's does). `count` > 0: calloc(count, size / count).
  BENCH_INLINE bool allocate(uint32_t slot, uint32_t size, uint32_t alignment = 0,
                             uint32_t count = 0) {
    void* ptr = nullptr;
    if (count > 0)
      ptr = calloc(count, size / count);
    else if (alignment == 0)
      ptr = malloc(size);
    else if (posix_memalign(&ptr, alignment, size) != 0)
      ptr = nullptr;
    if (ptr == nullptr && size > 0)
      return fail(Status::out_of_memory, "out of memory");
    Block& block = slots[slot];
    block = Block{static_cast<unsigned char*>(ptr), size, next_tag_++};
    if (!aligned(block, alignment) || !claim_range(slot))
      return false;
    if (count > 0 && !zeroed(block))
      return false;
    fill(block, 0);
    add_live(size);
    return true;
  }

  BENCH_INLINE bool reallocate(uint32_t slot, uint32_t new_size) {
    Block& block = slots[slot];
    if (!verify(block, block.size))
      return false;
    release_range(slot);
    void* ptr = realloc(block.bytes, new_size);
    if (ptr == nullptr && new_size > 0)
      return fail(Status::out_of_memory, "out of memory");
    uint32_t old_size = block.size;
    block.bytes = static_cast<unsigned char*>(ptr);
    block.size = new_size;
    if (!aligned(block, 0) || !claim_range(slot))
      return false;
    // The contents up to the smaller size must have come along: checked runs verify all of
    // them; timed runs the first byte, and the old last byte unless the block shrank.
    uint32_t kept = old_size < new_size ? old_size : new_size;
    if (!verify(block, checked_ || kept == old_size || kept == 0 ? kept : 1))
      return false;
    fill(block, old_size);
    live_bytes_ -= old_size;
    add_live(new_size);
    return true;
  }

  BENCH_INLINE bool release(uint32_t slot) {
    Block& block = slots[slot];
    if (!verify(block, block.size))
      return false;
    release_range(slot);
    free(block.bytes);
    live_bytes_ -= block.size;
    block = Block{nullptr, 0, 0};
    return true;
  }

  // Workloads that keep their live blocks packed in slots 0..n-1 move the last one into a hole.
  BENCH_INLINE void move(uint32_t from, uint32_t to) {
    release_range(from);
    slots[to] = slots[from];
    slots[from] = Block{nullptr, 0, 0};
    claim_range(to);
  }

  // Writes the 4-byte element at `offset` as the pattern has it (vector growth pushes this way,
  // so pushed elements and checked fills agree).
  void store_word(uint32_t slot, uint32_t offset) {
    Block& block = slots[slot];
    uint32_t word = pattern_word(block.tag, offset >> 2);
    __builtin_memcpy(block.bytes + offset, &word, 4);
  }

  bool release_all() {
    for (uint32_t slot = 0; slot < kSlotCount; ++slot)
      if (slots[slot].bytes != nullptr && !release(slot))
        return false;
    return true;
  }

  BENCH_OUT_OF_LINE bool fail(Status status, const char* why) {
    if (status_ == Status::ok) {
      status_ = status;
      failure_ = why;
    }
    return false;
  }

private:
  BENCH_INLINE void add_live(uint32_t size) {
    live_bytes_ += size;
    if (live_bytes_ > peak_live_bytes_)
      peak_live_bytes_ = live_bytes_;
  }

  BENCH_INLINE bool aligned(const Block& block, uint32_t alignment) {
    uintptr_t needed = alignment > alignof(max_align_t) ? alignment : alignof(max_align_t);
    if ((uintptr_t(block.bytes) & (needed - 1)) != 0)
      return fail(Status::check_failed, "block not aligned as asked");
    return true;
  }

  // calloc's block must read as zeros: all of it in checked runs, else the first and last byte.
  bool zeroed(const Block& block) {
    bool zero = block.size == 0 || (block.bytes[0] == 0 && block.bytes[block.size - 1] == 0);
    for (uint32_t offset = 1; zero && checked_ && offset < block.size; ++offset)
      zero = block.bytes[offset] == 0;
    return zero || fail(Status::check_failed, "calloc block not zeroed");
  }

  // Writes the pattern from `from` to the end in checked runs; timed runs write the last byte,
  // and the first when `from` is 0.
  BENCH_INLINE void fill(const Block& block, uint32_t from) {
    if (block.size == 0)
      return;
    if (checked_) {
      fill_pattern(block, from);
    } else {
      if (from == 0)
        block.bytes[0] = pattern_byte(block.tag, 0);
      block.bytes[block.size - 1] = pattern_byte(block.tag, block.size - 1);
    }
  }
  BENCH_OUT_OF_LINE void fill_pattern(const Block& block, uint32_t from) {
    uint32_t offset = from;
    for (; offset < block.size && (offset & 3) != 0; ++offset)
      block.bytes[offset] = pattern_byte(block.tag, offset);
    for (; offset + 4 <= block.size; offset += 4) {
      uint32_t word = pattern_word(block.tag, offset >> 2);
      __builtin_memcpy(block.bytes + offset, &word, 4);
    }
    for (; offset < block.size; ++offset)
      block.bytes[offset] = pattern_byte(block.tag, offset);
  }

  // Checks the pattern over the first `length` bytes: all of them in checked runs, else the
  // first and last.
  BENCH_INLINE bool verify(const Block& block, uint32_t length) {
    if (length == 0)
      return true;
    bool intact = block.bytes[0] == pattern_byte(block.tag, 0) &&
                  block.bytes[length - 1] == pattern_byte(block.tag, length - 1);
    if (checked_ && intact)
      intact = pattern_intact(block, length);
    return intact || fail(Status::check_failed, "block contents changed while it was live");
  }
  BENCH_OUT_OF_LINE bool pattern_intact(const Block& block, uint32_t length) {
    uint32_t offset = 0;
    bool intact = true;
    for (; intact && offset + 4 <= length; offset += 4) {
      uint32_t word;
      __builtin_memcpy(&word, block.bytes + offset, 4);
      intact = word == pattern_word(block.tag, offset >> 2);
    }
    for (; intact && offset < length; ++offset)
      intact = block.bytes[offset] == pattern_byte(block.tag, offset);
    return intact;
  }

  // Checked runs: no live block may overlap another (a zero-size block counts as one byte, so
  // it must be unique too).
  BENCH_INLINE bool claim_range(uint32_t slot) {
    if (!checked_ || slots[slot].bytes == nullptr ||
        live_blocks_by_address.insert_if_disjoint(SlotNumber(slot)))
      return true;
    return fail(Status::check_failed, "block overlaps a live block");
  }
  BENCH_INLINE void release_range(uint32_t slot) {
    if (checked_ && slots[slot].bytes != nullptr)
      live_blocks_by_address.erase(SlotNumber(slot));
  }

  bool checked_;
  Status status_ = Status::ok;
  const char* failure_ = nullptr;
  uint32_t next_tag_ = 1;
  uint64_t live_bytes_ = 0;
  uint64_t peak_live_bytes_ = 0;
};

// ── Workloads ────────────────────────────────────────────────────────────────────────────────
// Each returns the number of operations it timed (the unit is in its description).
using Workload = uint64_t (*)(TrackedHeap&, Rng&, Stopwatch&);

// talc's random actions: allocate (1..10,000 B; 1 in 8 aligned to 16..256), free a random live
// block, or (with realloc) resize one to a new random size; never fewer than 50 live blocks.
uint64_t random_actions(TrackedHeap& heap, Rng& rng, Stopwatch& stopwatch, bool with_realloc) {
  constexpr uint32_t kActions = 100000;
  constexpr uint32_t kMinLive = 50;
  uint32_t live = 0;
  stopwatch.resume();
  for (uint32_t action = 0; action < kActions; ++action) {
    uint32_t choice = live < kMinLive ? 0 : rng.below(with_realloc ? 3 : 2);
    if (choice == 0 && live == kSlotCount)
      choice = 1; // never happens with these odds; keeps the table in bounds regardless
    bool ok;
    if (choice == 0) {
      uint32_t alignment = rng.below(8) == 0 ? 16u << rng.below(5) : 0;
      ok = heap.allocate(live++, rng.between(1, 10000), alignment);
    } else if (choice == 1) {
      uint32_t victim = rng.below(live);
      ok = heap.release(victim);
      heap.move(--live, victim);
    } else {
      ok = heap.reallocate(rng.below(live), rng.between(1, 10000));
    }
    if (!ok)
      break;
  }
  stopwatch.pause();
  return kActions;
}
uint64_t random_alloc_free(TrackedHeap& heap, Rng& rng, Stopwatch& stopwatch) {
  return random_actions(heap, rng, stopwatch, false);
}
uint64_t random_with_realloc(TrackedHeap& heap, Rng& rng, Stopwatch& stopwatch) {
  return random_actions(heap, rng, stopwatch, true);
}

// 10,000 live blocks of 16..256 B (set up untimed); each step frees one at random and
// allocates a new one in its place.
uint64_t churn(TrackedHeap& heap, Rng& rng, Stopwatch& stopwatch) {
  constexpr uint32_t kLive = 10000;
  constexpr uint32_t kSteps = 1000000;
  for (uint32_t slot = 0; slot < kLive; ++slot)
    if (!heap.allocate(slot, rng.between(16, 256)))
      return 0;
  stopwatch.resume();
  for (uint32_t step = 0; step < kSteps; ++step) {
    uint32_t slot = rng.below(kLive);
    if (!heap.release(slot) || !heap.allocate(slot, rng.between(16, 256)))
      break;
  }
  stopwatch.pause();
  return kSteps;
}

// Batches of 1,000 blocks of 32 B, 16-byte aligned, freed newest first (LIFO) or oldest first.
uint64_t small_batches(TrackedHeap& heap, Stopwatch& stopwatch, bool newest_first) {
  constexpr uint32_t kBatch = 1000;
  constexpr uint32_t kBatches = 1000;
  stopwatch.resume();
  for (uint32_t batch = 0; batch < kBatches; ++batch) {
    for (uint32_t slot = 0; slot < kBatch; ++slot)
      if (!heap.allocate(slot, 32, 16))
        goto done;
    for (uint32_t i = 0; i < kBatch; ++i)
      if (!heap.release(newest_first ? kBatch - 1 - i : i))
        goto done;
  }
done:
  stopwatch.pause();
  return uint64_t(kBatch) * kBatches;
}
uint64_t small_lifo(TrackedHeap& heap, Rng&, Stopwatch& stopwatch) {
  return small_batches(heap, stopwatch, true);
}
uint64_t small_fifo(TrackedHeap& heap, Rng&, Stopwatch& stopwatch) {
  return small_batches(heap, stopwatch, false);
}

// One block, 16 B, reallocated to twice its size up to 64 MiB, then freed; 4 such chains (the
// first grows memory, the others show whether the space is reused).
uint64_t realloc_doubling(TrackedHeap& heap, Rng&, Stopwatch& stopwatch) {
  constexpr uint32_t kChains = 4;
  constexpr uint32_t kFirstSize = 16;
  constexpr uint32_t kLastSize = 64u << 20;
  uint64_t reallocs = 0;
  stopwatch.resume();
  for (uint32_t chain = 0; chain < kChains; ++chain) {
    if (!heap.allocate(0, kFirstSize))
      break;
    for (uint32_t size = kFirstSize * 2; size <= kLastSize; size *= 2, ++reallocs)
      if (!heap.reallocate(0, size))
        goto done;
    if (!heap.release(0))
      break;
  }
done:
  stopwatch.pause();
  return reallocs;
}

// 16 vectors of 4-byte elements grown side by side, one push at a time, to 64 Ki elements
// each; a full vector doubles its capacity with realloc (as Rust's Vec and C vectors do).
uint64_t vector_growth(TrackedHeap& heap, Rng&, Stopwatch& stopwatch) {
  constexpr uint32_t kVectors = 16;
  constexpr uint32_t kElements = 64 * 1024;
  constexpr uint32_t kFirstCapacity = 4;
  uint32_t capacity[kVectors] = {};
  stopwatch.resume();
  for (uint32_t length = 0; length < kElements; ++length) {
    for (uint32_t slot = 0; slot < kVectors; ++slot) {
      if (length == capacity[slot]) {
        uint32_t grown = length == 0 ? kFirstCapacity : 2 * length;
        bool ok = length == 0 ? heap.allocate(slot, grown * 4) : heap.reallocate(slot, grown * 4);
        if (!ok)
          goto done;
        capacity[slot] = grown;
      }
      heap.store_word(slot, length * 4);
    }
  }
done:
  stopwatch.pause();
  return uint64_t(kVectors) * kElements;
}

// Up to 16 live blocks of 64 KiB..4 MiB (log-uniform); each step frees a random slot's block
// and allocates a new one there. Memory grows during the first steps: that cost is included.
uint64_t large_blocks(TrackedHeap& heap, Rng& rng, Stopwatch& stopwatch) {
  constexpr uint32_t kLive = 16;
  constexpr uint32_t kSteps = 1000;
  stopwatch.resume();
  for (uint32_t step = 0; step < kSteps; ++step) {
    uint32_t slot = rng.below(kLive);
    uint32_t base = (64u << 10) << rng.below(6); // 64 KiB .. 2 MiB, then up to twice that
    if ((heap.block(slot).bytes != nullptr && !heap.release(slot)) ||
        !heap.allocate(slot, base + rng.below(base)))
      break;
  }
  stopwatch.pause();
  return kSteps;
}

// The cost of growing memory: 256 blocks of 1 MiB allocated (memory grows to 256 MiB and
// more), then all freed.
uint64_t heap_growth(TrackedHeap& heap, Rng&, Stopwatch& stopwatch) {
  constexpr uint32_t kBlocks = 256;
  stopwatch.resume();
  for (uint32_t slot = 0; slot < kBlocks; ++slot)
    if (!heap.allocate(slot, 1u << 20))
      break;
  heap.release_all();
  stopwatch.pause();
  return kBlocks;
}

// ── Trace replay ─────────────────────────────────────────────────────────────────────────────
// bench/run.mjs parses a trace (CS:APP .rep or kitalloc's format, docs/BENCHMARKS.md), maps its
// block ids to slots and hands the operations over in chunks through this import.
struct TraceOp {
  uint32_t kind; // 'm' malloc, 'a' posix_memalign, 'c' calloc, 'r' realloc, 'f' free
  uint32_t slot;
  uint32_t size;  // bytes (calloc: count * element size)
  uint32_t extra; // 'a': alignment; 'c': element count
};

#ifdef __EMSCRIPTEN__
extern "C" uint32_t bench_trace_read(TraceOp* ops,
                                     uint32_t capacity); // bench/emscripten_imports.js
#else
extern "C" __attribute__((import_module("bench"), import_name("trace_read"))) uint32_t
bench_trace_read(TraceOp* ops, uint32_t capacity);
#endif

TraceOp trace_chunk[1024];

bool replay_op(TrackedHeap& heap, const TraceOp& op) {
  if (op.slot >= kSlotCount)
    return heap.fail(Status::bad_request, "trace slot out of range");
  switch (op.kind) {
  case 'm':
    return heap.allocate(op.slot, op.size);
  case 'a':
    return heap.allocate(op.slot, op.size, op.extra);
  case 'c':
    return heap.allocate(op.slot, op.size, 0, op.extra);
  case 'r':
    return heap.reallocate(op.slot, op.size);
  case 'f':
    return heap.release(op.slot);
  default:
    return heap.fail(Status::bad_request, "unknown trace operation");
  }
}

uint64_t replay_trace(TrackedHeap& heap, Rng&, Stopwatch& stopwatch) {
  uint64_t replayed = 0;
  while (heap.status() == Status::ok) {
    uint32_t count = bench_trace_read(trace_chunk, sizeof trace_chunk / sizeof trace_chunk[0]);
    if (count == 0)
      break;
    stopwatch.resume();
    for (uint32_t i = 0; i < count && replay_op(heap, trace_chunk[i]); ++i)
      ++replayed;
    stopwatch.pause();
  }
  return replayed;
}

struct WorkloadInfo {
  const char* name;
  const char* operation;   // what one counted operation is
  const char* description; // for docs/BENCHMARKS.md
  Workload run;
};

// bench/run.mjs reads this table through the exports below.
constexpr WorkloadInfo kWorkloads[] = {
    {"random actions", "action",
     "100,000 actions: malloc 1..10,000 B (1 in 8 posix_memalign 16..256) or free a random live "
     "block, never below 50 live (talc's benchmark)",
     random_alloc_free},
    {"random actions with realloc", "action",
     "the same with a third action: realloc a random live block to 1..10,000 B",
     random_with_realloc},
    {"churn", "free + malloc",
     "10,000 live blocks of 16..256 B (set up untimed); 1,000,000 steps each free one at random "
     "and malloc a new one",
     churn},
    {"small LIFO", "malloc + free",
     "1,000 batches: 1,000 posix_memalign(16, 32), freed newest first", small_lifo},
    {"small FIFO", "malloc + free",
     "1,000 batches: 1,000 posix_memalign(16, 32), freed oldest first", small_fifo},
    {"realloc doubling", "realloc",
     "4 chains: malloc 16 B, realloc to twice the size up to 64 MiB, free", realloc_doubling},
    {"vector growth", "push",
     "16 vectors of 4-byte elements pushed in turn to 64 Ki elements each; a full vector "
     "doubles with realloc",
     vector_growth},
    {"large blocks", "free + malloc",
     "1,000 steps over 16 slots: free the slot's block, malloc 64 KiB..4 MiB (log-uniform); "
     "includes growing memory",
     large_blocks},
    {"heap growth", "1 MiB malloc",
     "256 blocks of 1 MiB allocated (memory grows past 256 MiB), then all freed", heap_growth},
    {"trace replay", "trace operation", "one trace (bench/traces/), ops handed over in chunks",
     replay_trace},
};
constexpr uint32_t kWorkloadCount = sizeof kWorkloads / sizeof kWorkloads[0];

struct RunResult {
  Status status = Status::ok;
  const char* failure = nullptr;
  uint64_t elapsed_ns = 0;
  uint64_t operations = 0;
  uint64_t peak_live_bytes = 0;
} result;

} // namespace

extern "C" unsigned char __heap_base;

// The module's interface to bench/run.mjs. One bench_run per instance: memory figures are read
// from the instance afterwards.
extern "C" {

// How many blocks may be live at once (bench/run.mjs skips traces that need more).
__attribute__((export_name("bench_slot_count"))) uint32_t bench_slot_count() { return kSlotCount; }
__attribute__((export_name("bench_workload_count"))) uint32_t bench_workload_count() {
  return kWorkloadCount;
}
__attribute__((export_name("bench_workload_name"))) const char* bench_workload_name(uint32_t i) {
  return i < kWorkloadCount ? kWorkloads[i].name : "";
}
__attribute__((export_name("bench_workload_operation"))) const char*
bench_workload_operation(uint32_t i) {
  return i < kWorkloadCount ? kWorkloads[i].operation : "";
}
__attribute__((export_name("bench_workload_description"))) const char*
bench_workload_description(uint32_t i) {
  return i < kWorkloadCount ? kWorkloads[i].description : "";
}

// Runs workload `index` with `seed`; `checked` != 0 verifies every byte (slow). Returns the
// status: 0 ok, 1 out of memory, 2 a check failed, 3 bad request.
__attribute__((export_name("bench_run"))) int bench_run(uint32_t index, uint32_t seed,
                                                        uint32_t checked) {
  if (index >= kWorkloadCount)
    return int(Status::bad_request);
  TrackedHeap heap(checked != 0);
  Rng rng(seed);
  Stopwatch stopwatch;
  result.operations = kWorkloads[index].run(heap, rng, stopwatch);
  if (heap.status() == Status::ok)
    heap.release_all(); // untimed; in checked runs it verifies what is left
  result.status = heap.status();
  result.failure = heap.failure();
  result.elapsed_ns = stopwatch.elapsed_ns();
  result.peak_live_bytes = heap.peak_live_bytes();
  return int(result.status);
}

__attribute__((export_name("bench_elapsed_ns"))) double bench_elapsed_ns() {
  return double(result.elapsed_ns);
}
__attribute__((export_name("bench_operations"))) double bench_operations() {
  return double(result.operations);
}
__attribute__((export_name("bench_peak_live_bytes"))) double bench_peak_live_bytes() {
  return double(result.peak_live_bytes);
}
__attribute__((export_name("bench_failure"))) const char* bench_failure() {
  return result.failure != nullptr ? result.failure : "";
}
__attribute__((export_name("bench_heap_base"))) uint32_t bench_heap_base() {
  return uint32_t(uintptr_t(&__heap_base));
}

} // extern "C"
