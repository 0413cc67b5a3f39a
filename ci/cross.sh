#!/bin/sh
# make conformance-cross [ARCH=aarch64|s390x]: bit-identical results on other architectures.
# For each architecture: cross-compiles build/ggdm and the unit tests with Debian's cross
# gcc (ci/setup-cross.sh installs it), runs them under QEMU user-mode emulation, and
# requires
#   - the conformance run to pass: every vector's XXH3-64 equals the manifest's, i.e. the
#     same hashes as x86-64 (each line also compared with a native run: same vectors, same
#     hashes, same skips), and
#   - the unit tests to pass (GGDM_TEST_QUICK sweeps: emulation is slow).
# aarch64 is little-endian with FMA in its base ISA; s390x is big-endian (every reader,
# writer and hash goes through the byte-order conversions).
#
# s390x: gcc in strict C99 mode (-std=c99) defines FLT_EVAL_METHOD as 1 on s390x
# (float_t = double, a historical ABI choice) and keeps float intermediates in double
# ("standard" excess precision), which ggdm/hostdev.h refuses. The hardware has float
# arithmetic; -fexcess-precision=fast makes gcc evaluate float expressions in float
# (FLT_EVAL_METHOD 0), the model docs/math.md requires, and the hashes then equal
# x86-64's. The flag is added to this build only.
#
#   sh ci/cross.sh [aarch64] [s390x]     (default: both)
#   CROSS_NATIVE=path/to/ggdm           the native binary to compare with (default: build/ggdm,
#                                       built when missing)
set -u
cd "$(dirname "$0")/.."
archs=${*:-aarch64 s390x}
sh ci/setup-cross.sh $archs || exit 1
native=${CROSS_NATIVE:-build/ggdm}
if [ ! -x "$native" ]; then
    env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s "$native" >/dev/null || { echo "cross: cannot build $native"; exit 1; }
fi
mkdir -p build/cross
"$native" conformance --vectors vectors --verbose >build/cross/native.log 2>&1
grep -E '^(ok  |FAIL|SKIP) ' build/cross/native.log | grep -v 'stored files' >build/cross/native.hashes
status=0
tests_src=$(ls ref/tests/test_*.c)
for a in $archs; do
    case "$a" in
    aarch64) triple=aarch64-linux-gnu; extra="" ;;
    s390x) triple=s390x-linux-gnu; extra="-fexcess-precision=fast" ;;
    *) echo "cross: unknown architecture '$a'"; status=1; continue ;;
    esac
    B=build/cross/$a
    qemu=qemu-$a
    command -v "$qemu" >/dev/null 2>&1 || qemu=qemu-$a-static
    tests=$(echo "$tests_src" | sed "s|ref/tests/|$B/tests/|; s|\.c\$||")
    start=$(date +%s)
    # ARCH (the Makefile's instruction-set flags) empty: the targets' baselines.
    # shellcheck disable=SC2086
    if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j"$(nproc 2>/dev/null || echo 2)" BUILD="$B" \
        CC="$triple-gcc" ARCH= PORTABLE=1 OPT=-O2 EXTRA_CFLAGS="$extra" "$B/ggdm" $tests >"$B.build.log" 2>&1; then
        echo "cross: FAIL: $a: the cross build failed (see $B.build.log)"; tail -5 "$B.build.log"; status=1; continue
    fi
    built=$(( $(date +%s) - start ))
    start=$(date +%s)
    "$qemu" "$B/ggdm" conformance --vectors vectors --verbose >"$B/conformance.log" 2>&1
    rc=$?
    grep -E '^(ok  |FAIL|SKIP) ' "$B/conformance.log" | grep -v 'stored files' >"$B/hashes"
    n=$(grep -c '^ok  ' "$B/hashes")
    summary=$(tail -1 "$B/conformance.log")
    ran=$(( $(date +%s) - start ))
    if [ $rc -ne 0 ]; then
        echo "cross: FAIL: $a ($triple-gcc $extra, $qemu): $summary"; grep '^FAIL' "$B/conformance.log" | head -5; status=1
    elif ! cmp -s build/cross/native.hashes "$B/hashes"; then
        echo "cross: FAIL: $a: results differ from the native run:"; diff build/cross/native.hashes "$B/hashes" | head -10
        status=1
    else
        echo "cross: ok: $a ($triple-gcc${extra:+ $extra}, $qemu): $summary; $n vectors, hashes identical to $(uname -m) (build $built s, run $ran s)"
    fi
    start=$(date +%s)
    ufail=0; upass=0
    for t in $tests; do
        if GGDM_TEST_QUICK=1 "$qemu" "$t" >"$t.log" 2>&1; then upass=$((upass + 1)); else
            ufail=$((ufail + 1)); echo "cross: FAIL: $a: $t (see $t.log)"; tail -5 "$t.log"
        fi
    done
    [ $ufail -eq 0 ] || status=1
    echo "cross: $a unit tests: $upass passed, $ufail failed ($(( $(date +%s) - start )) s)"
done
[ $status -eq 0 ] && echo "cross: ok: $archs"
exit $status
