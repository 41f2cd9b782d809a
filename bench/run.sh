#!/usr/bin/env bash
# Builds the CLI natively and with Emscripten into build/bench-native and build/bench-wasm, then runs
# bench/compare.mjs (ours vs TF.js-wasm); writes bench/out/latest.{md,json}. Extra args go to compare.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
mkdir -p bench/out
if [ ! -d node_modules/@tensorflow/tfjs-backend-wasm ]; then
  echo "bench: node_modules lacks @tensorflow/tfjs-backend-wasm; run 'npm ci' first" >&2
  exit 1
fi

echo "bench: building native CLI (log: bench/out/build-native.log)" >&2
if ! { cmake -S . -B build/bench-native -G Ninja -DCMAKE_BUILD_TYPE=Release &&
       cmake --build build/bench-native --target cnnlens; } >bench/out/build-native.log 2>&1; then
  tail -n 20 bench/out/build-native.log >&2
  echo "bench: native build failed" >&2
  exit 1
fi

# A failed wasm build leaves its cells marked instead of measuring a stale binary.
echo "bench: building wasm CLI (log: bench/out/build-wasm.log)" >&2
wasm=build/bench-wasm/cli/cnnlens.js
if ! { export NODE_PATH=/usr/share/nodejs &&
       emcmake cmake -S . -B build/bench-wasm -G Ninja -DCMAKE_BUILD_TYPE=Release -DCNNLENS_WITH_TESTS=OFF &&
       cmake --build build/bench-wasm --target cnnlens; } >bench/out/build-wasm.log 2>&1; then
  tail -n 20 bench/out/build-wasm.log >&2
  echo "bench: wasm build failed; its row will say so" >&2
  wasm=none
fi

built=$(date +%s)
node bench/compare.mjs --native build/bench-native/cli/cnnlens --wasm "$wasm" "$@"
end=$(date +%s)
echo "bench: builds $((built - start)) s, measurements $((end - built)) s, total $((end - start)) s" >&2
