#!/bin/sh
# gpu/bench.sh (make bench-gpu): the CUDA backend's timings (build/bench_gpu: exact, fast,
# fast + TF32, both fast ones again with CUDA graphs) beside PyTorch on the same GPU (gpu/bench_torch.py, when torch with CUDA is
# installed), then the ratios "torch time / ggdm time" per unit of work (> 1: ggdm is faster).
#   sh gpu/bench.sh [BUILD]          (GGDM_BENCH_REPS, GGDM_BENCH_N: defaults 10 and 32)
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPS=${GGDM_BENCH_REPS:-10}
N=${GGDM_BENCH_N:-32}
out=$(mktemp)
one=$(mktemp)
trap 'rm -f "$out" "$one"' EXIT
rc=0
# GGDM_CUDA_PARAMS=trust: the single-step timings skip the per-call check that the host's
# parameters did not change (bench_gpu never changes them in place unannounced); a sampling
# round skips it after its first step anyway.
export GGDM_CUDA_PARAMS=trust
for m in "exact" "fast" "fast --tf32" "fast graph" "fast --tf32 graph"; do
    # exact mode: fewer repetitions, rounds estimated (T x the step); fast mode measures rounds
    case "$m" in
    exact*) extra="--reps 2 --round-limit 5" ;;
    *) extra="--reps $REPS --round-limit 120" ;;
    esac
    g=0
    case "$m" in *graph*) g=1 ;; esac
    # shellcheck disable=SC2086
    GGDM_CUDA_GRAPH=$g timeout -k 5 120 "$BUILD/bench_gpu" --mode ${m% graph} $extra --n "$N" > "$one" 2>&1
    r=$?
    cat "$one"
    cat "$one" >> "$out"
    if [ "$r" -eq 3 ]; then
        echo "bench-gpu: SKIPPED: no CUDA device"
        exit 0
    fi
    [ "$r" -ne 0 ] && { echo "bench-gpu: bench_gpu --mode $m failed (exit $r)"; rc=1; }
done
PY=python3
[ -x /usr/bin/python3 ] && ! python3 -c "import torch" 2>/dev/null && PY=/usr/bin/python3
if $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    # the authors' settings (default) with a whole round; float32 and TF32 per step only
    for tf in default off on; do
        rounds="--no-rounds"
        [ "$tf" = default ] && rounds="--round-reps ${GGDM_BENCH_ROUND_REPS:-2}"
        # shellcheck disable=SC2086
        timeout -k 5 100 $PY gpu/bench_torch.py --n "$N" --reps "$REPS" --tf32 "$tf" $rounds > "$one" 2>&1 ||
            echo "bench-gpu: bench_torch.py --tf32 $tf failed"
        cat "$one"
        cat "$one" >> "$out"
    done
else
    echo "bench-gpu: PyTorch with CUDA not available: no comparison (pip install torch to add one)"
fi
# speed-up of fast over exact; ratios torch time / ggdm time (torch-fp32 against exact and fast,
# torch-tf32 against fast + TF32, and the authors' settings (torch-default: TF32 in convolutions)
# against both fast modes)
awk '
    / N=[0-9]+.*: [0-9.]+ s/ { if (match($0, /: [0-9.]+ s/)) t[$1 " " $2] = substr($0, RSTART + 2, RLENGTH - 4) + 0 }
    function ratio(label, a, b) {
        if (t[a] && t[b]) printf "%s %-13s %-16s / %-16s = %.2f\n", label, k, substr(a, 1, index(a, " ") - 1), substr(b, 1, index(b, " ") - 1), t[a] / t[b]
    }
    END {
        split("unguided-step gloss-step loss-grad alg2-step round-G_loss", units, " ")
        for (u = 1; u <= 5; u++) {
            k = units[u]
            ratio("speed-up", "cuda-exact " k, "cuda-fast " k)
            ratio("ratio", "torch-fp32 " k, "cuda-exact " k)
            ratio("ratio", "torch-fp32 " k, "cuda-fast " k)
            ratio("ratio", "torch-tf32 " k, "cuda-fast-tf32 " k)
            ratio("ratio", "torch-default " k, "cuda-fast " k)
            ratio("ratio", "torch-default " k, "cuda-fast-tf32 " k)
            ratio("ratio", "torch-default " k, "cuda-fast-graph " k)
            ratio("ratio", "torch-default " k, "cuda-fast-tf32-graph " k)
        }
    }' "$out"
exit $rc
