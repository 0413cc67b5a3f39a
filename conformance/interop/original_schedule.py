#!/usr/bin/env python3
"""The original's noise-schedule tables, computed the way its PyTorch code computes them.

Written from ../shared/spec/original-implementation.md (section 1): float64 torch tensors,
torch.linspace / torch.cos / torch.cumprod / torch.log / torch.sqrt, then each buffer cast
to float32 (register_buffer(..., val.to(torch.float32))).

  original_schedule.py --T 200 --schedule cosine -o tables.npz   # write the 12 buffers
  original_schedule.py --check ggdm.npz --T 200 --schedule cosine # compare bit for bit
"""
import argparse
import math
import sys

import numpy as np
import torch

NAMES = [
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
    "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
]


def cosine_beta_schedule(timesteps, s=0.008):
    steps = timesteps + 1
    x = torch.linspace(0, timesteps, steps, dtype=torch.float64)
    alphas_cumprod = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    betas = 1 - (alphas_cumprod[1:] / alphas_cumprod[:-1])
    return torch.clip(betas, 0, 0.999)


def linear_beta_schedule(timesteps):
    scale = 1000 / timesteps
    return torch.linspace(scale * 0.0001, scale * 0.02, timesteps, dtype=torch.float64)


def tables(T, kind):
    betas = cosine_beta_schedule(T) if kind == "cosine" else linear_beta_schedule(T)
    alphas = 1.0 - betas
    ac = torch.cumprod(alphas, dim=0)
    acp = torch.nn.functional.pad(ac[:-1], (1, 0), value=1.0)
    pv = betas * (1.0 - acp) / (1.0 - ac)
    out = {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": acp,
        "sqrt_alphas_cumprod": torch.sqrt(ac),
        "sqrt_one_minus_alphas_cumprod": torch.sqrt(1.0 - ac),
        "log_one_minus_alphas_cumprod": torch.log(1.0 - ac),
        "sqrt_recip_alphas_cumprod": torch.sqrt(1.0 / ac),
        "sqrt_recipm1_alphas_cumprod": torch.sqrt(1.0 / ac - 1),
        "posterior_variance": pv,
        "posterior_log_variance_clipped": torch.log(pv.clamp(min=1e-20)),
        "posterior_mean_coef1": betas * torch.sqrt(acp) / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - acp) * torch.sqrt(alphas) / (1.0 - ac),
    }
    return {k: out[k].to(torch.float32).numpy() for k in NAMES}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=int, default=200)
    ap.add_argument("--schedule", choices=["cosine", "linear"], default="cosine")
    ap.add_argument("-o", "--output", help="write the 12 float32 buffers to this .npz")
    ap.add_argument("--check", help="a ggdm .npz of the same tables to compare bit for bit")
    a = ap.parse_args()
    ref = tables(a.T, a.schedule)
    if a.output:
        np.savez(a.output, **ref)
    if a.check:
        got = np.load(a.check)
        bad = 0
        for k in NAMES:
            r, g = ref[k], got[k]
            if g.dtype != np.float32 or g.shape != r.shape:
                print(f"FAIL {k}: dtype/shape {g.dtype}{g.shape}, expected float32{r.shape}")
                bad += 1
                continue
            diff = np.nonzero(r.view(np.uint32) != g.view(np.uint32))[0]
            if diff.size:
                i = int(diff[0])
                ulps = np.abs(r.view(np.int32).astype(np.int64) - g.view(np.int32).astype(np.int64))
                print(f"FAIL {k}: {diff.size} elements differ, first t={i}: ggdm {g[i]!r} torch {r[i]!r}, "
                      f"max {int(ulps.max())} ulp")
                bad += 1
            else:
                print(f"ok   {k}: {r.size} values bit-identical to torch {torch.__version__}")
        print(f"schedule {a.schedule} T={a.T}: {len(NAMES) - bad} passed, {bad} failed")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
