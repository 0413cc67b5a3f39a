#!/bin/sh
# make planted-bugs: proves that the checks catch real bugs. Each case copies the working
# tree to a temporary folder, plants one bug there with sed, builds, runs the check that
# must catch it, and asserts that the check FAILS, for the expected reason:
#
#   1. reader off-by-one: ggdm_npy_decode_f32 converts one element more than the array
#      holds (i <= count). Caught by the fuzz corpus replay (fuzz_npy, AddressSanitizer:
#      heap-buffer-overflow reading past the data).
#   2. changed reduction order: ggdm_sum_f32 (ggdm/reduce.h) adds the elements last to
#      first. Caught by the conformance run (reduce.sum and every vector whose chains use
#      sums: bits differ from the golden vectors).
#   3. a header check off by one: ggdm_npy_parse accepts a file with one byte missing at
#      the end of the data (bytes > len - header + 1). Caught by the unit tests (test_npy).
#
# The working tree itself is never modified. Prints one line per case and
# "planted-bugs: N caught, M missed"; exits 1 if any bug went unnoticed (or could not be
# planted: the sed must change the file).
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ggdm-planted-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
caught=0; missed=0

fresh() { # a copy of the working tree without build outputs
    rm -rf "$tmp/tree"
    mkdir -p "$tmp/tree"
    (cd "$root" && tar --exclude=./build --exclude=./.git --exclude='./demo_out' -cf - .) | (cd "$tmp/tree" && tar -xf -)
}

plant() { # file, sed expression: must change the file
    cp "$tmp/tree/$1" "$tmp/orig"
    sed -i "$2" "$tmp/tree/$1"
    if cmp -s "$tmp/orig" "$tmp/tree/$1"; then
        echo "planted-bugs: FAIL: could not plant the bug in $1 (sed '$2' changed nothing: the code moved?)"
        return 1
    fi
    echo "planted-bugs: planted in $1:"
    diff "$tmp/orig" "$tmp/tree/$1" | sed -n 's/^[<>]/    &/p'
    return 0
}

verdict() { # name, check's exit status, log, pattern the failure must show
    if [ "$2" -eq 0 ]; then
        echo "planted-bugs: MISSED: $1: the check passed with the bug in place"; missed=$((missed + 1))
    elif grep -q "$4" "$3"; then
        echo "planted-bugs: caught: $1 -> $(grep -m1 "$4" "$3" | cut -c1-160)"; caught=$((caught + 1))
    else
        echo "planted-bugs: MISSED: $1: the check failed, but not for the planted bug (expected '$4'):"
        tail -5 "$3"; missed=$((missed + 1))
    fi
}

# 1. reader off-by-one -> fuzz corpus replay under AddressSanitizer
fresh
if plant ref/src/npy.c '/ggdm_npy_decode_f32(ggdm_npy_info/,/^}/ s/for (i = 0; i < info->count; i++) {/for (i = 0; i <= info->count; i++) {/'; then
    (cd "$tmp/tree" && sh fuzz/run.sh replay npy) >"$tmp/case1.log" 2>&1
    verdict "reader off-by-one in ggdm_npy_decode_f32 (fuzz replay, ASan)" $? "$tmp/case1.log" \
        "heap-buffer-overflow"
else
    missed=$((missed + 1))
fi

# 2. changed reduction order -> conformance
fresh
if plant ref/include/ggdm/reduce.h 's/acc = acc + x\[i \* sx\];/acc = acc + x[(n - 1 - i) * sx];/'; then
    if (cd "$tmp/tree" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j"$(nproc 2>/dev/null || echo 2)" \
        build/ggdm) >"$tmp/build2.log" 2>&1; then
        (cd "$tmp/tree" && build/ggdm conformance --vectors vectors) >"$tmp/case2.log" 2>&1
        rc=$?
        verdict "summation order reversed in ggdm_sum_f32 (conformance)" $rc "$tmp/case2.log" "^FAIL reduce.sum"
        [ $rc -ne 0 ] && echo "planted-bugs:     conformance: $(tail -1 "$tmp/case2.log")"
    else
        echo "planted-bugs: MISSED: the tree with the reversed sum does not build:"; tail -5 "$tmp/build2.log"
        missed=$((missed + 1))
    fi
else
    missed=$((missed + 1))
fi

# 3. a size check off by one -> unit tests
fresh
if plant ref/src/npy.c 's/if (bytes > file_len - info->header_bytes) {/if (bytes > file_len - info->header_bytes + 1) {/'; then
    if (cd "$tmp/tree" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j"$(nproc 2>/dev/null || echo 2)" \
        build/tests/test_npy) >"$tmp/build3.log" 2>&1; then
        (cd "$tmp/tree" && build/tests/test_npy) >"$tmp/case3.log" 2>&1
        verdict "truncated-data check off by one in ggdm_npy_parse (unit tests)" $? "$tmp/case3.log" "FAILED"
    else
        echo "planted-bugs: MISSED: the tree with the planted check does not build:"; tail -5 "$tmp/build3.log"
        missed=$((missed + 1))
    fi
else
    missed=$((missed + 1))
fi

echo "planted-bugs: $caught caught, $missed missed"
[ $missed -eq 0 ]
