#!/usr/bin/env bash
# Configures, builds and tests every flavour, stopping at the first failure:
#   build/gcc         native, g++            (doctest suite, core-smoke)
#   build/clang       native, clang++-14     (doctest suite, core-smoke)
#   build/asan        native, clang++-14 with ASan + UBSan, any report fatal (same tests)
#   valgrind          build/gcc's doctest suite under valgrind memcheck (log: build/valgrind/)
#   fuzz              scripts/fuzz.sh 30: each libFuzzer target for 30 s (build/fuzz)
#   build/wasm32      freestanding wasm32    (core-smoke under Node and wasm-interp)
#   build/wasi        WASI, wasi-libc        (core-smoke under Node's WASI)
#   build/emscripten  Emscripten             (core-smoke under Node)
#   examples          scripts/examples.sh: each wasm flavour installed, examples/ built against
#                     the installs with find_package(kitalloc), run under Node
#   demo-web          the heap viewer driven in headless Chromium (build/wasi's demo-web modules)
# All are RelWithDebInfo (-O2 -g) with assertions kept (KITALLOC_ASSERTIONS=ON undoes NDEBUG):
# the allocator is tested as it ships, optimized. Last line: "N passed, 0 failed", N being the
# number of steps (flavours and the others above) that passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

./scripts/deps.sh

jobs=2
build_type=RelWithDebInfo
passed=0

die() {
  echo "test.sh: FAILED: $*" >&2
  echo "${passed} passed, 1 failed"
  exit 1
}

# flavour <name> <configure command...>
flavour() {
  local name=$1
  shift
  local dir="build/$name"
  echo "==> [$name] configure"
  mkdir -p "$dir"
  "$@" -S . -B "$dir" -DCMAKE_BUILD_TYPE="$build_type" -DKITALLOC_WERROR=ON \
    -DKITALLOC_ASSERTIONS=ON >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log" >&2; die "[$name] cmake configure (log: $dir/configure.log)"; }
  echo "==> [$name] build"
  cmake --build "$dir" -j"$jobs" || die "[$name] build"
  echo "==> [$name] test"
  ctest --test-dir "$dir" --output-on-failure --no-tests=error || die "[$name] ctest"
  passed=$((passed + 1))
}

# step <name> <command...>: a step that is not a cmake flavour; says how long it took.
step() {
  local name=$1
  shift
  echo "==> [$name] $*"
  local started=$SECONDS
  "$@" || die "[$name] $*"
  echo "==> [$name] passed in $((SECONDS - started)) s"
  passed=$((passed + 1))
}

# build/gcc's native suite under valgrind memcheck, the log kept and only its summary shown.
# The model test runs 100,000 operations instead of 1,000,000: the same paths, 5 s instead of 30.
memcheck_native_tests() {
  local log=build/valgrind/memcheck.log
  mkdir -p build/valgrind
  KITALLOC_MODEL_OPS=100000 valgrind --error-exitcode=1 --leak-check=full \
    build/gcc/native-tests >"$log" 2>&1 || { tail -60 "$log" >&2; return 1; }
  grep -E "test cases|ERROR SUMMARY|All heap blocks were freed" "$log"
}

mkdir -p build
flavour gcc cmake -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++
flavour clang cmake -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
# The native tests again under ASan + UBSan; -fno-sanitize-recover: every report fails the test.
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
flavour asan cmake -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_C_FLAGS="$sanitize" -DCMAKE_CXX_FLAGS="$sanitize" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
step valgrind memcheck_native_tests
step fuzz ./scripts/fuzz.sh 30
flavour wasm32 cmake -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasm32-freestanding.cmake"
flavour wasi cmake -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/wasi.cmake"
# Emscripten's own toolchain file (via emcmake). Its default test emulator,
# `node --experimental-wasm-threads`, is rejected by Node 20: use plain node.
flavour emscripten emcmake cmake -DCMAKE_CROSSCOMPILING_EMULATOR="$(command -v node)"

# The installed packages as users get them: find_package(kitalloc) in examples/, run under Node.
step examples ./scripts/examples.sh

# The heap viewer in headless Chromium, on the workload modules the wasi flavour built.
step demo-web node demo-web/test.mjs build/wasi/demo-web

echo "${passed} passed, 0 failed"
