#!/bin/sh
# gpu/check-on-device.sh - everything the CUDA implementation has to show, in one run on a
# machine with a GPU (about 3 minutes; every step has its own time limit):
#
#   build        make all (the reference, build/ggdm-cuda, build/bench_gpu), or, when the
#                machine has no C toolchain/libraries (a bare CUDA image cannot install
#                any), the binaries staged by gpu/pack-for-device.sh in build-device/
#   device       nvidia-smi
#   unit         the CMocka unit tests (as `make check`)
#   conf-ref     build/ggdm conformance                       (172 passed)
#   conf-exact   build/ggdm-cuda conformance --mode exact     (172 passed: bit for bit)
#   conf-fast    build/ggdm-cuda conformance --mode fast      (within the manifest's tolerances)
#   conf-*-g     the same two with GGDM_CUDA_GRAPH=1 (CUDA graphs), and conf-fast-nf with
#                GGDM_CUDA_FUSE=0 (fast mode without its fused activation kernels)
#   conf-e-*     exact mode with the staged LinearAttention launches (GGDM_CUDA_LAFUSED=0) and
#                the element kernel for Linear (GGDM_CUDA_LINEAR=elem): bit for bit
#   conf-f-*     fast mode with each switch of gpu/README.md turned the other way: the "cols"
#                convolution layout everywhere, the timed cuBLASLt products, the memsets made
#                at once, one stream, no split-K products (the weight standardisations are
#                copied by default now: no row for GGDM_CUDA_WSCOPY)
#   trace-exact  one forward pass of the paper's Unet1D (N = 8), every layer: the GPU's files
#                byte-identical to the reference's
#   trace-fast   the same in fast mode: `ggdm diff --rtol 1e-4 --atol 5e-5`
#   bench        make bench-gpu (exact, fast, fast+TF32, PyTorch when it is installed)
#   profile      bench_gpu --profile-async: where the time of fast-mode G_loss steps goes
# and ends with a table: check, result, figure. Exit status 0 when every check passed.
#
#   sh gpu/check-on-device.sh [OUT_DIR]      (default: build/gpu-check)
# When $OUT is set (the lent machine's return folder), the table and one file with every
# step's log are copied there (it brings back only a few files).
# Logs of every step go to OUT_DIR/<step>.log. GGDM_CUDA_SYNC=1 in the environment makes the
# backend synchronise after every kernel (slower; attributes an asynchronous error to its kernel).
set -u
cd "$(dirname "$0")/.."
OUTDIR=${1:-build/gpu-check}
mkdir -p "$OUTDIR"
JOBS=$(nproc 2>/dev/null || echo 4)
TABLE="$OUTDIR/table.txt"
: > "$TABLE"
fails=0

row() { # check result figure
    printf '%-12s %-8s %s\n' "$1" "$2" "$3" >> "$TABLE"
    [ "$2" = ok ] || [ "$2" = skipped ] || fails=$((fails + 1))
    echo "--- $1: $2 ${3:+($3)}"
}

# step NAME SECONDS COMMAND...: runs it under a time limit, output to OUTDIR/NAME.log (and the
# last lines to the terminal); sets $rc and $secs.
step() {
    name=$1; lim=$2; shift 2
    echo "=== $name (limit ${lim} s): $*"
    t0=$(date +%s)
    timeout -k 10 "$lim" "$@" > "$OUTDIR/$name.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    tail -n 8 "$OUTDIR/$name.log"
    [ "$rc" -eq 124 ] && echo "(timed out after $lim s)"
}

conf_figure() { # the runner's summary line of a log
    grep -E '^conformance: ' "$1" | tail -n 1 | sed 's/^conformance: //'
}

# ------------------------------------------------------------------ build
if [ -x build-device/ggdm-cuda ]; then
    # staged by gpu/pack-for-device.sh on a machine with the toolchain
    B=build-device
    LD_LIBRARY_PATH="$PWD/build-device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    step build 30 sh -c "cat build-device/COMMIT; build-device/ggdm --version && build-device/ggdm-cuda --version"
    [ "$rc" -eq 0 ] && row build ok "staged binaries (commit $(cut -c1-12 build-device/COMMIT 2>/dev/null))" ||
        { row build FAILED "staged binaries do not run (rc=$rc, see $OUTDIR/build.log)"; cat "$TABLE"; exit 1; }
else
    B=build
    step build 300 make -j"$JOBS" all
    if [ "$rc" -ne 0 ] || [ ! -x "$B/ggdm-cuda" ]; then
        row build FAILED "make all rc=$rc, ${secs} s (see $OUTDIR/build.log; no toolchain here? run gpu/pack-for-device.sh first and carry build-device)"
        cat "$TABLE"
        exit 1
    fi
    row build ok "${secs} s"
fi

# ------------------------------------------------------------------ the device
step device 30 nvidia-smi
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
[ "$rc" -eq 0 ] && row device ok "${gpu:-?}" || row device FAILED "nvidia-smi rc=$rc"

# ------------------------------------------------------------------ unit tests
if [ "$B" = build ]; then
    step unit 120 make -j"$JOBS" check
else
    step unit 120 sh ci/run-unit.sh build-device/tests/test_*
fi
fig=$(grep -E '^unit: ' "$OUTDIR/unit.log" | tail -n 1)
[ "$rc" -eq 0 ] && row unit ok "$fig" || row unit FAILED "rc=$rc $fig"

# ------------------------------------------------------------------ golden vectors
step conf-ref 60 "$B/ggdm" conformance --vectors vectors
fig=$(conf_figure "$OUTDIR/conf-ref.log")
[ "$rc" -eq 0 ] && row conf-ref ok "$fig, ${secs} s" || row conf-ref FAILED "rc=$rc $fig"

step conf-exact 150 "$B/ggdm-cuda" conformance --mode exact --vectors vectors
fig=$(conf_figure "$OUTDIR/conf-exact.log")
if [ "$rc" -eq 3 ]; then row conf-exact FAILED "no CUDA device (exit 3)"
elif [ "$rc" -eq 0 ]; then row conf-exact ok "$fig, bit for bit, ${secs} s"
else row conf-exact FAILED "rc=$rc $fig"; grep -E '^(FAIL|ERR)' "$OUTDIR/conf-exact.log" | head -n 5; fi

step conf-fast 90 "$B/ggdm-cuda" conformance --mode fast --vectors vectors
fig=$(conf_figure "$OUTDIR/conf-fast.log")
[ "$rc" -eq 0 ] && row conf-fast ok "$fig, ${secs} s" || row conf-fast FAILED "rc=$rc $fig"

# the same vectors in graph mode (tapes replayed as CUDA graphs; the exact mode still bit for
# bit), and fast mode without the fused activation kernels (the separate operations)
step conf-exact-graph 90 env GGDM_CUDA_GRAPH=1 "$B/ggdm-cuda" conformance --mode exact --vectors vectors
fig=$(conf_figure "$OUTDIR/conf-exact-graph.log")
[ "$rc" -eq 0 ] && row conf-exact-g ok "$fig, bit for bit, GGDM_CUDA_GRAPH=1" || row conf-exact-g FAILED "rc=$rc $fig"
step conf-fast-graph 90 env GGDM_CUDA_GRAPH=1 "$B/ggdm-cuda" conformance --mode fast --vectors vectors
fig=$(conf_figure "$OUTDIR/conf-fast-graph.log")
[ "$rc" -eq 0 ] && row conf-fast-g ok "$fig, GGDM_CUDA_GRAPH=1" || row conf-fast-g FAILED "rc=$rc $fig"
step conf-fast-unfused 90 env GGDM_CUDA_FUSE=0 "$B/ggdm-cuda" conformance --mode fast --vectors vectors
fig=$(conf_figure "$OUTDIR/conf-fast-unfused.log")
[ "$rc" -eq 0 ] && row conf-fast-nf ok "$fig, GGDM_CUDA_FUSE=0" || row conf-fast-nf FAILED "rc=$rc $fig"
# the other code paths behind the switches (gpu/README.md): exact mode's alternatives bit for
# bit, fast mode's within tolerance. (Not rows here: GGDM_CUDA_CONV=batched and
# GGDM_CUDA_LINEAR=tiled also change the training vectors' forward, and pretrain.short's one
# Adam-amplified element then misses its tolerance: docs/conformance.md.)
for v in LAFUSED=0 LINEAR=elem; do
    step "conf-exact-$v" 150 env "GGDM_CUDA_$v" "$B/ggdm-cuda" conformance --mode exact --vectors vectors
    fig=$(conf_figure "$OUTDIR/conf-exact-$v.log")
    [ "$rc" -eq 0 ] && row "conf-e-${v%=*}" ok "$fig, bit for bit, GGDM_CUDA_$v" || row "conf-e-${v%=*}" FAILED "rc=$rc $fig"
done
# (Not a row: GGDM_CUDA_WSCOPY. Its default is now the copy; the in-place reads, =0, are off
# because the graph runner reuses the arena: gpu/README.md, "Arena reuse".)
for v in CONV=cols GEMM=tuned LAZYZERO=0 SIDE=0 SPLITK=0; do
    step "conf-fast-$v" 90 env "GGDM_CUDA_$v" "$B/ggdm-cuda" conformance --mode fast --vectors vectors
    fig=$(conf_figure "$OUTDIR/conf-fast-$v.log")
    [ "$rc" -eq 0 ] && row "conf-f-${v%=*}" ok "$fig, GGDM_CUDA_$v" || row "conf-f-${v%=*}" FAILED "rc=$rc $fig"
done

# ------------------------------------------------------------------ layer traces
T="$OUTDIR/trace"
PYNP=python3 # a Python with NumPy (the CUDA image's python3; Debian's /usr/bin/python3 here)
for py in python3 /usr/bin/python3; do
    if "$py" -c "import numpy" 2>/dev/null; then PYNP=$py; break; fi
done
rm -rf "$T"
mkdir -p "$T"
if "$B/ggdm" init --seed 2345 -o "$T/w.safetensors" > "$T/init.log" 2>&1 &&
   $PYNP -c "import numpy as np; np.save('$T/x.npy', np.random.default_rng(5).standard_normal((8, 64)).astype(np.float32))" \
       > "$T/x.log" 2>&1; then
    step trace-ref 60 "$B/ggdm" trace -w "$T/w.safetensors" -x "$T/x.npy" -t 100 -o "$T/ref"
    ref_ok=$rc
    step trace-exact 60 "$B/ggdm-cuda" trace --mode exact -w "$T/w.safetensors" -x "$T/x.npy" -t 100 -o "$T/exact"
    if [ "$ref_ok" -ne 0 ] || [ "$rc" -ne 0 ]; then
        row trace-exact FAILED "trace rc: ref $ref_ok, exact $rc"
    else
        n=0; bad=0; first=""
        for f in "$T"/ref/*.npy; do
            n=$((n + 1))
            if ! cmp -s "$f" "$T/exact/$(basename "$f")"; then
                bad=$((bad + 1)); [ -z "$first" ] && first=$(basename "$f" .npy)
            fi
        done
        "$B/ggdm" diff "$T/ref" "$T/exact" > "$OUTDIR/trace-exact-diff.log" 2>&1
        if [ "$bad" -eq 0 ] && [ "$n" -gt 0 ]; then row trace-exact ok "$n layers byte-identical"
        else row trace-exact FAILED "$bad of $n layers differ, first: $first (see trace-exact-diff.log)"; fi
    fi
    step trace-fast 60 "$B/ggdm-cuda" trace --mode fast -w "$T/w.safetensors" -x "$T/x.npy" -t 100 -o "$T/fast"
    if [ "$ref_ok" -ne 0 ] || [ "$rc" -ne 0 ]; then
        row trace-fast FAILED "trace rc: ref $ref_ok, fast $rc"
    else
        # fast mode reorders float32 sums (cuBLAS, block reductions): ggdm diff with the fast-mode
        # trace tolerance of docs/conformance.md (|a - b| <= 5e-5 + 1e-4 |b|), not its defaults
        step trace-fast-diff 60 "$B/ggdm" diff "$T/ref" "$T/fast" --rtol 1e-4 --atol 5e-5
        fig=$(grep -E '^diff: ' "$OUTDIR/trace-fast-diff.log" | tail -n 1)
        fig="$fig; largest abs error $(awk '$2 ~ /^(ok|DIFFERS)/ {for (i = 1; i <= NF; i++) if ($i == "abs") {v = $(i + 1); sub(",", "", v); if (v + 0 > m) m = v + 0}} END {print m + 0}' "$OUTDIR/trace-fast-diff.log")"
        [ "$rc" -eq 0 ] && row trace-fast ok "ggdm diff (rtol 1e-4, atol 5e-5): $fig" || row trace-fast FAILED "$fig"
    fi
else
    row trace-exact FAILED "could not write the weights or x.npy (python3 + numpy?): see $T/*.log"
    row trace-fast FAILED "(not run)"
fi

# ------------------------------------------------------------------ timings
step bench 420 sh gpu/bench.sh "$B"
fig=$(grep -E '^ratio round-G_loss' "$OUTDIR/bench.log" | sed 's/  */ /g' | tr '\n' ';' | cut -c1-300)
[ -n "$fig" ] || fig=$(grep -E '^(ratio|speed-up)' "$OUTDIR/bench.log" | head -n 3 | tr '\n' ';' | cut -c1-200)
[ "$rc" -eq 0 ] && row bench ok "${fig:-see bench.log}" || row bench FAILED "rc=$rc (see $OUTDIR/bench.log)"
grep -E ' s$| s \(|^check|^ratio|^speed-up' "$OUTDIR/bench.log" | head -n 60

# where the time of fast-mode G_loss steps goes (CUDA events after every operation, nothing waits)
step profile 120 env GGDM_CUDA_PARAMS=trust "$B/bench_gpu" --mode fast --reps 2 --no-cpu-check --round-limit 0 --profile-async
[ "$rc" -eq 0 ] && row profile ok "$(grep -E '^profile: total' "$OUTDIR/profile.log" | awk '{print $3 " ms for 5 G_loss steps (events after every operation)"}')" ||
    row profile FAILED "rc=$rc (see $OUTDIR/profile.log)"
grep -E '^profile:' "$OUTDIR/profile.log" | head -n 40

echo
echo "================ summary ($(date -u +%Y-%m-%dT%H:%MZ), ${gpu:-unknown GPU})"
printf '%-12s %-8s %s\n' check result figure
cat "$TABLE"
echo "($fails failed; logs in $OUTDIR/)"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
    cp "$TABLE" "$OUT/table.txt"
    for f in "$OUTDIR"/*.log; do echo "=================== $f"; tail -c 200000 "$f"; done > "$OUT/logs.txt" 2>/dev/null
fi
[ "$fails" -eq 0 ]
