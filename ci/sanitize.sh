#!/bin/sh
# make sanitize: the unit suite, the conformance run, the command's bad-input tests, the
# .pth checks and the runs' checks (check_runs.py) under AddressSanitizer + UndefinedBehaviorSanitizer (clang), in build/asan.
# Every report is fatal (-fno-sanitize-recover=all, halt_on_error, LeakSanitizer on), and
# the outputs are also scanned for any report line: zero reports or the stage fails.
#
# The flags go in CFLAGS (not EXTRA_CFLAGS) because the Makefile's link line of build/ggdm
# uses $(CFLAGS) $(ARCH) only; CFLAGS is on every compile and link line.
set -u
cd "$(dirname "$0")/.."
B=${SAN_BUILD:-build/asan}
CC=${SAN_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
command -v "$CC" >/dev/null 2>&1 || { echo "sanitize: $CC is not installed (make deps)" >&2; exit 1; }
tests=$(ls ref/tests/test_*.c | sed "s|ref/tests/|$B/tests/|; s|\.c\$||")
mkdir -p "$B"
start=$(date +%s)
# shellcheck disable=SC2086
if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j"$(nproc 2>/dev/null || echo 2)" BUILD="$B" CC="$CC" \
    CFLAGS="-O1 -g $SAN" EXTRA_CFLAGS= "$B/ggdm" $tests >"$B/build.log" 2>&1; then
    cat "$B/build.log"
    echo "sanitize: FAIL: the sanitizer build failed"
    exit 1
fi
echo "sanitize: built $B with $CC $SAN ($(( $(date +%s) - start )) s)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:check_initialization_order=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
log=$B/sanitize.log
: >"$log"
run() { # name, command...
    name=$1; shift
    s=$(date +%s)
    if "$@" >>"$log" 2>&1; then
        echo "sanitize: ok: $name ($(( $(date +%s) - s )) s)"
    else
        echo "sanitize: FAIL: $name (see $log)"; status=1
    fi
}
# shellcheck disable=SC2086
run "unit tests ($(echo $tests | wc -w) programs)" sh ci/run-unit.sh $tests
run "conformance (every golden vector)" "$B/ggdm" conformance --vectors vectors
run "bad input to the command (check_cli_errors.py)" /usr/bin/python3 conformance/interop/check_cli_errors.py "$B/ggdm"
run "PyTorch checkpoints, good and hostile (check_pth.py)" /usr/bin/python3 conformance/interop/check_pth.py "$B/ggdm"
run "runs: killed and resumed, records, locks (check_runs.py, every 19th kill point)" /usr/bin/python3 conformance/interop/check_runs.py "$B/ggdm" --stride 19 --skip authors
reports=$(grep -cE 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)' "$log")
if [ "$reports" -ne 0 ]; then
    echo "sanitize: FAIL: $reports sanitizer report lines:"
    grep -E 'runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY:' "$log" | head -20
    status=1
fi
grep -E '^(unit|conformance|cli-errors|pth|runs): ' "$log" | sed 's/^/sanitize: /'
[ $status -eq 0 ] && echo "sanitize: ok: zero AddressSanitizer/UBSan/LeakSanitizer reports"
exit $status
