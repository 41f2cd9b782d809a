#!/usr/bin/env bash
# The main job: installs what is missing (setup.sh), builds the native-release CLI and runs it
# on the bundled model: the astronaut face's emotion, then the model's layers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

model=models/fer2013-mini-xception

build() {
    cmake --preset native-release
    cmake --build --preset native-release -j "$(nproc)" --target cnnlens
}

main_job() {
    local cnnlens=build/native-release/cli/cnnlens
    "$cnnlens" predict --model "$model" tests/data/astronaut_face.png
    echo
    "$cnnlens" model-info "$model"
}

bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
build
main_job
