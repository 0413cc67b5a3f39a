#!/usr/bin/env python3
"""PyTorch on the GPU, the same units of work as build/bench_gpu: the authors' Unet1D
(conformance/interop/unet_torch.py; paper configuration dim 64, mults 1,2,4,8, groups 8,
length 64), float32, batch N, t = 100, median of R runs after warm-up; every unit ends with
torch.cuda.synchronize() and includes the copy of its result to the host (as the library's
API returns its result to host memory).

  unguided-step  eps = net(x, t)                                  (torch.no_grad)
  gloss-step     eps = net(x, t) and the VJP g^T d eps / d x        (autograd)
  loss-grad      mean((net(xt, t) - z)^2) and every parameter gradient
  round-G_loss   the sampling of one optimisation round as the authors' code runs it: T = 200
                 DDPM steps, each with G_loss guidance (section 4 of the specification: eps
                 with autograd, the VJP of <x0hat, g>, beta_t, the guided eps', the update with
                 fresh noise), x_T ~ N(0, I), on the GPU throughout; median of --round-reps
                 (default 3) after one warm-up round

--tf32 off (default): torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = False (full float32,
the comparison for ggdm's exact and fast modes); on: both True (the comparison for
--mode fast --tf32); default: PyTorch's own defaults (TF32 in cuDNN's convolutions, not in
matrix products), as the authors' code ran. Prints "torch-fp32 unguided-step N=32: 0.00123 s".

  bench_torch.py [--n 32] [--reps 10] [--tf32 on|off|default] [--no-rounds] [--round-reps 3]
"""
import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance", "interop"))
import original_schedule  # noqa: E402
import unet_torch  # noqa: E402


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, reps, warm=2):
    for _ in range(warm):
        fn()
    sync()
    times = []
    for _ in range(reps):
        s = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - s)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--tf32", choices=("on", "off", "default"), default="off")
    ap.add_argument("--device", default="cuda", help="cuda (default), or cpu to try the script out")
    ap.add_argument("--no-rounds", dest="rounds", action="store_false", help="skip round-G_loss")
    ap.add_argument("--round-reps", type=int, default=3, help="timed rounds (after one warm-up round)")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("bench_torch: torch.cuda.is_available() is False", file=sys.stderr)
        return 3
    if a.tf32 != "default":
        tf32 = a.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
    label = {"on": "torch-tf32", "off": "torch-fp32", "default": "torch-default"}[a.tf32]
    dev = torch.device(a.device)
    torch.manual_seed(2345)
    net = unet_torch.Unet1D(dim=64, dim_mults=(1, 2, 4, 8), groups=8, length=64).float().to(dev).eval()
    rng = np.random.default_rng(1)
    n = a.n
    x = torch.from_numpy(rng.standard_normal((n, 64)).astype(np.float32)).to(dev)
    g = torch.from_numpy(rng.standard_normal((n, 64)).astype(np.float32)).to(dev)
    z = torch.from_numpy(rng.standard_normal((n, 64)).astype(np.float32)).to(dev)
    t = torch.full((n,), 100, dtype=torch.int64, device=dev)

    def unguided():
        with torch.no_grad():
            return net(x, t).cpu()

    def gloss():
        xr = x.detach().clone().requires_grad_(True)
        eps = net(xr, t)
        (vjp,) = torch.autograd.grad(eps, xr, g)
        return eps.detach().cpu(), vjp.cpu()

    def loss_grad():
        net.zero_grad(set_to_none=False)
        loss = ((net(x, t) - z) ** 2).mean()
        loss.backward()
        return loss.item()

    T = 200
    sigma = 0.1
    tab = original_schedule.tables(T, "cosine")
    sched = {k: [float(v) for v in tab[k]] for k in tab}
    y = torch.ones(n, device=dev)
    tts = [torch.full((n,), tt, dtype=torch.int64, device=dev) for tt in range(T)]

    def gloss_round():
        xs = torch.randn(n, 64, device=dev)
        for tt in range(T - 1, -1, -1):
            a = sched["sqrt_alphas_cumprod"][tt]
            nt = sched["sqrt_one_minus_alphas_cumprod"][tt]
            h = nt * nt
            xr = xs.detach().requires_grad_(True)
            eps = net(xr, tts[tt])
            sc = -eps / nt
            x0hat = (xr + h * sc) / a
            v = (x0hat * g).sum(dim=1)
            (grad,) = torch.autograd.grad(v.sum(), xr)
            sc, v = sc.detach(), v.detach()
            b = (a * a / 2) / (a * a * sigma ** 2 + h * (grad * grad).sum(dim=1))
            G = sc - (b * 2 * (v - y))[:, None] * grad
            e2 = -G * nt
            with torch.no_grad():
                x0 = sched["sqrt_recip_alphas_cumprod"][tt] * xs - sched["sqrt_recipm1_alphas_cumprod"][tt] * e2
                mean = sched["posterior_mean_coef1"][tt] * x0 + sched["posterior_mean_coef2"][tt] * xs
                if tt > 0:
                    xs = mean + math.exp(0.5 * sched["posterior_log_variance_clipped"][tt]) * torch.randn_like(xs)
                else:
                    xs = mean
        return xs.cpu()

    print(f"bench_torch: torch {torch.__version__}, {torch.cuda.get_device_name(0) if a.device == 'cuda' else 'CPU'}, "
          f"{sum(p.numel() for p in net.parameters())} parameters, N = {n}, median of {a.reps}, tf32 {a.tf32}")
    print(f"{label} unguided-step N={n}: {timed(unguided, a.reps):.5f} s", flush=True)
    print(f"{label} gloss-step N={n}: {timed(gloss, a.reps):.5f} s", flush=True)
    print(f"{label} loss-grad N={n}: {timed(loss_grad, a.reps):.5f} s", flush=True)
    if a.rounds:
        print(f"{label} round-G_loss N={n} T={T}: {timed(gloss_round, a.round_reps, warm=1):.3f} s "
              f"(median of {a.round_reps} after 1 warm-up)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
