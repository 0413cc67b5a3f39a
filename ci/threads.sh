#!/bin/sh
# Threads never change a bit: every heavy command run with --threads 1, 2 and 3 writes
# byte-identical outputs, and the golden vectors pass with 2 and 3 threads.
#   sh ci/threads.sh [build/ggdm]
set -u
G=$(cd "$(dirname "${1:-build/ggdm}")" && pwd)/$(basename "${1:-build/ggdm}")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

for n in 2 3; do
    if "$G" conformance --vectors vectors --threads "$n" >"$T/conf$n.txt" 2>&1; then
        ok "golden vectors with --threads $n: $(tail -1 "$T/conf$n.txt")"
    else
        bad "golden vectors with --threads $n"; tail -5 "$T/conf$n.txt"
    fi
done

# inputs: a small network (paper layout, dim 8) and a batch of 7 (not a multiple of 2 or 3)
net="--dim 8 --dim-mults 1,2,4 --groups 4 --heads 1 --dim-head 16"
small="--d_outer 16 --d_inner 4 --T 20 --seed 2345"
/usr/bin/python3 - "$T" <<'PY'
import sys, numpy as np
d = sys.argv[1]; r = np.random.default_rng(5)
for name, shape in (("x", (7, 16)), ("v", (7, 16)), ("g", (7, 16)), ("z", (7, 16))):
    np.save(f"{d}/{name}.npy", r.standard_normal(shape).astype(np.float32))
np.save(f"{d}/y.npy", r.standard_normal(7).astype(np.float32))
np.save(f"{d}/t.npy", r.integers(0, 20, 7).astype(np.int64))
PY
"$G" init $net --length 16 -o "$T/w.safetensors" >/dev/null 2>&1 || bad "ggdm init"

run() { # name, output file (relative to the run folder), command...
    name=$1 out=$2
    shift 2
    for n in 1 2 3; do
        mkdir -p "$T/$name$n"
        (cd "$T/$name$n" && "$G" "$@" --threads "$n" >stdout.txt 2>stderr.txt) || { bad "$name --threads $n: $(tail -1 "$T/$name$n/stderr.txt")"; return; }
    done
    for n in 2 3; do
        for f in $out; do
            cmp -s "$T/${name}1/$f" "$T/$name$n/$f" || { bad "$name: $f differs between --threads 1 and $n"; return; }
        done
    done
    ok "$name: $out identical for --threads 1, 2, 3"
}
W="$T/w.safetensors"
run eps "eps.npy" eps -w "$W" -x "$T/x.npy" --t-file "$T/t.npy" -o eps.npy
run vjp "vjp.npy" vjp -w "$W" -x "$T/x.npy" --t-file "$T/t.npy" -v "$T/v.npy" -o vjp.npy
run loss-grad "grad.safetensors stdout.txt" loss-grad -w "$W" --x0 "$T/x.npy" --t-file "$T/t.npy" --noise "$T/z.npy" --T 20 -o grad.safetensors
run sample "s.npy" sample -w "$W" -n 7 --T 20 -o s.npy
run sample-G_loss "s.npy" sample -w "$W" -n 7 --T 20 --cond_score_version v2 --g "$T/g.npy" --y "$T/y.npy" -o s.npy
run guide-G "e.npy" guide -w "$W" -x "$T/x.npy" -t 7 --T 20 --g "$T/g.npy" --y "$T/y.npy" --cond_score_version v1 -o e.npy
run pretrain "w.safetensors" pretrain $small $net --N_0 96 --pre_bs 32 --pre_num_episodes 2 --save_dir s --log_dir l -o w.safetensors --quiet
run optimize-alg2 "s/reward_seed_2345.npy s/samples_seed_2345.npy s/linear_latent_finetune_iteration_2.pth" optimize $small --pretrain_ckpt "$T/pretrain1/w.safetensors" --hyper "$T/pretrain1/s/hyperparameters.npz" --generate_bs 7 --opt_rounds 2 --score_matching_finetune --sm_ft_lr 1e-4 --run_dir s --save_samples --quiet
[ $fail = 0 ] && echo "threads: all identical" || echo "threads: FAILED"
exit $fail
