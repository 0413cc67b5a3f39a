#!/bin/sh
# The hot kernels are SIMD code: in an x86-64-v3 build (AVX2 + FMA), each register-tile
# kernel holds its independent chains as 8-lane vectors (vfmadd...ps on ymm registers: one
# lane = one output's fmaf, the same bits), and the element-wise activations run on ymm
# vectors. Reads the disassembly of the library's objects; needs objdump.
#   sh ci/check-vectorised.sh [build-dir]     (skipped unless the build used -march=x86-64-v3 or native)
set -u
B=${1:-build}
if [ "$(uname -m)" != x86_64 ] || ! grep -q -- '-march=\(x86-64-v3\|native\)' "$B/.flags" 2>/dev/null; then
    echo "vectorised: SKIPPED (not an x86-64-v3/native build: $(cat "$B/.flags" 2>/dev/null))"
    exit 0
fi
command -v objdump >/dev/null || { echo "vectorised: SKIPPED (no objdump)"; exit 0; }
fail=0
# object, function (prefix), instruction pattern, minimum count
check() {
    n=$(objdump -d --no-show-raw-insn "$B/obj/ref/src/$1.o" | awk -v F="<$2" -v P="$3" '
        /^[0-9a-f]+ <.*>:$/ { inf = index($2, F) == 1 }
        inf && $0 ~ P { c++ }
        END { print c + 0 }')
    if [ "$n" -ge "$4" ]; then
        echo "ok   $1.c $2: $n x $3"
    else
        echo "FAIL $1.c $2: $n x $3 (want >= $4)"
        fail=1
    fi
}
FMA='vfmadd[0-9]+ps.*ymm'
for f in tile_r4 tile_m1 tile_m2 dw_tile; do check conv1d_fast "$f" "$FMA" 8; done
check layers chains_nn "$FMA" 8
check layers chains_nt "$FMA" 8
check attention chains_nn "$FMA" 8
check attention chains_nt "$FMA" 8
check layers ggdm_silu_forward 'ymm' 16
check layers ggdm_silu_backward 'ymm' 16
check layers ggdm_groupnorm_backward 'ymm' 8
check layers ggdm_chnorm_forward 'ymm' 8
[ $fail = 0 ] && echo "vectorised: the hot kernels are SIMD code" || echo "vectorised: FAILED"
exit $fail
