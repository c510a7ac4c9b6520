#!/usr/bin/env bash
# Builds the native (g++) tree and runs the demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/deps.sh

if [[ ! -f examples/demo.cpp ]]; then
  echo "demo.sh: examples/demo.cpp does not exist yet" >&2
  exit 1
fi
cmake -S . -B build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ >/dev/null
cmake --build build/gcc -j2 --target kitalloc-demo
exec build/gcc/kitalloc-demo "$@"
