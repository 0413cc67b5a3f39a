#!/usr/bin/env python3
"""ggdm's Stable Diffusion schedulers (ggdm/sd_sched.h, `ggdm sd-sched`) against diffusers
0.25.1's PNDMScheduler (skip_prk_steps) and DDIMScheduler (eta 0) with SD v1.5's
scheduler_config, on the same random latents (4 x 64 x 64) and the same random model output
per network call (.npy files fed to `ggdm sd-sched`).

Checks (exit 1 when one fails):
  * the UNet's timesteps: equal to diffusers' `timesteps`;
  * alphas_cumprod: ggdm's table is, bit for bit, torch.cumprod(1.0 - linspace**2) of the
    linspace ggdm defines (torch's scalar CPU formula, evaluated here in numpy float32):
    torch's squaring, `1 - betas` and its double-accumulator cumprod are ggdm's;
  * against diffusers' own table (torch.linspace's vectorised path): reported in ulps
    (at most --max-ulp);
  * the latents after every call with diffusers running on ggdm's table: bit for bit (the
    step arithmetic is torch's, operation for operation);
  * the latents with diffusers' own table: max |ggdm - diffusers| / max |diffusers| per
    call at most --tol.
torch.linspace's distance from ggdm's formula is also measured with ATEN_CPU_CAPABILITY=default
(its kernels without FMA), in a subprocess, and reported.

Usage: .venv-interop/bin/python ci/interop/sd_sched_vs_diffusers.py [--ggdm build/ggdm]
       [--max-ulp 4] [--tol 1e-5]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

T = 1000
CASES = [("pndm", 50), ("pndm", 10), ("ddim", 50), ("ddim", 10), ("pndm", 1), ("pndm", 2)]
SHAPE = (4, 64, 64)

LINSPACE_PROBE = r"""
import sys, numpy as np, torch
t = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32).numpy()
np.save(sys.argv[1], t)
"""


def ggdm_linspace():
    """torch's scalar CPU linspace in float32 (ggdm's definition; docs/sd.md, "Schedulers")."""
    f = np.float32
    start, end = f(0.00085 ** 0.5), f(0.012 ** 0.5)
    step = f((end - start) / f(T - 1))
    out = np.empty(T, np.float32)
    for i in range(T):
        out[i] = f(start + f(step * f(i))) if i < T // 2 else f(end - f(step * f(T - 1 - i)))
    return out


def torch_vec_linspace(fused):
    """What torch 1.13's CPU kernel computes (an explanation, reported, not ggdm's definition):
    cpu_serial_kernel_vec in blocks of 2 x 8 lanes (Vectorized<float>::arange(base, step):
    base + k * step), each base by the scalar formula, FMA-contracted in the AVX2 build
    (fused); the tail (i >= 992) by the scalar formula."""
    from fractions import Fraction

    f = np.float32
    start, end = f(0.00085 ** 0.5), f(0.012 ** 0.5)
    step = f((end - start) / f(T - 1))

    def fma(a, b, c):
        return f(float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))))

    def scalar(i):
        if i < T // 2:
            return fma(step, f(i), start) if fused else f(start + f(step * f(i)))
        return fma(-step, f(T - 1 - i), end) if fused else f(end - f(step * f(T - 1 - i)))

    out = np.empty(T, np.float32)
    i = 0
    while i <= T - 16:
        for _ in range(2):
            base = scalar(i)
            for k in range(8):
                out[i + k] = f(base + f(f(k) * step))
            i += 8
    for j in range(i, T):
        out[j] = scalar(j)
    return out


def ulps(a, b):
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


def make_sched(kind, steps):
    from diffusers import DDIMScheduler, PNDMScheduler

    cfg = dict(num_train_timesteps=T, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
               set_alpha_to_one=False, steps_offset=1)
    if kind == "pndm":
        s = PNDMScheduler(skip_prk_steps=True, **cfg)
    else:
        s = DDIMScheduler(clip_sample=False, **cfg)
    assert s.config.timestep_spacing == "leading" and s.config.prediction_type == "epsilon"
    s.set_timesteps(steps)
    return s


def run_diffusers(kind, steps, z, eps, table):
    import torch

    s = make_sched(kind, steps)
    if table is not None:
        s.alphas_cumprod = torch.from_numpy(table.copy())
        s.final_alpha_cumprod = s.alphas_cumprod[0]
    x = torch.from_numpy(z.copy())
    out = []
    for i, t in enumerate(s.timesteps):
        kw = {"eta": 0.0} if kind == "ddim" else {}
        x = s.step(torch.from_numpy(eps[i].copy()), t, x, **kw).prev_sample
        out.append(x.numpy().reshape(-1).copy())
    return np.stack(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ggdm", default="build/ggdm")
    ap.add_argument("--max-ulp", type=int, default=4)
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    import torch

    ok = True
    lin = ggdm_linspace()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
        probe = os.path.join(tmp, "lin_default.npy")
        r = subprocess.run([sys.executable, "-c", LINSPACE_PROBE, probe], env=env)
        lin_native = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, T, dtype=torch.float32).numpy()
        for name, got in (("native", lin_native), ("default", np.load(probe) if r.returncode == 0 else None)):
            if got is None:
                print(f"  linspace ({name} capability): probe failed")
                ok = False
                continue
            d = ulps(got, lin)
            model = torch_vec_linspace(fused=name == "native")
            explained = np.array_equal(got.view(np.int32), model.view(np.int32))
            print(f"  torch {torch.__version__} linspace ({name} capability) vs ggdm's scalar formula: "
                  f"{np.count_nonzero(d)} of {T} differ, max {d.max()} ulp (torch's 8-lane kernel"
                  f"{' with FMA bases' if name == 'native' else ''} {'explains' if explained else 'does NOT explain'}"
                  f" every bit)")
        ac_model = torch.cumprod(1.0 - torch.from_numpy(lin) ** 2, dim=0).numpy()
        rng = np.random.default_rng(20261205)
        z = rng.standard_normal(SHAPE).astype(np.float32)
        np.save(os.path.join(tmp, "z.npy"), z)
        table_done = False
        for kind, steps in CASES:
            s = make_sched(kind, steps)
            calls = len(s.timesteps)
            eps = rng.standard_normal((calls,) + SHAPE).astype(np.float32)
            ep, op = os.path.join(tmp, "eps.npy"), os.path.join(tmp, "out.npy")
            tp, ap_ = os.path.join(tmp, "ts.npy"), os.path.join(tmp, "ac.npy")
            np.save(ep, eps)
            r = subprocess.run([args.ggdm, "sd-sched", "--kind", kind, "--steps", str(steps), "--z",
                                os.path.join(tmp, "z.npy"), "--eps", ep, "--out", op, "--table", ap_,
                                "--timesteps", tp])
            if r.returncode != 0:
                print(f"  FAIL {kind} {steps}: ggdm sd-sched exit {r.returncode}")
                ok = False
                continue
            out, ts, ac = np.load(op), np.load(tp), np.load(ap_)
            if not table_done:
                table_done = True
                same = np.array_equal(ac.view(np.int32), ac_model.view(np.int32))
                ok &= same
                print(f"  alphas_cumprod vs torch.cumprod(1 - linspace**2) of ggdm's linspace: "
                      f"{'bit-exact' if same else 'DIFFERENT'}")
                d = ulps(ac, s.alphas_cumprod.numpy())
                rel = np.max(np.abs(ac.astype(np.float64) - s.alphas_cumprod.numpy()) / s.alphas_cumprod.numpy())
                first = int(np.nonzero(d)[0][0]) if d.any() else -1
                print(f"  alphas_cumprod vs diffusers' table: {np.count_nonzero(d)} of {T} differ (first at "
                      f"t = {first}), max {d.max()} ulp, max rel {rel:.2e}")
                ok &= bool(d.max() <= args.max_ulp)
            if not np.array_equal(ts, s.timesteps.numpy()):
                print(f"  FAIL {kind} {steps}: timesteps {ts[:5]}... vs diffusers {s.timesteps.numpy()[:5]}...")
                ok = False
            exact = run_diffusers(kind, steps, z, eps, ac)
            same = np.array_equal(out.view(np.int32), exact.view(np.int32))
            ref = run_diffusers(kind, steps, z, eps, None)
            err = np.max(np.abs(out - ref), axis=1) / np.max(np.abs(ref), axis=1)
            good = same and bool(err.max() <= args.tol)
            ok &= good
            print(f"  {'ok' if good else 'FAIL'} {kind} {steps} steps ({calls} calls): latents with ggdm's table "
                  f"{'bit-exact' if same else 'DIFFERENT'}; with diffusers' table max err/max|ref| "
                  f"{err.max():.2e} (last call {err[-1]:.2e})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
