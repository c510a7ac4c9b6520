#!/usr/bin/env bash
# Wasm instructions per malloc + free pair (bench/instructions.c says how they are counted):
# kitalloc's freestanding build (Release, as bench.sh builds it), the free lists per power of
# two (the ceiling) and the bump allocator (the floor) of bench/bump_malloc.c. Deterministic:
# the same code gives the same count on any machine, whatever its load.
#   bench/instructions.sh [--table FILE]   the table (Markdown) to FILE instead of the screen;
#                                          about 30 s, building into build/bench-instructions
# scripts/bench.sh runs it for docs/BENCHMARKS.md.
set -euo pipefail
usage="usage: bench/instructions.sh [--table FILE]"
table=/dev/stdout
if (($# == 2)) && [[ $1 == --table ]]; then
  table=$2
elif (($# != 0)); then
  echo "$usage" >&2
  exit 2
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
./scripts/deps.sh

out=build/bench-instructions
mkdir -p "$out"
log=$out/build.log
: >"$log"
lib=$out/kitalloc/libkitalloc.a
if ! { cmake -S . -B "$out/kitalloc" -DCMAKE_BUILD_TYPE=Release -DKITALLOC_ASSERTIONS=OFF \
  -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasm32-freestanding.cmake" &&
  cmake --build "$out/kitalloc" --target kitalloc -j2; } >>"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "instructions.sh: FAILED: building kitalloc (log: $log)" >&2
  exit 1
fi

cc=(clang-14 --target=wasm32 -nostdlib -ffreestanding -mbulk-memory -O2 -fno-builtin)
"${cc[@]}" -c bench/bump_malloc.c -o "$out/bump.o"
"${cc[@]}" -DFREE_LISTS=1 -c bench/bump_malloc.c -o "$out/free-lists.o"

# count <workload> <batches> <allocator inputs...>: instructions the run executed.
count() {
  local workload=$1 batches=$2 module=$out/run.wasm
  shift 2
  "${cc[@]}" -DWORKLOAD="$workload" -DBATCHES="$batches" -c bench/instructions.c -o "$out/run.o"
  wasm-ld-14 --no-entry "$out/run.o" "$@" -o "$module"
  wasm-interp "$module" --run-all-exports --trace | wc -l
}

{
  printf '| workload (per malloc + free) | kitalloc | free lists (ceiling) | bump (floor) |\n'
  printf '|---|---:|---:|---:|\n'
  for workload in 1 2; do
    name=$([[ $workload == 1 ]] && echo "small LIFO, posix_memalign(16, 32)" || echo "churn, 16..256 B")
    row="| $name"
    for inputs in "$lib" "$out/free-lists.o" "$out/bump.o"; do
      once=$(count $workload 10 $inputs)
      twice=$(count $workload 20 $inputs)
      row+=" | $(((twice - once) / (10 * 100)))"
    done
    echo "$row |"
  done
} >"$table"
