#!/usr/bin/env python3
"""ggdm's image output path against the libraries the authors' code uses (`ggdm png-test`,
ref/cli/cmd_png.c, over ref/cli/png.c, image.c, pyrandom.c):

  * the PNG writer: Pillow decodes ggdm's files (CRCs checked) to the pixels written, and
    zlib.crc32 / zlib.adler32 agree with every chunk's CRC and the stream's Adler-32;
  * image_to_u8: diffusers' decode_latents + numpy_to_pil, (x / 2 + 0.5).clamp(0, 1) in torch,
    then (image * 255).round().astype("uint8"), on random floats and the edge values (+-1, 0,
    +-inf, subnormals, the values whose product with 255 is exactly m + 0.5); NaN -> 0 is
    ggdm's definition (NumPy's cast of NaN is undefined) and is checked as such;
  * Pillow's Image.resize((w, h)) (the default filter of Pillow 9.4: BICUBIC) on random images,
    down 4x and 2x, odd sizes, upscaling, one axis only: 0 differing bytes;
  * the grid (the authors' concat_from_2d_list: Image.paste at (w * j, h * i));
  * random.seed(s); random.sample(range(1000), k) for several seeds and k: identical indexes,
    in this Python and in every other python3 found (/usr/bin/python3, pyenv's).

Usage: .venv-interop/bin/python ci/interop/png_vs_pil.py [--ggdm build/ggdm]
Exit status 0 when everything is identical, 1 otherwise.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

fails = []


def check(ok, what):
    if not ok:
        fails.append(what)
        print("  MISMATCH: " + what)


def run(ggdm, *args):
    return subprocess.run([ggdm, "png-test"] + list(args), check=True, capture_output=True, text=True).stdout


def png_structure(path, w, h):
    """Chunk CRCs (zlib.crc32), IHDR fields, zlib stream and its Adler-32; returns the raw rows."""
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, idat, types = 8, b"", []
    while pos < len(b):
        n, = struct.unpack(">I", b[pos:pos + 4])
        typ, data = b[pos + 4:pos + 8], b[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])
        check(crc == zlib.crc32(typ + data), f"{path}: CRC of {typ}")
        types.append(typ)
        if typ == b"IHDR":
            check(struct.unpack(">IIBBBBB", data) == (w, h, 8, 2, 0, 0, 0), f"{path}: IHDR fields")
        if typ == b"IDAT":
            idat += data
        pos += 12 + n
    check(types[0] == b"IHDR" and types[-1] == b"IEND", f"{path}: chunk order {types}")
    raw = zlib.decompress(idat)
    check(struct.unpack(">I", idat[-4:])[0] == zlib.adler32(raw), f"{path}: Adler-32")
    check(len(raw) == h * (1 + 3 * w), f"{path}: raw size")
    return raw


def edge_floats():
    """float32 x whose t = x / 2 + 0.5 gives t * 255 == m + 0.5 exactly (the rounding's ties)."""
    out = []
    for m in range(255):
        t0 = np.float32((2 * m + 1) / 510.0)
        for d in range(-40, 41):
            t = np.float32(t0 + np.float32(d) * np.spacing(t0))
            if np.float32(t * np.float32(255)) == np.float32(m + 0.5):
                x = np.float32((t - np.float32(0.5)) * np.float32(2))
                out.append(x)
                out.append(np.nextafter(x, np.float32(2)))
                out.append(np.nextafter(x, np.float32(-2)))
    return np.array(out, dtype=np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ggdm", default="build/ggdm")
    args = ap.parse_args()
    ggdm = os.path.abspath(args.ggdm)
    tmp = tempfile.mkdtemp(prefix="ggdm-png-")
    rng = np.random.default_rng(20240614)
    try:
        # ---- PNG writer
        for (w, h) in [(1, 1), (5, 3), (64, 64), (200, 150), (513, 7)]:  # 200x150: several stored blocks
            a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            np.save(f"{tmp}/a.npy", a.astype(np.uint32))
            run(ggdm, "--in", f"{tmp}/a.npy", "--out", f"{tmp}/a.png")
            raw = png_structure(f"{tmp}/a.png", w, h)
            rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
            check((rows[:, 0] == 0).all() and (rows[:, 1:] == a.reshape(h, 3 * w)).all(), f"PNG raw rows {w}x{h}")
            im = Image.open(f"{tmp}/a.png")
            im.load()
            check(im.mode == "RGB" and im.size == (w, h), f"PNG mode/size {w}x{h}")
            check(np.array_equal(np.asarray(im), a), f"PNG pixels {w}x{h}")
        print("  PNG: 5 sizes decode to the pixels written (Pillow), CRC-32 / Adler-32 = zlib's")

        # ---- crash consistency: every file operation of the save is a fault point; killed at
        # any of them, the path holds the old file or the new one, whole
        old = np.asarray(Image.open(f"{tmp}/a.png")).copy()
        b = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
        np.save(f"{tmp}/b.npy", b.astype(np.uint32))
        cmd = [ggdm, "png-test", "--in", f"{tmp}/b.npy", "--out", f"{tmp}/a.png"]
        shutil.copy(f"{tmp}/a.png", f"{tmp}/keep.png")
        trace = subprocess.run(cmd, env=dict(os.environ, GGDM_FAULT_TRACE="1"), capture_output=True, text=True)
        ops = [ln.split()[2] for ln in trace.stderr.splitlines() if ln.startswith("ggdm-fault ")]
        check(ops == ["create", "write", "fsync", "rename", "fsync-dir"], f"fault points of the save: {ops}")
        for k in range(1, len(ops) + 1):
            shutil.copy(f"{tmp}/keep.png", f"{tmp}/a.png")
            r = subprocess.run(cmd, env=dict(os.environ, GGDM_FAULT_AT=str(k)), capture_output=True)
            now = np.asarray(Image.open(f"{tmp}/a.png"))
            want = old if ops[k - 1] != "fsync-dir" else b  # killed before the rename: the old file
            check(r.returncode != 0 and np.array_equal(now, want),
                  f"killed at fault point {k} ({ops[k - 1]}): rc {r.returncode}, {now.shape} not the "
                  f"{'old' if want is old else 'new'} image")
            for f in os.listdir(tmp):
                if ".tmp." in f:
                    os.remove(os.path.join(tmp, f))
        print(f"  PNG save: killed at each of its {len(ops)} fault points, the file is the old or the new image")

        # ---- image_to_u8 vs diffusers
        import torch
        from diffusers import DiffusionPipeline
        H, W = 48, 64
        x = rng.standard_normal((3, H, W)).astype(np.float32) * np.float32(0.7)
        special = np.concatenate([
            np.array([-1, 1, 0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 1.4e-45, 3e-39, -3e-39, 1e30, -1e30,
                      0.99999994, -0.99999994, 1.0000001, -1.0000001], dtype=np.float32),
            edge_floats()])
        flat = x.reshape(-1)
        flat[:special.size] = special
        flat[special.size:special.size + 2000] = rng.uniform(-1.2, 1.2, 2000).astype(np.float32)
        np.save(f"{tmp}/x.npy", x)
        run(ggdm, "--in", f"{tmp}/x.npy", "--out", f"{tmp}/x.png")
        got = np.asarray(Image.open(f"{tmp}/x.png"))
        img = (torch.from_numpy(x)[None] / 2 + 0.5).clamp(0, 1)
        img = img.cpu().permute(0, 2, 3, 1).float().numpy()
        ref = np.asarray(DiffusionPipeline.numpy_to_pil(img)[0])
        nd = int((got != ref).sum())
        check(nd == 0, f"image_to_u8: {nd} of {got.size} bytes differ from diffusers")
        xn = x.copy()
        xn.reshape(-1)[::97] = np.nan
        np.save(f"{tmp}/xn.npy", xn)
        run(ggdm, "--in", f"{tmp}/xn.npy", "--out", f"{tmp}/xn.png")
        gotn = np.asarray(Image.open(f"{tmp}/xn.png"))
        nanmask = np.isnan(xn).transpose(1, 2, 0)
        check((gotn[nanmask] == 0).all() and (gotn[~nanmask] == ref[~nanmask]).all(), "image_to_u8: NaN -> 0")
        v = img.reshape(-1) * np.float32(255)
        ties = int((v - np.floor(v) == 0.5).sum())
        print(f"  image_to_u8: {got.size} bytes ({special.size} edge values, {ties} exact ties m + 0.5) "
              f"= diffusers' numpy_to_pil; NaN -> 0")

        # ---- resize vs Pillow
        cases = [(64, 64, 16, 16), (128, 128, 32, 32), (512, 512, 128, 128), (256, 256, 128, 128),
                 (100, 100, 37, 37), (16, 16, 40, 40), (37, 53, 100, 11), (50, 40, 50, 13), (50, 40, 13, 40),
                 (1, 1, 5, 3), (7, 3, 1, 1), (33, 17, 32, 18)]
        total = 0
        for (sw, sh, dw, dh) in cases:
            a = rng.integers(0, 256, (sh, sw, 3), dtype=np.uint8)
            if sw == 512:  # an image-like one too: smooth with sharp edges (clipping under/overshoot)
                a[:256] = 0
                a[256:, :, 0] = 255
            np.save(f"{tmp}/r.npy", a.astype(np.uint32))
            run(ggdm, "--in", f"{tmp}/r.npy", "--out", f"{tmp}/r.png", "--resize", f"{dw}x{dh}")
            got = np.asarray(Image.open(f"{tmp}/r.png"))
            ref = np.asarray(Image.fromarray(a).resize((dw, dh)))
            nd = int((got != ref).sum())
            total += got.size
            check(nd == 0, f"resize {sw}x{sh} -> {dw}x{dh}: {nd} bytes differ, max "
                  f"{int(np.abs(got.astype(int) - ref).max())}")
        print(f"  resize: {len(cases)} cases, {total} bytes = Pillow {Image.__version__}'s Image.resize")

        # ---- grid (resized tiles, each + 7 * index)
        a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        np.save(f"{tmp}/g.npy", a.astype(np.uint32))
        run(ggdm, "--in", f"{tmp}/g.npy", "--out", f"{tmp}/g.png", "--resize", "16x16", "--grid", "2x3")
        small = np.asarray(Image.fromarray(a).resize((16, 16))).astype(np.uint16)
        dst = Image.new("RGB", (16 * 3, 16 * 2))
        for i in range(2):
            for j in range(3):
                t = ((small + 7 * (i * 3 + j)) % 256).astype(np.uint8)
                dst.paste(Image.fromarray(t), (16 * j, 16 * i))
        check(np.array_equal(np.asarray(Image.open(f"{tmp}/g.png")), np.asarray(dst)), "grid 2x3 of 16x16")
        print("  grid: 2 x 3 tiles = Image.paste at (w * j, h * i)")

        # ---- random.sample
        import random
        seeds = [-1, 0, 1, 42, 2 ** 40 + 3, -7, 2 ** 63 - 1, -2 ** 63, 123456789]
        ks = [0, 1, 5, 6, 50, 300, 1000]
        pys = []
        for p in ["/usr/bin/python3", shutil.which("python3")]:
            if p and os.path.exists(p) and os.path.realpath(p) != os.path.realpath(sys.executable) and p not in pys:
                pys.append(p)
        prog = ("import random,sys\nfor a in sys.argv[1:]:\n s,k=map(int,a.split(':'))\n random.seed(s)\n"
                " print(' '.join(map(str,random.sample(range(1000),k))))")
        argv = [f"{s}:{k}" for s in seeds for k in ks]
        others = {p: subprocess.run([p, "-c", prog] + argv, check=True, capture_output=True,
                                    text=True).stdout.split("\n") for p in pys}
        for q, (s, k) in enumerate((s, k) for s in seeds for k in ks):
            random.seed(s)
            want = random.sample(range(1000), k)
            got = [int(v) for v in run(ggdm, "--sample", str(s), "--n", "1000", "--k", str(k)).split()]
            check(got == want, f"random.sample seed {s} k {k}")
            for p, lines in others.items():
                check(lines[q] == " ".join(map(str, want)), f"{p} disagrees with {sys.executable}: seed {s} k {k}")
        vers = ", ".join([sys.version.split()[0]] + [subprocess.run([p, "-c", "import sys;print(sys.version.split()[0])"],
                         capture_output=True, text=True).stdout.strip() for p in pys])
        print(f"  random.sample: {len(seeds)} seeds x {len(ks)} k identical (Python {vers})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if fails:
        print(f"png_vs_pil: {len(fails)} mismatches")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
