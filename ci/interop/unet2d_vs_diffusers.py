#!/usr/bin/env python3
"""Stable Diffusion's UNet against diffusers: ggdm's `unet2d` command and UNet2DConditionModel.

Builds diffusers' UNet2DConditionModel from a config (random weights, torch.manual_seed),
saves its state dict as safetensors and its config.json, and runs both on the same latents,
steps and text states: the noise prediction, and the input VJP dz = J(z)^T deps (torch
autograd). Passes when the relative error of the whole output (||a - b|| / ||b||) is below
1e-5 forward and 1e-4 for the VJP, in every case.

usage: unet2d_vs_diffusers.py GGDM_BINARY [--sd15]
  --sd15: also the full SD v1.5 configuration at a 16 x 16 latent (minutes; by hand).
Run with the interop venv's python (ci/setup-py.sh: diffusers 0.25.1 over Debian's torch 1.13).

torch 1.13's baddbmm with beta = 0 can read its uninitialised input on tiny matrices
(diffusers' attention calls it that way), so the attention scores here are computed with a
zero-filled input and beta = 1: the same product.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention
from safetensors.torch import save_file


def scores(self, query, key, attention_mask=None):
    z = torch.zeros(query.shape[0], query.shape[1], key.shape[1], dtype=query.dtype)
    s = torch.baddbmm(z, query, key.transpose(-1, -2), beta=1, alpha=self.scale)
    return s.softmax(dim=-1).to(query.dtype)


Attention.get_attention_scores = scores

TINY = dict(sample_size=16, in_channels=4, out_channels=4, down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
            up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], block_out_channels=[32, 64], layers_per_block=1,
            attention_head_dim=2, cross_attention_dim=32, norm_num_groups=8)
MID = dict(sample_size=16, in_channels=4, out_channels=4,
           down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
           up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], block_out_channels=[32, 64, 64],
           layers_per_block=2, attention_head_dim=4, cross_attention_dim=48, norm_num_groups=16)
SD15 = dict(sample_size=64, in_channels=4, out_channels=4, down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, block_out_channels=[320, 640, 1280, 1280],
            layers_per_block=2, attention_head_dim=8, cross_attention_dim=768, norm_num_groups=32)


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def case(ggdm, d, name, cfg, n, h, w, lt, seed, extra=()):
    torch.manual_seed(seed)
    m = UNet2DConditionModel(**cfg).eval()
    with torch.no_grad():  # non-trivial norms (diffusers initialises them to 1 and 0)
        for mod in m.modules():
            if isinstance(mod, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
    wp, cp = os.path.join(d, name + ".safetensors"), os.path.join(d, name + ".json")
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, wp)
    with open(cp, "w") as f:
        json.dump(dict(m.config), f)
    g = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(n, cfg["in_channels"], h, w, generator=g)
    t = torch.randint(0, 1000, (n,), generator=g)
    e = torch.randn(n, lt, cfg["cross_attention_dim"], generator=g)
    de = torch.randn(n, cfg["out_channels"], h, w, generator=g)
    paths = {k: os.path.join(d, k + ".npy") for k in ("z", "t", "e", "de", "eps", "dz")}
    np.save(paths["z"], z.numpy())
    np.save(paths["t"], t.numpy().astype(np.int64))
    np.save(paths["e"], e.numpy())
    np.save(paths["de"], de.numpy())
    base = [ggdm, "unet2d", "--weights", wp, "--config", cp, "--z", paths["z"], "--t", paths["t"], "--text", paths["e"]]
    res = subprocess.run(base + ["-o", paths["eps"], "--deps", paths["de"], "--grad", paths["dz"]] + list(extra),
                         capture_output=True, text=True)
    if res.returncode != 0:
        print(f"FAIL {name}: ggdm exited {res.returncode}: {res.stderr.strip()}")
        return False
    zt = z.clone().requires_grad_(True)
    eps = m(zt, t, encoder_hidden_states=e).sample
    (dz,) = torch.autograd.grad(eps, zt, de)
    e_f = rel(np.load(paths["eps"]), eps.detach().numpy())
    e_b = rel(np.load(paths["dz"]), dz.numpy())
    ok = e_f < 1e-5 and e_b < 1e-4
    print(f"{'ok  ' if ok else 'FAIL'} {name}: N={n} {h}x{w} text {lt}: rel err eps {e_f:.2e} (< 1e-5), "
          f"dz {e_b:.2e} (< 1e-4)")
    return ok


def main():
    ggdm = sys.argv[1]
    cases = [("tiny", TINY, 2, 16, 16, 7, 1, ()), ("tiny-rect", TINY, 1, 8, 24, 77, 2, ()),
             
             ("mid", MID, 1, 16, 16, 9, 4, ())]
    if "--sd15" in sys.argv[2:]:
        cases.append(("sd15", SD15, 1, 16, 16, 77, 5, ()))
    with tempfile.TemporaryDirectory() as d:
        ok = [case(ggdm, d, *c) for c in cases]
    print(f"unet2d vs diffusers: {sum(ok)}/{len(ok)} cases within tolerance")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
