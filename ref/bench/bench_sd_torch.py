#!/usr/bin/env python3
"""The peer of bench_sd's `parts`: diffusers' SD v1.5 UNet and VAE decoder on the CPU, the same
work (batch 1, 77 text tokens, random weights), the same thread count.

usage: bench_sd_torch.py SIZE [THREADS] [R]     (the interop venv: diffusers 0.25.1, torch 1.13)
Prints one line like bench_sd's: UNet forward, UNet forward + VJP (input gradient), VAE decode,
VAE decode + VJP, the median of R runs (default 3), and the process's peak RSS.
"""
import os
import resource
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4,
                 down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                 up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, block_out_channels=[320, 640, 1280, 1280],
                 layers_per_block=2, attention_head_dim=8, cross_attention_dim=768, norm_num_groups=32)
SD15_VAE = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
                up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
                latent_channels=4, norm_num_groups=32, sample_size=512, scaling_factor=0.18215)


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def main():
    px = int(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    R = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**SD15_UNET).eval()
    vae = AutoencoderKL(**SD15_VAE).eval()
    for p in list(unet.parameters()) + list(vae.parameters()):
        p.requires_grad_(False)
    H = px // 8
    z = torch.randn(1, 4, H, H)
    t = torch.tensor([501])
    text = torch.randn(1, 77, 768)
    deps = torch.randn(1, 4, H, H)
    g = torch.randn(1, 3, px, px)
    tm = [[], [], [], []]
    for _ in range(R):
        t0 = time.perf_counter()
        with torch.no_grad():
            unet(z, t, encoder_hidden_states=text)
        tm[0].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        zg = z.clone().requires_grad_(True)
        torch.autograd.grad(unet(zg, t, encoder_hidden_states=text).sample, zg, deps)
        tm[1].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with torch.no_grad():
            vae.decode(z / 0.18215)
        tm[2].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        zg = z.clone().requires_grad_(True)
        torch.autograd.grad(vae.decode(zg / 0.18215).sample, zg, g)
        tm[3].append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 / 1024.0
    print(f"diffusers {__import__('diffusers').__version__} / torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads) at {px} px (median of {R}): UNet forward {median(tm[0]):.2f} s, UNet forward + VJP "
          f"{median(tm[1]):.2f} s, VAE decode {median(tm[2]):.2f} s, VAE decode + VJP {median(tm[3]):.2f} s; peak RSS "
          f"{rss:.2f} GiB")


if __name__ == "__main__":
    main()
