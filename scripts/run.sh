#!/usr/bin/env bash
# The main job: installs what is missing (setup.sh), builds the web app (wasm preset) and the
# native CLI, shows the CLI on the bundled face, then serves the app on http://127.0.0.1:8080/
# (PORT overrides the port) until interrupted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

model=models/fer2013-mini-xception

build() {
    cmake --preset native-release
    cmake --build --preset native-release -j "$(nproc)" --target cnnlens
    cmake --preset wasm
    cmake --build --preset wasm -j "$(nproc)" --target cnnlens_site
}

main_job() {
    local cnnlens=build/native-release/cli/cnnlens
    "$cnnlens" predict --model "$model" tests/data/astronaut_face.png
    echo
    "$cnnlens" model-info "$model"
    echo
    echo "cnnlens: serving the web app from build/wasm/site on http://127.0.0.1:${PORT:-8080}/ (Ctrl+C stops)"
    exec node tests/e2e/serve.mjs build/wasm/site --port "${PORT:-8080}"  # signals go to the server
}

bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
build
main_job
