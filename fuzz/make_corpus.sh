#!/usr/bin/env bash
# Writes the seed corpus, fuzz/corpus/core/* and fuzz/corpus/c-abi/*: a few small inputs, each a
# readable sequence of operations, that start the fuzzer on every kind of call. Deterministic:
# rerunning it rewrites the same bytes. The encodings follow the decoders in fuzz_core.cpp and
# fuzz_c_abi.cpp (run_operation, decode_*); change both together.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

u8() { printf "\\x$(printf %02x $(($1 & 255)))"; }
u16() { u8 "$1"; u8 $(($1 >> 8)); }
u24() { u16 "$1"; u8 $(($1 >> 16)); }

# ── fuzz-core: a 3-byte header, then operations ──────────────────────────────────────────────
# header: primary region 1 KiB + n * 4 KiB, secondary n * 32 bytes, begin offsets (3 bits each)
core_header() { u8 "$1"; u8 "$2"; u8 "$3"; }
# word counts: below 32, below 1024, or up to the limit (8195) and a little past it
small_words() { u16 "$1"; }
medium_words() { u16 $((0x8000 | $1)); }
big_words() { u16 $((0xC000 | $1)); }
word_aligned() { echo 0; }
align_bits() { echo $((192 + $1)); } # 0..16; 17 is refused
core_alloc() { u8 0; local align=$1; shift; "$@"; u8 "$align"; } # <align byte> <words...>
core_dealloc() { u8 3; u16 "$1"; }           # block selector
core_sized_dealloc() { u8 4; u16 "$1"; u8 "$2"; } # mode: 0 requested, 1 usable, 3 too many
core_resize() { u8 5; u16 "$1"; shift; "$@"; }
core_invalid_dealloc() { u8 6; u8 "$1"; u16 "$2"; } # 0 outside, 1 misaligned, 2 bump, 3 state
core_extend() { u8 7; u16 "$1"; }            # the end moves by ($1 - 256) * 64 bytes

core_small_churn() {
  core_header 15 32 0
  for words in 0 1 2 3 5 8 13 21 31; do core_alloc "$(word_aligned)" small_words "$words"; done
  for selector in 0 2 4; do core_dealloc "$selector"; done
  core_resize 0 small_words 30
  core_resize 1 small_words 1
  core_alloc "$(word_aligned)" medium_words 300
  core_sized_dealloc 1 0
  core_sized_dealloc 2 1
}

core_aligned() {
  core_header 40 100 0x3F
  for bits in 0 3 4 5 8 12 16 17; do
    core_alloc "$(align_bits "$bits")" small_words 7
    core_alloc "$(align_bits "$bits")" medium_words 100
  done
  core_dealloc 3
  core_dealloc 5
  core_alloc "$(align_bits 6)" small_words 7
}

core_fill_and_extend() {
  core_header 0 255 0x09
  for _ in 1 2 3 4 5 6; do core_alloc "$(word_aligned)" medium_words 200; done
  core_extend 100
  core_extend 1000
  for _ in 1 2 3 4; do core_alloc "$(word_aligned)" big_words 8000; done
  core_resize 0 medium_words 1000
  core_extend 0
  core_extend 65535
}

core_invalid() {
  core_header 1 5 0
  core_alloc "$(word_aligned)" small_words 4
  core_alloc "$(word_aligned)" big_words 8300
  core_alloc "$(align_bits 17)" small_words 4
  for kind in 0 1 2 3; do core_invalid_dealloc "$kind" 1; done
  core_sized_dealloc 0 3
  core_resize 0 big_words 8250
  core_dealloc 0
}

# ── fuzz-c-abi: operations ───────────────────────────────────────────────────────────────────
tiny() { u8 0; u8 "$1"; }            # 0..255 bytes
small() { u8 3; u16 "$1"; }          # below 4096
boundary() { u8 5; u8 "$1"; }        # 32 KiB - 64 + n, either side of the small/large limit
large() { u8 6; u24 $(($1 - 32768)); } # 32 KiB .. 4 MiB
page_fit() { u8 7; u8 $(($1 - 1)); u8 "$2"; } # n pages - 64 (the run's header) - delta bytes
alignment() { echo "$1"; }             # 2^n for n < 17
bad_alignment() { echo $((216 + $1)); } # 0, 3, 24, 48, 128 KiB, 1 MiB, SIZE_MAX/2+1, SIZE_MAX
abi_malloc() { u8 0; "$@"; }
abi_calloc() { u8 2; u8 $(($1 - 1)); shift; "$@"; }
abi_realloc() { u8 3; u16 "$1"; shift; "$@"; }
abi_realloc_to_zero() { u8 4; u16 "$1"; }
abi_aligned_alloc() { u8 5; u8 "$1"; shift; "$@"; } # <alignment byte> <size...>
abi_memalign() { u8 6; u8 "$1"; shift; "$@"; }
abi_posix_memalign() { u8 7; u8 "$1"; shift; "$@"; }
abi_free() { u8 8; u16 "$1"; }
abi_impossible() { u8 10; u8 "$1"; u16 "$2"; } # kinds 0..8: malloc calloc aligned memalign posix
                                               # realloc handle heap_malloc heap_create
# Handles (decode_handle_size): below 256, below 4096, below 32 KiB, 32 KiB .. 160 KiB.
h_tiny() { u8 0; u8 "$1"; }
h_small() { u8 4; u16 "$1"; }
h_medium() { u8 6; u16 "$1"; }
h_large() { u8 7; u16 $((($1 - 32768) / 2)); }
handle_alloc() { u8 11; "$@"; }
handle_lock() { u8 12; u16 "$1"; }   # handle selector
handle_unlock() { u8 13; u16 "$1"; }
handle_free() { u8 14; u16 "$1"; }
handle_write() { u8 15; u16 "$1"; u16 "$2"; u8 "$3"; u8 "$4"; } # selector offset length/17 value
compact() { u8 16; }
forged_handle() { u8 17; u8 "$1"; u16 "$2"; u16 "$3"; } # kinds 0 any, 1 stale, 2 generation, 3 index, 4 edge
free_handle_address() { u8 18; u16 "$1"; }
auto_compact() { u8 19; u8 "$1"; }
# Private heaps: heap selector 0 is the main heap, n the n-th live heap (1: the input's root).
heap_create() { u8 20; u8 "$1"; u8 2; }                         # parent: a live heap selector
heap_create_reserving() { u8 20; u8 "$1"; u8 0; u16 $(($2 / 4)); } # and initial bytes
heap_malloc() { u8 21; u8 "$1"; shift; "$@"; }
heap_free() { u8 22; u16 "$1"; u8 "$2"; }                       # block, named heap
heap_realloc() { u8 23; u16 "$1"; u8 "$2"; shift 2; "$@"; }     # block, named heap, size
heap_drop() { u8 24; u8 "$1"; u8 "$2"; }  # heap (never the root), blocks then freed again (< 8)
heap_merge() { u8 25; u8 "$1"; }
bad_heap() { u8 26; u8 "$1"; u8 "$2"; } # kinds 0 dead, 1 into a record, 2 a block, 3 a copy

abi_small_mix() {
  for bytes in 0 1 12 16 24 100 255; do abi_malloc tiny "$bytes"; done
  abi_calloc 4 small 1000
  abi_malloc small 4000
  abi_free 0
  abi_free 3
  abi_realloc 1 small 3000
  abi_realloc 2 tiny 3
  abi_realloc_to_zero 4
  abi_malloc boundary 63
  abi_malloc boundary 64
}

abi_large_growth() {
  abi_malloc large 40000
  abi_realloc 0 large 80000
  abi_realloc 0 large 160000
  abi_realloc 0 large 320000
  abi_calloc 2 large 1000000
  abi_malloc page_fit 3 0
  abi_calloc 1 page_fit 16 5
  abi_realloc 0 tiny 10
  abi_free 1
  abi_malloc large 2000000
}

# Pages a block grew into in place, written, freed and handed out again: calloc must zero them.
abi_reuse_after_growth() {
  abi_malloc large 100000
  abi_realloc 0 large 300000
  abi_realloc 0 large 600000
  abi_free 0
  abi_calloc 1 large 200000
  abi_calloc 1 large 300000
  abi_malloc large 50000
  abi_realloc 0 tiny 100
}

abi_out_of_memory() {
  for _ in 1 2 3 4 5 6 7 8 9 10; do abi_malloc large 4000000; done
  for _ in 1 2 3 4; do abi_calloc 1 large 3000000; done
  abi_free 0
  abi_free 1
  abi_malloc large 4000000
  abi_realloc 0 large 4194000
  abi_malloc small 2000
}

abi_aligned() {
  for n in 0 3 4 5 8 12 16; do
    abi_aligned_alloc "$(alignment "$n")" small 100
    abi_memalign "$(alignment "$n")" large 50000
    abi_posix_memalign "$(alignment "$n")" tiny 10
  done
  for k in 0 1 2 4 7; do
    abi_aligned_alloc "$(bad_alignment "$k")" tiny 8
    abi_posix_memalign "$(bad_alignment "$k")" tiny 8
  done
  abi_realloc 5 small 2000
}

abi_edge_cases() {
  abi_free 0 # with no block: free(NULL)
  for kind in 0 1 2 3 4 5; do abi_impossible "$kind" 7; done
  abi_malloc tiny 5
  abi_impossible 5 0
  abi_realloc_to_zero 0
  abi_realloc 0 tiny 50 # with no block: realloc(NULL, n)
}

# Handles of every size, locked, written, freed, compacted around pins; bad handles.
abi_handles() {
  for n in 0 1 16 100 200; do handle_alloc h_tiny "$n"; done
  for n in 300 1000 4000; do handle_alloc h_small "$n"; done
  handle_alloc h_medium 20000
  handle_alloc h_medium 32763
  handle_alloc h_medium 32764
  handle_alloc h_large 40000
  handle_alloc h_large 150000
  for n in 0 2 4 6; do handle_write "$n" 3 5 "$((n + 65))"; done
  handle_lock 3
  handle_lock 3
  handle_free 3 # locked: refused
  handle_free 1
  handle_free 5
  abi_malloc tiny 40
  compact
  handle_unlock 3
  handle_unlock 3
  handle_unlock 3 # not locked
  compact
  for kind in 0 1 2 3 4; do forged_handle "$kind" 7 1; done
  free_handle_address 2
  handle_free 0
  compact
}

# Holes in the handle regions, then large requests: with auto-compaction on, off, on.
abi_auto_compaction() {
  for _ in $(seq 1 120); do handle_alloc h_small 1000; done
  for n in $(seq 0 2 118); do handle_free "$n"; done
  abi_malloc large 1000000
  auto_compact 0
  abi_malloc large 1000000
  auto_compact 1
  abi_malloc large 2000000
  compact
}

# A tree of heaps: blocks in each, freed and resized through the wrong heap, merges that
# re-parent, drops that take subtrees, and calls on dead and forged heaps.
abi_heaps() {
  heap_create 0           # heap 2, under the root
  heap_create 1           # heap 3, under heap 2
  heap_create_reserving 2 100000 # heap 4, under heap 3
  for sel in 0 1 2 3 4; do
    heap_malloc "$sel" tiny 24
    heap_malloc "$sel" small 3000
    heap_malloc "$sel" large 50000
  done
  heap_free 0 3
  heap_free 4 0
  heap_realloc 1 2 small 2000
  heap_realloc 2 4 large 200000
  heap_realloc 3 1 tiny 0
  heap_realloc 0 7 small 100 # named 7: realloc(NULL, n), in heap 7 % 5 = 2
  heap_merge 1 # heap 3: heap 4 moves under heap 2
  bad_heap 0 0
  bad_heap 1 5
  bad_heap 2 1
  bad_heap 3 2
  heap_malloc 3 small 500
  heap_drop 0 7 # heap 2 and what is under it; then 7 of its blocks freed again
  bad_heap 0 1
  heap_create_reserving 0 300000
  heap_malloc 2 large 1000000
  abi_realloc 0 large 60000
  abi_impossible 6 0
  abi_impossible 7 1
  abi_impossible 8 2
}

# write_seeds <corpus directory> <function prefix> <seed...>: one file per seed function.
write_seeds() {
  local dir=$1 prefix=$2
  shift 2
  rm -rf "corpus/$dir"
  mkdir -p "corpus/$dir"
  for seed in "$@"; do
    "${prefix}_$seed" >"corpus/$dir/${seed//_/-}"
  done
}

write_seeds core core small_churn aligned fill_and_extend invalid
write_seeds c-abi abi small_mix large_growth reuse_after_growth out_of_memory aligned edge_cases \
  handles auto_compaction heaps
