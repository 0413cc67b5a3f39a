#!/usr/bin/env python3
"""`ggdm image` as a user runs it: crash safety, interruption, locks, prompts, hostile input, and
the outputs as numpy / xml.etree / PIL / a TensorBoard reader open them.

  image_runs.py GGDM_BINARY [--stride N] [--keep DIR]

Set-up: `ggdm sd-init --config tiny --seed 5`, `ggdm reward-init --seed 11 --width 1` (the
ResNet-18 at its smallest width: the reward's 224 x 224 resize and its backward dominate a tiny
run; at width 64 a round takes 1 s) and runs of 8 x 8 images (the smallest --image_size).

1. fault injection: for every file operation k of a run (GGDM_FAULT_AT=k: SIGKILL before the
   k-th; every N-th with --stride N, or the stride that keeps it under 40 s), killed there and
   run again: the authors' 5 CSVs, generated_images/*.png, metrics.csv without round_seconds and
   config.json's settings equal the uninterrupted run's byte for byte; no *.tmp* file and exactly
   one ckpt generation remain; tb/ holds one events file with every round.
2. SIGINT after the first "round 1:" line: exit 130 and how to resume; the same command again
   finishes with an uninterrupted run's results.
3. a second run in the same folder while one runs: refused (the lock), exit 1, nothing changed.
4. prompts without --prompt: Python's random.seed(S); random.sample(classes, R) over the
   authors' imagenet_classes.txt, the folder ..._None; --classes FILE (stripped lines).
5. hostile input: exit 1 or 2, one line on stderr naming the problem, and no folder or file.
6. the outputs: numpy.loadtxt of every CSV (shapes), the SVGs parse and hold a path, the PNGs
   open with the expected sizes, tb/ has reward_mean for every round, config.json finished.
Prints "ok: ..." / "FAILED: ..." per check; exit 1 when one fails.
"""
import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "conformance", "interop"))
import read_tfevents  # noqa: E402

CLASSES = os.path.join(ROOT, "..", "shared", "data", "authors", "imagenet_classes.txt")
CSVS = ["rewards_mean_repeat.csv", "rewards_std_in_repeats.csv", "rewards.csv", "mean_rewards.csv",
        "std_rewards.csv"]
FAILS = []


def check(label, cond, detail=""):
    print(("ok: " if cond else "FAILED: ") + label + (f" ({detail})" if detail else ""))
    sys.stdout.flush()
    if not cond:
        FAILS.append(label)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ggdm")
    ap.add_argument("--stride", type=int, default=0, help="every N-th fault point (default: what fits in 40 s)")
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="the runtime bound checked at the end (60)")
    ap.add_argument("--tiny-seconds", type=float, default=1.0, help="the bound on the tiny run (1; coverage builds: more)")
    a = ap.parse_args()
    ggdm = os.path.abspath(a.ggdm)
    tmp = os.path.abspath(a.keep or tempfile.mkdtemp(prefix="ggdm-image-runs-"))
    os.makedirs(tmp, exist_ok=True)
    t_all = time.time()

    def env_of(extra=None):
        e = dict(os.environ)
        for k in ("GGDM_FAULT_AT", "GGDM_FAULT_TRACE"):
            e.pop(k, None)
        e["GGDM_PROGRESS"] = "0"
        if extra:
            e.update(extra)
        return e

    def run(args, cwd, extra=None, timeout=300):
        return subprocess.run([ggdm] + args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env=env_of(extra))

    def fresh(name):
        d = os.path.join(tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def read(p):
        with open(p, "rb") as f:
            return f.read()

    def tail(r, n=200):
        return (r.stderr or "").strip()[-n:]

    # ------------------------------------------------------------ set-up
    base = fresh("base")
    r1 = run(["sd-init", "--config", "tiny", "--seed", "5", "-o", "SD"], base)
    r2 = run(["reward-init", "--seed", "11", "--width", "1", "-o", "RW"], base)
    check("set-up: sd-init --config tiny, reward-init --width 1", r1.returncode == 0 and r2.returncode == 0,
          tail(r1) + tail(r2))
    if FAILS:
        return 1
    SD, RW = os.path.join(base, "SD"), os.path.join(base, "RW")

    def image_args(opt_steps=2, bs=2, steps=2, seed=42, prompt="cat", extra=()):
        args = ["image", "--model", SD, "--reward", RW, "--opt_steps", str(opt_steps), "--bs", str(bs), "--seed",
                str(seed), "--image_size", "8", "--steps", str(steps), "--target", "1", "--guidance", "100",
                "--save_samples", "--threads", "1", "--out_dir", "OUT"]
        if prompt is not None:
            args += ["--prompt", prompt]
        return args + list(extra)

    def run_dir(cwd):
        out = os.path.join(cwd, "OUT")
        ds = os.listdir(out) if os.path.isdir(out) else []
        return os.path.join(out, ds[0]) if len(ds) == 1 else None

    def metrics_math(p):
        with open(p, newline="") as f:
            rows = list(csv.reader(f))
        keep = [i for i, h in enumerate(rows[0]) if h != "round_seconds"]
        return [[row[i] for i in keep] for row in rows]

    def tb_events(d):
        tbd = os.path.join(d, "tb")
        files = sorted(os.listdir(tbd)) if os.path.isdir(tbd) else []
        if len(files) != 1:
            return files, None
        vals = {}
        raw = read(os.path.join(tbd, files[0]))
        for _, data in read_tfevents.read_records(raw):
            ev = read_tfevents.decode_event(data)
            for tag, v in ev["values"]:
                vals.setdefault(tag, {})[ev["step"]] = v
        return files, vals

    def results(d):
        """What must not change between an uninterrupted and a killed-and-resumed run."""
        res = {c: read(os.path.join(d, c)) for c in CSVS}
        gi = os.path.join(d, "generated_images")
        for p in sorted(os.listdir(gi)) if os.path.isdir(gi) else []:
            res["generated_images/" + p] = read(os.path.join(gi, p))
        res["metrics.csv (math)"] = metrics_math(os.path.join(d, "metrics.csv"))
        cfg = json.load(open(os.path.join(d, "config.json")))
        res["config.json settings"] = json.dumps(cfg["settings"], sort_keys=True)
        res["config.json status, settings_xxh3"] = (cfg["status"], cfg["settings_xxh3"])
        return res

    def leftovers(d):
        """*.tmp* files and ckpt/ generations other than one."""
        bad = []
        for root, dirs, files in os.walk(d):
            bad += [os.path.relpath(os.path.join(root, f), d) for f in files + dirs if ".tmp" in f]
        ck = os.path.join(d, "ckpt")
        gens = [g for g in os.listdir(ck) if os.path.isdir(os.path.join(ck, g))] if os.path.isdir(ck) else []
        if len(gens) != 1:
            bad.append(f"ckpt/ holds {len(gens)} generations {gens}")
        return bad

    def compare(ref, got):
        for k in ref:
            if got.get(k) != ref[k]:
                return k
        if set(got) != set(ref):
            return f"files {sorted(set(got) ^ set(ref))}"
        return None

    def rounds_in_tb(d, n):
        files, vals = tb_events(d)
        if vals is None:
            return f"tb/ holds {files}"
        steps = sorted(vals.get("reward_mean", {}))
        return None if steps == list(range(n)) else f"reward_mean at steps {steps}"

    # ------------------------------------------------------------ 1. fault injection
    args1 = image_args()
    refd = fresh("fault-ref")
    t0 = time.time()
    r = run(args1, refd)
    t_run = time.time() - t0
    rd = run_dir(refd)
    check("the tiny run (opt_steps 2, bs 2, steps 2: 3 UNet calls, 8 x 8 images, --save_samples) finishes "
          f"well under {a.tiny_seconds:g} s", r.returncode == 0 and rd is not None and t_run < a.tiny_seconds,
          f"exit {r.returncode}, {t_run:.2f} s" + ("" if r.returncode == 0 else "; " + tail(r)))
    if rd is None:
        return 1
    ref1 = results(rd)
    tr = run(args1, fresh("fault-trace"), {"GGDM_FAULT_TRACE": "1"})
    points = [ln for ln in tr.stderr.splitlines() if ln.startswith("ggdm-fault ")]
    n = len(points)
    stride = a.stride or max(1, -(-int(n * (t_run + 0.05) * 1.6) // 38))
    ks = list(range(1, n + 1, stride))
    print(f"  fault injection: {n} file operations, killing at {len(ks)} of them (stride {stride})")
    bad, stale, killed, t0 = [], [], 0, time.time()
    for k in ks:
        d = fresh("fault-k")
        ra = run(args1, d, {"GGDM_FAULT_AT": str(k)})
        if ra.returncode != -signal.SIGKILL:
            bad.append(f"k={k}: not killed (exit {ra.returncode})")
            continue
        killed += 1
        rb = run(args1, d)
        what = points[k - 1].split(" ", 2)[2] if k - 1 < n else "?"
        rdk = run_dir(d)
        if rb.returncode != 0 or rdk is None:
            bad.append(f"k={k} ({what}): rerun exit {rb.returncode}: {tail(rb, 160)}")
            continue
        diff = compare(ref1, results(rdk))
        if diff:
            bad.append(f"k={k} ({what}): {diff} differs")
        tbp = rounds_in_tb(rdk, 2)
        if tbp:
            bad.append(f"k={k} ({what}): {tbp}")
        lo = leftovers(rdk)
        if lo:
            stale.append(f"k={k} ({what}): {lo[:3]}")
    dt = time.time() - t0
    check(f"fault injection: killed at {killed} of the run's {n} file operations (stride {stride}), run again: "
          "CSVs, PNGs, metrics.csv (but round_seconds), config.json settings byte-identical, tb/ every round",
          n > 50 and killed == len(ks) and not bad, f"{len(ks)} kills + reruns in {dt:.1f} s" +
          (f"; {bad[:3]}" if bad else ""))
    check("fault injection: no *.tmp* file and exactly one ckpt generation remain after each rerun", not stale,
          "none" if not stale else "; ".join(stale[:3]))

    # ------------------------------------------------------------ 2. SIGINT
    args2 = image_args(opt_steps=6, bs=1, steps=10)
    ref2d = fresh("sigint-ref")
    r = run(args2, ref2d)
    check("SIGINT: the uninterrupted longer run (opt_steps 6, steps 10)", r.returncode == 0, tail(r))
    d2 = fresh("sigint")
    p = subprocess.Popen([ggdm] + args2, cwd=d2, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=env_of())
    lines = []
    for ln in p.stderr:
        lines.append(ln.rstrip("\n"))
        if "round 1:" in ln:
            p.send_signal(signal.SIGINT)
            break
    rest = p.stderr.read()
    rc = p.wait()
    lines += rest.splitlines()
    msg = [ln for ln in lines if "interrupted" in ln]
    rdi = run_dir(d2)
    cfg = json.load(open(os.path.join(rdi, "config.json"))) if rdi else {}
    check("SIGINT after the first 'round 1:' line: exit 130, says how to resume, the record stays 'running'",
          rc == 130 and msg and "run the same command again to resume" in msg[0] and cfg.get("status") == "running",
          f"exit {rc}; {msg[0] if msg else lines[-1:]}; status {cfg.get('status')}")
    r = run(args2, d2)
    rdi = run_dir(d2)
    ok = r.returncode == 0 and rdi is not None and "resuming" in r.stderr
    diff = compare(results(run_dir(ref2d)), results(rdi)) if ok else "rerun failed"
    tbp = rounds_in_tb(rdi, 6) if ok else None
    check("SIGINT: the same command again resumes and finishes; results identical to the uninterrupted run's",
          ok and not diff and not tbp and not leftovers(rdi),
          f"exit {r.returncode}" + (f"; {diff} differs" if diff else "") + (f"; {tbp}" if tbp else "") +
          ("" if ok else "; " + tail(r)))

    # ------------------------------------------------------------ 3. two runs at once
    d3 = fresh("lock")
    args3 = image_args(opt_steps=1000, bs=1, steps=10, prompt="dog")
    p = subprocess.Popen([ggdm] + args3, cwd=d3, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=env_of())
    for ln in p.stderr:  # until the first holds the lock and has its record
        if "round 0:" in ln:
            break
    rd3 = run_dir(d3)
    before = read(os.path.join(rd3, "config.json")) if rd3 else b""
    r = run(args3, d3)
    after = read(os.path.join(rd3, "config.json")) if rd3 else b""
    first_alive = p.poll() is None
    p.send_signal(signal.SIGINT)
    p.stderr.read()
    rc1 = p.wait()
    line = tail(r, 300)
    check("two runs in one folder: the second is refused (exit 1, 'another ggdm (pid N) is running'), the first "
          "goes on and its record is untouched",
          r.returncode == 1 and f"another ggdm (pid {p.pid}) is running" in r.stderr and len(r.stderr.splitlines())
          == 1 and first_alive and before == after and rc1 == 130, f"exit {r.returncode}: {line}; first: exit {rc1}")

    # ------------------------------------------------------------ 4. prompts
    # the list ggdm ships (ref/cli/imagenet_classes.c); the authors' file, where ../shared has it, must equal it
    import re
    src = open(os.path.join(ROOT, "ref", "cli", "imagenet_classes.c")).read()
    classes = re.findall(r'"((?:[^"\\]|\\.)*)"', src[src.index("= {"):])
    if os.path.exists(CLASSES):
        with open(CLASSES) as f:
            authors = [ln.strip() for ln in f.readlines()]
        check("prompts: ref/cli/imagenet_classes.c holds the authors' imagenet_classes.txt, in order",
              classes == authors, f"{len(classes)} vs {len(authors)} names")
    else:
        check("prompts: ref/cli/imagenet_classes.c holds 1000 names (../shared is absent: the authors' file not "
              "compared)", len(classes) == 1000, f"{len(classes)} names")
    d4 = fresh("prompts")
    args4 = image_args(opt_steps=2, bs=2, steps=1, seed=3, prompt=None, extra=["--repeat_epoch", "3"])
    r = run(args4, d4)
    rd4 = run_dir(d4)
    random.seed(3)
    want = random.sample(classes, 3)
    cfg = json.load(open(os.path.join(rd4, "config.json"))) if rd4 and r.returncode == 0 else {}
    got = cfg.get("settings", {}).get("prompts")
    check("prompts: --repeat_epoch 3 --seed 3 without --prompt = random.seed(3); random.sample(classes, 3) over "
          "imagenet_classes.txt; the folder ends with _None",
          r.returncode == 0 and got == want and rd4 and os.path.basename(rd4) ==
          "target1.0guidance100.0seed3totalbs6_None", f"{got} vs {want}; {os.path.basename(rd4 or '?')}")
    d4b = fresh("classes")
    with open(os.path.join(d4b, "mine.txt"), "w", newline="") as f:
        f.write("  red apple \r\nblue car\n\tgreen tree\t\n\nyellow  bus\nlast line without newline")
    with open(os.path.join(d4b, "mine.txt"), newline=None) as f:
        mine = [ln.strip() for ln in f.readlines()]
    r = run(image_args(opt_steps=1, bs=1, steps=1, seed=7, prompt=None,
                       extra=["--repeat_epoch", "4", "--classes", "mine.txt"]), d4b)
    random.seed(7)
    want = random.sample(mine, 4)
    rdc = run_dir(d4b)
    got = json.load(open(os.path.join(rdc, "config.json")))["settings"]["prompts"] if rdc and r.returncode == 0 \
        else None
    check("prompts: --classes FILE (6 lines: spaces, tabs, CRLF, an empty line, no final newline) drawn as "
          "random.sample of its stripped lines", got == want, f"{got} vs {want}" + ("" if r.returncode == 0 else
                                                                                   "; " + tail(r)))

    # ------------------------------------------------------------ 5. hostile input
    hd = fresh("hostile-inputs")
    nounet = os.path.join(hd, "SD_no_unet")
    shutil.copytree(SD, nounet, ignore=shutil.ignore_patterns("unet"))
    trunc = os.path.join(hd, "RW_truncated")
    raw = read(RW)
    with open(trunc, "wb") as f:
        f.write(raw[:len(raw) // 2])
    np.save(os.path.join(hd, "shape.npy"), np.zeros((1, 2, 4, 3, 4), np.float32))
    np.save(os.path.join(hd, "f64.npy"), np.zeros((1, 2, 4, 4, 4), np.float64))
    np.save(os.path.join(hd, "good.npy"), np.zeros((1, 2, 4, 4, 4), np.float32))
    with open(os.path.join(hd, "notnpy.npy"), "w") as f:
        f.write("these are not latents\n")
    with open(os.path.join(hd, "two.txt"), "w") as f:
        f.write("cat\ndog\n")

    def without(args, flag):
        i = args.index(flag)
        return args[:i] + args[i + 2:]

    def swap(args, flag, value):
        i = args.index(flag)
        return args[:i + 1] + [value] + args[i + 2:]

    g = image_args()
    cases = [
        ("missing --model", without(g, "--model"), "--model"),
        ("--model: a folder without unet/", swap(g, "--model", nounet), "unet"),
        ("--reward: a missing file", swap(g, "--reward", os.path.join(hd, "nothere.safetensors")), "nothere"),
        ("--reward: a truncated safetensors", swap(g, "--reward", trunc), "RW_truncated"),
        ("--latents: a wrong shape", g + ["--latents", os.path.join(hd, "shape.npy")], "--latents"),
        ("--latents: float64", g + ["--latents", os.path.join(hd, "f64.npy")], "float32"),
        ("--latents: not a .npy file", g + ["--latents", os.path.join(hd, "notnpy.npy")], "--latents"),
        ("--image_size 10 (the tiny model needs a multiple of 4)", swap(g, "--image_size", "10"), "--image_size"),
        ("--repeat_epoch 1001 without --prompt", without(g, "--prompt") + ["--repeat_epoch", "1001"],
         "--repeat_epoch"),
        ("--classes with 2 names, --repeat_epoch 3", without(g, "--prompt") +
         ["--repeat_epoch", "3", "--classes", os.path.join(hd, "two.txt")], "--classes"),
        ("--scheduler foo", g + ["--scheduler", "foo"], "--scheduler"),
        ("--bias foo", g + ["--bias", "foo"], "--bias"),
        ("--wandb", g + ["--wandb"], "--wandb"),
        ("an unknown flag", g + ["--frobnicate"], "--frobnicate"),
        ("--bs 0", swap(g, "--bs", "0"), "--bs"),
        ("--target nan", swap(g, "--target", "nan"), "--target"),
    ]
    # the good latents are accepted (so the refusals above are about the file, not --latents itself)
    dl = fresh("hostile-good")
    r = run(image_args(opt_steps=1, steps=1, extra=["--latents", os.path.join(hd, "good.npy")]), dl)
    check("--latents of shape (1, 2, 4, 4, 4) float32 is accepted (the control for the refusals below)",
          r.returncode == 0, tail(r))
    for label, args, word in cases:
        d = fresh("hostile")
        r = run(args, d)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        out = os.path.join(d, "OUT")
        left = [os.path.relpath(os.path.join(rt, f), d) for rt, ds, fs in os.walk(out) for f in ds + fs] \
            if os.path.exists(out) else []
        check(f"hostile input, {label}: exit 1 or 2, one line naming it, nothing left behind",
              r.returncode in (1, 2) and len(lines) == 1 and word in lines[0] and not left,
              f"exit {r.returncode}; {' | '.join(lines)[:220]}" + (f"; left behind {left[:4]}" if left else ""))

    # ------------------------------------------------------------ 6. the outputs as a user opens them
    for label, d, K, R, bs in (("the fault run (K 2, R 1, bs 2)", rd, 2, 1, 2),
                               ("the prompts run (K 2, R 3, bs 2)", rd4, 2, 3, 2)):
        if not d:
            check(f"outputs of {label}", False, "no run folder")
            continue
        shapes = {"rewards_mean_repeat.csv": (K, R), "rewards_std_in_repeats.csv": (K,), "rewards.csv": (K, R * bs),
                  "mean_rewards.csv": (K,), "std_rewards.csv": (K,)}
        probs = []
        for c, shp in shapes.items():
            try:
                v = np.loadtxt(os.path.join(d, c), delimiter=",")
                # numpy.savetxt writes a (K, 1) array one value per line: loadtxt reads (K,)
                if v.shape != shp and v.size != int(np.prod(shp)) or (v.ndim > len(shp)):
                    probs.append(f"{c} shape {v.shape} != {shp}")
                elif not np.all(np.isfinite(v)):
                    probs.append(f"{c} not finite")
            except Exception as e:  # noqa: BLE001
                probs.append(f"{c}: {e}")
        mr = np.loadtxt(os.path.join(d, "mean_rewards.csv"), delimiter=",")
        rw = np.loadtxt(os.path.join(d, "rewards.csv"), delimiter=",").reshape(K, R * bs)
        if not np.array_equal(mr.reshape(K), np.mean(rw, axis=1)):
            probs.append("mean_rewards.csv != numpy.mean(rewards.csv, axis=1)")
        check(f"outputs of {label}: the 5 CSVs load with numpy.loadtxt, shapes, mean_rewards = numpy's mean",
              not probs, "; ".join(probs) or ", ".join(f"{c} {s}" for c, s in shapes.items()))
        probs = []
        for s in ("reward_plot.svg", "reward_plot_errorbar.svg"):
            try:
                root = ET.parse(os.path.join(d, s)).getroot()
                if not root.tag.endswith("svg") or not any(e.tag.endswith("path") for e in root.iter()):
                    probs.append(f"{s}: root {root.tag}, no path")
            except ET.ParseError as e:
                probs.append(f"{s}: {e}")
        check(f"outputs of {label}: both SVGs parse (xml.etree) and hold a path", not probs, "; ".join(probs))
        probs, th, sizes = [], 8 // 4, {}
        want_png = {"pretrain.png": (th * bs, th)}
        want_png.update({f"step_{k}.png": (th * bs, th * R) for k in range(K)})
        gi = os.path.join(d, "generated_images")
        if sorted(os.listdir(gi)) != sorted(want_png):
            probs.append(f"generated_images holds {sorted(os.listdir(gi))}")
        for name, size in want_png.items():
            try:
                with Image.open(os.path.join(gi, name)) as im:
                    im.load()
                    sizes[name] = im.size
                    if im.size != size or im.mode != "RGB":
                        probs.append(f"{name}: {im.size} {im.mode}, want {size} RGB")
            except Exception as e:  # noqa: BLE001
                probs.append(f"{name}: {e}")
        check(f"outputs of {label}: generated_images/ PNGs open with PIL, sizes (W, H)", not probs,
              "; ".join(probs) or str(sizes))
        tbp = rounds_in_tb(d, K * R)
        files, vals = tb_events(d)
        if not tbp:
            m = [float(x[5 - 3]) for x in list(csv.reader(open(os.path.join(d, "metrics.csv"))))[1:]]
            tbv = [vals["reward_mean"][s] for s in range(K * R)]
            if not np.allclose(np.float32(m), np.float32(tbv), rtol=1e-6, atol=0):
                tbp = f"tb reward_mean {tbv} vs metrics.csv {m}"
        check(f"outputs of {label}: tb/ holds one events file with reward_mean for each of the {K * R} rounds "
              "(= metrics.csv's)", not tbp, tbp or files[0])
        cfg = json.load(open(os.path.join(d, "config.json")))
        check(f"outputs of {label}: config.json loads as JSON, status finished, rounds_done {K * R}",
              cfg.get("status") == "finished" and cfg.get("timings", {}).get("rounds_done") == K * R,
              f"status {cfg.get('status')}, rounds_done {cfg.get('timings', {}).get('rounds_done')}")

    dt = time.time() - t_all
    check(f"total runtime under {a.max_seconds:g} s", dt < a.max_seconds, f"{dt:.1f} s")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"image_runs: {len(FAILS)} failed" + (f": {FAILS}" if FAILS else ""))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
