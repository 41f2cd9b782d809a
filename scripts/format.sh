#!/usr/bin/env bash
# Formats the C++ sources with clang-format 14 and the repository's .clang-format:
#   scripts/format.sh          rewrites every file that is not formatted
#   scripts/format.sh --check  changes nothing; lists the files that are not formatted and exits 1
#                              if there is one (the test command runs this)
# The sources are every tracked .cpp, .h and .inc outside the vendored Dear ImGui copies.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
check=0
[[ ${1:-} == --check ]] && check=1
formatter=clang-format-14
command -v "$formatter" >/dev/null || { echo "format: $formatter is not installed (scripts/setup.sh installs it)"; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.inc' | grep -v '^wasm/imgui/patched/')
if ((check == 0)); then
    "$formatter" -i --style=file "${files[@]}"
    exit 0
fi
bad=0
for f in "${files[@]}"; do
    if ! "$formatter" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "  not formatted: $f (scripts/format.sh rewrites it)"
        bad=$((bad + 1))
    fi
done
echo "format: ${#files[@]} files, $bad not formatted"
((bad == 0))
