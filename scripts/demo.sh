#!/usr/bin/env bash
# The README's first command: installs what is missing, builds kitalloc for freestanding wasm32,
# WASI and Emscripten, installs each under build/install/<flavour>, builds the examples/
# projects against them, and runs the WASI demo under Node (what it allocated, the heap's stats).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/deps.sh
exec ./scripts/examples.sh
