#!/usr/bin/env python3
"""ggdm's ATTN core (ggdm_attn_forward_ex / ggdm_attn_backward_ex) against PyTorch.

PyTorch: softmax(q^T k * dh^-0.5 [+ causal mask -inf above the diagonal]) v per head, in
float32 and in float64, its autograd for the VJP (d q, d k, d v for a random d out). ggdm: the
library's C sources built here as a shared object (the Makefile's flags: C99, -ffp-contract=off,
no fast-math) and called through ctypes, kinds keep and recompute (which must agree bit for bit).

Reports, per shape, the whole-output relative error ||ggdm - ref||_2 / ||ref||_2 of out, dq, dk,
dv against torch float64, next to torch float32's own error against float64 (the scale of float32
rounding for that shape). Exit status 1 when ggdm's error exceeds max(4 x torch float32's, 1e-6),
or keep and recompute differ.

Usage: /usr/bin/python3 ci/interop/attn_vs_torch.py   (torch 1.13 CPU and numpy; a C compiler)
"""
import ctypes
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def build_lib(tmp):
    srcs = sorted(glob.glob(os.path.join(ROOT, "ref/src/*.c"))) + sorted(glob.glob(os.path.join(ROOT, "ref/src/ops/*.c")))
    so = os.path.join(tmp, "libggdm_attn.so")
    arch = subprocess.run(["sh", os.path.join(ROOT, "ci/arch-flags.sh"), "cc"], capture_output=True, text=True).stdout.split()
    cmd = ["cc", "-std=c99", "-O2", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared", *arch,
           "-I" + os.path.join(ROOT, "ref/include"), *srcs, "-o", so, "-lxxhash", "-lm"]
    subprocess.run(cmd, check=True)
    return ctypes.CDLL(so)


def fp(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float)) if a is not None else None


def ggdm_attn(lib, q, k, v, go, causal, kind):
    """q [N, H*dh, Lq], k, v [N, H*dh, Lk] float32 contiguous; returns out, dq, dk, dv."""
    N, HD, Lq = q.shape
    Lk = k.shape[2]
    H = ggdm_attn.H
    dh = HD // H
    sq, sk = HD * Lq, HD * Lk
    out = np.zeros((N, HD, Lq), np.float32)
    cache = np.zeros(N * H * Lq * (Lk if kind == 0 else 2), np.float32)
    ns = lib.ggdm_attn_ex_scratch_floats(N, H, dh, Lq, Lk, 1)
    scr = np.zeros(ns, np.float32)
    dq, dk, dv = (np.zeros_like(q), np.zeros_like(k), np.zeros_like(v))
    L = ctypes.c_long
    lib.ggdm_attn_forward_ex(fp(out), fp(cache), fp(q), fp(k), fp(v), L(sq), L(sk), L(sk), N, H, dh, Lq, Lk, causal,
                             kind, fp(scr), None)
    lib.ggdm_attn_backward_ex(fp(dq), fp(dk), fp(dv), fp(go), fp(q), fp(k), fp(v), L(sq), L(sk), L(sk), fp(cache), N, H,
                              dh, Lq, Lk, causal, kind, fp(scr), None)
    return out, dq, dk, dv


def torch_attn(q, k, v, go, H, causal, dtype):
    N, HD, Lq = q.shape
    Lk = k.shape[2]
    dh = HD // H
    tq, tk, tv = (torch.tensor(x, dtype=dtype, requires_grad=True) for x in (q, k, v))
    Q = tq.reshape(N, H, dh, Lq).transpose(2, 3)  # [N, H, Lq, dh]
    K = tk.reshape(N, H, dh, Lk)                  # [N, H, dh, Lk]
    V = tv.reshape(N, H, dh, Lk).transpose(2, 3)  # [N, H, Lk, dh]
    sim = (Q * dh ** -0.5) @ K
    if causal:
        mask = torch.triu(torch.ones(Lq, Lk, dtype=torch.bool), 1)
        sim = sim.masked_fill(mask, float("-inf"))
    out = (sim.softmax(-1) @ V).transpose(2, 3).reshape(N, HD, Lq)
    out.backward(torch.tensor(go, dtype=dtype))
    return [x.detach().numpy().astype(np.float64) for x in (out, tq.grad, tk.grad, tv.grad)]


def rel(a, b):
    a = np.asarray(a, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def main():
    shapes = [  # N, H, dh, Lq, Lk, causal
        (2, 3, 5, 7, 7, 1),
        (1, 12, 64, 77, 77, 1),   # CLIP's text encoder: 12 heads of 64, 77 tokens, causal
        (1, 8, 40, 256, 77, 0),   # SD's cross-attention to the 77 text tokens (dh 40)
        (1, 8, 40, 256, 256, 0),  # SD's self-attention (a 16 x 16 latent)
        (1, 8, 160, 64, 64, 0),   # dh 160
        (1, 1, 512, 64, 64, 0),   # the VAE's mid-block attention (1 head of 512)
        (2, 2, 17, 37, 70, 0),
        (1, 2, 8, 130, 130, 1),
    ]
    rng = np.random.default_rng(14)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_lib(tmp)
        lib.ggdm_attn_ex_scratch_floats.restype = ctypes.c_size_t
        print("%-26s %-5s %10s %10s %10s %10s   %s" % ("N H dh Lq Lk causal", "", "out", "dq", "dk", "dv", "(rel. L2 error vs torch float64)"))
        for N, H, dh, Lq, Lk, causal in shapes:
            HD = H * dh
            q = rng.standard_normal((N, HD, Lq)).astype(np.float32) * 1.5
            k = rng.standard_normal((N, HD, Lk)).astype(np.float32) * 1.5
            v = rng.standard_normal((N, HD, Lk)).astype(np.float32)
            go = rng.standard_normal((N, HD, Lq)).astype(np.float32)
            ggdm_attn.H = H
            keep = ggdm_attn(lib, q, k, v, go, causal, 0)
            rec = ggdm_attn(lib, q, k, v, go, causal, 1)
            same = all(np.array_equal(a.view(np.uint32), b.view(np.uint32)) for a, b in zip(keep, rec))
            ref = torch_attn(q, k, v, go, H, causal, torch.float64)
            t32 = torch_attn(q, k, v, go, H, causal, torch.float32)
            eg = [rel(a, r) for a, r in zip(keep, ref)]
            et = [rel(a, r) for a, r in zip(t32, ref)]
            name = "%d %d %d %d %d %d" % (N, H, dh, Lq, Lk, causal)
            print("%-26s %-5s %10.3g %10.3g %10.3g %10.3g" % (name, "ggdm", *eg))
            print("%-26s %-5s %10.3g %10.3g %10.3g %10.3g   keep == recompute: %s" % ("", "torch", *et, same))
            if not same or any(e > max(4 * t, 1e-6) for e, t in zip(eg, et)):
                bad += 1
                print("  ^ FAIL")
    print("attn_vs_torch: %s" % ("OK" if not bad else "%d shape(s) failed" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
