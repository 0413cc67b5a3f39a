#!/usr/bin/env python3
"""TEMB kind diffusers (GGDM_TEMB_DIFFUSERS) vs diffusers' get_timestep_embedding.

Reads the golden vectors vectors/ops/temb/dif_*.y.npy whose steps are lin:A:B fills
(float32(A + B k)) and compares them with diffusers.models.embeddings.get_timestep_embedding(
t, dim, flip_sin_to_cos=True, downscale_freq_shift=0) (UNet2DConditionModel's time_proj), in
float32 torch and in float64. Run with the interop venv:
  /work/venv-interop/bin/python ref/tests/py/check_temb_diffusers.py [vectors/ops]
Prints the max absolute error per case. Both sides are float32 chains whose argument t e_i is
rounded to float32, and neither torch's exp nor ggdm_expf is correctly rounded for every i: one
ulp of e_i moves the argument by up to one ulp of t e_i (6.1e-5 at t = 999), so the check fails
when an element differs by more than 2 ulp(float32 t e_i) + 2^-23 (and reports the plain max).
"""
import os
import sys

import numpy as np
import torch
from diffusers.models.embeddings import get_timestep_embedding

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../vectors/ops")
cases = [  # case, N, dim, A, B (steps float32(A + B k), as the manifest's in0=lin:A:B)
    ("dif_steps", 4, 16, 0.0, 1.0),
    ("dif_sd", 3, 320, 999.0, -18.0),
    ("dif_half", 5, 6, 0.5, 0.25),
    ("dif_dim4", 3, 4, 999.0, -499.0),
]
worst = 0.0
ok = True
for name, n, dim, a, b in cases:
    y = np.load(os.path.join(root, "temb", name + ".y.npy")).astype(np.float64).reshape(n, dim)
    t = np.array([a + b * k for k in range(n)], dtype=np.float32)
    e32 = get_timestep_embedding(torch.from_numpy(t), dim, flip_sin_to_cos=True,
                                 downscale_freq_shift=0).numpy().astype(np.float64)
    e64 = get_timestep_embedding(torch.from_numpy(t.astype(np.float64)), dim, flip_sin_to_cos=True,
                                 downscale_freq_shift=0).numpy()
    d32 = float(np.max(np.abs(y - e32)))
    half = dim // 2
    arg = np.abs(np.float32(t)[:, None] * np.exp(-np.log(10000.0) * np.arange(half) / half)[None, :])
    ulp = np.spacing(arg.astype(np.float32)).astype(np.float64)
    bound = 2.0 * np.concatenate([ulp, ulp], 1) + 2.0 ** -23
    over = int(np.sum(np.abs(y - e32) > bound))
    d64 = float(np.max(np.abs(y - e64)))
    print(f"temb {name}: steps {t.tolist()[:4]} dim {dim}: max |ggdm - diffusers f32| {d32:.3g}, "
          f"|ggdm - diffusers f64| {d64:.3g}; above 2 ulp(arg): {over}")
    worst = max(worst, d32)
    ok = ok and over == 0
print(f"temb diffusers: max error {worst:.3g}: {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
