#!/usr/bin/env python3
"""PyTorch's float32 CPU time for the same work as build/bench_unet: one forward and one
forward + input VJP, and
one forward + input VJP + parameter gradients of the paper's Unet1D (the authors' architecture, conformance/interop/
unet_torch.py) at batch N, with the given number of threads, median of R runs.

  bench_unet_torch.py [--n 32] [--reps 3] [--threads 1]
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conformance", "interop"))
import unet_torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = unet_torch.Unet1D(dim=64, dim_mults=(1, 2, 4, 8), groups=8, length=64).float().eval()
    x = torch.randn(a.n, 64)
    v = torch.randn(a.n, 64)
    t = torch.tensor([(i * 37) % 200 for i in range(a.n)], dtype=torch.int64)
    fw, bw, pw = [], [], []
    params = list(net.parameters())
    for _ in range(a.reps):
        s = time.perf_counter()
        with torch.no_grad():
            net(x, t)
        fw.append(time.perf_counter() - s)
        s = time.perf_counter()
        xr = x.clone().requires_grad_(True)
        e = net(xr, t)
        (g,) = torch.autograd.grad(e, xr, grad_outputs=v)
        bw.append(time.perf_counter() - s)
        s = time.perf_counter()
        xr = x.clone().requires_grad_(True)
        e = net(xr, t)
        grads = torch.autograd.grad(e, [xr] + params, grad_outputs=v)
        pw.append(time.perf_counter() - s)
    print(f"torch forward N={a.n}: {statistics.median(fw):.3f} s")
    print(f"torch forward+vjp N={a.n}: {statistics.median(bw):.3f} s")
    print(f"torch forward+vjp+dparams N={a.n}: {statistics.median(pw):.3f} s")
    print(f"(torch {torch.__version__}, {a.threads} thread(s), median of {a.reps})")


if __name__ == "__main__":
    main()
