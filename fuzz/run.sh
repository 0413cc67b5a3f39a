#!/bin/sh
# Runs the fuzz harnesses.
#
#   sh fuzz/run.sh replay [HARNESS...]       build the plain (replay) harnesses with ASan+UBSan
#                                            and run every input of fuzz/corpus/NAME and
#                                            fuzz/regressions/NAME once (CI; fast)
#   sh fuzz/run.sh fuzz SECONDS [HARNESS...] build the libFuzzer harnesses and fuzz each for
#                                            SECONDS (make fuzz: FUZZ_SECONDS, default 60)
#
# Environment: FUZZ_JOBS harnesses at a time (default: the number of cores), FUZZ_SEED
# libFuzzer's -seed (default 0: random; CI uses 1 so that a run can be repeated).
# New inputs go to build/fuzz/corpus/NAME (the seeds in fuzz/corpus/ are only read);
# a failing input is saved as build/fuzz/artifacts/NAME-crash-... (or -leak-, -timeout-,
# -oom-), and the line printed says how to replay it. The last line: "fuzz: N harnesses,
# E executions, ok" or "... FAILED: NAMES".
set -u
cd "$(dirname "$0")/.."
mode=${1:-replay}
[ $# -gt 0 ] && shift
all=$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_||; s|\.c$||')
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1"
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

case "$mode" in
replay)
    harnesses=${*:-$all}
    # shellcheck disable=SC2086
    sh fuzz/build.sh replay $harnesses || exit 1
    status=0; failed=""; n=0
    for h in $harnesses; do
        dirs="fuzz/corpus/$h"
        [ -d "fuzz/regressions/$h" ] && dirs="$dirs fuzz/regressions/$h"
        # shellcheck disable=SC2086
        if ! build/fuzz-replay/fuzz_$h $dirs; then
            status=1; failed="$failed $h"
        fi
        n=$((n + 1))
    done
    if [ $status -eq 0 ]; then echo "fuzz replay: $n harnesses, every corpus input ok"
    else echo "fuzz replay: FAILED:$failed"; fi
    exit $status ;;
fuzz)
    seconds=${1:-${FUZZ_SECONDS:-60}}
    [ $# -gt 0 ] && shift
    harnesses=${*:-$all}
    # shellcheck disable=SC2086
    sh fuzz/build.sh libfuzzer $harnesses || exit 1
    mkdir -p build/fuzz/artifacts build/fuzz/logs
    for h in $harnesses; do mkdir -p "build/fuzz/corpus/$h"; done
    # shellcheck disable=SC2086
    printf '%s\n' $harnesses | xargs -P "$jobs" -I{} sh fuzz/run.sh one {} "$seconds"
    status=0; failed=""; total=0; n=0
    for h in $harnesses; do
        r=$(cat "build/fuzz/logs/$h.result" 2>/dev/null || echo "fuzz $h: no result FAILED")
        echo "$r"
        case "$r" in *FAILED*) status=1; failed="$failed $h" ;; esac
        e=$(echo "$r" | sed -n 's/.*: \([0-9]*\) executions.*/\1/p')
        total=$((total + ${e:-0}))
        n=$((n + 1))
    done
    if [ $status -eq 0 ]; then echo "fuzz: $n harnesses, $total executions in ${seconds} s each, ok"
    else echo "fuzz: $n harnesses, $total executions, FAILED:$failed"; fi
    exit $status ;;
one) # internal: one harness, libFuzzer, $2 seconds
    h=$1; seconds=$2
    log=build/fuzz/logs/$h.log
    start=$(date +%s)
    extra=""
    # open bug (fuzz/open-bugs/README.md): the weights loader may ask for terabytes; let it fail
    [ "$h" = weights ] && extra="-malloc_limit_mb=1000000000"
    build/fuzz/fuzz_$h -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -seed="${FUZZ_SEED:-0}" $extra \
        -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$h-" \
        "build/fuzz/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    corp=$(ls "build/fuzz/corpus/$h" | wc -l)
    if [ $rc -eq 0 ]; then
        echo "fuzz $h: ${execs:-0} executions in $(( $(date +%s) - start )) s, ${cov:-?} coverage points, $corp new corpus inputs, ok" \
            >"build/fuzz/logs/$h.result"
    else
        art=$(ls -t build/fuzz/artifacts/"$h"-* 2>/dev/null | head -1)
        why=$(grep -m1 -E 'property violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" | cut -c1-200)
        echo "fuzz $h: ${execs:-0} executions: FAILED: $why; input: $art (replay: build/fuzz-replay/fuzz_$h $art; log: $log)" \
            >"build/fuzz/logs/$h.result"
    fi
    exit 0 ;;
*)
    echo "usage: sh fuzz/run.sh replay [HARNESS...] | fuzz SECONDS [HARNESS...]" >&2
    exit 2 ;;
esac
