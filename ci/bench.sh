#!/bin/sh
# make bench: ggdm's reference beside PyTorch (Debian's CPU build) on this machine, with the
# same number of threads, printed as ratios. A benchmark, not a test: it never fails on speed.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
N=${BENCH_N:-32}
R=${BENCH_REPS:-3}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
g=$("$BUILD/bench_unet" "$N" "$R") || exit 1
echo "$g"
p=$(/usr/bin/python3 ref/bench/bench_unet_torch.py --n "$N" --reps "$R" --threads 1) || exit 1
echo "$p"
for what in "forward" "forward+vjp" "forward+vjp+dparams"; do
    a=$(echo "$g" | grep "^ggdm $what N=" | sed 's/.*: \([0-9.]*\) s/\1/')
    b=$(echo "$p" | grep "^torch $what N=" | sed 's/.*: \([0-9.]*\) s/\1/')
    echo "$what N=$N, 1 thread: ggdm $a s, PyTorch $b s, ggdm/PyTorch time ratio $(echo "$a $b" | awk '{printf "%.2f", $1/$2}')"
done
