#!/usr/bin/env python3
"""Stable Diffusion's text encoder against transformers: ggdm's `clip-encode` and CLIPTextModel.

Builds transformers' CLIPTextModel from a CLIPTextConfig (random weights, torch.manual_seed;
quick_gelu), saves its state dict as safetensors and its config.json, and compares the last
hidden state of random token ids (77 positions, and a shorter sequence) computed by both.
Passes when the relative error of the whole output (||a - b|| / ||b||) is below 1e-5.

usage: clip_vs_transformers.py GGDM_BINARY [--sd15]   (--sd15: the full 123 M text encoder too)
Run with the interop venv's python (ci/setup-py.sh: transformers 4.36.2 over Debian's torch 1.13).
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def case(ggdm, d, name, cfg, n, L, seed):
    torch.manual_seed(seed)
    m = CLIPTextModel(CLIPTextConfig(**cfg)).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
    wp, cp = os.path.join(d, name + ".safetensors"), os.path.join(d, name + ".json")
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, wp)
    with open(cp, "w") as f:
        f.write(m.config.to_json_string())
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, cfg["vocab_size"], (n, L), generator=g)
    ip, op = os.path.join(d, "ids.npy"), os.path.join(d, "h.npy")
    np.save(ip, ids.numpy().astype(np.int64))
    res = subprocess.run([ggdm, "clip-encode", "--weights", wp, "--config", cp, "--ids", ip, "-o", op],
                         capture_output=True, text=True)
    if res.returncode != 0:
        print(f"FAIL {name}: ggdm exited {res.returncode}: {res.stderr.strip()}")
        return False
    with torch.no_grad():
        h = m(input_ids=ids).last_hidden_state
    e = rel(np.load(op), h.numpy())
    ok = e < 1e-5
    print(f"{'ok  ' if ok else 'FAIL'} {name}: N={n} L={L}: rel err {e:.2e} (< 1e-5)")
    return ok


def main():
    ggdm = sys.argv[1]
    tiny = dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, hidden_act="quick_gelu")
    mid = dict(vocab_size=4000, hidden_size=96, intermediate_size=384, num_hidden_layers=3, num_attention_heads=6,
               max_position_embeddings=77, hidden_act="quick_gelu")
    cases = [("tiny", tiny, 2, 77, 1), ("tiny-short", tiny, 3, 9, 2), ("mid", mid, 2, 77, 3)]
    if "--sd15" in sys.argv[2:]:
        cases.append(("sd15", dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                   num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu"),
                      2, 77, 4))
    with tempfile.TemporaryDirectory() as d:
        ok = [case(ggdm, d, *c) for c in cases]
    print(f"clip-encode vs transformers: {sum(ok)}/{len(ok)} cases within tolerance")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
