#!/usr/bin/env python3
"""`ggdm sd-init` folders load in diffusers and transformers, bit for bit.

  sd_init_vs_diffusers.py [build/ggdm] [--sd15]

For tiny (f32; f16; f32 sharded at 1 MB: diffusers 0.25.1 reads no
sharded safetensors, so those shards are compared with the single files) and, with --sd15, SD v1.5's shapes (4.3 GB, minutes):
StableDiffusionPipeline.from_pretrained(DIR) loads the folder with every component (unet, vae,
text_encoder, tokenizer, scheduler; no safety checker), each component's state dict equals the
tensors of ggdm's files bit for bit (names, shapes, dtypes, bytes; no tensor left out or
initialised by diffusers instead), CLIPTokenizer encodes a prompt as ggdm tokenize does, the
scheduler has SD v1.5's values, ggdm's clip-encode (--prompt), unet2d and vae-decode with
--model DIR agree with the pipeline's components (tiny; rel err < 1e-5; f16 weights against
the float32 copy of the same values; the sharded folder gives the same bits), and a second run with the same seed writes the same bytes.
Also: an existing DIR is refused and nothing is left behind. Exit 1 when a check fails.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

failed = 0


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failed += 1


def files_state(d, base):
    out = {}
    for f in sorted(glob.glob(os.path.join(d, base + "*.safetensors"))):
        out.update(load_file(f))
    return out


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare(module, d, base, label):
    sd = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    st = files_state(d, base)
    extra = sorted(set(sd) - set(st))
    # transformers keeps position_ids as a non-persistent buffer in 4.36; allow nothing else
    extra = [k for k in extra if not k.endswith("position_ids")]
    check(not extra and not sorted(set(st) - set(sd)),
          f"{label}: {len(st)} tensors, the same names as the module's state dict"
          + (f" (missing {extra[:3]}, extra {sorted(set(st) - set(sd))[:3]})" if extra or set(st) - set(sd) else ""))
    bad = [k for k in st if k in sd and not same_bits(st[k], sd[k])]
    check(not bad, f"{label}: every tensor equal bit for bit" + (f" (not: {bad[:3]})" if bad else ""))


def rel(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def ggdm_nets(ggdm, d, work, prompt, variant=None):
    """clip-encode --prompt, unet2d and vae-decode with --model d: their outputs."""
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(3)
    z = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    t = np.array([10, 500], np.int64)
    np.save(os.path.join(work, "z.npy"), z)
    np.save(os.path.join(work, "t.npy"), t)
    v = ["--variant", variant] if variant else []
    w = lambda f: os.path.join(work, f)
    cmds = [["clip-encode", "--model", d, "--prompt", prompt, "--prompt", "x", "-o", w("h.npy")],
            ["unet2d", "--model", d, "--z", w("z.npy"), "--t", w("t.npy"), "--text", w("h.npy"), "-o", w("eps.npy")],
            ["vae-decode", "--model", d, "--z", w("z.npy"), "-o", w("x.npy")]]
    for c in cmds:
        r = subprocess.run([ggdm] + c + v, capture_output=True, text=True)
        if r.returncode:
            return None, f"ggdm {c[0]} --model: exit {r.returncode}: {r.stderr.strip()}"
    return (z, t) + tuple(np.load(w(f)) for f in ("h.npy", "eps.npy", "x.npy")), ""


def check_nets(ggdm, d, pipe, prompt, label):
    """ggdm's networks read from the folder (--model) against the pipeline's components."""
    out, why = ggdm_nets(ggdm, d, d + "-nets", prompt)
    check(out is not None, f"[{label}] clip-encode --prompt, unet2d, vae-decode with --model {why}")
    if out is None:
        return None
    z, t, h, eps, x = out
    f32 = lambda m: m.float() if next(m.parameters()).dtype != torch.float32 else m
    with torch.no_grad():
        ids = pipe.tokenizer([prompt, "x"], padding="max_length", max_length=77, truncation=True,
                             return_tensors="pt").input_ids
        th = f32(pipe.text_encoder)(ids)[0].numpy()
        te = f32(pipe.unet)(torch.from_numpy(z), torch.from_numpy(t), encoder_hidden_states=torch.from_numpy(h)).sample
        vae = f32(pipe.vae)
        tx = vae.decode(torch.from_numpy(z) / vae.config.scaling_factor).sample.numpy()
    e1, e2, e3 = rel(h, th), rel(eps, te.numpy()), rel(x, tx)
    check(e1 < 1e-5 and e2 < 1e-5 and e3 < 1e-5,
          f"[{label}] --model vs the pipeline's components: text encoder (prompts) rel err {e1:.2e}, "
          f"unet {e2:.2e}, vae decode {e3:.2e} (< 1e-5)")
    return out


def run_case(ggdm, tmp, config, extra, label):
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer
    d = os.path.join(tmp, label)
    r = subprocess.run([ggdm, "sd-init", "--config", config, "--seed", "7", "-o", d] + extra,
                       capture_output=True, text=True)
    check(r.returncode == 0, f"[{label}] ggdm sd-init {config} {' '.join(extra)}: exit {r.returncode} {r.stderr.strip()}")
    if r.returncode:
        return
    if "--max-shard-size" in extra:
        out, why = ggdm_nets(ggdm, d, d + "-nets", "a photograph of an astronaut riding a horse")
        ref, _ = ggdm_nets(ggdm, os.path.join(tmp, "tiny"), os.path.join(tmp, "tiny-nets2"),
                           "a photograph of an astronaut riding a horse")
        check(out is not None and ref is not None and all(a.tobytes() == b.tobytes() for a, b in zip(out, ref)),
              f"[{label}] --model reads the shards: the same bits as the single files {why}")
        # diffusers 0.25.1 reads no sharded safetensors: the shards' union must equal the
        # single files of the same seed (which the pipeline loads above)
        for sub, base in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                          ("text_encoder", "model")):
            a = files_state(os.path.join(d, sub), base)
            b = files_state(os.path.join(tmp, "tiny", sub), base)
            check(set(a) == set(b) and all(same_bits(a[k], b[k]) for k in a),
                  f"[{label}] {sub}: the shards hold the single file's {len(b)} tensors bit for bit")
        return
    dtype = torch.float16 if "f16" in extra else torch.float32
    pipe = StableDiffusionPipeline.from_pretrained(d, torch_dtype=dtype)
    check(type(pipe.unet).__name__ == "UNet2DConditionModel" and type(pipe.vae).__name__ == "AutoencoderKL"
          and type(pipe.text_encoder).__name__ == "CLIPTextModel" and type(pipe.scheduler).__name__ == "PNDMScheduler",
          f"[{label}] StableDiffusionPipeline.from_pretrained loads unet, vae, text_encoder, tokenizer, scheduler")
    compare(pipe.unet, os.path.join(d, "unet"), "diffusion_pytorch_model", f"[{label}] unet")
    compare(pipe.vae, os.path.join(d, "vae"), "diffusion_pytorch_model", f"[{label}] vae")
    compare(pipe.text_encoder, os.path.join(d, "text_encoder"), "model", f"[{label}] text_encoder")
    s = pipe.scheduler.config
    check(s.beta_start == 0.00085 and s.beta_end == 0.012 and s.beta_schedule == "scaled_linear"
          and s.num_train_timesteps == 1000 and s.set_alpha_to_one is False and s.skip_prk_steps is True
          and s.steps_offset == 1, f"[{label}] the scheduler has SD v1.5's values")
    check(pipe.unet.config.cross_attention_dim == pipe.text_encoder.config.hidden_size
          and pipe.text_encoder.config.vocab_size > max(pipe.tokenizer.get_vocab().values()),
          f"[{label}] cross_attention_dim = hidden_size; the text encoder's vocabulary covers the tokenizer's ids")
    if config == "tiny":
        check_nets(ggdm, d, pipe, "a photograph of an astronaut riding a horse", label)
    tok = CLIPTokenizer.from_pretrained(os.path.join(d, "tokenizer"))
    prompt = "a photograph of an astronaut riding a horse"
    ids = tok(prompt, padding="max_length", max_length=77, truncation=True).input_ids
    r = subprocess.run([ggdm, "tokenize", "--tokenizer", os.path.join(d, "tokenizer"), prompt],
                       capture_output=True, text=True)
    got = [int(x) for x in r.stdout.split()]
    check(r.returncode == 0 and got == ids,
          f"[{label}] CLIPTokenizer.from_pretrained(tokenizer/) encodes a prompt as ggdm tokenize does "
          f"({sum(1 for i in ids if i != ids[-1]) + 1} ids before the padding) {r.stderr.strip()[:80]}")
    if config == "tiny" and dtype == torch.float32:  # torch 1.13 has no float16 LayerNorm on the CPU
        with torch.no_grad():
            img = pipe(prompt, num_inference_steps=2, height=16, width=16, output_type="np",
                       generator=torch.Generator().manual_seed(0)).images
        check(img.shape == (1, 16, 16, 3) and np.isfinite(img).all(),
              f"[{label}] the pipeline runs 2 steps end to end: image {img.shape}")
    if not extra:
        d2 = d + "-again"
        subprocess.run([ggdm, "sd-init", "--config", config, "--seed", "7", "-o", d2], check=True)
        same = all(open(a, "rb").read() == open(a.replace(d, d2, 1), "rb").read()
                   for a in glob.glob(os.path.join(d, "**", "*"), recursive=True) if os.path.isfile(a))
        check(same, f"[{label}] the same seed writes the same bytes")
        r = subprocess.run([ggdm, "sd-init", "--config", config, "-o", d], capture_output=True, text=True)
        left = [f for f in os.listdir(tmp) if ".tmp-" in f]
        check(r.returncode == 1 and "exists" in r.stderr and not left,
              f"[{label}] an existing folder is refused ({r.stderr.strip()}), nothing left behind")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ggdm = os.path.abspath(args[0] if args else "build/ggdm")
    tmp = tempfile.mkdtemp(prefix="ggdm-sd-init-")
    try:
        run_case(ggdm, tmp, "tiny", [], "tiny")
        run_case(ggdm, tmp, "tiny", ["--dtype", "f16"], "tiny-f16")
        run_case(ggdm, tmp, "tiny", ["--max-shard-size", "1000000"], "tiny-sharded")
        n = len(glob.glob(os.path.join(tmp, "tiny-sharded", "unet", "diffusion_pytorch_model-*-of-*.safetensors")))
        check(n >= 3 and os.path.exists(os.path.join(tmp, "tiny-sharded", "unet",
                                                     "diffusion_pytorch_model.safetensors.index.json")),
              f"[tiny-sharded] the UNet in {n} shards with an index")
        if "--sd15" in sys.argv:
            run_case(ggdm, tmp, "sd15", [], "sd15")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"sd_init_vs_diffusers: {'PASS' if not failed else f'{failed} FAILED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
