#!/usr/bin/env bash
# Measures kitalloc against its peers and writes docs/BENCHMARKS.md (tables) and
# docs/BENCHMARKS.svg (chart), in one command:
#   scripts/bench.sh                          15 runs of every workload and trace, then one
#                                             checked run of each (about 3 minutes on 2 cores)
#   KITALLOC_BENCH_QUICK=1 scripts/bench.sh   3 runs, no checked runs (for development)
# Builds what it needs under build/bench* (its log: build/bench/build.log):
#   build/bench-wasi, bench-emscripten, bench-wasm32   libkitalloc.a, Release, no assertions
#   build/bench-wasi-lean                              the same, -DKITALLOC_JS_EXPORTS=OFF
#   build/bench-wasm32-oz                              libkitalloc.a, -Oz (code size)
#   build/bench-wasi-trace                             the recording build and the WASI demo
#                                                      on it (its trace: build/bench/traces)
#   build/bench                                        harness and code-size modules, results
# then bench/run.mjs runs the harness (bench/harness.cpp) linked against each allocator and the
# handles and private heaps benchmark (bench/heaps.cpp: kitalloc, and wasi-libc's dlmalloc where
# a job uses only malloc/free), and bench/report.mjs writes the document from the results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

./scripts/deps.sh

out=build/bench
mkdir -p "$out/size"
log=$out/build.log
: >"$log"
export NODE_PATH=/usr/share/nodejs # Emscripten 3.1.6 finds acorn only through it

# quietly <command...>: runs it with its output in the log; on failure shows the log's end.
quietly() {
  if ! "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "bench.sh: FAILED: $*" >&2
    exit 1
  fi
}

# ── kitalloc's libraries, with the repository's CMake ────────────────────────────────────────
# kitalloc_library <build dir> <build type> <configure command...>
kitalloc_library() {
  local dir=$1 type=$2
  shift 2
  quietly "$@" -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DKITALLOC_ASSERTIONS=OFF \
    -DKITALLOC_WERROR=OFF "-DCMAKE_CXX_FLAGS_MINSIZEREL=-Oz -DNDEBUG"
  quietly cmake --build "$dir" --target kitalloc -j2
}
echo "bench.sh: building kitalloc (WASI, Emscripten, freestanding)" >&2
kitalloc_library build/bench-wasi Release cmake -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasi.cmake"
kitalloc_library build/bench-wasi-lean Release cmake \
  -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasi.cmake" -DKITALLOC_JS_EXPORTS=OFF
kitalloc_library build/bench-emscripten Release emcmake cmake \
  -DCMAKE_CROSSCOMPILING_EMULATOR="$(command -v node)"
kitalloc_library build/bench-wasm32 Release cmake \
  -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasm32-freestanding.cmake"
kitalloc_library build/bench-wasm32-oz MinSizeRel cmake \
  -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasm32-freestanding.cmake"

# ── A real program's trace: the WASI demo (examples/program.cpp) on a recording build ───────
echo "bench.sh: recording the WASI demo's allocations" >&2
recorder=build/bench-wasi-trace
kitalloc_library $recorder Release cmake -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasi.cmake" \
  -DKITALLOC_TRACE=ON
quietly cmake --install $recorder --prefix $recorder/install
quietly cmake -S examples/wasi -B $recorder/demo -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasi.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$root/$recorder/install"
quietly cmake --build $recorder/demo
mkdir -p "$out/traces"
if ! node wasm-tests/run.mjs wasi $recorder/demo/demo.wasm >>"$log" 2>"$out/traces/wasi-demo.trace"; then
  echo "bench.sh: FAILED: the WASI demo, recording its trace" >&2
  exit 1
fi

# The clean sysroot (wasi-libc only, no host headers) that toolchains/wasi.cmake made.
wasi=(clang++-14 --target=wasm32-wasi --sysroot="$root/build/bench-wasi/wasi-sysroot")
wasi_c=(clang-14 --target=wasm32-wasi --sysroot="$root/build/bench-wasi/wasi-sysroot")
freestanding_c=(clang-14 --target=wasm32 -nostdlib -ffreestanding -mbulk-memory)
# Links never get an -O flag: clang would run wasm-opt by itself (docs/BENCHMARKS.md).

# ── The harness, once per allocator ──────────────────────────────────────────────────────────
echo "bench.sh: building the harness for each allocator" >&2
harness_flags=(-O2 -std=c++20 -fno-builtin -fno-exceptions -Wall -Wextra)
# The traces with more live blocks than the harness's slots (a real program's: below) run on a
# second set of modules, "wide", with room for more (bench/harness.cpp, BENCH_SLOTS).
wide_slots=262144
for harness in "" -wide; do
  slots=()
  [[ -n $harness ]] && slots=(-DBENCH_SLOTS=$wide_slots)
  quietly "${wasi[@]}" "${harness_flags[@]}" "${slots[@]}" -c bench/harness.cpp \
    -o "$out/harness$harness-wasi.o"
  quietly em++ "${harness_flags[@]}" "${slots[@]}" -c bench/harness.cpp \
    -o "$out/harness$harness-emscripten.o"
done
quietly "${wasi_c[@]}" -O2 -fno-builtin -c bench/bump_malloc.c -o "$out/bump-wasi.o"
quietly "${wasi_c[@]}" -O2 -fno-builtin -DFREE_LISTS=1 -c bench/bump_malloc.c \
  -o "$out/free-lists-wasi.o"

max_memory=2147483648
# wasi_harness <name> [allocator objects...]: no objects = wasi-libc's own dlmalloc.
wasi_harness() {
  local name=$1
  shift
  for harness in "" -wide; do
    quietly "${wasi[@]}" -mexec-model=reactor -Wl,--max-memory=$max_memory \
      "$out/harness$harness-wasi.o" "$@" -o "$out/wasi-$name$harness.wasm"
  done
}
wasi_harness kitalloc build/bench-wasi/libkitalloc.a
wasi_harness dlmalloc
wasi_harness bump "$out/bump-wasi.o"
wasi_harness free-lists "$out/free-lists-wasi.o"

# The handles and private heaps benchmark: with kitalloc (every job), and -DHEAPS_PEER on
# wasi-libc's dlmalloc (the malloc/free jobs only).
heaps_flags=("${harness_flags[@]}" -Werror)
quietly "${wasi[@]}" "${heaps_flags[@]}" -Iinclude -c bench/heaps.cpp -o "$out/heaps-kitalloc.o"
quietly "${wasi[@]}" "${heaps_flags[@]}" -DHEAPS_PEER -c bench/heaps.cpp -o "$out/heaps-dlmalloc.o"
quietly "${wasi[@]}" -mexec-model=reactor -Wl,--max-memory=$max_memory "$out/heaps-kitalloc.o" \
  build/bench-wasi/libkitalloc.a -o "$out/heaps-kitalloc.wasm"
quietly "${wasi[@]}" -mexec-model=reactor -Wl,--max-memory=$max_memory "$out/heaps-dlmalloc.o" \
  -o "$out/heaps-dlmalloc.wasm"

# Emscripten's defaults, except a 64 KiB stack (wasm-ld's default, as in the WASI modules) and
# a 512 KiB initial memory instead of 16 MiB, so that memory figures show each allocator's growth
# (the wide modules: the same room above their bigger slot table, 20 bytes a slot there, 16 in
# the default modules' 16,384).
emscripten_flags=(-O2 -sMODULARIZE=1 -sEXPORT_NAME=createBenchModule -sWASM_ASYNC_COMPILATION=0
  -sENVIRONMENT=node -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=$max_memory -sTOTAL_STACK=65536
  --js-library bench/emscripten_imports.js)
# emscripten_harness <name> <malloc flags...>
emscripten_harness() {
  local name=$1
  shift
  quietly em++ "${emscripten_flags[@]}" -sINITIAL_MEMORY=524288 "$out/harness-emscripten.o" \
    "$@" -o "$out/emscripten-$name.js"
  quietly em++ "${emscripten_flags[@]}" -sINITIAL_MEMORY=$((524288 + wide_slots * 20 - 16384 * 16)) \
    "$out/harness-wide-emscripten.o" "$@" -o "$out/emscripten-$name-wide.js"
}
emscripten_harness kitalloc -sMALLOC=none build/bench-emscripten/libkitalloc.a
emscripten_harness dlmalloc -sMALLOC=dlmalloc
emscripten_harness emmalloc -sMALLOC=emmalloc

# ── Code size: modules exporting only the malloc family, through wasm-opt -Oz ────────────────
echo "bench.sh: building the code-size modules" >&2
sizes=$out/sizes.tsv
: >"$sizes"
family=(malloc free calloc realloc aligned_alloc posix_memalign malloc_usable_size)
export_family=("${family[@]/#/-Wl,--export=}")
emscripten_exports=$(printf '_%s,' "${family[@]}")
emscripten_exports=${emscripten_exports%,}
: >"$out/size/empty.c"

# measure <section> <label> <module.wasm>: wasm-opt -Oz, without names and producer data.
measure() {
  local optimized=${3%.wasm}.oz.wasm
  quietly wasm-opt -Oz --strip-debug --strip-producers "$3" -o "$optimized"
  printf '%s\t%s\t%s\n' "$1" "$2" "$(stat -c %s "$optimized")" >>"$sizes"
}
size=$out/size

quietly "${freestanding_c[@]}" -Oz -c bench/bump_malloc.c -o "$size/bump-freestanding.o"
# freestanding_module <label> <file name> [inputs...]: no inputs = the empty module.
freestanding_module() {
  local label=$1 file=$size/$2.wasm
  shift 2
  if (($# > 0)); then
    quietly "${freestanding_c[@]}" -Wl,--no-entry "${export_family[@]}" "$@" -o "$file"
  else
    quietly "${freestanding_c[@]}" -Wl,--no-entry "$size/empty.c" -o "$file"
  fi
  measure freestanding "$label" "$file"
}
freestanding_module "empty module" freestanding-empty
freestanding_module "kitalloc (-Oz)" freestanding-kitalloc-oz build/bench-wasm32-oz/libkitalloc.a
freestanding_module "kitalloc (Release, -O3)" freestanding-kitalloc build/bench-wasm32/libkitalloc.a
freestanding_module "bump (-Oz)" freestanding-bump "$size/bump-freestanding.o"
# The design's floor: the malloc family on the core alone (bench/size_core.cpp).
core_flags=(-Oz -std=c++20 -fno-exceptions -fno-rtti -fno-builtin -Iinclude)
quietly "${freestanding_c[@]}" "${core_flags[@]}" -c bench/size_core.cpp -o "$size/core-family.o"
quietly "${freestanding_c[@]}" "${core_flags[@]}" -c src/simple_allocator.cpp -o "$size/core.o"
freestanding_module "kitalloc's core alone (-Oz; one 2 MiB region)" freestanding-core \
  "$size/core-family.o" "$size/core.o"

# wasi_module <label> <file name> [inputs...]: no inputs and `dlmalloc` = wasi-libc's malloc.
wasi_module() {
  local label=$1 file=$size/$2.wasm
  shift 2
  local exports=("${export_family[@]}")
  [[ $label == "empty module" ]] && exports=()
  quietly "${wasi_c[@]}" -nostartfiles -Wl,--no-entry "${exports[@]}" "$size/empty.c" "$@" \
    -o "$file"
  measure wasi "$label" "$file"
}
wasi_module "empty module" wasi-empty
wasi_module "kitalloc (Release)" wasi-kitalloc build/bench-wasi/libkitalloc.a
wasi_module "kitalloc (Release, KITALLOC_JS_EXPORTS=OFF)" wasi-kitalloc-lean \
  build/bench-wasi-lean/libkitalloc.a
wasi_module "wasi-libc dlmalloc" wasi-dlmalloc
wasi_module "bump (-O2)" wasi-bump "$out/bump-wasi.o"

# emscripten_module <label> <file name> <malloc flags...>
emscripten_module() {
  local label=$1 file=$size/$2.wasm
  shift 2
  local exports=(-sEXPORTED_FUNCTIONS="$emscripten_exports")
  [[ $label == "empty module" ]] && exports=()
  quietly emcc -O2 --no-entry "${exports[@]}" "$size/empty.c" "$@" -o "${file%.wasm}.js"
  measure emscripten "$label" "$file"
}
emscripten_module "empty module" emscripten-empty -sMALLOC=none
emscripten_module "kitalloc (Release)" emscripten-kitalloc -sMALLOC=none \
  build/bench-emscripten/libkitalloc.a
emscripten_module "Emscripten dlmalloc" emscripten-dlmalloc -sMALLOC=dlmalloc
emscripten_module "emmalloc" emscripten-emmalloc -sMALLOC=emmalloc

# A real program (bench/size_program.cpp) with each malloc.
quietly "${wasi[@]}" -O2 -fno-exceptions -c bench/size_program.cpp -o "$size/program-wasi.o"
quietly em++ -O2 -fno-exceptions -c bench/size_program.cpp -o "$size/program-emscripten.o"
quietly "${wasi[@]}" "$size/program-wasi.o" -o "$size/program-wasi-dlmalloc.wasm"
measure "program wasi" "wasi-libc dlmalloc" "$size/program-wasi-dlmalloc.wasm"
quietly "${wasi[@]}" "$size/program-wasi.o" build/bench-wasi/libkitalloc.a \
  -o "$size/program-wasi-kitalloc.wasm"
measure "program wasi" "kitalloc" "$size/program-wasi-kitalloc.wasm"
quietly "${wasi[@]}" "$size/program-wasi.o" build/bench-wasi-lean/libkitalloc.a \
  -o "$size/program-wasi-kitalloc-lean.wasm"
measure "program wasi" "kitalloc (KITALLOC_JS_EXPORTS=OFF)" "$size/program-wasi-kitalloc-lean.wasm"
for malloc in dlmalloc emmalloc kitalloc; do
  library=()
  flag=-sMALLOC=$malloc
  if [[ $malloc == kitalloc ]]; then
    flag=-sMALLOC=none
    library=(build/bench-emscripten/libkitalloc.a)
  fi
  quietly em++ -O2 "$size/program-emscripten.o" "$flag" "${library[@]}" \
    -o "$size/program-emscripten-$malloc.js"
  measure "program emscripten" "$malloc" "$size/program-emscripten-$malloc.wasm"
done

# ── Instructions per operation, counted (no timing) ─────────────────────────────────────────
echo "bench.sh: counting wasm instructions per operation" >&2
quietly bench/instructions.sh --table "$out/instructions.md" --kitalloc build/bench-wasi

# ── Run and report ───────────────────────────────────────────────────────────────────────────
runs=15
run_options=()
if [[ ${KITALLOC_BENCH_QUICK:-0} == 1 ]]; then
  runs=3
  run_options=(--no-checked)
fi
echo "bench.sh: running ($runs runs, allocators interleaved)" >&2
node --expose-gc --no-warnings --no-turbo-fast-api-calls --no-liftoff bench/run.mjs \
  --out "$out/results.json" --runs "$runs" "${run_options[@]}" \
  --traces bench/traces --traces "$out/traces" \
  --reference "wasi-libc dlmalloc" --subject "kitalloc" \
  --allocator "kitalloc=wasi:$out/wasi-kitalloc.wasm" \
  --allocator "wasi-libc dlmalloc=wasi:$out/wasi-dlmalloc.wasm" \
  --allocator "bump (floor)=wasi:$out/wasi-bump.wasm" \
  --allocator "free lists (ceiling)=wasi:$out/wasi-free-lists.wasm" \
  --allocator "kitalloc (Emscripten)=emscripten:$out/emscripten-kitalloc.js" \
  --allocator "Emscripten dlmalloc=emscripten:$out/emscripten-dlmalloc.js" \
  --allocator "emmalloc=emscripten:$out/emscripten-emmalloc.js" \
  --wide "kitalloc=$out/wasi-kitalloc-wide.wasm" \
  --wide "wasi-libc dlmalloc=$out/wasi-dlmalloc-wide.wasm" \
  --wide "bump (floor)=$out/wasi-bump-wide.wasm" \
  --wide "free lists (ceiling)=$out/wasi-free-lists-wide.wasm" \
  --wide "kitalloc (Emscripten)=$out/emscripten-kitalloc-wide.js" \
  --wide "Emscripten dlmalloc=$out/emscripten-dlmalloc-wide.js" \
  --wide "emmalloc=$out/emscripten-emmalloc-wide.js" \
  --heaps "kitalloc=$out/heaps-kitalloc.wasm" \
  --heaps "wasi-libc dlmalloc=$out/heaps-dlmalloc.wasm"

node bench/report.mjs --results "$out/results.json" --sizes "$sizes" \
  --instructions "$out/instructions.md" --markdown docs/BENCHMARKS.md --svg docs/BENCHMARKS.svg
echo "bench.sh: wrote docs/BENCHMARKS.md and docs/BENCHMARKS.svg" >&2
