#!/usr/bin/env python3
"""diffusers' UNet2DConditionModel traced under ggdm's names, so that `ggdm diff` localises a
discrepancy between the two implementations block by block.

  trace_diffusers.py --config config.json --weights W.safetensors --z Z.npy --t T.npy --text E.npy -o DIR
  trace_diffusers.py --self-test GGDM_BINARY

Writes DIR/NAME.npy (float32, [N, C, H*W] like `ggdm unet2d --trace`) and DIR/index.txt for:
time_embedding, sample, conv_in, down_blocks.I.J (the J-th resnet of down block I, or its
transformer when the block has attention), down_blocks.I (its downsampler), mid_block,
up_blocks.I.J, up_blocks.I (its upsampler), conv_out. Then
    ggdm unet2d ... --trace A;  trace_diffusers.py ... -o B;  ggdm diff A B
names the first block whose outputs differ. --self-test proves it does: on a tiny UNet the two
traces agree (within --rtol 1e-3 --atol 1e-4), and after one weight of the mid block's second
resnet is changed in the diffusers copy, `ggdm diff` names mid_block as the first divergent
layer and every earlier one as ok.
Run with the interop venv's python (diffusers 0.25.1).
"""
import argparse
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
from safetensors.torch import load_file, save_file


def scores(self, query, key, attention_mask=None):  # torch 1.13's baddbmm(beta=0) on tiny inputs: see unet2d_vs_diffusers.py
    z = torch.zeros(query.shape[0], query.shape[1], key.shape[1], dtype=query.dtype)
    return torch.baddbmm(z, query, key.transpose(-1, -2), beta=1, alpha=self.scale).softmax(dim=-1).to(query.dtype)


Attention.get_attention_scores = scores


def trace(model, z, t, text, out):
    os.makedirs(out, exist_ok=True)
    names, hooks = [], []

    def save(name, v):
        if isinstance(v, tuple):
            v = v[0]
        if hasattr(v, "sample"):
            v = v.sample
        a = v.detach().float().numpy()
        a = a.reshape(a.shape[0], a.shape[1], -1)
        np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a, dtype=np.float32))
        names.append(name)

    def hook(name):
        return lambda mod, inp, outp: save(name, outp)

    hooks.append(model.time_embedding.register_forward_hook(hook("time_embedding")))
    hooks.append(model.conv_in.register_forward_pre_hook(lambda mod, inp: save("sample", inp[0])))
    hooks.append(model.conv_in.register_forward_hook(hook("conv_in")))
    for i, b in enumerate(model.down_blocks):
        for j in range(len(b.resnets)):
            m = b.attentions[j] if getattr(b, "attentions", None) else b.resnets[j]
            hooks.append(m.register_forward_hook(hook("down_blocks.%d.%d" % (i, j))))
        if b.downsamplers:
            hooks.append(b.downsamplers[0].register_forward_hook(hook("down_blocks.%d" % i)))
    hooks.append(model.mid_block.register_forward_hook(hook("mid_block")))
    for i, b in enumerate(model.up_blocks):
        for j in range(len(b.resnets)):
            m = b.attentions[j] if getattr(b, "attentions", None) else b.resnets[j]
            hooks.append(m.register_forward_hook(hook("up_blocks.%d.%d" % (i, j))))
        if b.upsamplers:
            hooks.append(b.upsamplers[0].register_forward_hook(hook("up_blocks.%d" % i)))
    hooks.append(model.conv_out.register_forward_hook(hook("conv_out")))
    with torch.no_grad():
        model(z, t, encoder_hidden_states=text)
    for h in hooks:
        h.remove()
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))


def load(config, weights):
    with open(config) as f:
        cfg = json.load(f)
    m = UNet2DConditionModel(**{k: v for k, v in cfg.items() if not k.startswith("_")}).eval()
    m.load_state_dict(load_file(weights))
    return m


def self_test(ggdm):
    torch.manual_seed(0)
    cfg = dict(sample_size=16, in_channels=4, out_channels=4, down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
               up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], block_out_channels=[32, 64], layers_per_block=1,
               attention_head_dim=2, cross_attention_dim=32, norm_num_groups=8)
    m = UNet2DConditionModel(**cfg).eval()
    fails = []
    with tempfile.TemporaryDirectory() as d:
        wp, cp = os.path.join(d, "w.safetensors"), os.path.join(d, "config.json")
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, wp)
        with open(cp, "w") as f:
            json.dump(dict(m.config), f)
        g = torch.Generator().manual_seed(1)
        z, t, e = torch.randn(1, 4, 8, 8, generator=g), torch.tensor([500]), torch.randn(1, 5, 32, generator=g)
        for k, v in (("z", z), ("t", t), ("e", e)):
            np.save(os.path.join(d, k + ".npy"), v.numpy())
        ta, tb = os.path.join(d, "ggdm"), os.path.join(d, "diffusers")
        subprocess.run([ggdm, "unet2d", "--weights", wp, "--config", cp, "--z", os.path.join(d, "z.npy"), "--t",
                        os.path.join(d, "t.npy"), "--text", os.path.join(d, "e.npy"), "--trace", ta], check=True)
        trace(m, z, t, e, tb)
        tol = ["--rtol", "1e-3", "--atol", "1e-4"]
        r = subprocess.run([ggdm, "diff", ta, tb] + tol, capture_output=True, text=True)
        ok = r.returncode == 0
        print("%s the traces agree block by block (%s)" % ("ok  " if ok else "FAIL", r.stdout.strip().splitlines()[-1]))
        fails += [] if ok else ["agree"]
        with torch.no_grad():  # a planted discrepancy in the mid block's second resnet
            m.mid_block.resnets[1].conv1.weight[0, 0, 1, 1] += 1.0
        trace(m, z, t, e, tb)
        r = subprocess.run([ggdm, "diff", ta, tb] + tol, capture_output=True, text=True)
        lines = r.stdout.splitlines()
        first = [ln.split()[0] for ln in lines if "first divergent layer" in ln]
        before_ok = all(" ok " in ln for ln in lines[: [ln.split()[0] for ln in lines].index("mid_block")])
        ok = r.returncode == 1 and first == ["mid_block"] and before_ok
        print("%s a planted change in mid_block.resnets.1 is localised: first divergent layer %s" %
              ("ok  " if ok else "FAIL", first))
        fails += [] if ok else ["localised"]
    print("trace_diffusers self-test: %d failed" % len(fails))
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--weights")
    ap.add_argument("--z")
    ap.add_argument("--t")
    ap.add_argument("--text")
    ap.add_argument("-o", "--out")
    ap.add_argument("--self-test", metavar="GGDM")
    a = ap.parse_args()
    if a.self_test:
        return self_test(a.self_test)
    if not all((a.config, a.weights, a.z, a.t, a.text, a.out)):
        ap.print_usage(sys.stderr)
        return 2
    trace(load(a.config, a.weights), torch.from_numpy(np.load(a.z)), torch.from_numpy(np.load(a.t)),
          torch.from_numpy(np.load(a.text)), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
