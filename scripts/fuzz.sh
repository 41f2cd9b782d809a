#!/usr/bin/env bash
# Runs the libFuzzer targets: scripts/fuzz.sh [SECONDS] [TARGET...]
# Builds the `fuzz` preset (clang 14, ASan + UBSan, core and fuzz/ only), then runs each target
# (default: every fuzz/<target>_fuzz.cpp) for SECONDS (default 60), two at a time (one per core;
# CNNLENS_FUZZ_JOBS overrides; the build uses every core). Each target starts from its committed seeds (fuzz/corpus/<target>/)
# plus what earlier runs found (build/fuzz-corpus/<target>/, not committed). Prints one line per
# target: executions, corpus size and the result; a crash, leak, timeout or out-of-memory leaves
# its input in build/fuzz-crashes/<target>/ and makes the script exit non-zero.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root=$PWD
seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@")
if ((${#targets[@]} == 0)); then
    for f in fuzz/*_fuzz.cpp; do t=${f#fuzz/}; targets+=("${t%_fuzz.cpp}"); done
fi
jobs=${CNNLENS_FUZZ_JOBS:-2}

if ! { cmake --preset fuzz >/dev/null && cmake --build --preset fuzz -j "$(nproc)" >build/fuzz-build.log 2>&1; }; then
    echo "fuzz: build failed (build/fuzz-build.log):"
    tail -30 build/fuzz-build.log
    exit 1
fi

# run_target NAME: one libFuzzer session; its log is build/fuzz-logs/NAME.log.
run_target() {
    local t=$1 exe=build/fuzz/fuzz/fuzz_$1
    local log=build/fuzz-logs/$t.log work=build/fuzz-corpus/$t crashes=build/fuzz-crashes/$t
    mkdir -p "$work" "$crashes" build/fuzz-logs
    if [[ ! -x $exe ]]; then
        echo "no fuzz target '$t' (fuzz/${t}_fuzz.cpp)" >"$log"
        return 1
    fi
    local seeds=()
    [[ -d fuzz/corpus/$t ]] && seeds=("fuzz/corpus/$t")
    # -seed: fixed (CNNLENS_FUZZ_SEED, default 1) so that a run from the committed seeds is
    # repeatable, e.g. a CI failure here; 0 lets libFuzzer pick one.
    # -timeout (CNNLENS_FUZZ_TIMEOUT, default 30): an input taking 30 s is a hang (decoding a 100-megapixel image under ASan takes a
    # few seconds on a busy machine); -rss_limit_mb: an input needing 2.5 GB is a bug (the limits
    # of core/base/limits.h keep real work below that).
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$exe" -max_total_time="$seconds" -seed="${CNNLENS_FUZZ_SEED:-1}" -timeout="${CNNLENS_FUZZ_TIMEOUT:-30}" -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$root/$crashes/" "$work" "${seeds[@]}" >"$log" 2>&1
}

# report NAME STATUS: the one-line result of a finished target.
report() {
    local t=$1 status=$2 log=build/fuzz-logs/$1.log
    local execs corpus result=ok
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    if ((status != 0)); then
        result="FAILED: $(grep -m1 -E '^==[0-9]+==ERROR|ERROR: libFuzzer|SUMMARY|runtime error|^no fuzz target' "$log" | cut -c1-160)"
        result+=" (input in build/fuzz-crashes/$t/, log build/fuzz-logs/$t.log)"
    fi
    printf '  %-12s %12s executions in %3s s, corpus %-12s %s\n' "$t" "${execs:-0}" "$seconds" "${corpus:-?}" "$result"
}

failed=0
declare -A target_of=()  # running: pid -> target
# reap_one: waits for any running target and reports it.
reap_one() {
    local pid s
    wait -n -p pid "${!target_of[@]}"
    s=$?
    report "${target_of[$pid]}" "$s"
    ((s)) && failed=$((failed + 1))
    unset "target_of[$pid]"
}
for t in "${targets[@]}"; do
    while ((${#target_of[@]} >= jobs)); do reap_one; done
    run_target "$t" &
    target_of[$!]=$t
done
while ((${#target_of[@]})); do reap_one; done
echo "fuzz: ${#targets[@]} targets, $failed failed"
((failed == 0))
