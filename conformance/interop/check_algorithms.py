#!/usr/bin/env python3
"""The paper's qualitative results at a CPU-sized scale, and the run-time guarantees of
`ggdm optimize` / `ggdm pretrain`, checked through the command line with fixed seeds
(deterministic: these are facts about ggdm's definitions, not timing-dependent).

  check_algorithms.py build/ggdm [--keep DIR]

- reward rises over rounds for all three rewards (quadratic with theta_2 and theta_1,
  negnormplus, linear on unit_ball);
- G_loss keeps the off-support ratio far below G's;
- Algorithm 2 (fine-tuning) reaches a higher reward than Algorithm 1 at the same rounds;
- an interrupted run resumed with --resume gives bit-identical outputs (optimize, Algorithm 2,
  pretrain);
- a run whose samples diverge stops with a clear error and leaves no output files;
- the TensorBoard log holds the original's scalar names.
Prints one line per check and `algorithms: N passed, M failed`.
"""
import argparse
import csv
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ggdm")
    ap.add_argument("--keep", help="work in this folder and keep it")
    a = ap.parse_args()
    ggdm = os.path.abspath(a.ggdm)
    tmp = os.path.abspath(a.keep or tempfile.mkdtemp(prefix="ggdm-alg-"))
    os.makedirs(tmp, exist_ok=True)
    passed = failed = 0

    def check(label, cond, detail):
        nonlocal passed, failed
        if cond:
            passed += 1
            print(f"ok   {label}: {detail}")
        else:
            failed += 1
            print(f"FAIL {label}: {detail}")

    def run(args, expect_rc=0):
        r = subprocess.run([ggdm] + args, capture_output=True, text=True, timeout=900, cwd=tmp)
        if r.returncode != expect_rc:
            print(f"     command: ggdm {' '.join(args)}\n     exit {r.returncode}: {r.stderr.strip()[-400:]}")
        return r

    def math_csv(path):  # metrics.csv without its timing columns
        with open(path) as f:
            rows = list(csv.reader(f))
        keep = [i for i, h in enumerate(rows[0]) if not h.endswith("_s")]
        return [[r[i] for i in keep] for r in rows]

    def metrics(d):
        with open(os.path.join(d, "metrics.csv")) as f:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]

    def optimize(name, extra, rc=0):
        d = os.path.join(tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        r = run(["optimize", "--run_dir", d, "--generate_bs", "16"] + extra, rc)
        return d, r

    small = ["--d_outer", "16", "--d_inner", "4", "--T", "50", "--seed", "2345"]
    # --- exact score (no training in the way): G vs G_loss, all linear_latent rewards
    ok = {}
    for v, interval in (("v1", "0.9"), ("v2", "0.2")):
        d, r = optimize(f"quad_{v}", small + ["--score", "analytic", "--func_type", "quadratic",
                                                "--cond_score_version", v, "--interval", interval, "--opt_rounds", "5"])
        ok[v] = metrics(d) if r.returncode == 0 else None
    if ok["v1"] and ok["v2"]:
        for v in ("v1", "v2"):
            m = ok[v]
            check(f"quadratic (theta_2) reward rises, {v}, exact score", m[-1]["reward"] > m[0]["reward"] + 0.5,
                  f"round 0 {m[0]['reward']:.3f} -> round 5 {m[-1]['reward']:.3f}")
        r1, r2 = ok["v1"][-1]["ratio"], ok["v2"][-1]["ratio"]
        check("G_loss keeps the off-support ratio far below G's (exact score)", r2 < 1e-5 and r1 > 1000 * r2,
              f"final ratio G {r1:.3g}, G_loss {r2:.3g}")
    else:
        check("quadratic runs", False, "a run failed")
    for name, extra, rise in (("theta_1", ["--func_type", "quadratic", "--use_theta_1", "--interval", "0.05"], 0.1),
                              ("negnormplus", ["--func_type", "negnormplus", "--interval", "1"], 0.5)):
        d, r = optimize(name, small + ["--score", "analytic", "--cond_score_version", "v2", "--opt_rounds", "5"] + extra)
        if r.returncode == 0:
            m = metrics(d)
            check(f"{name} reward rises, G_loss, exact score", m[-1]["reward"] > m[0]["reward"] + rise,
                  f"round 0 {m[0]['reward']:.3f} -> round 5 {m[-1]['reward']:.3f}")
        else:
            check(f"{name} run", False, r.stderr.strip()[-200:])

    # --- a small pre-trained network (linear_latent), resumable pre-training
    net = ["--dim", "8", "--dim-mults", "1,2,4", "--groups", "4", "--heads", "1", "--dim-head", "16"]
    pre = small + net + ["--N_0", "2048", "--pre_bs", "64", "--pre_num_episodes", "4", "--pre_lr", "3e-3"]
    pdir = os.path.join(tmp, "pre")
    shutil.rmtree(pdir, ignore_errors=True)
    w = os.path.join(tmp, "w.safetensors")
    r = run(["pretrain"] + pre + ["--save_dir", pdir, "--log_dir", os.path.join(pdir, "logs"), "-o", w])
    check("pretrain a small Unet1D on linear_latent", r.returncode == 0 and os.path.exists(w), r.stderr.strip()[-120:])
    pdir2 = os.path.join(tmp, "pre2")
    shutil.rmtree(pdir2, ignore_errors=True)
    w2 = os.path.join(tmp, "w2.safetensors")
    r = run(["pretrain"] + pre + ["--save_dir", pdir2, "--log_dir", os.path.join(pdir2, "logs"), "-o", w2,
                                  "--stop_after", "2"], 3)
    r = run(["pretrain"] + pre + ["--resume", pdir2, "--log_dir", os.path.join(pdir2, "logs"), "-o", w2])
    check("pretrain interrupted after epoch 2 and resumed: bit-identical weights",
          r.returncode == 0 and os.path.exists(w2) and filecmp.cmp(w, w2, shallow=False),
          "weights files equal byte for byte" if os.path.exists(w2) and filecmp.cmp(w, w2, shallow=False) else "differ")
    hyper = os.path.join(pdir, "hyperparameters.npz")
    common = small + ["--pretrain_ckpt", w, "--hyper", hyper, "--cond_score_version", "v2", "--interval", "0.2",
                      "--opt_rounds", "6"]
    d1, r1 = optimize("alg1", common)
    d2, r2 = optimize("alg2", common + ["--score_matching_finetune", "--sm_ft_lr", "1e-4", "--sm_ft_step_per_round", "4"])
    if r1.returncode == 0 and r2.returncode == 0:
        m1, m2 = metrics(d1), metrics(d2)
        check("Algorithm 2 reaches a higher reward than Algorithm 1 at the same rounds (small network)",
              m2[-1]["reward"] > m1[-1]["reward"],
              f"round 6: Algorithm 2 {m2[-1]['reward']:.4f}, Algorithm 1 {m1[-1]['reward']:.4f}")
        check("reward rises with the network, G_loss", m1[-1]["reward"] > m1[0]["reward"] + 0.5,
              f"{m1[0]['reward']:.3f} -> {m1[-1]['reward']:.3f}")
        d3, r3 = optimize("alg2_resumed", common + ["--score_matching_finetune", "--sm_ft_lr", "1e-4",
                                                      "--sm_ft_step_per_round", "4", "--stop_after", "3"], 3)
        r3 = run(["optimize", "--resume", d3])
        same = r3.returncode == 0 and all(filecmp.cmp(os.path.join(d2, f), os.path.join(d3, f), shallow=False)
                                          for f in ("reward_seed_2345.npy", "linear_latent_finetune_iteration_6.pth"))
        same = same and math_csv(os.path.join(d2, "metrics.csv")) == math_csv(os.path.join(d3, "metrics.csv"))
        check("Algorithm 2 interrupted after round 3 and resumed: bit-identical outputs", same,
              "rewards.npy, metrics.csv and the fine-tuned network equal byte for byte" if same else "they differ")
        tb = [f for f in os.listdir(os.path.join(d1, "logs")) if f.startswith("events.out.tfevents")]
        out = subprocess.run([sys.executable, os.path.join(HERE, "read_tfevents.py"), os.path.join(d1, "logs", tb[0])],
                             capture_output=True, text=True) if tb else None
        tags = {line.split()[1] for line in out.stdout.splitlines()[1:] if len(line.split()) == 3} if out else set()
        want = {"stats/reward", "stats/ratio", "stats/top_k_reward", "stats/top_k_ratio", "stats/guidance",
                "stats/mean_guidance"}
        check("TensorBoard log holds the original's scalar names", want <= tags, ", ".join(sorted(tags)))
    else:
        check("optimize with the small network", False, "a run failed")

    # --- unit_ball, linear reward, with a small network
    uw = os.path.join(tmp, "u.safetensors")
    ud = os.path.join(tmp, "upre")
    shutil.rmtree(ud, ignore_errors=True)
    r = run(["pretrain", "--x_type", "unit_ball"] + pre + ["--save_dir", ud, "--log_dir", os.path.join(ud, "logs"),
                                                           "-o", uw])
    if r.returncode == 0:
        for v in ("v1", "v2"):
            d, r = optimize(f"ball_{v}", ["--x_type", "unit_ball", "--func_type", "linear", "--cond_score_version", v,
                                          "--interval", "0.1", "--opt_rounds", "5", "--pretrain_ckpt", uw,
                                          "--hyper", os.path.join(ud, "hyperparameters.npz")] + small)
            if r.returncode == 0:
                m = metrics(d)
                check(f"unit_ball linear reward rises, {v}", m[-1]["reward"] > m[0]["reward"] + 0.2,
                      f"{m[0]['reward']:.3f} -> {m[-1]['reward']:.3f}")
            else:
                check(f"unit_ball {v} run", False, r.stderr.strip()[-200:])
    else:
        check("pretrain on unit_ball", False, r.stderr.strip()[-200:])

    # --- divergence: a clear error, no outputs
    d, r = optimize("diverge", small + ["--score", "analytic", "--cond_score_version", "v1", "--beta", "1e30",
                                         "--opt_rounds", "3"], 1)
    leftovers = [f for f in ("reward_seed_2345.npy", "metrics.csv", "metrics.svg") if os.path.exists(os.path.join(d, f))]
    check("a diverging run stops with a clear error and writes no outputs",
          r.returncode == 1 and ("non-finite" in r.stderr or "NaN" in r.stderr) and not leftovers,
          (r.stderr.strip().splitlines() or ["(no message)"])[-1][:160] + (f"; left {leftovers}" if leftovers else ""))

    print(f"algorithms: {passed} passed, {failed} failed")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
