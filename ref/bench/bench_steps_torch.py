#!/usr/bin/env python3
"""PyTorch's float32 CPU time for the same work as build/bench_steps, with the authors'
computation: the network of conformance/interop/unet_torch.py, the guided step and the
sampling loop of conformance/interop/check_guidance.py (torch_guided_eps, torch_sample), the
schedule of original_schedule.py, and the training loss of the spec (section 5) with
torch.optim.Adam. Given number of threads (torch.set_num_threads), median of R runs (every
unit after one untimed warm-up call, except the rounds):

  unguided-step  one unguided DDPM step of the paper's Unet1D (dim 64, mults 1,2,4,8, groups 8,
                 length 64, 4 heads x 32, T = 200) at batch N, t = 100
  gloss-step     the same with G_loss (v2): eps + the VJP through the network + guidance + update
  alg1-round     one round of Algorithm 1 (v2, quadratic reward theta_2, interval 0.2) on the
                 CPU-sized Unet1D (dim 16, mults 1,2,4,8, groups 8, length 64, 4 heads x 32 (fixed
                 in the authors' architecture), T = 50): rewards, gradients (float64 autograd,
                 as the original) and targets, then a full guided run (torch_sample)
  alg2-round     the same plus one fine-tuning step (Adam, lr 1e-6) on the current samples
  train-step     one pre-training step (loss + backward + Adam, lr 1e-4) of the paper's Unet1D

The per-step Gaussian noise of a sampling run is drawn before the clock starts (torch_sample
takes it injected); data are linear_latent samples (d = 16) drawn with numpy.

  bench_steps_torch.py [--n 32] [--reps 3] [--threads 1]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conformance", "interop"))
import unet_torch  # noqa: E402
from check_guidance import torch_guided_eps, torch_sample  # noqa: E402
from original_schedule import tables  # noqa: E402

DLAT = 16
INTERVAL = 0.2


def make_net(dim):
    torch.manual_seed(2345)
    return unet_torch.Unet1D(dim=dim, dim_mults=(1, 2, 4, 8), groups=8, length=64).float().eval()


def hyper(rng, D=64, d=DLAT, r_off=9.0):
    """linear_latent A (d, D) with orthonormal rows and theta_2 (original.md §6)."""
    q, r = np.linalg.qr(rng.standard_normal((D, D)))
    q = q * np.sign(np.diag(r))
    A = q[:, :d].T
    gv = rng.standard_normal(D)
    p = A.T @ (A @ gv)
    v = gv - p
    th = r_off * v / np.linalg.norm(v) + p / np.linalg.norm(p)
    return A, th / np.linalg.norm(th)


def data(rng, A, n):
    return (rng.standard_normal((n, A.shape[0])) @ A).astype(np.float32)


def targets(theta, z):
    """Step a.: the quadratic reward 10 - (theta^T x - 3)^2 in float64, its gradient by
    autograd, and y = interval + <g, z> (float32 g and y)."""
    x = torch.from_numpy(z).double().requires_grad_(True)
    f = 10.0 - (x @ theta - 3.0) ** 2
    (g,) = torch.autograd.grad(f.sum(), x)
    y = INTERVAL + (g * x.detach()).sum(dim=1)
    return g.float().numpy(), y.float().numpy()


def train_step(net, opt, sched, T, x0):
    """The authors' loss (original.md §5) + backward + one Adam step."""
    n = x0.shape[0]
    t = torch.randint(0, T, (n,))
    z = torch.randn_like(x0)
    xt = sched["sqrt_alphas_cumprod"][t][:, None] * x0 + sched["sqrt_one_minus_alphas_cumprod"][t][:, None] * z
    loss = torch.nn.functional.mse_loss(net(xt, t), z)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def adam(net, lr):
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0, amsgrad=False,
                            foreach=False)


def bench_step(net, sched, tab, T, n, version, reps, theta):
    """One (guided) eps at t = T/2 and the DDPM update (torch_sample's own lines)."""
    t = T // 2
    x = torch.randn(n, 64)
    z = torch.randn(n, 64)
    g, y = targets(theta, x.numpy())
    g, y = torch.from_numpy(g), torch.from_numpy(y)
    times = []
    for r in range(reps + 1):
        s = time.perf_counter()
        eps, _ = torch_guided_eps(net, sched, t, x, g, y, version)
        with torch.no_grad():
            x0 = tab["sqrt_recip_alphas_cumprod"][t] * x - tab["sqrt_recipm1_alphas_cumprod"][t] * eps
            mean = tab["posterior_mean_coef1"][t] * x0 + tab["posterior_mean_coef2"][t] * x
            xo = mean + (0.5 * tab["posterior_log_variance_clipped"][t]).exp() * z
        if r:
            times.append(time.perf_counter() - s)
    assert torch.isfinite(xo).all()
    return statistics.median(times)


def bench_round(dim, T, n, finetune, reps, rng, A, theta):
    net = make_net(dim)
    sched = tables(T, "cosine")
    tab = {k: torch.from_numpy(v) for k, v in sched.items()}
    z0 = data(rng, A, n)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    times = []
    for _ in range(reps):
        net.load_state_dict(state)               # every run the same work
        opt = adam(net, 1e-6)                     # created once, before the loop, in the original
        noise = rng.standard_normal((T + 1, n, 64)).astype(np.float32)
        z = z0.copy()
        s = time.perf_counter()
        g, y = targets(theta, z)                                  # a.
        if finetune:                                              # b. (Algorithm 2)
            net.train()
            train_step(net, opt, tab, T, torch.from_numpy(z))
            net.eval()
        z = torch_sample(net, sched, T, noise, "v2", g, y)        # c.
        times.append(time.perf_counter() - s)
    assert np.isfinite(z).all()
    return statistics.median(times)


def bench_train(n, reps, rng, A):
    net = make_net(64).train()
    T = 200
    tab = {k: torch.from_numpy(v) for k, v in tables(T, "cosine").items()}
    opt = adam(net, 1e-4)
    times = []
    for r in range(reps + 1):
        x0 = torch.from_numpy(data(rng, A, n))   # the next batch (not timed)
        s = time.perf_counter()
        train_step(net, opt, tab, T, x0)
        if r:
            times.append(time.perf_counter() - s)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    A, th2 = hyper(rng)
    theta = torch.from_numpy(th2)
    n, th = a.n, a.threads
    T = 200
    sched = tables(T, "cosine")
    tab = {k: torch.from_numpy(v) for k, v in sched.items()}
    net = make_net(64)
    print(f"torch unguided-step N={n} threads={th}: {bench_step(net, sched, tab, T, n, None, a.reps, theta):.3f} s",
          flush=True)
    print(f"torch gloss-step N={n} threads={th}: {bench_step(net, sched, tab, T, n, 'v2', a.reps, theta):.3f} s",
          flush=True)
    print(f"torch alg1-round N={n} threads={th}: {bench_round(16, 50, n, False, a.reps, rng, A, theta):.3f} s",
          flush=True)
    print(f"torch alg2-round N={n} threads={th}: {bench_round(16, 50, n, True, a.reps, rng, A, theta):.3f} s",
          flush=True)
    t = bench_train(n, a.reps, rng, A)
    print(f"torch train-step N={n} threads={th}: {t:.3f} s ({n / t:.1f} samples/s)")
    small = sum(p.numel() for p in make_net(16).parameters())
    print(f"(torch {torch.__version__}: paper Unet1D {sum(p.numel() for p in net.parameters())} parameters, "
          f"CPU-sized dim 16: {small} parameters, heads 4 x dim_head 32, T = 50; "
          f"{torch.get_num_threads()} thread(s), median of {a.reps})")


if __name__ == "__main__":
    main()
