#!/usr/bin/env bash
# Times every registered method (`cnnlens methods --names`) on the bundled model and the
# astronaut face with its defaults, natively and with the wasm CLI under node, and prints
# README's method table: name and title, its paper and whose defaults it follows, its model
# passes at the defaults (`cnnlens methods --tsv`, from the method's card), native ms, wasm ms
# (medians of --runs, one thread, simd kernels). Run on an idle machine:
#   bash bench/methods_table.sh [NATIVE_CLI] [WASM_CLI_JS] [RUNS]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
native=${1:-build/native-release/cli/cnnlens}
wasm=${2:-build/wasm/cli/cnnlens.js}
runs=${3:-3}
model=models/fer2013-mini-xception
ms() { grep -o '"ms":[0-9.]*' | cut -d: -f2; }
echo "# $(uptime | sed 's/.*load/load/'), runs $runs"
echo "| method | reference (defaults from) | model passes at the defaults | native ms | wasm ms |"
echo "|---|---|---|---|---|"
while IFS=$'\t' read -r m title paper anchor passes; do
    [[ $m == name ]] && continue
    n=$(CNNLENS_THREADS=1 "$native" bench --model "$model" --method "$m" --runs "$runs" --json 2>/dev/null | ms)
    w=$(node --no-experimental-fetch "$wasm" bench --model "$model" --method "$m" --runs "$runs" --json 2>/dev/null | ms)
    echo "| \`$m\` $title | ${paper//|/\\|} (${anchor//|/\\|}) | ${passes//|/\\|} | ${n:-error} | ${w:-error} |"
done < <("$native" methods --tsv)
echo "# $(uptime | sed 's/.*load/load/') at the end"
