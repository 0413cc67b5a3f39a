#!/usr/bin/env python3
"""Runs a user of the original can trust: crash consistency, run records, locks, the
original's command line, checked through the command as a user runs it.

  check_runs.py build/ggdm [--keep DIR] [--quick] [--only NAME] [--skip NAME]
  (sections: fault, records, bad input, original, authors)

- fault injection: for every file operation k of a short run (GGDM_FAULT_AT=k: the process
  kills itself with SIGKILL before its k-th file operation), the run is killed there and then
  resumed; its outputs must equal an uninterrupted run's byte for byte, and no temporary file
  may survive. Scenarios: Algorithm 1 with --save_samples, Algorithm 2, `ggdm pretrain`, and the
  original's `--pretrain --optimize` in one process (pre-training, then the rounds).
- run records: config.json holds the settings, --resume refuses other settings (exit 2) and
  a changed input, an interrupted run is not silently restarted or overwritten, a finished run
  is refused unless --overwrite, a second process is kept out by the lock;
- bad input leaves nothing behind; `pretrain -o` to an unwritable place fails before training;
- the original's defaults and flags, --threads from the CPU affinity, usage errors exit 2.
Prints one line per check and `runs: N passed, M failed`.
"""
import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NET = ["--dim", "8", "--dim-mults", "1,2", "--groups", "2", "--heads", "1", "--dim-head", "8"]
SMALL = ["--d_outer", "8", "--d_inner", "2", "--T", "10", "--seed", "2345"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ggdm")
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--quick", action="store_true", help="every 7th kill point only")
    ap.add_argument("--stride", type=int, default=0, help="every N-th kill point only (coverage runs)")
    ap.add_argument("--only", help="run only the sections whose name contains this text")
    ap.add_argument("--skip", help="skip the sections whose name contains this text (coverage: authors)")
    a = ap.parse_args()
    ggdm = os.path.abspath(a.ggdm)
    tmp = os.path.abspath(a.keep or tempfile.mkdtemp(prefix="ggdm-runs-"))
    os.makedirs(tmp, exist_ok=True)
    passed = failed = 0

    def check(label, cond, detail=""):
        nonlocal passed, failed
        if cond:
            passed += 1
            print(f"ok   {label}: {detail}")
        else:
            failed += 1
            print(f"FAIL {label}: {detail}")
        sys.stdout.flush()

    def run(args, cwd, env=None, timeout=600):
        e = dict(os.environ)
        e.pop("GGDM_FAULT_AT", None)
        e.pop("GGDM_FAULT_TRACE", None)
        e["GGDM_PROGRESS"] = "0"
        if env:
            e.update(env)
        return subprocess.run([ggdm] + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=e)

    def fresh(name):
        d = os.path.join(tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def files_under(d):
        out = []
        for root, dirs, files in os.walk(d):
            for f in files + [x for x in dirs]:
                out.append(os.path.relpath(os.path.join(root, f), d))
        return sorted(out)

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    def math_csv(path):
        """metrics.csv without its timing columns (those differ between runs)."""
        with open(path) as f:
            rows = list(csv.reader(f))
        keep = [i for i, h in enumerate(rows[0]) if not h.endswith("_s")]
        return [[r[i] for i in keep] for r in rows]

    def want(section):
        return (not a.only or a.only in section) and not (a.skip and a.skip in section)

    # ------------------------------------------------------------ a small network for the scenarios
    base = fresh("base")
    r = run(["pretrain"] + SMALL + NET + ["--N_0", "64", "--pre_bs", "16", "--pre_num_episodes", "2",
                                          "--save_dir", "pre", "--log_dir", "pre/logs", "-o", "w.safetensors"], base)
    check("a small Unet1D pre-trained for the scenarios", r.returncode == 0, r.stderr.strip()[-200:])
    w = os.path.join(base, "w.safetensors")
    hyper = os.path.join(base, "pre", "hyperparameters.npz")

    opt = SMALL + ["--pretrain_ckpt", w, "--hyper", hyper, "--generate_bs", "4", "--opt_rounds", "3",
                   "--cond_score_version", "v2", "--interval", "0.2", "--run_dir", "run"]
    scenarios = [
        ("Algorithm 1 with --save_samples", ["optimize"] + opt + ["--save_samples"],
         ["run/reward_seed_2345.npy", "run/samples_seed_2345.npy", "run/top_4_samples_seed_2345.npy",
          "run/metrics.csv"]),
        ("Algorithm 2 (fine-tuning, 2 steps per round)",
         ["optimize"] + opt + ["--score_matching_finetune", "--sm_ft_lr", "1e-3", "--sm_ft_step_per_round", "2"],
         ["run/reward_seed_2345.npy", "run/metrics.csv", "run/linear_latent_finetune_iteration_3.pth"]),
        ("ggdm pretrain", ["pretrain"] + SMALL + NET + ["--N_0", "48", "--pre_bs", "16", "--pre_num_episodes", "3",
                                                      "--save_dir", "run", "--log_dir", "run/logs", "-o", "w.pth"],
         ["w.pth", "run/hyperparameters.npz"]),
        ("the original's --pretrain --optimize in one process",
         ["--pretrain", "--optimize"] + SMALL + NET + ["--N_0", "32", "--pre_bs", "16", "--pre_num_episodes", "2",
                                                       "--generate_bs", "4", "--opt_rounds", "2",
                                                       "--cond_score_version", "v1", "--interval", "0.9"],
         ["pretrained/linear_latent_pretrain_epoch_2.pth",
          "results/linear_latent/optimize_alg1_guidance_G/func_quadratic_theta_2_interval_0.9/reward_seed_2345.npy",
          "results/linear_latent/optimize_alg1_guidance_G/func_quadratic_theta_2_interval_0.9/"
          "ggdm_run_seed_2345/metrics.csv",
          "data/linear_latent/hyperparameters.npz"]),
    ]
    for label, args, outs in scenarios:
        if not want("fault"):
            break
        refd = fresh("fault-ref")
        r = run(args, refd)
        if r.returncode != 0:
            check(f"fault injection, {label}: the uninterrupted run", False, r.stderr.strip()[-300:])
            continue
        outs = [o for o in outs if os.path.exists(os.path.join(refd, o)) or not o.endswith(".pth")]
        ref = {o: (math_csv(os.path.join(refd, o)) if o.endswith(".csv") else read(os.path.join(refd, o)))
               for o in outs}
        tr = run(args, fresh("fault-trace"), env={"GGDM_FAULT_TRACE": "1"})
        points = [ln for ln in tr.stderr.splitlines() if ln.startswith("ggdm-fault ")]
        n = len(points)
        ks = range(1, n + 1, a.stride or (7 if a.quick else 1))
        bad, stale, killed, t0 = [], [], 0, time.time()
        for k in ks:
            d = fresh("fault-k")
            r1 = run(args, d, env={"GGDM_FAULT_AT": str(k)})
            if r1.returncode == -signal.SIGKILL:
                killed += 1
            else:
                bad.append(f"k={k}: not killed (exit {r1.returncode})")
                continue
            r2 = run(args + ["--resume"], d)
            if r2.returncode != 0:
                bad.append(f"k={k} ({points[k - 1][11:]}): resume exit {r2.returncode}: {r2.stderr.strip()[-160:]}")
                continue
            for o in outs:
                p = os.path.join(d, o)
                got = (math_csv(p) if o.endswith(".csv") else read(p)) if os.path.exists(p) else None
                if got != ref[o]:
                    bad.append(f"k={k} ({points[k - 1][11:]}): {o} differs")
                    break
            tmps = [f for f in files_under(d) if ".tmp" in os.path.basename(f) or ".ggdm-probe" in f]
            for root, dirs, files in os.walk(d):
                if os.path.basename(root) == "ckpt":
                    gens = [x for x in dirs]
                    if len(gens) != 1:
                        tmps.append(f"{os.path.relpath(root, d)} holds {len(gens)} generations: {gens}")
            if tmps:
                stale.append(f"k={k}: {tmps[:3]}")
        check(f"fault injection, {label}: killed at each of its {n} file operations, then resumed: outputs "
              "byte-identical", n > 20 and not bad,
              f"{killed} kills, {len(list(ks))} resumes, {time.time() - t0:.0f} s" + (f"; {bad[:3]}" if bad else ""))
        check(f"fault injection, {label}: no temporary file or stale checkpoint survives a resume", not stale,
              "none" if not stale else "; ".join(stale[:3]))

    # ------------------------------------------------------------ records, resume, locks
    if want("records"):
        d = fresh("records")
        args = ["optimize"] + opt
        r = run(args + ["--stop_after", "1"], d)
        check("records: --stop_after interrupts (exit 3)", r.returncode == 3, r.stderr.strip()[-160:])
        cfg = json.load(open(os.path.join(d, "run", "config.json")))
        check("records: config.json records the settings, inputs and version while running",
              cfg["status"] == "running" and cfg["setting.interval"] == "0.2" and cfg["setting.cond_score_version"]
              == "v2" and cfg["input.pretrain_ckpt"].endswith(cfg["input.pretrain_ckpt"].split("xxh3:")[1])
              and cfg["ggdm_version"], f"status {cfg['status']}, {len([k for k in cfg if k.startswith('setting.')])} "
              f"settings, input.pretrain_ckpt = {cfg['input.pretrain_ckpt'][-22:]}")
        r = run(args, d)
        check("records: an interrupted run is neither restarted nor overwritten without --resume",
              r.returncode == 1 and "interrupted run" in r.stderr and "--resume" in r.stderr, r.stderr.strip()[-160:])
        r = run(args + ["--resume", "--interval", "0.3"], d)
        check("records: --resume with another --interval is refused (exit 2), naming the setting",
              r.returncode == 2 and "--interval: the run has 0.2, this command line says 0.3" in r.stderr,
              r.stderr.strip().splitlines()[1] if len(r.stderr.strip().splitlines()) > 1 else r.stderr)
        r = run(["optimize", "--resume", "run", "--cond_score_version", "v1"], d)
        check("records: --resume RUN_DIR with another guidance version is refused (exit 2)",
              r.returncode == 2 and "cond_score_version" in r.stderr, r.stderr.strip()[-120:])
        shutil.copy(w, os.path.join(d, "w_changed.safetensors"))
        with open(w, "rb") as f:
            orig = f.read()
        with open(w, "r+b") as f:  # change one weight byte of the input
            f.seek(len(orig) - 3)
            f.write(bytes([orig[-3] ^ 1]))
        r = run(args + ["--resume"], d)
        with open(w, "wb") as f:
            f.write(orig)
        check("records: --resume refuses a changed input file (its XXH3 differs)",
              r.returncode == 1 and "changed since the run started" in r.stderr, r.stderr.strip()[-160:])
        r = run(["optimize", "--resume", "run"], d)
        cfg = json.load(open(os.path.join(d, "run", "config.json")))
        check("records: `--resume RUN_DIR` alone continues with the run's own settings and finishes it",
              r.returncode == 0 and cfg["status"] == "finished" and "timings" in cfg,
              f"exit {r.returncode}, status {cfg['status']}, optimize_s_per_round "
              f"{cfg.get('timings', {}).get('optimize_s_per_round', '?')}")
        m = list(csv.DictReader(open(os.path.join(d, "run", "metrics.csv"))))
        check("records: metrics.csv has per-round timings (sampling, reward, fine-tuning)",
              all(k in m[0] for k in ("sample_s", "reward_s", "finetune_s")) and float(m[1]["sample_s"]) > 0,
              f"round 1: sample {m[1]['sample_s']} s")
        r = run(args, d)
        check("records: a finished run is refused without --overwrite (exit 1)",
              r.returncode == 1 and "finished run" in r.stderr and "--overwrite" in r.stderr, r.stderr.strip()[-120:])
        r = run(args + ["--overwrite"], d)
        check("records: --overwrite replaces it", r.returncode == 0, r.stderr.strip()[-120:])
        # the lock: a long run in the background, a second process into the same folder
        long_args = ["optimize", "--d_outer", "8", "--d_inner", "2", "--T", "200", "--pretrain_ckpt", w, "--hyper",
                     hyper, "--generate_bs", "64", "--opt_rounds", "50", "--run_dir", "busy"]
        e = dict(os.environ, GGDM_PROGRESS="0")
        p = subprocess.Popen([ggdm] + long_args, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=e)
        for _ in range(1200):  # until the first holds the lock and has written its record (a loaded machine: slow)
            if os.path.exists(os.path.join(d, "busy", "config.json")) or p.poll() is not None:
                break
            time.sleep(0.05)
        r = run(long_args + ["--resume"], d)
        p.kill()
        p.wait()
        check("records: a second run into a folder in use is refused, naming the running process",
              r.returncode == 1 and f"pid {p.pid}" in r.stderr, r.stderr.strip()[-160:])
        # two default runs one after the other: the second is refused, nothing of the first changes
        d2 = fresh("records-default")
        a1 = ["--optimize", "--score", "analytic", "--d_outer", "8", "--d_inner", "2", "--T", "10", "--generate_bs",
              "4", "--opt_rounds", "2"]
        r1 = run(a1, d2)
        res = os.path.join(d2, "results/linear_latent/optimize_alg1_guidance_G/func_quadratic_theta_2_interval_0.05")
        before = read(os.path.join(res, "reward_seed_2345.npy")) if r1.returncode == 0 else None
        tbdir = os.path.join(d2, "logs/linear_latent/optimize_alg1_guidance_G/"
                                 "func_quadratic_theta_2_interval_0.05_seed_2345")
        nev = len(os.listdir(tbdir)) if os.path.isdir(tbdir) else -1
        r2 = run(a1, d2)
        check("records: two runs with the default folders one after the other: the second is refused, the "
              "first's results and TensorBoard files stay as they were",
              r1.returncode == 0 and r2.returncode == 1 and read(os.path.join(res, "reward_seed_2345.npy")) == before
              and len(os.listdir(tbdir)) == nev == 1, f"exits {r1.returncode}, {r2.returncode}; {nev} event file")
        r3 = run(a1 + ["--seed", "1234"], d2)
        check("records: another seed into the same folder is its own run (the original's seed-named files)",
              r3.returncode == 0 and os.path.exists(os.path.join(res, "reward_seed_1234.npy")), r3.stderr[-120:])

    # ------------------------------------------------------------ bad input leaves nothing behind
    if want("bad input"):
        for label, args in (
            ("a missing --pretrain_ckpt", ["--optimize", "--pretrain_ckpt", "nope.pth"]),
            ("a malformed --hyper", ["--optimize", "--score", "analytic", "--hyper", "junk.npz"]),
            ("an impossible network for --pretrain", ["--pretrain", "--d_outer", "12", "--d_inner", "4"]),
            ("--reward_K larger than the batch", ["--optimize", "--score", "analytic", "--generate_bs", "4",
                                                  "--reward_K", "8"]),
        ):
            d = fresh("bad")
            with open(os.path.join(d, "junk.npz"), "wb") as f:
                f.write(b"PK\x03\x04 not a zip")
            r = run(args, d)
            left = [f for f in files_under(d) if f != "junk.npz"]
            check(f"bad input ({label}): a clear error, nothing written", r.returncode in (1, 2) and not left
                  and len(r.stderr.strip()) > 20, f"exit {r.returncode}: {r.stderr.strip()[-110:]}; left {left}")
        d = fresh("bad-o")
        t0 = time.time()
        r = run(["pretrain"] + SMALL + NET + ["--N_0", "65536", "--pre_num_episodes", "50", "--save_dir", "pre",
                                              "-o", "/nonexistent-dir/w.safetensors"], d)
        check("bad input: `pretrain -o` to an unwritable place fails before training, writing nothing",
              r.returncode == 1 and time.time() - t0 < 30 and not files_under(d),
              f"exit {r.returncode} after {time.time() - t0:.2f} s: {r.stderr.strip()[-100:]}")
        r = run(["eps", "-w", w, "-x", "x.npy", "-t", "abc", "-o", "o.npy"], d)
        check("usage error: `eps -t abc` exits 2", r.returncode == 2, r.stderr.strip()[-100:])
        r = run(["--optimize", "--score", "analytic", "--reward_K", "40"], d)
        check("usage error: --reward_K 40 > --generate_bs 32 exits 2", r.returncode == 2, r.stderr.strip()[-100:])

    # ------------------------------------------------------------ the original's defaults and flags
    if want("original"):
        d = fresh("defaults")
        r = run(["--optimize", "--score", "analytic", "--d_outer", "8", "--d_inner", "2", "--T", "10",
                 "--generate_bs", "4", "--other_remark", "_try", "--disable_guidance"], d)
        res = os.path.join(d, "results/linear_latent/optimize_alg1_guidance_G/func_quadratic_theta_2_interval_0.05_try")
        cfgp = os.path.join(res, "ggdm_run_seed_2345", "config.json")
        cfg = json.load(open(cfgp)) if os.path.exists(cfgp) else {}
        check("original: defaults v1 (G), --interval 0.05, --opt_rounds 20, --beta None; --other_remark and "
              "--disable_guidance accepted",
              r.returncode == 0 and cfg.get("setting.cond_score_version") == "v1" and cfg.get("setting.interval") ==
              "0.05" and cfg.get("setting.opt_rounds") == "20" and cfg.get("setting.beta") == "None"
              and cfg.get("setting.disable_guidance") == "1",
              f"exit {r.returncode}: {res[len(d) + 1:]}")
        r = run(["optimize", "--help"], d)
        check("original: `optimize --help` shows the original's defaults",
              r.returncode == 0 and "--interval 0.05" in r.stdout and "--sm_ft_lr 1e-5" in r.stdout, "")
        d = fresh("affinity")
        r = subprocess.run(["taskset", "-c", "0", ggdm, "optimize", "--score", "analytic", "--d_outer", "8",
                            "--d_inner", "2", "--T", "10", "--generate_bs", "4", "--opt_rounds", "1", "--run_dir",
                            "r"], cwd=d, capture_output=True, text=True) if shutil.which("taskset") else None
        if r is not None:
            cfg = json.load(open(os.path.join(d, "r", "config.json"))) if r.returncode == 0 else {}
            check("original: --threads defaults to the cores this process may use (taskset -c 0: 1 thread)",
                  cfg.get("threads") == 1, f"threads {cfg.get('threads')}")

    # ------------------------------------------------------------ the authors' README command lines
    if want("authors"):
        authors_lines(run, check, fresh, ggdm)

    print(f"runs: {passed} passed, {failed} failed")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if failed == 0 else 1


def tf_scalars(path):
    """{tag: [(step, value)]} of a run's TensorBoard folder (every event file in it)."""
    out = {}
    for f in sorted(os.listdir(path)):
        if not f.startswith("events.out.tfevents."):
            continue
        r = subprocess.run([sys.executable, os.path.join(HERE, "read_tfevents.py"), os.path.join(path, f)],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            p = line.split()
            if len(p) == 3 and p[0].lstrip("-").isdigit():
                out.setdefault(p[1], []).append((int(p[0]), float(p[2])))
    return out


def authors_lines(run, check, fresh, ggdm):
    """The authors' README command lines for the simulations, `python main.py` replaced by
    `ggdm`, shortened (fewer rounds, epochs and samples; D = 16 so that Unet1D(dim=d_outer) is
    small), run in a folder laid out as the authors' simulations/ folder: their checkpoints
    under checkpoints/pretrained/ as their code saves them (torch.save of the wrapper's
    state_dict with x_type and epoch), hyper-parameters found in data/X_TYPE/."""
    import numpy as np
    import torch
    sys.path.insert(0, HERE)
    from original_schedule import tables
    from unet_torch import Unet1D

    class Diffusion(torch.nn.Module):  # the original's GaussianDiffusion: `model` plus float32 schedule buffers
        def __init__(self, model, T):
            super().__init__()
            self.model = model
            for name, v in tables(T, "cosine").items():
                self.register_buffer(name, torch.from_numpy(v))

    sim = fresh("authors")
    short = ["--d_outer", "16", "--d_inner", "4"]
    os.makedirs(os.path.join(sim, "checkpoints", "pretrained"))
    for x_type, seed in (("linear_latent", 3), ("unit_ball", 4)):
        torch.manual_seed(seed)
        diffusion = Diffusion(Unet1D(dim=16, length=16), 200)
        torch.save({"x_type": x_type, "model_state_dict": diffusion.state_dict(), "epoch": 20},
                   os.path.join(sim, "checkpoints", "pretrained", f"{x_type}_pretrain_epoch_20.pth"))
    ckpt = "checkpoints/pretrained/linear_latent_pretrain_epoch_20.pth"

    def line(text, extra):
        args = text.split()[2:] + extra  # "python main.py ..." -> "ggdm ..."
        return args, run(args, sim, timeout=900)

    def arr(path):
        return np.load(os.path.join(sim, path))

    # A. linear latent: pre-training (its data file as the README has it)
    hy_args, r0 = line("python main.py --optimize --x_type linear_latent --score analytic --opt_rounds 1", short)
    hp = os.path.join(sim, "data", "linear_latent", "hyperparameters.npz")
    check("authors: a first run generates data/linear_latent/hyperparameters.npz as the original does",
          r0.returncode == 0 and os.path.exists(hp), r0.stderr.strip()[-120:])
    h = np.load(hp)
    rng = np.random.default_rng(0)
    np.save(os.path.join(sim, "data", "linear_latent", "pretrain_64.npy"), rng.standard_normal((64, 4)) @ h["A"])
    args, r = line("python main.py --x_type linear_latent --pretrain --pre_lr 1e-4 --pre_num_episodes 20 "
                   "--pretrain_data data/linear_latent/pretrain_65536.npy --pretrain_ckpt_folder "
                   "checkpoints/pretrained_n", short + ["--N_0", "64", "--pre_num_episodes", "1", "--pretrain_data",
                                                        "data/linear_latent/pretrain_64.npy", "--generate_bs", "8"])
    pth = os.path.join(sim, "checkpoints", "pretrained_n", "linear_latent_pretrain_epoch_1.pth")
    res = "results/linear_latent/pretrain_1/quadratic_theta_2_reward_seed_2345.npy"
    ok = r.returncode == 0 and os.path.exists(pth) and os.path.exists(os.path.join(sim, res))
    if ok:
        ck = torch.load(pth, map_location="cpu")
        net = Diffusion(Unet1D(dim=16, length=16), 200)
        missing = net.load_state_dict(ck["model_state_dict"], strict=True)
        ok = ck["x_type"] == "linear_latent" and ck["epoch"] == 1 and arr(res).shape == (8, 1) and not missing.missing_keys
    check("authors: pre-training line: the checkpoint as the original writes it (loads with strict=True into the "
          "original's model), the unguided rewards in results/linear_latent/pretrain_1/", ok,
          r.stderr.strip()[-160:] if not ok else f"{os.path.relpath(pth, sim)}, {res}")
    logs = os.path.join(sim, "logs", "linear_latent", "pretrain_1")
    tags = tf_scalars(logs) if os.path.isdir(logs) else {}
    steps = [s for s, _ in tags.get("stats/loss_diffusion", [])]
    check("authors: pre-training logs stats/loss_diffusion per step from 0 (the original's steps)",
          steps == list(range(2)), f"steps {steps}")

    # Algorithm 1, G and G_loss (Fig. 4)
    A = np.asarray(h["A"])
    theta2 = np.asarray(h["theta_2"]).reshape(-1)
    for v, iv in (("v1", "0.9"), ("v2", "0.2")):
        args, r = line(f"python main.py --optimize --x_type linear_latent --cond_score_version {v} --func_type "
                       f"quadratic --pretrain_ckpt {ckpt} --generate_bs 32 --opt_rounds 1000 --interval {iv}",
                       short + ["--generate_bs", "8", "--opt_rounds", "2", "--save_samples"])
        gname = "G" if v == "v1" else "G_loss"
        d = f"results/linear_latent/optimize_alg1_guidance_{gname}/func_quadratic_theta_2_interval_{iv}"
        ok = r.returncode == 0
        detail = r.stderr.strip()[-200:]
        if ok:
            rew, smp, top = arr(d + "/reward_seed_2345.npy"), arr(d + "/samples_seed_2345.npy"), \
                arr(d + "/top_4_samples_seed_2345.npy")
            want_rew = 10 - (smp.astype(np.float64) @ theta2 - 3) ** 2  # (rounds+1, N)
            order = np.argsort(-rew.T, axis=1, kind="stable")[:, :4]
            ok = (rew.shape == (8, 3) and rew.dtype == np.float64 and smp.shape == (3, 8, 16) and top.shape ==
                  (3, 4, 16) and np.allclose(rew.T, want_rew, rtol=1e-12, atol=1e-12) and
                  all((top[k] == smp[k][order[k]]).all() for k in range(3)))
            tb = tf_scalars(os.path.join(sim, "logs", f"linear_latent/optimize_alg1_guidance_{gname}/"
                                                      f"func_quadratic_theta_2_interval_{iv}_seed_2345"))
            st = lambda tag: [s for s, _ in tb.get(tag, [])]
            y0 = [val for _, val in tb.get("stats/guidance", [])]
            g0 = [-2 * (smp[k, 0].astype(np.float64) @ theta2 - 3) * theta2 for k in range(2)]
            want_y0 = [float(iv) + float(g0[k] @ smp[k, 0]) for k in range(2)]
            ok = ok and st("stats/reward") == [0, 1, 2] and st("stats/top_k_ratio") == [0, 1, 2] and \
                st("stats/guidance") == [0, 1] and st("stats/mean_guidance") == [0, 1] and \
                np.allclose(y0, want_y0, rtol=1e-5, atol=1e-5) and \
                np.allclose([val for _, val in tb["stats/reward"]], rew.mean(axis=0), rtol=1e-6)
            detail = (f"{d}/reward_seed_2345.npy {rew.shape} = 10 - (theta_2^T x - 3)^2 of samples_seed_2345.npy; "
                      f"TensorBoard: reward at rounds 0..2, guidance = y_0 {np.round(y0, 4).tolist()}")
        check(f"authors: Algorithm 1 with {gname} (README line): the original's folders, files, rewards and "
              "TensorBoard tags", ok, detail)
    # Algorithm 2 (fine-tuning from a start round)
    for v, iv, start in (("v1", "0.9", "40"), ("v2", "0.2", "60")):
        args, r = line(f"python main.py --optimize --x_type linear_latent --cond_score_version {v} --func_type "
                       f"quadratic --pretrain_ckpt {ckpt} --generate_bs 32 --opt_rounds 1200 --interval {iv} "
                       f"--score_matching_finetune --sm_ft_lr 1e-6 --sm_ft_start_round {start}",
                       short + ["--generate_bs", "8", "--opt_rounds", "3", "--sm_ft_start_round", "1"])
        gname = "G" if v == "v1" else "G_loss"
        d = f"results/linear_latent/optimize_alg2_guidance_{gname}/func_quadratic_theta_2_interval_{iv}"
        ok = r.returncode == 0
        detail = r.stderr.strip()[-200:]
        if ok:
            m = list(csv.DictReader(open(os.path.join(sim, d, "ggdm_run_seed_2345", "metrics.csv"))))
            ft = [row["loss_diffusion"] != "nan" for row in m]
            fpth = os.path.join(sim, "checkpoints", "score_finetuned", f"quadratic_{v}",
                                "linear_latent_finetune_iteration_2.pth")
            tb = tf_scalars(os.path.join(sim, "logs", f"linear_latent/optimize_alg2_guidance_{gname}/"
                                                      f"func_quadratic_theta_2_interval_{iv}_seed_2345"))
            ok = ft == [False, False, True, True] and os.path.exists(fpth) and \
                [s for s, _ in tb.get("stats/loss_diffusion", [])] == [0, 1]
            if ok:
                ck = torch.load(fpth, map_location="cpu")
                ok = ck["x_type"] == "linear_latent"
            detail = f"fine-tuned in rounds {[k for k, f in enumerate(ft) if f]} (start round 1 of 3), {os.path.relpath(fpth, sim)}"
        check(f"authors: Algorithm 2 with {gname} (README line): fine-tuning from --sm_ft_start_round, the "
              "original's fine-tuned checkpoint", ok, detail)
    # Fig. 9 rewards
    for extra, name, fn in ((["--use_theta_1", "--interval", "0.05"], "quadratic_theta_1", None),
                            (["--func_type", "negnormplus", "--interval", "1"], "negnormplus_b_2", None),
                            (["--func_type", "negnormplus", "--use_b_1", "--interval", "1"], "negnormplus_b_1", None)):
        args, r = line(f"python main.py --optimize --x_type linear_latent --cond_score_version v2 --pretrain_ckpt "
                       f"{ckpt} --generate_bs 32 --opt_rounds 50", short + ["--generate_bs", "4", "--opt_rounds", "1",
                                                                            "--save_samples"] + extra)
        iv = extra[-1] if extra[-1] != "1" else "1.0"
        d = f"results/linear_latent/optimize_alg1_guidance_G_loss/func_{name}_interval_{iv}"
        ok = r.returncode == 0 and os.path.exists(os.path.join(sim, d, "reward_seed_2345.npy"))
        if ok:
            rew, smp = arr(d + "/reward_seed_2345.npy"), arr(d + "/samples_seed_2345.npy").astype(np.float64)
            if name == "quadratic_theta_1":
                want_rew = 10 - (smp @ np.asarray(h["theta_1"]).reshape(-1) - 3) ** 2
            else:
                b = np.full(16, float(h["b_1"])) if name.endswith("b_1") else np.asarray(h["b_2"])
                want_rew = 5 - 0.5 * np.linalg.norm(smp - b, axis=-1)
            ok = np.allclose(rew.T, want_rew, rtol=1e-12, atol=1e-12)
        check(f"authors: Fig. 9 reward {name}: folder func_{name}_interval_{iv}, rewards as the original defines "
              "them", ok, r.stderr.strip()[-160:] if not ok else d)
    # B. unit ball: the linear reward whatever --func_type says (its default is quadratic)
    args, r = line("python main.py --optimize --x_type unit_ball --cond_score_version v1 --pretrain_ckpt "
                   "checkpoints/pretrained/unit_ball_pretrain_epoch_20.pth --generate_bs 256 --opt_rounds 25 "
                   "--interval 0.2 --seed 1", ["--d_outer", "16", "--generate_bs", "8", "--opt_rounds", "2",
                                               "--save_samples"])
    d = "results/unit_ball/optimize_alg1_guidance_G/func_linear_interval_0.2"
    ok = r.returncode == 0 and os.path.exists(os.path.join(sim, d, "reward_seed_1.npy"))
    detail = r.stderr.strip()[-200:]
    if ok:
        hb = np.load(os.path.join(sim, "data", "unit_ball", "hyperparameters.npz"))
        rew, smp = arr(d + "/reward_seed_1.npy"), arr(d + "/samples_seed_1.npy").astype(np.float64)
        ok = np.allclose(rew.T, smp @ np.asarray(hb["theta"]).reshape(-1), rtol=1e-12, atol=1e-12)
        detail = f"{d}/reward_seed_1.npy = theta^T x of the samples"
    check("authors: unit ball (README line, --func_type left at its default): the linear reward theta^T x", ok, detail)
    args, r = line("python main.py --optimize --x_type linear_latent --pretrain_ckpt "
                   "checkpoints/pretrained/unit_ball_pretrain_epoch_20.pth", short)
    check("authors: a checkpoint of another x_type is refused, as the original asserts",
          r.returncode == 1 and "x_type" in r.stderr, r.stderr.strip()[-120:])


if __name__ == "__main__":
    sys.exit(main())
