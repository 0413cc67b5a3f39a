#!/usr/bin/env python3
"""Interoperability of ggdm's guidance and DDPM sampling with PyTorch.

  check_guidance.py GGDM_BINARY [--config small|paper] [--n N] [--sample-T T] [--seed S]
                    [--keep DIR] [--no-f64] [--verbose]

Drives the ggdm command-line tool on a network written by `ggdm init` and recomputes in float32
PyTorch what the original implementation computes (../shared/spec/original-implementation.md,
sections 1, 3 and 4; docs/diffusion.md), with the network of unet_torch.py and the schedule
tables of original_schedule.py (float64, then cast to float32):

  GGDM guide -w W -x X.npy -t T --g G.npy --y Y.npy --cond_score_version v1|v2
             [--beta B] [--beta_coef C] [--T 200] -o EPS.npy
  GGDM sample -w W -n N --T T --noise NOISE.npy [--cond_score_version v1|v2 --g G.npy --y Y.npy]
             -o OUT.npy

The PyTorch side (sigma = 0.1; a, n = sqrt_alphas_cumprod[t], sqrt_one_minus_alphas_cumprod[t],
float32 table values; h = n * n in float32):
  eps = net(x, t); s = -eps / n; x0hat = (x + h s) / a; v = <x0hat, g>
  v1 (G):      beta = a / (sigma^2 + h |g|^2);           G = s + beta * C * (y - v) * g
  v2 (G_loss): grad = d v / d x by autograd THROUGH THE NETWORK (not the closed form);
               beta = (a^2 / 2) / (a^2 sigma^2 + h |grad|^2); G = s - beta * C * 2 (v - y) * grad
  a constant --beta B replaces beta when B != 0 (the original's truthiness test); C = --beta_coef;
  eps' = -G * n.
  DDPM (section 3): x0 = sqrt_recip_alphas_cumprod[t] x - sqrt_recipm1_alphas_cumprod[t] eps';
  mean = posterior_mean_coef1[t] x0 + posterior_mean_coef2[t] x;
  x = mean + exp(0.5 posterior_log_variance_clipped[t]) z for t > 0, x = mean at t = 0.
  With --noise NOISE (T+1, N, D): NOISE[0] is x_T, NOISE[j] (j >= 1) the z of step t = T - j.

The checks (one line each, "ok   ..." or "FAIL ..."; error ||ggdm - torch|| / ||torch|| of the
whole output):
  guide       eps' of one step, v1 and v2, at t = 3, 100, 199 (formula beta), with a constant
              --beta, with --beta_coef != 1 (alone and with a constant beta): rel < 1e-5.
              Each line also gives the error of the guidance term alone, eps' - eps, and, unless
              --no-f64, the distance of ggdm and of torch float32 to torch float64 for scale.
  guide beta0 --beta 0 is the formula (the original's quirk): bit-identical to no --beta
  sample      full trajectories with injected noise, unguided, G (v1) and G_loss (v2), on a
              --sample-T schedule of its own (default 20 small, 50 paper: the paper network's
              T = 200 costs ~100 s of single-threaded PyTorch float32 for the three trajectories,
              twice that with the float64 reference, and ~4 min of ggdm): final samples rel < 1e-4
  sample last-noise  NOISE[T] is unused: replacing it changes no bit of the samples
Randomness: numpy default_rng(--seed) only; inputs are written with np.save as float32.
Finishes with "guidance-interop: N passed, M failed"; exit status 1 on any failure, 2 on usage
errors. --config small (dim 8, dim_mults 1,2, groups 2, length 8, N 2) runs in seconds; paper
(dim 64, dim_mults 1,2,4,8, groups 8, length 64, N 4 for guide, N 2 for the trajectories) in
a few minutes (mostly ggdm's own sampling and the float64 reference; --no-f64 saves about half
of the PyTorch time). Needs torch and numpy only (/usr/bin/python3 on Debian).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import unet_torch as U                                              # noqa: E402
from original_schedule import tables                                # noqa: E402
from check_unet import CONFIGS, Checker, load_npy, models_from      # noqa: E402

SIGMA = 0.1
T_GUIDE = 200                      # the schedule of the one-step checks (the original's default)
GUIDE_STEPS = (3, 100, 199)
DEFAULT_N = {"paper": 4, "small": 2}
DEFAULT_SAMPLE_N = {"paper": 2, "small": 2}
DEFAULT_SAMPLE_T = {"paper": 50, "small": 20}   # paper T = 200: ~100 s of torch float32 alone
CONST_BETA = 0.37                  # a constant --beta (non-zero, so it replaces the formula)
BETA_COEF = 2.5                    # a --beta_coef != 1
TOL_GUIDE = 1e-5
TOL_TRAJ = 1e-4


def rel(a, b):
    return U.rel_err(a, b)


# --------------------------------------------------------------------------------------------
# PyTorch: guided noise of one step and the DDPM trajectory
# --------------------------------------------------------------------------------------------

def _dtype(model):
    return model.init_conv.weight.dtype


def torch_guided_eps(model, sched, t, x, g, y, version, beta=0.0, beta_coef=1.0, no_jacobian=False):
    """(eps', eps) at step t for x (N, D) as torch tensors of the model's dtype; version None,
    'v1' or 'v2'. The schedule values are the float32 tables' (promoted for a float64 model).
    no_jacobian (v2 only, to measure what the check can see): the gradient without the network's
    term, grad = g / a, as if eps did not depend on x."""
    dt = _dtype(model)
    a = torch.tensor(float(sched["sqrt_alphas_cumprod"][t]), dtype=torch.float32).to(dt)
    n = torch.tensor(float(sched["sqrt_one_minus_alphas_cumprod"][t]), dtype=torch.float32).to(dt)
    h = n * n                                   # from the table, in the model's dtype
    tt = torch.tensor(t)
    if version == "v2":
        xr = x.detach().clone().requires_grad_(True)
        eps = model(xr, tt)
        s = -eps / n
        x0hat = (xr + h * s) / a
        v = (x0hat * g).sum(dim=1)
        # samples do not interact in the network (GroupNorm and attention are per sample), so
        # the gradient of the sum is every sample's d v_i / d x_i: one VJP per sample.
        (grad,) = torch.autograd.grad(v.sum(), xr)
        if no_jacobian:
            grad = g / a
        eps, s, v = eps.detach(), s.detach(), v.detach()
        b = beta if beta else (a * a / 2) / (a * a * SIGMA ** 2 + h * (grad * grad).sum(dim=1))
        G = s - (b * beta_coef * 2 * (v - y))[:, None] * grad
        return -G * n, eps
    with torch.no_grad():
        eps = model(x, tt)
        if version is None:
            return eps, eps
        s = -eps / n
        x0hat = (x + h * s) / a
        v = (x0hat * g).sum(dim=1)
        b = beta if beta else a / (SIGMA ** 2 + h * (g * g).sum(dim=1))
        G = s + (b * beta_coef * (y - v))[:, None] * g
        return -G * n, eps


def torch_sample(model, sched, T, noise, version=None, g=None, y=None, beta=0.0, beta_coef=1.0):
    """The DDPM ancestral trajectory of section 3 (guided eps' of section 4 when version is
    given) from injected noise (T+1, N, D); returns the final samples as numpy."""
    dt = _dtype(model)
    tab = {k: torch.from_numpy(v).to(dt) for k, v in sched.items()}
    nz = torch.from_numpy(noise).to(dt)
    gt = None if g is None else torch.from_numpy(g).to(dt)
    yt = None if y is None else torch.from_numpy(y).to(dt)
    x = nz[0]
    for t in range(T - 1, -1, -1):
        eps, _ = torch_guided_eps(model, sched, t, x, gt, yt, version, beta, beta_coef)
        with torch.no_grad():
            x0 = tab["sqrt_recip_alphas_cumprod"][t] * x - tab["sqrt_recipm1_alphas_cumprod"][t] * eps
            mean = tab["posterior_mean_coef1"][t] * x0 + tab["posterior_mean_coef2"][t] * x
            if t > 0:
                x = mean + (0.5 * tab["posterior_log_variance_clipped"][t]).exp() * nz[T - t]
            else:
                x = mean
    return x.detach().numpy()


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------

def run_checks(ck, cfg, cname, n, sample_n, sample_T, seed, f64):
    D = cfg["length"]
    torch_seconds = [0.0]
    rng = np.random.default_rng(seed)
    # guide inputs: x at the scale of x_t, unit-norm-ish g, targets near <x, g>
    x = rng.standard_normal((n, D)).astype(np.float32)
    g = (rng.standard_normal((n, D)) / np.sqrt(D)).astype(np.float32)
    y = (np.einsum("ij,ij->i", x.astype(np.float64), g) + rng.standard_normal(n)).astype(np.float32)
    # sampling inputs
    noise = rng.standard_normal((sample_T + 1, sample_n, D)).astype(np.float32)
    gs = (rng.standard_normal((sample_n, D)) / np.sqrt(D)).astype(np.float32)
    ys = (1.0 + 0.5 * rng.standard_normal(sample_n)).astype(np.float32)
    noise_last = noise.copy()
    noise_last[-1] = rng.standard_normal((sample_n, D)).astype(np.float32)
    for name, arr in (("x", x), ("g", g), ("y", y), ("noise", noise), ("gs", gs), ("ys", ys),
                      ("noise_last", noise_last)):
        np.save(ck.path(name + ".npy"), arr)

    def guarded(label, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report and go on with the other checks
            ck.report(False, "%s: %s" % (label, str(e).splitlines()[0] if str(e) else type(e).__name__))

    # ---- the network ------------------------------------------------------------------------
    w = ck.path("ggdm_init.safetensors")
    mults = ",".join(str(m) for m in cfg["dim_mults"])
    ck.run_ok(["init", "--dim", cfg["dim"], "--dim-mults", mults, "--length", D,
               "--groups", cfg["groups"], "--seed", seed, "-o", w], "init")
    tensors, _ = U.load_safetensors(w)
    m32, m64 = models_from(tensors, cfg)
    tag = "%s N=%d" % (cname, n)

    # ---- guide: one step ----------------------------------------------------------------------
    sched = tables(T_GUIDE, "cosine")
    cases = []
    for version in ("v1", "v2"):
        for t in GUIDE_STEPS:
            cases.append((version, t, 0.0, 1.0))
        cases.append((version, 100, CONST_BETA, 1.0))
        cases.append((version, 3, 0.0, BETA_COEF))
        cases.append((version, 199, CONST_BETA, BETA_COEF))

    def torch_guide(model, version, t, beta, bc, no_jacobian=False):
        dt = _dtype(model)
        t0 = time.time()
        e, e0 = torch_guided_eps(model, sched, t, torch.from_numpy(x).to(dt), torch.from_numpy(g).to(dt),
                                 torch.from_numpy(y).to(dt), version, beta, bc, no_jacobian)
        torch_seconds[0] += time.time() - t0
        return e.numpy(), e0.numpy()

    def guide_args(version, t, beta, bc, out):
        args = ["guide", "-w", w, "-x", ck.path("x.npy"), "-t", t, "--g", ck.path("g.npy"),
                "--y", ck.path("y.npy"), "--cond_score_version", version, "--T", T_GUIDE]
        if beta is not None:
            args += ["--beta", repr(beta)]
        if bc != 1.0:
            args += ["--beta_coef", repr(bc)]
        return args + ["-o", out]

    def guide_case(version, t, beta, bc):
        out = ck.path("guide_%s_%d_%g_%g.npy" % (version, t, beta, bc))
        ck.run_ok(guide_args(version, t, beta if beta else None, bc, out), "guide")
        got = load_npy(out, (n, D), "guide")
        e32, u32 = torch_guide(m32, version, t, beta, bc)
        r = rel(got, e32)
        share = np.linalg.norm(e32 - u32) / np.linalg.norm(e32)
        note = "|term|/|eps'| %.2f" % share            # the guidance term, eps' - eps
        if share >= 1e-3:
            note += ", term rel err %.1e" % rel(got - u32, e32 - u32)
        if version == "v2":                            # what the check would miss: J_eps^T g
            nj = torch_guide(m32, version, t, beta, bc, no_jacobian=True)[0]
            note += ", closed form without J^T g off by %.0e" % rel(nj, e32)
        if f64:
            e64, _ = torch_guide(m64, version, t, beta, bc)
            note += "; vs torch float64: ggdm %.1e, torch float32 %.1e" % (rel(got, e64), rel(e32, e64))
        what = "beta %s" % ("%g" % beta if beta else "formula") + (", beta_coef %g" % bc if bc != 1.0 else "")
        ck.report(r < TOL_GUIDE, "guide %s %s, t %d, %s: rel err %.1e (%s)" % (version, tag, t, what, r, note))

    for c in cases:
        guarded("guide %s %s, t %d" % (c[0], tag, c[1]), lambda c=c: guide_case(*c))

    def beta_zero(version):
        t = 100
        a0, a1 = ck.path("guide_%s_beta0.npy" % version), ck.path("guide_%s_nobeta.npy" % version)
        ck.run_ok(guide_args(version, t, 0.0, 1.0, a0), "guide --beta 0")
        ck.run_ok(guide_args(version, t, None, 1.0, a1), "guide")
        b0, b1 = np.load(a0), np.load(a1)
        same = b0.shape == b1.shape and np.array_equal(b0.view(np.uint32), b1.view(np.uint32))
        ck.report(same, "guide %s %s, t %d: --beta 0 means the formula (the original's quirk): %s"
                  % (version, tag, t, "bit-identical to no --beta" if same else
                     "differs, rel %.1e" % rel(b0, b1)))
    for version in ("v1", "v2"):
        guarded("guide %s %s --beta 0" % (version, tag), lambda v=version: beta_zero(v))

    # ---- sample: whole trajectories with injected noise -----------------------------------------
    ssched = tables(sample_T, "cosine")
    stag = "%s N=%d T=%d" % (cname, sample_n, sample_T)
    # `ggdm sample` takes D from --d_outer (default 64), not from the weights' metadata, and checks
    # --d_inner < --d_outer even for a network score: give both for lengths other than 64.
    shape_args = ["--d_outer", D] + (["--d_inner", max(1, D // 2)] if D <= 16 else [])
    results = {}

    def sample_case(version, noise_file="noise.npy", label=None):
        label = label or (version or "unguided")
        out = ck.path("sample_%s.npy" % label)
        args = ["sample", "-w", w, "-n", sample_n, "--T", sample_T, "--noise", ck.path(noise_file)] + shape_args
        if version:
            args += ["--cond_score_version", version, "--g", ck.path("gs.npy"), "--y", ck.path("ys.npy")]
        t0 = time.time()
        ck.run_ok(args + ["-o", out], "sample")
        t_ggdm = time.time() - t0
        got = load_npy(out, (sample_n, D), "sample")
        results[label] = got
        if noise_file != "noise.npy":
            return got
        t0 = time.time()
        s32 = torch_sample(m32, ssched, sample_T, noise, version, gs if version else None, ys if version else None)
        t_torch = time.time() - t0
        torch_seconds[0] += t_torch
        r = rel(got, s32)
        note = "ggdm %.1f s, torch %.1f s" % (t_ggdm, t_torch)
        if f64:
            t0 = time.time()
            s64 = torch_sample(m64, ssched, sample_T, noise, version, gs if version else None,
                               ys if version else None)
            torch_seconds[0] += time.time() - t0
            note += "; vs torch float64: ggdm %.1e, torch float32 %.1e" % (rel(got, s64), rel(s32, s64))
        if version:
            ref0 = results.get("ref_unguided")
            if ref0 is not None:
                note += "; |guided - unguided|/|unguided| %.2f" % (np.linalg.norm(s32 - ref0) / np.linalg.norm(ref0))
        else:
            results["ref_unguided"] = s32
        ck.report(r < TOL_TRAJ, "sample %s %s: final samples rel err %.1e (%s)"
                  % (label if version else "unguided", stag, r, note))
        return got

    for version in (None, "v1", "v2"):
        guarded("sample %s %s" % (version or "unguided", stag), lambda v=version: sample_case(v))

    def last_unused():
        if "unguided" not in results:
            raise RuntimeError("not run (the unguided sample failed)")
        got = sample_case(None, "noise_last.npy", "unguided_last_replaced")
        same = np.array_equal(got.view(np.uint32), results["unguided"].view(np.uint32))
        ck.report(same, "sample unguided %s: NOISE[T] is unused (replaced: %s)"
                  % (stag, "bit-identical samples" if same else "samples differ, rel %.1e"
                     % rel(got, results["unguided"])))
    guarded("sample last-noise %s" % stag, last_unused)
    return torch_seconds[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ggdm", metavar="GGDM_BINARY", help="the ggdm command (e.g. build/ggdm)")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="small",
                    help="small: dim 8, dim_mults 1,2, groups 2, length 8 (default); "
                         "paper: dim 64, dim_mults 1,2,4,8, groups 8, length 64")
    ap.add_argument("--n", type=int, help="samples for the one-step guide checks (default: 4 paper, 2 small)")
    ap.add_argument("--sample-n", type=int, help="samples of the trajectories (default 2)")
    ap.add_argument("--sample-T", type=int, help="diffusion steps of the trajectories "
                                                 "(default: 20 small, 50 paper)")
    ap.add_argument("--seed", type=int, default=2345, help="seed for ggdm init and the numpy inputs")
    ap.add_argument("--no-f64", action="store_true",
                    help="skip the float64 PyTorch reference (the 'for scale' numbers)")
    ap.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    ap.add_argument("--timeout", type=int, default=600, help="seconds allowed per ggdm command")
    ap.add_argument("--verbose", action="store_true", help="print the ggdm commands")
    a = ap.parse_args()

    cfg = CONFIGS[a.config]
    n = a.n if a.n is not None else DEFAULT_N[a.config]
    sample_n = a.sample_n if a.sample_n is not None else DEFAULT_SAMPLE_N[a.config]
    sample_T = a.sample_T if a.sample_T is not None else DEFAULT_SAMPLE_T[a.config]
    if n < 1 or sample_n < 1:
        ap.error("--n and --sample-n must be at least 1")
    if sample_T < 1:
        ap.error("--sample-T must be at least 1")
    ggdm = a.ggdm if os.sep in a.ggdm else (shutil.which(a.ggdm) or a.ggdm)
    if not (os.path.isfile(ggdm) and os.access(ggdm, os.X_OK)):
        print("check_guidance.py: %s is not an executable file" % a.ggdm, file=sys.stderr)
        return 2
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
        workdir = a.keep
    else:
        workdir = tempfile.mkdtemp(prefix="ggdm-guidance-")
    torch.set_grad_enabled(True)
    ck = Checker(os.path.abspath(ggdm), workdir, a.timeout, a.verbose)
    t_start = time.time()
    torch_s = 0.0
    try:
        torch_s = run_checks(ck, cfg, a.config, n, sample_n, sample_T, a.seed, not a.no_f64)
    except Exception as e:  # noqa: BLE001 - e.g. ggdm init failed: nothing else can run
        ck.report(False, "setup: %s" % (str(e).splitlines()[0] if str(e) else type(e).__name__))
    finally:
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.time() - t_start
    print("(%.1f s: ggdm %.1f s, PyTorch %.1f s, the rest %.1f s)"
          % (total, ck.ggdm_seconds, torch_s, total - ck.ggdm_seconds - torch_s))
    print("guidance-interop: %d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
