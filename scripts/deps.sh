#!/usr/bin/env bash
# Installs the Debian packages kitalloc's builds need, if any is missing. Silent when all are
# there. Runs as root (no sudo). Node 20 comes from outside apt: it is only checked for.
set -euo pipefail

packages=(
  clang-14 lld-14 llvm-14             # native clang and the wasm32 compiler, wasm-ld, llvm-ar
  wabt binaryen                       # wasm-interp / wasm-objdump; wasm-opt (clang runs it)
  wasi-libc libclang-rt-14-dev-wasm32 # WASI libc, compiler-rt builtins for wasm32
  libc++-14-dev-wasm32 libc++abi-14-dev-wasm32
  emscripten
  doctest-dev cmake g++
  libclang-rt-14-dev valgrind         # ASan/UBSan runtimes and libFuzzer (only recommended by
                                      # clang-14); memcheck over the native suite
  chromium                            # headless browser for demo-web's test (demo-web/test.mjs)
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null 2>&1; then
  echo "deps.sh: node not found on PATH (Node.js 20 runs the wasm tests; it is not an apt package here)" >&2
  exit 1
fi
