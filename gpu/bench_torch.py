#!/usr/bin/env python3
"""PyTorch on the GPU, the same units of work as build/bench_gpu: the authors' Unet1D
(conformance/interop/unet_torch.py; paper configuration dim 64, mults 1,2,4,8, groups 8,
length 64), float32, batch N, t = 100, median of R runs after warm-up; every unit ends with
torch.cuda.synchronize() and includes the copy of its result to the host (as the library's
API returns its result to host memory).

  unguided-step  eps = net(x, t)                                  (torch.no_grad)
  gloss-step     eps = net(x, t) and the VJP g^T d eps / d x        (autograd)
  loss-grad      mean((net(xt, t) - z)^2) and every parameter gradient

--tf32 off (default): torch.backends.cudnn.allow_tf32 = matmul.allow_tf32 = False (full float32,
the comparison for ggdm's exact and fast modes); on: both True (PyTorch's default for
convolutions; the comparison for --mode fast --tf32). Prints "torch-fp32 unguided-step N=32: 0.00123 s".

  bench_torch.py [--n 32] [--reps 10] [--tf32 on|off]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance", "interop"))
import unet_torch  # noqa: E402


def timed(fn, reps):
    fn()
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - s)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--tf32", choices=("on", "off"), default="off")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench_torch: torch.cuda.is_available() is False", file=sys.stderr)
        return 3
    tf32 = a.tf32 == "on"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    label = "torch-tf32" if tf32 else "torch-fp32"
    dev = torch.device("cuda")
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

    print(f"bench_torch: torch {torch.__version__}, {torch.cuda.get_device_name(0)}, "
          f"{sum(p.numel() for p in net.parameters())} parameters, N = {n}, median of {a.reps}, tf32 {a.tf32}")
    print(f"{label} unguided-step N={n}: {timed(unguided, a.reps):.5f} s", flush=True)
    print(f"{label} gloss-step N={n}: {timed(gloss, a.reps):.5f} s", flush=True)
    print(f"{label} loss-grad N={n}: {timed(loss_grad, a.reps):.5f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
