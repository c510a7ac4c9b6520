#!/usr/bin/env bash
# Builds kitalloc for the three wasm flavours (Release), installs each to build/install/<flavour>,
# builds the projects in examples/ against those installs the way a user would
# (find_package(kitalloc) + target_link_libraries(app kitalloc::kitalloc)) and runs them under
# Node. The WASI demo prints what it allocated and the heap's stats; each example exits nonzero
# unless kitalloc served its allocations and its heap check holds. Last, a project built for
# one flavour must refuse the package of another with a clear message.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# em++ from Debian's emscripten finds acorn only through NODE_PATH (../shared/TOOLCHAIN.md).
export NODE_PATH=/usr/share/nodejs

fail() {
  echo "examples.sh: FAILED: $*" >&2
  exit 1
}

# quietly <log> <command...>: runs the command with its output in <log>, shown only on failure.
quietly() {
  local log=$1
  shift
  mkdir -p "$(dirname "$log")"
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$* (log: $log)"; }
}

emscripten_toolchain=$(dirname "$(readlink -f "$(command -v emcc)")")/cmake/Modules/Platform/Emscripten.cmake
[[ -f $emscripten_toolchain ]] || fail "Emscripten's toolchain file not found at $emscripten_toolchain"

declare -A toolchain=(
  [freestanding]="$root/toolchains/wasm32-freestanding.cmake"
  [wasi]="$root/toolchains/wasi.cmake"
  [emscripten]="$emscripten_toolchain"
)
# Emscripten's toolchain file searches for packages under CMAKE_FIND_ROOT_PATH only.
package_option() {
  local flavour=$1 prefix="$root/build/install/$1"
  if [[ $flavour == emscripten ]]; then
    echo "-DCMAKE_FIND_ROOT_PATH=$prefix"
  else
    echo "-DCMAKE_PREFIX_PATH=$prefix"
  fi
}

for flavour in freestanding wasi emscripten; do
  echo "==> [$flavour] kitalloc: build, install to build/install/$flavour; examples/$flavour"
  library_build=build/release/$flavour
  quietly "$library_build/configure.log" cmake -S . -B "$library_build" \
    -DCMAKE_TOOLCHAIN_FILE="${toolchain[$flavour]}" -DCMAKE_BUILD_TYPE=Release
  quietly "$library_build/build.log" cmake --build "$library_build" --target kitalloc
  rm -rf "build/install/$flavour"
  quietly "$library_build/install.log" cmake --install "$library_build" --prefix "build/install/$flavour"

  example_build=build/examples/$flavour
  quietly "$example_build.configure.log" cmake -S "examples/$flavour" -B "$example_build" \
    -DCMAKE_TOOLCHAIN_FILE="${toolchain[$flavour]}" -DCMAKE_BUILD_TYPE=Release \
    "$(package_option "$flavour")"
  quietly "$example_build.build.log" cmake --build "$example_build"
done

echo "==> examples/freestanding: a module without libc, its export called from JavaScript"
node wasm-tests/run.mjs freestanding build/examples/freestanding/demo.wasm kit_example_run ||
  fail "examples/freestanding"
echo "==> examples/emscripten under Node (output in build/examples/emscripten.run.log)"
node wasm-tests/run.mjs emscripten build/examples/emscripten/demo.js \
  >build/examples/emscripten.run.log 2>&1 || { cat build/examples/emscripten.run.log; fail "examples/emscripten"; }
tail -n 1 build/examples/emscripten.run.log

echo "==> a WASI project finding the freestanding package must be refused"
mismatch_log=build/examples/mismatch.log
if cmake -S examples/wasi -B build/examples/mismatch -DCMAKE_TOOLCHAIN_FILE="${toolchain[wasi]}" \
  -DCMAKE_PREFIX_PATH="$root/build/install/freestanding" >"$mismatch_log" 2>&1; then
  fail "a WASI project accepted kitalloc built for freestanding wasm32"
fi
grep -q "built for 'freestanding', but this project builds for 'wasi'" "$mismatch_log" ||
  { cat "$mismatch_log"; fail "the flavour mismatch did not say what is wrong"; }
echo "refused: kitalloc built for 'freestanding', this project builds for 'wasi'"

echo "==> examples/wasi under Node: the demo"
echo
node wasm-tests/run.mjs wasi build/examples/wasi/demo.wasm || fail "examples/wasi"

echo "==> examples/wasi against kitalloc built with -DKITALLOC_JS_EXPORTS=OFF"
lean_build=build/release/wasi-lean
quietly "$lean_build/configure.log" cmake -S . -B "$lean_build" \
  -DCMAKE_TOOLCHAIN_FILE="${toolchain[wasi]}" -DCMAKE_BUILD_TYPE=Release -DKITALLOC_JS_EXPORTS=OFF
quietly "$lean_build/build.log" cmake --build "$lean_build" --target kitalloc
rm -rf build/install/wasi-lean
quietly "$lean_build/install.log" cmake --install "$lean_build" --prefix build/install/wasi-lean
quietly build/examples/wasi-lean.configure.log cmake -S examples/wasi -B build/examples/wasi-lean \
  -DCMAKE_TOOLCHAIN_FILE="${toolchain[wasi]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$root/build/install/wasi-lean"
quietly build/examples/wasi-lean.build.log cmake --build build/examples/wasi-lean
quietly build/examples/wasi-lean.run.log node wasm-tests/run.mjs wasi build/examples/wasi-lean/demo.wasm
# The same program, with and without kitalloc's exports: what the option leaves out.
node --input-type=module - build/examples/wasi/demo.wasm build/examples/wasi-lean/demo.wasm <<'JS' ||
import fs from 'node:fs';
const [full, lean] = process.argv.slice(2).map((file) => ({
  bytes: fs.statSync(file).size,
  exports: WebAssembly.Module.exports(new WebAssembly.Module(fs.readFileSync(file))).map((e) => e.name),
}));
if (!full.exports.includes('kit_get_stats')) throw new Error('the default build exports no kit_get_stats');
const left = lean.exports.filter((name) => name.startsWith('kit_'));
if (left.length > 0) throw new Error(`KITALLOC_JS_EXPORTS=OFF still exports ${left.join(', ')}`);
console.log(`ran; no kit_ exports; ${full.bytes - lean.bytes} bytes smaller than with them`);
JS
  fail "examples/wasi with KITALLOC_JS_EXPORTS=OFF"
