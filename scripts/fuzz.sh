#!/usr/bin/env bash
# Builds the libFuzzer targets in build/fuzz (clang-14, ASan + UBSan, see fuzz/CMakeLists.txt)
# and runs each one for the given number of seconds (default 600), one after the other:
#   scripts/fuzz.sh [seconds] [target...]        targets: core c-abi (default: both)
# Per target: the saved findings in fuzz/regressions/<target>/ are replayed first (each must
# pass now), then the fuzzer starts from the seeds in fuzz/corpus/<target>/ plus what earlier
# runs kept in build/fuzz/corpus/<target>/. A crash input goes to build/fuzz/artifacts/<target>/,
# the full log to build/fuzz/<target>.log. Prints executions and decoded operations per target
# (both counted, not estimated) and exits non-zero if any target found something.
# Replay one input: build/fuzz/fuzz/fuzz-<target> <file> (a finding stops with "FAILURE at
# operation N (name)"); keep it as fuzz/regressions/<target>/<name> so every run replays it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-600}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(core c-abi)
fi
build=build/fuzz

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKITALLOC_WERROR=ON -DKITALLOC_ASSERTIONS=ON \
  -DKITALLOC_FUZZ=ON >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; echo "fuzz.sh: cmake configure failed" >&2; exit 1; }
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz-}" >"$build/build.log" 2>&1 ||
  { cat "$build/build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 1; }

# figure <sed pattern with one group> <log>: that group on the last matching line, or "?" when
# the run ended (crashed) before printing it.
figure() {
  local found
  found=$(sed -n "s/$1/\\1/p" "$2" | tail -1)
  echo "${found:-?}"
}

failed=0
for target in "${targets[@]}"; do
  binary="$build/fuzz/fuzz-$target"
  log="$build/$target.log"
  regressions=(fuzz/regressions/"$target"/*)
  if [[ -e "${regressions[0]}" ]]; then
    if ! "$binary" "${regressions[@]}" >"$build/$target-regressions.log" 2>&1; then
      tail -40 "$build/$target-regressions.log" >&2
      echo "fuzz-$target: a saved regression fails (log: $build/$target-regressions.log)"
      failed=1
      continue
    fi
    echo "fuzz-$target: ${#regressions[@]} saved regressions pass"
  fi

  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  status=0
  # -timeout: a corrupted free list can loop forever; report it as a finding instead.
  # -len_control=0: long operation sequences from the start (deep heaps, out of memory); with
  # libFuzzer's slow default growth c-abi inputs were still under 700 bytes after 10 minutes.
  "$binary" -max_total_time="$seconds" -max_len=4096 -len_control=0 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$target" \
    >"$log" 2>&1 || status=$?
  executions=$(figure '^stat::number_of_executed_units: *\([0-9]*\)$' "$log")
  operations=$(figure "^fuzz-$target: \\([0-9]*\\) operations decoded.*" "$log")
  echo "fuzz-$target: $executions executions, $operations operations in ${seconds}s" \
    "(log: $log)"
  if grep -q "requests ran out of memory" "$log"; then
    echo "fuzz-$target: $(figure "^fuzz-$target: \\([0-9]*\\) requests ran out of memory.*" "$log")" \
      "requests ran out of memory (each checked);" \
      "$(figure "^fuzz-$target: .*other code grew \([0-9]*\) pages" "$log") pages grown by other code"
  fi
  if ((status != 0)); then
    grep -A30 -E "FAILURE|ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error" \
      "$log" | head -60 >&2 || true
    echo "fuzz-$target: FOUND A FAILURE (exit $status); input saved in $artifacts/"
    failed=1
  fi
done
exit "$failed"
