#!/usr/bin/env bash
# Wasm instructions per malloc + free pair (bench/instructions.c says how they are counted), for
# every allocator the timed benchmark runs: kitalloc and wasi-libc's dlmalloc under WASI,
# Emscripten's dlmalloc and emmalloc, and bench/bump_malloc.c's free lists per power of two
# (the ceiling) and bump allocator (the floor). Deterministic: the same code gives the same
# count on any machine, whatever its load.
#   bench/instructions.sh [--table FILE] [--kitalloc DIR]
#     --table FILE     the table (Markdown) to FILE instead of the screen
#     --kitalloc DIR   kitalloc's WASI build to count (libkitalloc.a and its wasi-sysroot in
#                      DIR, configured as scripts/bench.sh configures build/bench-wasi, which
#                      passes it); without it, one is built in build/bench-instructions
# About a minute. scripts/bench.sh runs it for docs/BENCHMARKS.md.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) fails the script too
usage="usage: bench/instructions.sh [--table FILE] [--kitalloc DIR]"
table=/dev/stdout
kitalloc=
while (($# > 0)); do
  case $1 in
  --table | --kitalloc)
    if (($# < 2)); then
      echo "$usage" >&2
      exit 2
    fi
    [[ $1 == --table ]] && table=$2 || kitalloc=$2
    shift 2
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
  esac
done
[[ $table == /* ]] || table=$PWD/$table
[[ -z $kitalloc || $kitalloc == /* ]] || kitalloc=$PWD/$kitalloc
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
./scripts/deps.sh
export NODE_PATH=/usr/share/nodejs # Emscripten 3.1.6 finds acorn only through it

out=build/bench-instructions
mkdir -p "$out"
log=$out/build.log
: >"$log"
# quietly <command...>: runs it with its output in the log; on failure shows the log's end.
quietly() {
  if ! "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "instructions.sh: FAILED: $*" >&2
    exit 1
  fi
}

# kitalloc as the timed benchmark builds it (Release, WASI), and its clean wasi-libc sysroot.
if [[ -z $kitalloc ]]; then
  kitalloc=$out/kitalloc-wasi
  quietly cmake -S . -B "$kitalloc" -DCMAKE_BUILD_TYPE=Release -DKITALLOC_ASSERTIONS=OFF \
    -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasi.cmake"
  quietly cmake --build "$kitalloc" --target kitalloc -j2
fi
kitalloc=$(realpath "$kitalloc")
if [[ ! -f $kitalloc/libkitalloc.a || ! -d $kitalloc/wasi-sysroot ]]; then
  echo "instructions.sh: $kitalloc holds no WASI build of kitalloc (libkitalloc.a, wasi-sysroot)" >&2
  exit 2
fi
wasi_link=(clang-14 --target=wasm32-wasi --sysroot="$kitalloc/wasi-sysroot")
wasi=("${wasi_link[@]}" -O2 -fno-builtin)
quietly "${wasi[@]}" -c bench/bump_malloc.c -o "$out/bump.o"
quietly "${wasi[@]}" -DFREE_LISTS=1 -c bench/bump_malloc.c -o "$out/free-lists.o"

# A module exporting run() (and, under WASI, _initialize first) that wasm-interp runs with
# every import a stub returning 0: nothing here calls WASI or grows memory past its start.
# wasi_module <workload> <batches> [allocator inputs...]: no inputs = wasi-libc's dlmalloc.
# Linked without -O, as scripts/bench.sh links: clang would run wasm-opt over the whole module.
wasi_module() {
  local workload=$1 batches=$2
  shift 2
  quietly "${wasi[@]}" -DWORKLOAD="$workload" -DBATCHES="$batches" -c bench/instructions.c \
    -o "$out/run.o"
  quietly "${wasi_link[@]}" -mexec-model=reactor "$out/run.o" "$@" -o "$out/run.wasm"
}
# emscripten_module <workload> <batches> <malloc>: Emscripten exports run() before the
# _initialize that sets up its malloc, and wasm-interp calls exports in order: run goes last.
emscripten_module() {
  quietly emcc -O2 -fno-builtin -DWORKLOAD="$1" -DBATCHES="$2" bench/instructions.c \
    -sMALLOC="$3" -sSTANDALONE_WASM -sINITIAL_MEMORY=16777216 --no-entry -o "$out/run.wasm"
  quietly wasm2wat --enable-all "$out/run.wasm" -o "$out/run.wat"
  node -e '
    const fs = require("fs");
    const lines = fs.readFileSync(process.argv[1], "utf8").split("\n");
    const run = lines.findIndex((line) => line.trim().startsWith("(export \"run\""));
    const [exported] = lines.splice(run, 1);
    const last = lines.findLastIndex((line) => line.trim().startsWith("(export "));
    lines.splice(last + 1, 0, exported);
    fs.writeFileSync(process.argv[1], lines.join("\n"));' "$out/run.wat"
  quietly wat2wasm --enable-all "$out/run.wat" -o "$out/run.wasm"
}
# executed: the instructions the module in run.wasm executes (the trace's lines); a call that
# traps (a failed malloc traps in bench/instructions.c) fails the script.
executed() {
  if ! wasm-interp "$out/run.wasm" --dummy-import-func --run-all-exports --trace |
    awk '/^[^#].*=> error/ { trapped = 1; print > "/dev/stderr" } END { print NR; exit trapped }'; then
    echo "instructions.sh: FAILED: $out/run.wasm trapped" >&2
    return 1
  fi
}
# per_pair <kind> <workload> <allocator...>: instructions per malloc + free pair, from a run of
# 10 batches of 100 pairs and one of 20 (start-up and the first batch's growth cancel out).
per_pair() {
  local kind=$1 workload=$2
  shift 2
  "${kind}_module" "$workload" 10 "$@"
  local once twice
  once=$(executed)
  "${kind}_module" "$workload" 20 "$@"
  twice=$(executed)
  echo $(((twice - once) / (10 * 100)))
}

labels=("kitalloc" "wasi-libc dlmalloc" "Emscripten dlmalloc" "emmalloc" "free lists (ceiling)"
  "bump (floor)")
allocators=("wasi $kitalloc/libkitalloc.a" "wasi" "emscripten dlmalloc" "emscripten emmalloc"
  "wasi $out/free-lists.o" "wasi $out/bump.o")
{
  header="| workload (per malloc + free)"
  rule="|---"
  for label in "${labels[@]}"; do
    header+=" | $label"
    rule+="|---:"
  done
  echo "$header |"
  echo "$rule|"
  for workload in 1 2; do
    row=$([[ $workload == 1 ]] && echo "| small LIFO, posix_memalign(16, 32)" ||
      echo "| churn, malloc of 16..256 B")
    counts=()
    for allocator in "${allocators[@]}"; do
      read -r kind inputs <<<"$allocator"
      # shellcheck disable=SC2086 # inputs: none, or one word
      counts+=("$(per_pair "$kind" "$workload" $inputs)")
    done
    reference=${counts[1]}
    for count in "${counts[@]}"; do
      row+=" | $count **$(node -p "($reference / $count).toFixed(2)")×**"
    done
    echo "$row |"
  done
} >"$table"
