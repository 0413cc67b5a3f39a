#!/bin/sh
# make bench: ggdm's reference beside PyTorch (Debian's CPU build) on this machine, with the
# same number of threads (1, then every core), printed as ratios. A benchmark, not a test: it
# never fails on speed.
#   BENCH_N   batch (32)      BENCH_REPS   runs per figure, the median is printed (3)
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
N=${BENCH_N:-32}
R=${BENCH_REPS:-3}
CORES=$(nproc)
PY=/usr/bin/python3
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
THREADS=1
[ "$CORES" -gt 1 ] && THREADS="1 $CORES"

# seconds of the line "$2 ..." of output $1 (the number before " s")
secs() { echo "$1" | grep "^$2 " | sed 's/.*: \([0-9.]*\) s.*/\1/'; }
# samples/s of the line "$2 ..." of output $1
rate() { echo "$1" | grep "^$2 " | sed 's/.*(\([0-9.]*\) samples\/s).*/\1/'; }
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "n/a" }'; }

# The network alone: forward, forward + input VJP, forward + input VJP + parameter gradients.
for th in $THREADS; do
    g=$("$BUILD/bench_unet" "$N" "$R" "$th") || exit 1
    echo "$g"
    p=$($PY ref/bench/bench_unet_torch.py --n "$N" --reps "$R" --threads "$th") || exit 1
    echo "$p"
    if [ "$th" = 1 ]; then tl="1 thread"; else tl="$th threads"; fi
    for what in "forward" "forward+vjp" "forward+vjp+dparams"; do
        a=$(secs "$g" "ggdm $what N=$N:")
        b=$(secs "$p" "torch $what N=$N:")
        echo "$what N=$N, $tl: ggdm $a s, PyTorch $b s, ggdm/PyTorch time ratio $(ratio "$a" "$b")"
    done
done

# The units of the algorithms: sampling steps, optimisation rounds, pre-training steps.
for th in $THREADS; do
    g=$("$BUILD/bench_steps" "$th" "$R" "$N") || exit 1
    echo "$g"
    p=$($PY ref/bench/bench_steps_torch.py --n "$N" --reps "$R" --threads "$th") || exit 1
    echo "$p"
    for w in "unguided-step:unguided step (paper Unet1D, T=200)" \
             "gloss-step:G_loss (v2) step (paper Unet1D, T=200)" \
             "alg1-round:Algorithm 1 round, v2 (Unet1D dim 16, heads 4 x dim_head 32, T=50)" \
             "alg2-round:Algorithm 2 round, v2 + 1 fine-tuning step (Unet1D dim 16, heads 4 x dim_head 32, T=50)"; do
        key=${w%%:*}
        label=${w#*:}
        a=$(secs "$g" "ggdm $key N=$N threads=$th:")
        b=$(secs "$p" "torch $key N=$N threads=$th:")
        echo "$label N=$N threads=$th: ggdm $a s, PyTorch $b s, ggdm/PyTorch time ratio $(ratio "$a" "$b")"
    done
    a=$(rate "$g" "ggdm train-step N=$N threads=$th:")
    b=$(rate "$p" "torch train-step N=$N threads=$th:")
    at=$(secs "$g" "ggdm train-step N=$N threads=$th:")
    bt=$(secs "$p" "torch train-step N=$N threads=$th:")
    echo "pre-training throughput (paper Unet1D, batch $N, loss + gradients + Adam) threads=$th:" \
         "ggdm $a samples/s ($at s/step), PyTorch $b samples/s ($bt s/step)," \
         "PyTorch/ggdm throughput ratio $(ratio "$b" "$a") (= ggdm/PyTorch time ratio)"
done
