// Fuzz target: the core alone. Each input creates a primary region (and, when it is big enough,
// a secondary one chained after it) on static buffers, then decodes a sequence of alloc,
// dealloc, sized dealloc, resize_in_place, extend, compact and invalid calls, checked against
// the shadow model and the region's own figures; check() must pass after every call.
//
// Input: 3 header bytes (primary size, secondary size, begin offsets), then operations, each an
// opcode byte and its operands (see run_operation). fuzz/make_corpus.sh writes seeds.
#include "kitalloc/simple_allocator.hpp"

#include "fuzz_input.hpp"
#include "shadow_model.hpp"

#include <cstddef>
#include <cstdint>

using kit::RegionStats;
using kit::SimpleAllocator;
using kit::fuzz::InputDecoder;
using kit::fuzz::LiveBlock;
using kit::fuzz::OperationTally;
using kit::fuzz::ShadowModel;

namespace {

OperationTally tally("fuzz-core");

// Big enough for a region of the largest size and then some, so that extend can be asked to
// pass 2 MiB. Each region's begin is offset by up to 7 bytes: create rounds it up to 8.
alignas(64) unsigned char primary_buffer[kit::kMaxRegionBytes + 4096];
alignas(64) unsigned char secondary_buffer[8 * 1024 + 64];

bool same_stats(const RegionStats& a, const RegionStats& b) {
  return a.regions == b.regions && a.total_words == b.total_words &&
         a.allocated_words == b.allocated_words && a.unused_words == b.unused_words &&
         a.fragment_words == b.fragment_words && a.fragments == b.fragments &&
         a.live_blocks == b.live_blocks;
}

// create's contract (README, "What bad input gets"): the range, begin rounded up to 8 and end
// down to a word, must hold the state and one 16-byte block, and at most 2 MiB.
bool create_should_succeed(uintptr_t begin, uintptr_t end) {
  uintptr_t first = (begin + 7) & ~uintptr_t(7);
  uintptr_t last = end & ~uintptr_t(3);
  return last >= first && last - first >= sizeof(SimpleAllocator) + kit::kMinBlockBytes &&
         last - first <= kit::kMaxRegionBytes;
}

// Mostly small requests, some medium, a few up to the limit and a little past it.
size_t decode_word_count(InputDecoder& input) {
  uint16_t value = input.u16();
  switch (value >> 14) {
  case 0:
  case 1:
    return value & 31;
  case 2:
    return value & 1023;
  default:
    return (value & 0x3FFF) % (kit::kMaxAllocWords + 64);
  }
}

// Mostly word alignment; otherwise 0..17 trailing zero bits (17 is past the limit).
uint32_t decode_align_bits(InputDecoder& input) {
  uint8_t value = input.byte();
  return value < 192 ? 2 : (value - 192) % (kit::kMaxAlignBits + 2);
}

// Units a block of word_count words takes: the header, and at least the minimum block.
uint32_t units_for(size_t word_count) {
  size_t units = word_count + 1;
  return uint32_t(units < kit::kMinBlockWords ? kit::kMinBlockWords : units);
}

class CoreHarness {
public:
  void run(InputDecoder& input) {
    create_regions(input);
    check_step();
    while (!input.exhausted())
      run_operation(input);
    free_everything();
  }

private:
  enum Opcode : uint8_t {
    kAlloc,
    kAlloc2,
    kAlloc3, // allocation is weighted up so that inputs build heaps worth checking
    kDealloc,
    kSizedDealloc,
    kResize,
    kInvalidDealloc,
    kExtend,
    kCompact,
    kOpcodeCount
  };

  void create_regions(InputDecoder& input) {
    size_t primary_bytes = 1024 + size_t(input.byte()) * 4096;
    size_t secondary_bytes = size_t(input.byte()) * 32;
    uint8_t offsets = input.byte();
    primary_ = create_region(primary_buffer + (offsets & 7), primary_bytes);
    tally.require(primary_ != nullptr, "create refused a valid primary region");
    secondary_ = create_region(secondary_buffer + ((offsets >> 3) & 7), secondary_bytes);
    if (secondary_ != nullptr)
      primary_->chain(secondary_);
    RegionStats stats = primary_->stats();
    tally.require(stats.allocated_words == 0 && stats.live_blocks == 0 && stats.fragments == 0,
                  "a new region is not empty");
    total_words_ = stats.total_words;
  }

  SimpleAllocator* create_region(unsigned char* begin, size_t bytes) {
    SimpleAllocator* region = SimpleAllocator::create(begin, begin + bytes);
    bool expected = create_should_succeed(uintptr_t(begin), uintptr_t(begin + bytes));
    if ((region != nullptr) != expected)
      tally.fail("create(%p, +%zu bytes) %s", static_cast<void*>(begin), bytes,
                 expected ? "returned nullptr" : "accepted a range it must refuse");
    if (region != nullptr &&
        (region->heap_start() < uintptr_t(begin) || region->end() > uintptr_t(begin + bytes)))
      tally.fail("create placed the region outside [begin, end)");
    return region;
  }

  void run_operation(InputDecoder& input) {
    switch (input.byte() % kOpcodeCount) {
    case kAlloc:
    case kAlloc2:
    case kAlloc3:
      alloc(input);
      break;
    case kDealloc:
      dealloc(input);
      break;
    case kSizedDealloc:
      sized_dealloc(input);
      break;
    case kResize:
      resize(input);
      break;
    case kInvalidDealloc:
      invalid_dealloc(input);
      break;
    case kExtend:
      extend(input);
      break;
    case kCompact:
      compact(input);
      break;
    }
  }

  void alloc(InputDecoder& input) {
    size_t word_count = decode_word_count(input);
    uint32_t align_bits = decode_align_bits(input);
    tally.start_operation("alloc");
    RegionStats before = primary_->stats();
    void* payload = primary_->alloc(word_count, align_bits);
    bool valid = word_count <= kit::kMaxAllocWords && align_bits <= kit::kMaxAlignBits;
    if (payload == nullptr) {
      tally.require(same_stats(before, primary_->stats()), "a failed alloc changed the figures");
      if (valid)
        require_no_region_had_room(word_count, align_bits);
    } else {
      if (!valid)
        tally.fail("alloc(%zu words, %u align bits) succeeded past the limits", word_count,
                   align_bits);
      adopt(payload, word_count, size_t(1) << align_bits);
    }
    check_step();
  }

  void dealloc(InputDecoder& input) {
    uint16_t selector = input.u16();
    if (model_.empty())
      return;
    tally.start_operation("dealloc");
    LiveBlock block = forget(model_.pick(selector));
    tally.require(primary_->dealloc(block.payload), "dealloc refused a live block");
    check_step();
  }

  // alloc_cat's form: any word_count up to the block's usable words frees it; more is refused.
  // mode % 4: 0 frees with the words asked for, 1 and 2 with the usable words, 3 with too many.
  void sized_dealloc(InputDecoder& input) {
    uint16_t selector = input.u16();
    uint8_t mode = input.byte();
    if (model_.empty())
      return;
    tally.start_operation("sized dealloc");
    size_t index = model_.pick(selector);
    void* payload = model_.at(index).payload;
    size_t usable_words = SimpleAllocator::usable_words(payload);
    if (mode % 4 == 3) {
      RegionStats before = primary_->stats();
      tally.require(!primary_->dealloc(payload, usable_words + 1 + mode / 4),
                    "sized dealloc accepted a word count larger than the block");
      tally.require(same_stats(before, primary_->stats()),
                    "a refused sized dealloc changed the figures");
      model_.verify(index);
    } else {
      size_t word_count = mode % 4 == 0 ? model_.at(index).requested / 4 : usable_words;
      forget(index);
      tally.require(primary_->dealloc(payload, word_count), "sized dealloc refused a live block");
    }
    check_step();
  }

  void resize(InputDecoder& input) {
    uint16_t selector = input.u16();
    size_t word_count = decode_word_count(input);
    if (model_.empty())
      return;
    tally.start_operation("resize_in_place");
    size_t index = model_.pick(selector);
    void* payload = model_.at(index).payload;
    uint32_t old_units = SimpleAllocator::block_units(payload);
    RegionStats before = primary_->stats();
    if (!primary_->resize_in_place(payload, word_count)) {
      tally.require(same_stats(before, primary_->stats()), "a refused resize changed the figures");
      if (word_count <= kit::kMaxAllocWords)
        require_resize_had_no_room(payload, old_units, word_count);
      model_.verify(index);
    } else {
      if (word_count > kit::kMaxAllocWords)
        tally.fail("resize_in_place to %zu words succeeded past the limit", word_count);
      size_t usable = size_t(SimpleAllocator::usable_words(payload)) * kit::kWordBytes;
      model_.resize(index, payload, word_count * kit::kWordBytes, usable, kit::kWordBytes);
      require_no_excess(payload, word_count);
      used_units_ += SimpleAllocator::block_units(payload);
      used_units_ -= old_units;
    }
    check_step();
  }

  // Pointers dealloc must refuse without changing anything (README, "What bad input gets").
  // A double free is left out: once the block merged with a free block before it, its stale
  // header is indistinguishable from a live one, as documented.
  void invalid_dealloc(InputDecoder& input) {
    uint8_t kind = input.byte();
    uint16_t selector = input.u16();
    unsigned char outside_every_region = 0;
    const unsigned char* pointer = &outside_every_region;
    const char* what = "a pointer outside every region";
    if (kind % 4 == 1 && !model_.empty()) {
      pointer = model_.at(model_.pick(selector)).payload + 1 + selector % 3;
      what = "a misaligned pointer into a live block";
    } else if (kind % 4 == 2 && primary_->end() - primary_->unused_start() > 2 * kit::kWordBytes) {
      uintptr_t room_words = (primary_->end() - primary_->unused_start()) / kit::kWordBytes;
      pointer = reinterpret_cast<unsigned char*>(primary_->unused_start() +
                                                 (1 + selector % (room_words - 1)) * 4);
      what = "a pointer into the bump area";
    } else if (kind % 4 == 3) {
      pointer = reinterpret_cast<const unsigned char*>(primary_) + 8;
      what = "a pointer into the region's state";
    }
    tally.start_operation("invalid dealloc");
    RegionStats before = primary_->stats();
    if (primary_->dealloc(const_cast<unsigned char*>(pointer)))
      tally.fail("dealloc accepted %s (%p)", what, static_cast<const void*>(pointer));
    tally.require(same_stats(before, primary_->stats()), "a refused dealloc changed the figures");
    check_step();
  }

  // The primary region's end moves by -16 KiB .. +4 MiB, within its buffer: below the bump
  // pointer and past 2 MiB must be refused.
  void extend(InputDecoder& input) {
    auto delta = (intptr_t(input.u16()) - 256) * 64;
    tally.start_operation("extend");
    uintptr_t buffer_end = uintptr_t(primary_buffer + sizeof primary_buffer);
    uintptr_t old_end = primary_->end();
    uintptr_t new_end = old_end + uintptr_t(delta);
    if (new_end > buffer_end)
      new_end = buffer_end;
    uintptr_t base = uintptr_t(primary_);
    bool expected = (new_end & ~uintptr_t(3)) >= primary_->unused_start() &&
                    ((new_end - base) & ~uintptr_t(3)) <= kit::kMaxRegionBytes;
    RegionStats before = primary_->stats();
    bool extended = primary_->move_end(reinterpret_cast<void*>(new_end));
    if (extended != expected)
      tally.fail("extend from %#zx to %#zx (region base %#zx) %s", size_t(old_end), size_t(new_end),
                 size_t(base), extended ? "succeeded" : "was refused");
    if (extended) {
      tally.require(primary_->end() <= new_end && primary_->end() + kit::kWordBytes > new_end,
                    "extend did not move the end to the word below new_end");
      total_words_ +=
          uint32_t((intptr_t(primary_->end()) - intptr_t(old_end)) / intptr_t(kit::kWordBytes));
    } else {
      tally.require(same_stats(before, primary_->stats()), "a refused extend changed the figures");
    }
    check_step();
  }

  // Compaction of the primary region: the relocator refuses the blocks an input byte picks (as
  // a locked handle would). Moved blocks must keep their bytes and only ever move down; after
  // it the free space is at most one block below each refused block.
  void compact(InputDecoder& input) {
    uint8_t refusal = input.byte();
    tally.start_operation("compact");
    struct Moves {
      uint8_t refusal;
      uint32_t asked;
      uint32_t count;
      void* from[4096];
      void* to[4096];
    } moves;
    moves.refusal = refusal;
    moves.asked = 0;
    moves.count = 0;
    uint32_t moved = primary_->compact(
        [](void* context, void* from, void* to) {
          auto* moves = static_cast<Moves*>(context);
          moves->asked += 1;
          if (moves->refusal != 0 && (uintptr_t(from) >> 4) % 7 == moves->refusal % 7)
            return false;
          if (moves->count == 4096) // past what the harness records: as if refused
            return false;
          moves->from[moves->count] = from;
          moves->to[moves->count++] = to;
          return true;
        },
        &moves);
    tally.require(moved == moves.count, "compact's count is not the moves it made");
    for (uint32_t move = 0; move < moves.count; ++move) {
      tally.require(uintptr_t(moves.to[move]) < uintptr_t(moves.from[move]),
                    "compact moved a block up");
      size_t index = index_of(moves.from[move]);
      const kit::fuzz::LiveBlock& block = model_.at(index);
      size_t usable = size_t(SimpleAllocator::usable_words(moves.to[move])) * kit::kWordBytes;
      tally.require(usable == block.usable, "a moved block changed its size");
      model_.resize(index, moves.to[move], block.requested, usable, kit::kWordBytes);
    }
    uint32_t fragments =
        primary_->stats().fragments - (secondary_ != nullptr ? secondary_->stats().fragments : 0);
    tally.require(fragments <= moves.asked - moves.count,
                  "compact left more free blocks than blocks it could not move");
    check_step();
  }

  size_t index_of(const void* payload) const {
    for (size_t index = 0; index < model_.size(); ++index)
      if (model_.at(index).payload == payload)
        return index;
    tally.fail("compact moved %p, which the model does not hold", payload);
    return 0;
  }

  void adopt(void* payload, size_t word_count, size_t alignment) {
    size_t usable = size_t(SimpleAllocator::usable_words(payload)) * kit::kWordBytes;
    model_.add(payload, word_count * kit::kWordBytes, usable, alignment);
    require_in_a_region(payload);
    require_no_excess(payload, word_count);
    used_units_ += SimpleAllocator::block_units(payload);
  }

  // Removes a block from the model (verifying its contents) before the caller frees it.
  LiveBlock forget(size_t index) {
    used_units_ -= SimpleAllocator::block_units(model_.at(index).payload);
    return model_.remove(index);
  }

  void free_everything() {
    while (!model_.empty()) {
      tally.start_operation("dealloc at the end of the input");
      LiveBlock block = forget(model_.size() - 1);
      tally.require(primary_->dealloc(block.payload), "dealloc refused a live block");
    }
    check_step();
    RegionStats stats = primary_->stats();
    tally.require(stats.allocated_words == 0 && stats.fragments == 0,
                  "with every block freed, the regions are not empty again");
  }

  // The heap's own check and its figures against the model.
  void check_step() {
    if (const char* breach = primary_->check())
      tally.fail("check(): %s", breach);
    RegionStats stats = primary_->stats();
    tally.require(stats.live_blocks == model_.size(), "live_blocks disagrees with the model");
    tally.require(stats.allocated_words - stats.fragment_words == used_units_,
                  "allocated minus fragment words is not the live blocks' units");
    tally.require(stats.allocated_words + stats.unused_words == stats.total_words,
                  "allocated plus unused words is not the total");
    tally.require(stats.total_words == total_words_, "the total changed other than by extend");
    tally.require(stats.regions == (secondary_ ? 2u : 1u), "the chain's length changed");
  }

  void require_in_a_region(const void* payload) const {
    uintptr_t begin = uintptr_t(payload) - kit::kWordBytes;
    uintptr_t end = uintptr_t(payload) + SimpleAllocator::usable_words(payload) * kit::kWordBytes;
    for (const SimpleAllocator* region = primary_; region != nullptr; region = region->next())
      if (begin >= region->heap_start() && end <= region->unused_start())
        return;
    tally.fail("block %p lies in no region's blocks", payload);
  }

  // A block keeps at most a tail too small to be a free block (3 words) beyond its request.
  void require_no_excess(const void* payload, size_t word_count) const {
    uint32_t units = SimpleAllocator::block_units(payload);
    if (units >= units_for(word_count) + kit::kMinBlockWords)
      tally.fail("a block of %zu words takes %u units", word_count, units);
  }

  // A refused alloc is only right when no region's bump area could hold the block with its
  // worst alignment gap (free blocks are not searched exhaustively, so only that is certain).
  void require_no_region_had_room(size_t word_count, uint32_t align_bits) const {
    uint32_t align_words = align_bits > 2 ? 1u << (align_bits - 2) : 0;
    uint32_t worst_gap =
        align_words == 0
            ? 0
            : align_words - 1 +
                  (align_words > kit::kMinBlockWords ? align_words : kit::kMinBlockWords);
    for (const SimpleAllocator* region = primary_; region != nullptr; region = region->next()) {
      uintptr_t room = (region->end() - region->unused_start()) / kit::kWordBytes;
      if (room >= units_for(word_count) + worst_gap)
        tally.fail("alloc(%zu words, %u align bits) failed with %zu words free at a bump pointer",
                   word_count, align_bits, size_t(room));
    }
  }

  // A refused resize is only right for a growth, and when the block is the last before its
  // region's bump area, only when that area is too small.
  void require_resize_had_no_room(const void* payload, uint32_t old_units,
                                  size_t word_count) const {
    uint32_t wanted = units_for(word_count);
    if (wanted <= old_units)
      tally.fail("resize_in_place refused a shrink from %u to %u units", old_units, wanted);
    uintptr_t block_end = uintptr_t(payload) - kit::kWordBytes + old_units * kit::kWordBytes;
    for (const SimpleAllocator* region = primary_; region != nullptr; region = region->next())
      if (block_end == region->unused_start() &&
          (region->end() - region->unused_start()) / kit::kWordBytes >= wanted - old_units)
        tally.fail("resize_in_place refused a growth the bump area after the block had room for");
  }

  ShadowModel model_{tally};
  SimpleAllocator* primary_ = nullptr;
  SimpleAllocator* secondary_ = nullptr;
  uint32_t total_words_ = 0;
  uint64_t used_units_ = 0; // units (header included) of the live blocks
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tally.start_input();
  InputDecoder input(data, size);
  CoreHarness harness;
  harness.run(input);
  return 0;
}
