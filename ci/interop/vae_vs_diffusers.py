#!/usr/bin/env python3
"""ggdm's VAE decoder against diffusers' AutoencoderKL (docs/vae.md).

Builds diffusers' AutoencoderKL with a configuration and random weights (torch.manual_seed;
GroupNorm weights and biases randomised too, so that a swapped or missing affine shows), saves
the WHOLE model's state dict as safetensors (the encoder's tensors included: ggdm's loader must
skip them) and its config.json, runs

    ggdm vae-decode --config config.json --weights W.safetensors --z Z.npy -o X.npy \
                    --vjp G.npy --o-grad DZ.npy

and compares with diffusers on the same z:
    forward  x0 = vae.decode(z / scaling_factor).sample          rel. error < 1e-5
    VJP      dz = d <g, x0> / dz (torch.autograd), g random      rel. error < 1e-4
(rel. error = ||a - b|| / ||b|| over the whole array). The float64 run of the same model is
reported too (how far each float32 implementation is from the exact value).

Run with the interop venv (diffusers 0.25.1, torch CPU):
    HF_HUB_OFFLINE=1 /work/venv-interop/bin/python ci/interop/vae_vs_diffusers.py --ggdm build/ggdm
    ... --case sd15 --latent 16        (the full SD v1.5 configuration at a 16 x 16 latent, by hand)
Exit status 0 when every case passes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

CASES = {
    # name: (AutoencoderKL kwargs, latent size, batch)
    "tiny": (dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8), 8, 2),
    "mid": (dict(block_out_channels=(32, 64, 64), layers_per_block=2, norm_num_groups=16), 12, 1),
    "sd15": (dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32), 16, 1),
}


def build(kw, seed):
    from diffusers import AutoencoderKL

    n = len(kw["block_out_channels"])
    torch.manual_seed(seed)
    m = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                      down_block_types=("DownEncoderBlock2D",) * n, up_block_types=("UpDecoderBlock2D",) * n,
                      sample_size=8 * 2 ** (n - 1), **kw)
    with torch.no_grad():
        for name, mod in m.named_modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.weight.copy_(1 + 0.2 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.2 * torch.randn_like(mod.bias))
    return m.eval()


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def run_case(name, ggdm, latent, batch, seed, extra, tmp):
    from safetensors.torch import save_file

    kw = CASES[name][0]
    m = build(kw, seed)
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    m.save_config(d)  # config.json, as diffusers writes it
    wpath = os.path.join(d, "vae.safetensors")
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, wpath)
    sf = m.config.scaling_factor
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, 4, latent, latent)).astype(np.float32)
    oh = latent * 2 ** (len(kw["block_out_channels"]) - 1)
    g = rng.standard_normal((batch, 3, oh, oh)).astype(np.float32)
    zp, gp, xp, dzp = (os.path.join(d, f) for f in ("z.npy", "g.npy", "x.npy", "dz.npy"))
    np.save(zp, z)
    np.save(gp, g)

    # diffusers, float32 (the reference the thresholds are for) and float64
    t0 = time.time()
    zt = torch.from_numpy(z).requires_grad_(True)
    x_ref = m.decode(zt / sf).sample
    (x_ref * torch.from_numpy(g)).sum().backward()
    t_torch = time.time() - t0
    x_ref = x_ref.detach().numpy()
    dz_ref = zt.grad.numpy()
    m64 = m.double()
    z64 = torch.from_numpy(z).double().requires_grad_(True)
    x64 = m64.decode(z64 / sf).sample
    (x64 * torch.from_numpy(g).double()).sum().backward()
    x64 = x64.detach().numpy()
    dz64 = z64.grad.numpy()

    cmd = [ggdm, "vae-decode", "--config", os.path.join(d, "config.json"), "--weights", wpath, "--z", zp,
           "-o", xp, "--vjp", gp, "--o-grad", dzp, "--time"] + extra
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    t_ggdm = time.time() - t0
    if p.returncode != 0:
        print(f"[{name}] ggdm failed ({p.returncode}):\n{p.stderr}")
        return False
    x = np.load(xp)
    dz = np.load(dzp)
    if x.shape != x_ref.shape or dz.shape != dz_ref.shape:
        print(f"[{name}] shapes differ: x {x.shape} vs {x_ref.shape}, dz {dz.shape} vs {dz_ref.shape}")
        return False
    ef, eg = rel(x, x_ref), rel(dz, dz_ref)
    ok = ef < 1e-5 and eg < 1e-4 and np.isfinite(x).all() and np.isfinite(dz).all()
    print(f"[{name}] latent {latent}x{latent} N={batch} -> {x.shape}: forward rel err {ef:.3e} (< 1e-5), "
          f"dz rel err {eg:.3e} (< 1e-4); vs float64: ggdm {rel(x, x64):.2e} / {rel(dz, dz64):.2e}, "
          f"diffusers {rel(x_ref, x64):.2e} / {rel(dz_ref, dz64):.2e}; "
          f"time ggdm {t_ggdm:.2f} s (decode + vjp, incl. loading), torch {t_torch:.2f} s "
          f"{'PASS' if ok else 'FAIL'}")
    sys.stdout.flush()
    if p.stderr.strip():
        print("   ", p.stderr.strip().splitlines()[-1])
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ggdm", default="build/ggdm")
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="default: tiny and mid")
    ap.add_argument("--latent", type=int, help="latent size (default: the case's)")
    ap.add_argument("--batch", type=int, help="batch (default: the case's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--attn", choices=("keep", "recompute"))
    ap.add_argument("--keep", help="write the files into this folder (kept)")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    extra = []
    if a.threads:
        extra += ["--threads", str(a.threads)]
    if a.attn:
        extra += ["--attn", a.attn]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = a.keep or tmp
        for c in a.case or ["tiny", "mid"]:
            _, lat, n = CASES[c]
            ok &= run_case(c, a.ggdm, a.latent or lat, a.batch or n, a.seed, extra, root)
    print("vae_vs_diffusers:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
