#!/usr/bin/env bash
# The one test command. Installs what is missing (setup.sh), builds the native-release,
# native-asan and wasm presets while it writes the oracles in the background (the TF.js oracle
# once into build/oracle, the torchvision classifiers' CI subset once into build/torchvision and
# a smaller one for native-asan), runs every preset's ctest suite with CNNLENS_ORACLE_DIR,
# CNNLENS_TORCHVISION_DIR and CNNLENS_ONNX_NODE_DIR (ONNX's node tests) set, smoke-tests the CLI natively
# and under node (predict, model-info, a corrupt image, run on an ONNX node test; explain,
# confusion and report natively), then runs the browser app's end-to-end tests in headless
# Chromium (the wasm preset builds both apps, the single-threaded and the threaded one, and the
# tests run each; the threaded one also as app-mt-fma, its relaxed-SIMD FMA module, which
# Chromium runs when isolated; the wasm ctest suite has the FMA kernels' tests,
# cnnlens_tests_fma under node --experimental-wasm-relaxed-simd, and the FMA rewrite's). Prints each stage's time (wall and CPU) and, as its last line, "N passed, M
# failed" where N and M count ctest tests, CLI
# checks and e2e tests (a stage that cannot run, e.g. a broken build, counts as one failure).
# Also runs every bad input of tests/data/bad/catalogue.json through the CLIs; the fuzz targets
# run on their committed seeds and 1000 mutants of each as tests of the ASan build (fuzz/),
# and with CNNLENS_FUZZ_SECONDS=N set, each libFuzzer target for N s alongside the browser tests
# (scripts/fuzz.sh). The suite runs as shards of one process where starting it is dear (wasm,
# ASan; CNNLENS_TEST_SHARDS), each GoogleTest test still counted. Exits non-zero on any
# failure. Works unattended in a fresh clone (CI=true, no stdin).
# shellcheck disable=SC2317  # the stages are functions called through stage()
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$PWD
jobs=$(nproc)
presets=(native-release native-asan wasm)
model=models/fer2013-mini-xception
# ONNX's backend node tests (Debian's libonnx-testdata), run by OnnxConformance.NodeTests.
onnx_node_dir=/usr/share/libonnx-testdata/data/node
face=tests/data/astronaut_face.png
exec </dev/null
mkdir -p build
# LeakSanitizer (part of ASan on Linux) for every native-asan program this script runs; the
# native-asan ctest preset sets the same, and a canary test checks that it is in effect.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

passed=0
failed=0
skipped=0
summary=()
t_start=$EPOCHREALTIME

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
# read_cpu: sets cpu_now to the CPU seconds (user + system) of all finished child processes;
# on a shared machine, CPU time / cores estimates the wall time on idle cores.
read_cpu() {
    times >build/.times  # in this shell: a subshell would report its own (empty) children
    cpu_now=$(tail -n 1 build/.times | awk '{ for (i = 1; i <= 2; ++i) { split($i, t, "m"); s += t[1] * 60 + t[2] }
                                             printf "%.1f", s }')
}

# stage NAME COMMAND...: runs COMMAND with a banner and records its time and result.
stage() {
    local name=$1 t0=$EPOCHREALTIME cpu0 status
    read_cpu
    cpu0=$cpu_now
    shift
    echo
    echo "==> $name"
    "$@"
    status=$?
    local secs cpu result=ok
    secs=$(elapsed_since "$t0")
    read_cpu
    cpu=$(awk -v a="$cpu0" -v b="$cpu_now" 'BEGIN { printf "%.1f", b - a }')
    ((status == 0)) || result="FAILED (exit $status)"
    summary+=("$(printf '%-22s %8s s %8s s  %s' "$name" "$secs" "$cpu" "$result")")
    echo "<== $name: $result, ${secs} s (CPU ${cpu} s)"
    return "$status"
}

finish() {
    echo
    read_cpu
    echo "==> summary: $(elapsed_since "$t_start") s in all, CPU $cpu_now s, $jobs cores"
    printf '  %-22s %10s %10s\n' stage wall CPU
    printf '  %s\n' "${summary[@]}"
    ((skipped)) && echo "  ($skipped tests skipped, not counted)"
    echo "$passed passed, $failed failed"
    if ((failed)); then exit 1; fi
    exit 0
}

build_preset() {
    cmake --preset "$1" && cmake --build --preset "$1" -j "$jobs"
}

oracle_is_fresh() {
    [[ -f build/oracle/oracle.json ]] || return 1
    [[ -z "$(find "$model" tests/data/oracle tests/oracle/tfjs_oracle.mjs package-lock.json \
             -newer build/oracle/oracle.json -print -quit)" ]]
}

make_oracle() {
    if oracle_is_fresh; then
        echo "build/oracle/oracle.json is newer than the model, the inputs and the oracle script"
        return 0
    fi
    rm -rf build/oracle.tmp &&
        node tests/oracle/tfjs_oracle.mjs --out build/oracle.tmp &&
        rm -rf build/oracle && mv build/oracle.tmp build/oracle
}

# The torchvision classifiers' CI subset (every architecture small, one opset each; 11, 13 and
# 17 all covered) with PyTorch's answers, for tests/import/torchvision_test.cpp; native-asan gets
# two small ones of it (the same files, a shorter index). Regenerated only when the generator
# changes. Debian's python3 has torch.
torchvision_is_fresh() {
    [[ -f $1/index.json && ! tests/oracle/torchvision_fixtures.py -nt $1/index.json ]]
}

# subset_fixtures FROM TO NAME...: TO holds FROM's fixtures NAME... and an index.json of them.
subset_fixtures() {
    /usr/bin/python3 - "$@" <<'PY'
import json, os, shutil, sys
src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
index = json.load(open(os.path.join(src, 'index.json')))
index['fixtures'] = [f for f in index['fixtures'] if f['name'] in names]
missing = set(names) - {f['name'] for f in index['fixtures']}
if missing:
    sys.exit(f'{src}/index.json has no fixture {sorted(missing)}')
os.makedirs(dst)
for f in os.listdir(src):
    if f.split('.')[0] in names:
        shutil.copy(os.path.join(src, f), dst)
json.dump(index, open(os.path.join(dst, 'index.json'), 'w'), indent=1)
PY
}

make_torchvision() {
    local ci=build/torchvision asan=build/torchvision-asan
    if torchvision_is_fresh "$ci"; then
        echo "$ci/index.json is newer than tests/oracle/torchvision_fixtures.py"
    else
        rm -rf "$ci.tmp" &&
            /usr/bin/python3 tests/oracle/torchvision_fixtures.py --out "$ci.tmp" --plan ci 2>&1 | grep -v -i warning &&
            [[ -f $ci.tmp/index.json ]] && rm -rf "$ci" && mv "$ci.tmp" "$ci" || return 1
    fi
    if torchvision_is_fresh "$asan" && [[ ! $ci/index.json -nt $asan/index.json ]]; then
        echo "$asan/index.json is newer than $ci/index.json"
        return 0
    fi
    rm -rf "$asan.tmp" &&
        subset_fixtures "$ci" "$asan.tmp" squeezenet1_1_s64 mobilenet_v3_small_s64 &&
        rm -rf "$asan" && mv "$asan.tmp" "$asan"
}

# Both oracles at once: TF.js's runs in one node process, so the torchvision export takes the
# other core. Prints one "FAILED" line per oracle that failed.
make_oracles() {
    local tfjs_pid tfjs_status tv_status
    make_oracle >build/oracle-tfjs.log 2>&1 &
    tfjs_pid=$!
    make_torchvision
    tv_status=$?
    wait "$tfjs_pid"
    tfjs_status=$?
    sed 's/^/  [TF.js] /' build/oracle-tfjs.log
    ((tfjs_status == 0)) || echo "oracle (TF.js) FAILED (exit $tfjs_status)"
    ((tv_status == 0)) || echo "oracle (torchvision) FAILED (exit $tv_status)"
    ((tfjs_status == 0 && tv_status == 0))
}

# The oracles need only the source tree, so they run in the background while the presets build
# (at nice 10: they take the cores the builds leave, e.g. during links); oracles_finish waits for
# them before the first ctest and counts each failed oracle once.
oracles_start() {
    (
        renice -n 10 -p "$BASHPID" >/dev/null
        make_oracles
    ) >build/oracles.log 2>&1 &
    oracles_pid=$!
}

oracles_finish() {
    local status bad
    wait "$oracles_pid"
    status=$?
    cat build/oracles.log
    bad=$(grep -c '^oracle (.*) FAILED' build/oracles.log)
    if ((status != 0 && bad == 0)); then bad=1; fi
    failed=$((failed + bad))
    return "$status"
}

# junit_count FILE ATTR: a count attribute of the <testsuite> element of ctest's JUnit file.
junit_count() {
    local n
    n=$(sed -n '/<testsuite/,/>/p' "$1" | tr '\n\t' '  ' | grep -m1 -o '<testsuite [^>]*' |
        grep -o " $2=\"[0-9]*\"" | grep -o '[0-9][0-9]*')
    echo "${n:-0}"
}

# ctest_preset PRESET: runs the suite and adds its tests to the totals (read from JUnit output).
ctest_preset() {
    local junit=$root/build/$1/ctest-junit.xml status
    rm -f "$junit"
    local torchvision=$root/build/torchvision
    [[ $1 == native-asan ]] && torchvision=$root/build/torchvision-asan
    local shards=$root/build/$1/gtest-shards
    rm -rf "$shards"
    CNNLENS_ORACLE_DIR=$root/build/oracle CNNLENS_ONNX_NODE_DIR=$onnx_node_dir CNNLENS_TORCHVISION_DIR=$torchvision \
        ctest --preset "$1" -j "$jobs" --output-junit "$junit"
    status=$?
    local tests=0 failures=0 skips=0
    if [[ -f "$junit" ]]; then
        tests=$(junit_count "$junit" tests)
        failures=$(junit_count "$junit" failures)
        skips=$(junit_count "$junit" skipped)
    fi
    # A suite run in shards (CNNLENS_TEST_SHARDS) counts each shard as one ctest test: count the
    # GoogleTest tests it ran instead. A shard that failed with no failing test in its file
    # (a crash, a leak reported at exit) or left no file counts once.
    local line name k xml
    while read -r line; do
        name=$(grep -o ' name="cnnlens_tests\.shard_[0-9]*_of_[0-9]*"' <<<"$line" | head -1)
        [[ -n $name ]] || continue
        k=$(grep -o 'shard_[0-9]*' <<<"$name" | grep -o '[0-9]*')
        xml=$shards/shard_$k.xml
        tests=$((tests - 1))
        grep -q 'status="fail"' <<<"$line" && failures=$((failures - 1))
        if [[ -f $xml ]]; then
            local t f sk
            t=$(grep -c '<testcase ' "$xml")
            f=$(awk '/<testcase /{failed=0} /<failure/{if(!failed){n++; failed=1}} END{print n+0}' "$xml")
            sk=$(grep -c 'result="skipped"' "$xml")
            tests=$((tests + t)) failures=$((failures + f)) skips=$((skips + sk))
            if grep -q 'status="fail"' <<<"$line" && ((f == 0)); then tests=$((tests + 1)) failures=$((failures + 1)); fi
        else
            tests=$((tests + 1)) failures=$((failures + 1))
            echo "$1: shard $k left no results ($xml)"
        fi
    done < <(grep '<testcase name="cnnlens_tests\.shard_' "$junit" 2>/dev/null)
    # A run that fails without a failing test (crash in discovery, no tests) still fails once.
    if ((status != 0 && failures == 0)); then failures=1; fi
    passed=$((passed + tests - failures - skips))
    failed=$((failed + failures))
    skipped=$((skipped + skips))
    echo "$1: $((tests - failures - skips)) passed, $failures failed, $skips skipped"
    return "$status"
}

# check [-F] NAME WANT PATTERN COMMAND...: WANT is "ok" (exit 0) or "error" (exit 1..125, not a
# crash); the combined output must match the extended regex PATTERN (with -F: contain the text
# PATTERN) and show no sanitizer report.
check() {
    local grep_mode=-E
    if [[ $1 == -F ]]; then grep_mode=-F; shift; fi
    local name=$1 want=$2 pattern=$3 out status
    shift 3
    out=$("$@" 2>&1)
    status=$?
    local verdict=ok
    if [[ $want == ok ]] && ((status != 0)); then verdict="exit $status, wanted 0"; fi
    if [[ $want == error ]] && ((status == 0 || status > 125)); then
        verdict="exit $status, wanted an error exit"
    fi
    if [[ $verdict == ok ]] && ! grep "$grep_mode" -q -- "$pattern" <<<"$out"; then verdict="no line matches '$pattern'"; fi
    if [[ $verdict == ok ]] && grep -q 'Sanitizer' <<<"$out"; then verdict="sanitizer report"; fi
    if [[ $verdict == ok ]]; then
        passed=$((passed + 1))
        echo "  ok      $name"
        return 0
    fi
    failed=$((failed + 1))
    echo "  FAILED  $name: $verdict; output:"
    # shellcheck disable=SC2001  # indents every line of a multi-line output
    sed 's/^/          /' <<<"$out" | head -40
    return 1
}

# same_upright CLI...: `predict --json` prints the same probabilities for the eight EXIF
# orientations of one photo (tests/data/photos/orientation: exact pixels in PNG).
same_upright() {
    local o first="" probs
    for o in 1 2 3 4 5 6 7 8; do
        probs=$("$@" predict --json --model "$model" "tests/data/photos/orientation/astronaut_$o.png" | grep -o '"probabilities":\[[^]]*\]')
        [[ -n $probs ]] || { echo "orientation $o: no probabilities"; return 1; }
        [[ -z $first ]] && first=$probs
        [[ $probs == "$first" ]] || { echo "orientation $o: $probs, orientation 1: $first"; return 1; }
    done
    echo "8 orientations, the same $first"
}

# The command that runs each preset's CLI (the wasm entry is a command with arguments): every
# stage below, the e2e tests' CLI included, takes it from here.
declare -A cli=(
    [native-release]="build/native-release/cli/cnnlens"
    [native-asan]="build/native-asan/cli/cnnlens"
    [wasm]="node --no-experimental-fetch build/wasm/cli/cnnlens.js"
)

# is_built PRESET: whether PRESET built in this run; if not, says that its checks are skipped.
is_built() {
    [[ " ${built[*]} " == *" $1 "* ]] && return 0
    echo "  skip    $1: not built"
    return 1
}

smoke() {
    local corrupt=build/smoke/corrupt.png status=0 run
    mkdir -p build/smoke
    head -c 200 "$face" >"$corrupt"  # a PNG cut short: signature and header, no image data
    local p
    for p in "${presets[@]}"; do
        is_built "$p" || continue
        read -r -a run <<<"${cli[$p]}"  # the wasm entry is a command with arguments
        check "$p predict says happy" ok "^$face: happy" \
            "${run[@]}" predict --model "$model" "$face" || status=1
        check "$p model-info" ok "^classes .*happy" "${run[@]}" model-info "$model" || status=1
        # A photo: its face found, cropped (aligned) and classified; the JSON states the crop.
        check "$p predict lists a photo's faces" ok "^  face 1 at \([0-9]+, [0-9]+\) [0-9]+x[0-9]+, upright: happy" \
            "${run[@]}" predict --model "$model" tests/data/astronaut.jpg || status=1
        check "$p predict --json gives each face's crop" ok '"faces":\[\{"index":1,"box":\[[^]]+\],"score":[^,]+,"crop":\{"center":\[[^]]+\],"width":[^,]+,"height":[^,]+,"angle_degrees":0,"aligned":false\}' \
            "${run[@]}" predict --json --align off --model "$model" tests/data/astronaut.jpg || status=1
        check "$p corrupt image is an error" error "^cnnlens: .*corrupt\.png" \
            "${run[@]}" predict --model "$model" "$corrupt" || status=1
        check "$p predict with an ONNX model" ok "^$face: [a-z]+ \(" \
            "${run[@]}" predict --model tests/data/onnx/vgg48.opset17.onnx "$face" || status=1
        local conv=$onnx_node_dir/test_conv_with_strides_padding
        check "$p run an ONNX node test" ok "^y \[1,1,4,3\] min 12 max 198 -> " \
            "${run[@]}" run --model "$conv/model.onnx" --input "x=$conv/test_data_set_0/input_0.pb" \
            --input "W=$conv/test_data_set_0/input_1.pb" --output-dir "build/smoke/run-$p" || status=1
        # Axis 0 is data here (moved by the Transpose): the graph is read with a batch axis added.
        local tr=$onnx_node_dir/test_transpose_all_permutations_4
        check "$p run an ONNX node test whose first axis is data" ok "^transposed \[4,2,3\] min 0.0202184 max 0.978618 -> " \
            "${run[@]}" run --model "$tr/model.onnx" --input "data=$tr/test_data_set_0/input_0.pb" --output-dir "build/smoke/run-data-$p" || status=1
        # A 1000-class model: ImageNet's names, the top 5 (text and JSON), MACs in model-info.
        check "$p predict top 5 of a 1000-class model" ok "\(top 5 of 1000 classes\)" \
            "${run[@]}" predict --model tests/data/onnx/imagenet_tiny.onnx "$face" || status=1
        check "$p predict --json top_k" ok '"top_k":\[\{"index":[0-9]+,"class":"[^"]+","probability":[^}]+\}(,\{[^}]+\}){4}\]' \
            "${run[@]}" predict --json --model tests/data/onnx/imagenet_tiny.onnx "$face" || status=1
        check "$p bench --detector times face detection" ok "face detection of a 512x512 photo \(1 face found\)" \
            "${run[@]}" bench --detector models/blazeface --runs 1 --warmup 0 || status=1
        check "$p model-info MACs" ok "^237376 multiply-adds per image" \
            "${run[@]}" model-info tests/data/onnx/imagenet_tiny.onnx || status=1
        check "$p model-info guesses the ImageNet preset" ok "values mean/std \(imagenet preset\)" \
            "${run[@]}" model-info tests/data/onnx/imagenet_tiny.onnx || status=1
        # Photos as phones and the web save them: EXIF orientation everywhere; WebP and AVIF
        # natively (in the browser build the page decodes them, and the CLI names the format).
        check "$p predict turns EXIF orientations upright" ok "^8 orientations, the same" same_upright "${run[@]}" || status=1
        local ext fmt
        for ext in webp avif; do
            fmt=WebP
            [[ $ext == avif ]] && fmt=AVIF
            if [[ $p == wasm ]]; then
                check "$p predict $fmt names the format" error "$fmt is not decodable here" \
                    "${run[@]}" predict --model "$model" "tests/data/photos/astronaut.$ext" || status=1
            else
                check "$p predict a $fmt photo" ok "^  face 1 at .*: happy" \
                    "${run[@]}" predict --model "$model" "tests/data/photos/astronaut.$ext" || status=1
            fi
        done
    done
    return "$status"
}

# bad inputs: every file of tests/data/bad/catalogue.json through each built CLI (images with
# predict, models with model-info, CSVs with confusion): an error exit, the catalogued message,
# no sanitizer report (the native-asan CLI runs with LeakSanitizer on).
bad_inputs() {
    local status=0 p file kind expect run
    local entries
    entries=$(python3 -c 'import json, sys
for e in json.load(open(sys.argv[1])): print("\t".join([e["file"], e["kind"], e["expect"], e.get("needs", "-")]))' tests/data/bad/catalogue.json) || return 1
    for p in "${presets[@]}"; do
        is_built "$p" || continue
        read -r -a run <<<"${cli[$p]}"  # the wasm entry is a command with arguments
        while IFS=$'\t' read -r file kind expect needs; do
            local f=tests/data/bad/$file cmd
            # A format only native builds decode: the browser build's CLI names it instead.
            [[ $p == wasm && $needs != - ]] && expect="$needs is not decodable here"
            case $kind in
                image) cmd=(predict --model "$model" "$f") ;;
                model) cmd=(model-info "$f") ;;
                csv) cmd=(confusion --model "$model" --data "$f") ;;
            esac
            check -F "$p $file" error "$expect" "${run[@]}" "${cmd[@]}" || status=1
        done <<<"$entries"
    done
    return "$status"
}

# explain / report on the native-release CLI: every method `cnnlens methods --names` lists (the
# registry) writes its three files, the report writes its pictures and index.html.
# evaluate_shards CLI DIR: `evaluate` as three shard processes at once, merged, against one
# process on the same items; prints "merged table equals the single run" when CSV and JSON are
# byte for byte the same.
evaluate_shards() {
    local b=$1 d=$2 k pids=()
    local run=(evaluate --model "$model" --data tests/data/eval/fer2013_20.csv --limit 9
        --methods saliency,gradcam --metrics sparseness,complexity,deletion_auc,insertion_auc,faithfulness_correlation,infidelity,road_morf,road_lerf,random_logit,max_sensitivity,avg_sensitivity
        --runs 20 --samples 2 --threads 1)
    rm -rf "$d" && mkdir -p "$d"
    for k in 0 1 2; do
        "$b" "${run[@]}" --shard "$k/3" --partial "$d/part$k.txt" >"$d/shard$k.log" 2>&1 & pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k" || { cat "$d"/shard*.log; return 1; }; done
    "$b" merge "$d/part2.txt" "$d/part0.txt" "$d/part1.txt" --csv "$d/merged.csv" --json "$d/merged.json" || return 1
    "$b" "${run[@]}" --csv "$d/one.csv" --json "$d/one.json" || return 1
    cmp "$d/merged.csv" "$d/one.csv" && cmp "$d/merged.json" "$d/one.json" && echo "merged table equals the single run"
}

# explain_help CLI METHOD: `explain --method METHOD --help` prints the method's card, each
# section with its heading, then its parameters; echoes the output when every part is there.
explain_help() {
    local out h
    out=$("$1" explain --method "$2" --help) || return 1
    for h in "What it computes" "Reading the map" "Cost" "Paper" "Defaults" "Parameters"; do
        grep -q "^$h" <<<"$out" || { echo "no section '$h'"; return 1; }
    done
    echo "$out"
}

# report_self_contained HTML: counts its pictures that are data: URIs of PNGs and every other
# reference (src, href, url(), an address); `cnnlens report`'s report.html has only the former.
report_self_contained() {
    local data other
    data=$(grep -o 'src="data:image/png;base64,' "$1" | wc -l)
    other=$(grep -oE 'src="[^d]|src="d[^a]|href=|url\(|https?:|<script|<link' "$1" | wc -l)
    echo "$data data: pictures, $other other references"
}

explanations() {
    is_built native-release || return 0
    local b=${cli[native-release]} out=build/smoke/explain status=0 m methods
    rm -rf "$out" build/smoke/report
    check "methods --names lists the registry" ok "^saliency$" "$b" methods --names || status=1
    check "methods --tsv: each method's paper, anchor and passes at the defaults" ok \
        "^lime	LIME	Ribeiro.*	1 forward pass per sample \(1000\), 100 per engine call$" "$b" methods --tsv || status=1
    methods=$("$b" methods --names)
    for m in $methods; do
        check "explain $m" ok "happy -> .*_$m\.\{png,npy,json\}" \
            "$b" explain --model "$model" --method "$m" --out "$out" "$face" || status=1
        check "explain $m files" ok "json" ls "$out/astronaut_face_$m.png" "$out/astronaut_face_$m.npy" "$out/astronaut_face_$m.json" || status=1
    done
    check "explain a photo's face, drawn back on the photo" ok "astronaut\.jpg face 1: .* and .*astronaut_face1_gradcam_photo\.png" \
        "$b" explain --model "$model" --method gradcam --out "$out" tests/data/astronaut.jpg || status=1
    check "explain a photo's face files" ok "photo" ls "$out/astronaut_face1_gradcam.json" "$out/astronaut_face1_gradcam_photo.png" || status=1
    check "explain gradcam on an ONNX model" ok "-> .*_gradcam\.\{png,npy,json\}" \
        "$b" explain --model tests/data/onnx/resnet48.opset17.onnx --method gradcam --out "$out/onnx" "$face" || status=1
    check "explain bad method is an error" error "unknown method 'nope'" "$b" explain --model "$model" --method nope "$face" || status=1
    check "explain --help: the method's card and its labelled parameters" ok "--n_segments *Superpixels *default 100" \
        explain_help "$b" lime || status=1
    check "confusion on the FER2013 CSV" ok "overall accuracy" "$b" confusion --model "$model" --data tests/data/eval/fer2013_20.csv || status=1
    check "evaluate: three shard processes merged equal one process" ok "merged table equals the single run" \
        evaluate_shards "$b" build/smoke/evaluate || status=1
    check "merge with a shard missing is an error" error "shards 1 of 3 are missing" \
        "$b" merge build/smoke/evaluate/part0.txt build/smoke/evaluate/part2.txt || status=1
    check "evaluate: an unknown metric is an error naming the list" error "unknown metric 'nope' \(metrics: sparseness" \
        "$b" evaluate --model "$model" --data tests/data/eval/fer2013_20.csv --methods saliency --metrics nope || status=1
    check "evaluate --photo: the photo's face as one item" ok "astronaut\.jpg \(photo\): 1 of 1 items" \
        "$b" evaluate --model "$model" --photo tests/data/astronaut.jpg --methods saliency --metrics sparseness,deletion_auc || status=1
    check "evaluate: --photo and --data together is an error" error "one of --data FILE.csv\|DIR and --photo IMAGE" \
        "$b" evaluate --model "$model" --photo "$face" --data tests/data/eval/fer2013_20.csv --methods saliency || status=1
    check "report" ok "report -> build/smoke/report/index.html" \
        "$b" report --model "$model" --data tests/data/eval/fer2013_20.csv --out build/smoke/report \
        --lime-samples 300 --smoothgrad-samples 20 --steps 32 || status=1
    check "report: part 5 ranks its methods by the trust metrics" ok '"ranking":\[\{"method":' \
        cat build/smoke/report/5_trust.json || status=1
    check -F "report: part 5 in the page, with its plots" ok '<svg' grep -A200 'How far to trust these maps' build/smoke/report/index.html || status=1
    check "report: report.html is self-contained (every picture a data: URI, no address)" ok "^7 data: pictures, 0 other references$" \
        report_self_contained build/smoke/report/report.html || status=1
    check "report: report.zip is a valid stored ZIP of the report's files (Python's zipfile)" ok \
        "^index.html 1_saliency_masks.png 2_filters.png 2_featuremaps.png 3_lime.png 3_confusion_counts.png 3_confusion_normalized.png 4_smoothgrad.png confusion.json 5_trust.json$" \
        /usr/bin/python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(' '.join(i.filename for i in z.infolist() if i.compress_type == zipfile.ZIP_STORED))" \
        build/smoke/report/report.zip || status=1
    check "sanity: the randomization strip of a method" ok "-> .*astronaut_face_saliency_sanity\.png" \
        "$b" sanity --model "$model" --method saliency --layers 3 --out "$out" "$face" || status=1
    check "sanity: a bad mode is an error naming it" error "mode must be cascading or independent, got 'top'" \
        "$b" sanity --model "$model" --method saliency --mode top "$face" || status=1
    return "$status"
}

# fuzz (only with CNNLENS_FUZZ_SECONDS set): every libFuzzer target (fuzz/) for that many s, from the committed
# seeds plus what earlier runs found; each target counts as one test. fuzz_start builds and runs
# them in the background, one target at a time, while the browser tests run: those mostly wait on
# the page, and the runs are bounded by time, not work. At nice 10 the fuzzers take what the page
# leaves (its frame-rate checks stay as they are), and an input counts as a hang after 120 s
# instead of 30, as it may wait for the CPU. fuzz_finish waits and counts.
fuzz_start() {
    CNNLENS_FUZZ_JOBS=1 CNNLENS_FUZZ_TIMEOUT=120 nice -n 10 bash scripts/fuzz.sh "$CNNLENS_FUZZ_SECONDS" >build/fuzz.log 2>&1 &
    fuzz_pid=$!
}

fuzz_finish() {
    local log=build/fuzz.log status
    wait "$fuzz_pid"
    status=$?
    cat "$log"
    local ok bad
    ok=$(grep -cE '^  [a-z_0-9]+ .* executions .* ok$' "$log")
    bad=$(grep -cE '^  [a-z_0-9]+ .* FAILED' "$log")
    if ((status != 0 && bad == 0)); then bad=1; fi  # the build failed
    passed=$((passed + ok))
    failed=$((failed + bad))
    return "$status"
}

# e2e: the browser app in headless Chromium (tests/e2e/*.test.mjs, node's test runner), compared
# with the native CLI, both builds (threads.test.mjs and imagenet.test.mjs serve the site with and
# without COOP/COEP; layout.test.mjs with them, so it runs the threaded build); its test counts (TAP summary) are added to the totals. e2e_start runs it in
# the background while the CLI checks run: the page leaves a good part of a core idle (it waits on
# frames and on the browser), and the checks fill it. e2e_finish waits and counts.
e2e_start() {
    (
        # imagenet.test.mjs drops a torchvision ResNet-18 (seeded random weights, 46 MB): made
        # here once with Debian's torch, never committed.
        if [[ ! -f build/e2e-models/resnet18.onnx ]]; then
            /usr/bin/python3 tests/e2e/make_torchvision_onnx.py build/e2e-models/resnet18.onnx resnet18 ||
                echo "  could not export resnet18.onnx (imagenet.test.mjs will try again and fail)"
        fi
        CNNLENS_SITE=$root/build/wasm/site CNNLENS_CLI=$root/${cli[native-release]} \
            node --test --test-reporter=tap tests/e2e/
    ) >build/e2e.log 2>&1 &
    e2e_pid=$!
}

e2e_finish() {
    local log=build/e2e.log status
    wait "$e2e_pid"
    status=$?
    cat "$log"
    local p f s
    p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    s=$(grep -E '^# skipped [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    p=${p:-0} f=${f:-0} s=${s:-0}
    if ((status != 0 && f == 0)); then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    echo "e2e: $p passed, $f failed, $s skipped"
    return "$status"
}

if ! stage "setup" bash scripts/setup.sh; then
    failed=$((failed + 1))
    finish
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh

oracles_start
# The C++ sources are formatted as .clang-format says (scripts/format.sh rewrites them); one check,
# made in the background while the presets build and counted after them.
bash scripts/format.sh --check >build/format.log 2>&1 &
format_pid=$!
format_check() {
    wait "$format_pid"
    check "the C++ sources are formatted (scripts/format.sh)" ok "0 not formatted" cat build/format.log
}

built=()
for p in "${presets[@]}"; do
    if stage "build $p" build_preset "$p"; then built+=("$p"); else failed=$((failed + 1)); fi
done

stage "oracles (alongside builds)" oracles_finish
stage "format (alongside builds)" format_check

for p in "${built[@]}"; do
    stage "ctest $p" ctest_preset "$p"
done

fuzzing=${CNNLENS_FUZZ_SECONDS:-0}
((fuzzing > 0)) && fuzz_start
browser=0
if [[ " ${built[*]} " == *" wasm "* && " ${built[*]} " == *" native-release "* ]] &&
    compgen -G 'tests/e2e/*.test.mjs' >/dev/null; then
    browser=1
    e2e_start
fi
stage "CLI smoke (alongside e2e)" smoke
stage "CLI bad inputs (alongside e2e)" bad_inputs
stage "CLI explanations (alongside e2e)" explanations
((browser)) && stage "e2e (chromium)" e2e_finish
((fuzzing > 0)) && stage "fuzz (alongside e2e)" fuzz_finish

finish
