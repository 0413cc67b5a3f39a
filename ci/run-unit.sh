#!/bin/sh
# Runs CMocka unit-test binaries; with --valgrind, each under Valgrind memcheck
# (any error fails the run). Prints one "unit: N passed, N failed" line at the end.
set -u
vg=""
if [ "${1:-}" = "--valgrind" ]; then
    shift
    vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-origins=yes"
    export GGDM_TEST_QUICK=1
fi
pass=0; fail=0
for t in "$@"; do
    if $vg "$t"; then pass=$((pass + 1)); else echo "FAILED: ${vg:+valgrind }$t" >&2; fail=$((fail + 1)); fi
done
label=unit; [ -n "$vg" ] && label=memcheck
echo "$label: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
