#!/usr/bin/env bash
# Every torchvision classifier at its full input size against PyTorch, one architecture at a
# time (fixtures are large: each is generated into build/torchvision-full/ARCH, checked on every
# kernel set by the native test binary, then removed), and a table of the results: imports,
# max |dp|, the input gradient's max relative error per kernel set, PyTorch float32's own error,
# warm forward ms. Not part of scripts/test.sh (it takes long); its CI subset is.
#
#   scripts/torchvision_check.sh [ARCH ...]       default: every architecture
#   OPSETS=11,13,17 SIZE=224 WASM=1 KEEP=1 scripts/torchvision_check.sh resnet50
#
# Needs build/native-release (cnnlens_tests); with WASM=1 also build/wasm's cnnlens_tests, run
# under node on the simd set for its forward time. Writes build/torchvision-full/results.log
# (the test's [torchvision] lines) and prints the table (Markdown).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
opsets=${OPSETS:-11,13,17}
out=build/torchvision-full
native=build/native-release/tests/cnnlens_tests
wasm=build/wasm/tests/cnnlens_tests.js
archs=("$@")
if ((${#archs[@]} == 0)); then
    mapfile -t archs < <(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/oracle")
import torchvision_fixtures as t; print("\n".join(t.ARCHS))') || exit 1
fi
[[ -x $native ]] || { echo "torchvision_check: build $native first (cmake --build build/native-release --target cnnlens_tests)"; exit 1; }
mkdir -p "$out"
log=$out/results.log
: >"$log"
for arch in "${archs[@]}"; do
    dir=$out/$arch
    rm -rf "$dir"
    size_arg=()
    [[ -n ${SIZE:-} ]] && size_arg=(--size "$SIZE")
    echo "== $arch"
    if ! /usr/bin/python3 tests/oracle/torchvision_fixtures.py --out "$dir" --models "$arch" --opsets "$opsets" \
        "${size_arg[@]}" 2>&1 | grep -v -i warn; then
        echo "[torchvision] $arch opset - - fixtures failed" >>"$log"
        continue
    fi
    cp "$dir/index.json" "$out/$arch.index.json"
    CNNLENS_TORCHVISION_DIR=$dir CNNLENS_TORCHVISION_TIME=1 "$native" --gtest_filter='AllSets/TorchvisionTest.*' 2>&1 |
        tee "$out/$arch.native.log" | grep -E '^\[torchvision\]|FAILED|error' | head -40
    grep '^\[torchvision\]' "$out/$arch.native.log" >>"$log"
    if [[ ${WASM:-0} == 1 && -f $wasm ]]; then
        CNNLENS_TORCHVISION_DIR=$dir CNNLENS_TORCHVISION_TIME=1 node --no-experimental-fetch "$wasm" \
            --gtest_filter='AllSets/TorchvisionTest.MatchesPyTorch/simd' 2>&1 | tee "$out/$arch.wasm.log" |
            grep -E '^\[torchvision\]' | sed -E 's/^\[torchvision\] ([^ ]*) opset ([0-9]*) simd(\/float)? /[torchvision] \1 opset \2 wasm-simd\3 /' |
            tee -a "$log"
    fi
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$dir"
done

/usr/bin/python3 - "$log" "$out" <<'EOF'
import collections, glob, json, os, sys
log, out = sys.argv[1], sys.argv[2]
torch_err, order = {}, []
for f in sorted(glob.glob(os.path.join(out, '*.index.json'))):
    for e in json.load(open(f))['fixtures']:
        torch_err[e['name']] = e['torch_f32_grad_err']
rows = collections.OrderedDict()
sets = []
for line in open(log):
    w = line.split()
    if len(w) < 5:
        continue
    name, opset, kset, verdict = w[1], w[3], w[4], w[5] if len(w) > 5 else ''
    r = rows.setdefault(name, {'imports': set(), 'refused': set(), 'dp': 0.0, 'grad': {}, 'ms': {}})
    if verdict == 'refused' or kset == '-':
        r['refused'].add(opset)
        continue
    if verdict != 'imports':
        continue
    if kset not in sets:
        sets.append(kset)
    r['imports'].add(opset)
    v = dict(zip(w[6::3], zip(w[7::3], w[8::3])))  # key value tol
    r['dp'] = max(r['dp'], float(w[7]))
    r['grad'][kset] = max(r['grad'].get(kset, 0.0), float(w[10]))
    r['grad_tol'] = float(w[11])
    ms = float(w[-1])
    r['ms'][kset] = min(r['ms'].get(kset, ms), ms)
head = ['architecture', 'imports (opsets)', 'max |dp|'] + ['grad err ' + s for s in sets] + ['PyTorch f32 err', 'tolerance'] + \
       ['fwd ms ' + s for s in sets if s != 'reference']
print('| ' + ' | '.join(head) + ' |')
print('|' + '---|' * len(head))
for name, r in rows.items():
    imp = ','.join(sorted(r['imports'])) if r['imports'] else 'refused'
    if r['imports'] and r['refused']:
        imp += ' (refused: ' + ','.join(sorted(r['refused'])) + ')'
    cells = [name, imp, '%.1e' % r['dp'] if r['imports'] else '-']
    for s in sets:
        g = r['grad'].get(s)
        cells.append('-' if g is None else ('%.1e' % g) + (' **FAIL**' if g > r['grad_tol'] else ''))
    cells.append('%.1e' % torch_err[name] if name in torch_err else '-')
    cells.append('%.0e' % r['grad_tol'] if r['imports'] else '-')
    cells += ['%.1f' % r['ms'][s] if s in r['ms'] else '-' for s in sets if s != 'reference']
    print('| ' + ' | '.join(cells) + ' |')
EOF
