#!/usr/bin/env python3
"""ggdm's RESIZE op against PyTorch's F.interpolate(mode="bilinear", align_corners=False,
antialias=0/1) and its autograd (the VJP).

Two sets of cases:
  * every resize vector of vectors/ops/manifest.tsv (the stored golden .npy files), and
  * larger cases the repository does not store ([2, 3, 512, 512] -> 224, the reward's resize,
    and [2, 3, 64, 64] -> 224, upscaling), which this script writes into a temporary vectors
    folder with `ggdm vectors --vectors TMP` (the reference, exact).
The inputs are regenerated here from the vectors' parameters: the same random streams
(`ggdm rng`, purpose 0 = test, a = 0x4f50, b = the slot: 0 x, 8 dy, 16 dx's pre-fill) and the
same hostile table (conformance/ops_vectors.c, adv_value). dx is compared as the vector stores
it: pre-fill + PyTorch's x.grad (one float addition, ggdm's "ADDED into").

PyTorch runs twice, in subprocesses: with ATEN_CPU_CAPABILITY=default (its kernels without
FMA: ggdm defines its chains as these, so every element must be bit-identical) and with the
machine's own capability (AVX2 builds contract to FMA: reported, and held to a tolerance).

Usage: /usr/bin/python3 ci/interop/resize_vs_torch.py [--ggdm build/ggdm] [--no-large]
       [--tol 1e-5]
Exit status 0: bit-exact under the default capability and within --tol (whole-output relative
error) under the native one; 1 otherwise; 2 when torch or the binary is missing.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STREAM_A = 0x4F50

LARGE = [  # id, params (as in the manifest)
    ("reward_512_224_aa0", "N=2;C=3;H=512;W=512;oh=224;ow=224;antialias=0;seed=2301"),
    ("reward_512_224_aa1", "N=2;C=3;H=512;W=512;oh=224;ow=224;antialias=1;seed=2302"),
    ("up_64_224_aa0", "N=2;C=3;H=64;W=64;oh=224;ow=224;antialias=0;seed=2303"),
    ("up_64_224_aa1", "N=2;C=3;H=64;W=64;oh=224;ow=224;antialias=1;seed=2304"),
]


def f32_of(bits):
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def adv_value(A, slot, k):
    A = np.float32(A)
    table = [0.0, -0.0, f32_of(0x00000001), f32_of(0x80000002), f32_of(0x00400000), f32_of(0x807FFFFF),
             f32_of(0x00800000), f32_of(0x80800000), A, -A, np.float32(0.75) * A, -A * np.float32(2.0 ** -10),
             1.0, -1.0, 2.0 ** -100, -3.0]
    return np.float32(table[(k + 5 * slot) % 16])


def rng_normal(ggdm, seed, slot, n, tmp):
    path = os.path.join(tmp, "rng_%d_%d.npy" % (seed, slot))
    subprocess.run([ggdm, "rng", "--dist", "normal", "--seed", str(seed), "--purpose", "0", "--a", str(STREAM_A),
                    "--b", str(slot), "-n", str(n), "-o", path], check=True, stdout=subprocess.DEVNULL)
    return np.load(path).astype(np.float32)


def fill(ggdm, spec, seed, slot, n, tmp):
    """conformance/ops_vectors.c's do_fill for the kinds the resize vectors use."""
    if spec is None or spec == "normal" or spec.startswith("normal:"):
        S, M = 1.0, 0.0
        if spec and spec.startswith("normal:"):
            parts = spec.split(":")[1:]
            S = float(parts[0])
            M = float(parts[1]) if len(parts) > 1 else 0.0
        z = rng_normal(ggdm, seed, slot, n, tmp)
        return (np.float32(M) + np.float32(S) * z).astype(np.float32)
    if spec == "adv" or spec.startswith("adv:"):
        A = float(spec[4:]) if spec.startswith("adv:") else 1e30
        z = rng_normal(ggdm, seed, slot, n, tmp)
        out = np.empty(n, np.float32)
        for k in range(n):
            out[k] = z[k] if k & 1 else adv_value(A, slot, k >> 1)
        return out
    if spec.startswith("const:"):
        return np.full(n, np.float32(float(spec[6:])), np.float32)
    if spec == "zero":
        return np.zeros(n, np.float32)
    raise ValueError("fill %r is not supported here" % spec)


def parse(params):
    return dict(kv.split("=", 1) for kv in params.split(";") if kv)


def inputs_of(ggdm, cid, p, tmp):
    N, C, H, W = (int(p.get(k, 1)) for k in ("N", "C", "H", "W"))
    oh, ow, aa = int(p["oh"]), int(p["ow"]), int(p.get("antialias", 0))
    seed = int(p.get("seed", 1))
    x = fill(ggdm, p.get("in0"), seed, 0, N * C * H * W, tmp).reshape(N, C, H, W)
    dy = fill(ggdm, p.get("dout"), seed, 8, N * C * oh * ow, tmp).reshape(N, C, oh, ow)
    pre = fill(ggdm, p.get("pre"), seed, 16, N * C * H * W, tmp).reshape(N, C, H, W)
    base = os.path.join(tmp, "in_" + cid)
    np.save(base + ".x.npy", x)
    np.save(base + ".dy.npy", dy)
    np.save(base + ".pre.npy", pre)
    return dict(base=base, oh=oh, ow=ow, aa=aa)


TORCH_CHILD = r"""
import json, sys
import numpy as np
import torch
import torch.nn.functional as F
cases = json.load(open(sys.argv[1]))
out = {}
for cid, c in cases.items():
    x0 = torch.from_numpy(np.load(c["base"] + ".x.npy"))
    N, C, H, W = x0.shape
    kernel = "nchw"
    if not c["aa"] and x0.is_contiguous(memory_format=torch.channels_last):
        # [N, 1, H, W] and [N, C, 1, 1] are channels-last contiguous too, and torch then runs its
        # channels-last bilinear kernel (another order of roundings): run the NCHW kernel on a
        # strided view of the same values instead (a leaf twice as wide along W, or C)
        if W > 1:
            base = torch.zeros(N, C, H, 2 * W)
            base[..., ::2] = x0
            view = lambda b: b[..., ::2]
        else:
            base = torch.zeros(N, 2 * C, H, W)
            base[:, ::2] = x0
            view = lambda b: b[:, ::2]
        base.requires_grad_()
        x = view(base)
        if x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
            kernel = "channels_last"
    else:
        base = x0.clone().requires_grad_()
        view = lambda b: b
        x = base
    y = F.interpolate(x, size=(c["oh"], c["ow"]), mode="bilinear", align_corners=False, antialias=bool(c["aa"]))
    y.backward(torch.from_numpy(np.load(c["base"] + ".dy.npy")))
    dx = np.load(c["base"] + ".pre.npy") + view(base.grad).numpy()
    out[cid] = kernel
    np.save(sys.argv[2] + "/" + cid + ".y.npy", np.ascontiguousarray(y.detach().numpy()))
    np.save(sys.argv[2] + "/" + cid + ".dx.npy", np.ascontiguousarray(dx, dtype=np.float32))
json.dump(out, open(sys.argv[2] + "/kernels.json", "w"))
print(torch.__version__, torch.__config__.show().split("CPU capability usage:")[1].split("\n")[0].strip())
"""


def run_torch(cases_path, outdir, capability):
    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    r = subprocess.run([sys.executable, "-c", TORCH_CHILD, cases_path, outdir], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(2)
    return r.stdout.strip()


def compare(got, want):
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    diff = np.abs(g - w)
    nbits = int(np.count_nonzero(got.view(np.uint32) != want.view(np.uint32)))
    nrm = np.linalg.norm(w)
    rel = float(np.linalg.norm(g - w) / nrm) if nrm > 0 else float(np.linalg.norm(g - w))
    return nbits, float(diff.max()) if diff.size else 0.0, rel


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ggdm", default=os.path.join(ROOT, "build", "ggdm"))
    ap.add_argument("--vectors", default=os.path.join(ROOT, "vectors"))
    ap.add_argument("--no-large", action="store_true", help="only the stored vectors")
    ap.add_argument("--tol", type=float, default=1e-5, help="whole-output relative error allowed with FMA kernels")
    args = ap.parse_args()
    if not os.path.exists(args.ggdm):
        print("no ggdm binary at %s (make BUILD=build build/ggdm)" % args.ggdm)
        return 2
    tmp = tempfile.mkdtemp(prefix="ggdm-resize-")
    ggdm_files = {}  # case id -> {"y": path, "dx": path}
    cases = {}

    # the stored vectors
    with open(os.path.join(args.vectors, "ops", "manifest.tsv")) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            if not f[0].startswith("op.resize.") or f[3].startswith("error:"):
                continue
            cid, res = f[0][len("op.resize."):].rsplit(".", 1)
            p = parse(f[2])
            p.pop("result", None)
            ggdm_files.setdefault(cid, {})[res] = os.path.join(args.vectors, "ops", f[3])
            if cid not in cases:
                cases[cid] = inputs_of(args.ggdm, cid, p, tmp)

    # the large cases: written by the reference into a temporary vectors folder
    if not args.no_large:
        vdir = os.path.join(tmp, "vectors")
        os.makedirs(os.path.join(vdir, "ops"))
        with open(os.path.join(vdir, "manifest.tsv"), "w") as fh:
            fh.write("# empty: the op vectors only\n")
        with open(os.path.join(vdir, "ops", "manifest.tsv"), "w") as fh:
            for cid, params in LARGE:
                for res, sel in (("y", "out"), ("dx", "din0")):
                    fh.write("op.resize.%s.%s\top\tname=resize;%s;result=%s\tresize/%s.%s.npy\t-\trel=1e-5\t-\t-\n"
                             % (cid, res, params, sel, cid, res))
                    ggdm_files.setdefault(cid, {})[res] = os.path.join(vdir, "ops", "resize", "%s.%s.npy" % (cid, res))
                cases[cid] = inputs_of(args.ggdm, cid, parse(params), tmp)
        subprocess.run([args.ggdm, "vectors", "--vectors", vdir], check=True, stdout=subprocess.DEVNULL)

    cases_path = os.path.join(tmp, "cases.json")
    with open(cases_path, "w") as fh:
        json.dump(cases, fh)
    ok = True
    for cap, exact in (("default", True), (None, False)):
        outdir = os.path.join(tmp, "torch_" + (cap or "native"))
        os.makedirs(outdir)
        ver = run_torch(cases_path, outdir, cap)
        print("torch %s (ATEN_CPU_CAPABILITY=%s): %s" % (ver, cap or "unset", "must be bit-exact" if exact else
                                                          "whole-output relative error <= %g" % args.tol))
        with open(os.path.join(outdir, "kernels.json")) as fh:
            kernels = json.load(fh)
        worst = 0.0
        for cid in sorted(ggdm_files):
            for res in ("y", "dx"):
                if res not in ggdm_files[cid]:
                    continue
                got = np.load(ggdm_files[cid][res])
                want = np.load(os.path.join(outdir, "%s.%s.npy" % (cid, res))).reshape(got.shape)
                nbits, mabs, rel = compare(got, want)
                worst = max(worst, rel)
                strict = exact and kernels[cid] == "nchw"  # torch's channels-last kernel: a rounding apart
                bad = (nbits != 0) if strict else not (rel <= args.tol)
                ok = ok and not bad
                print("  %-4s %-26s %-3s %9d elems  %7d differ  max abs %.3g  rel %.3g%s"
                      % ("FAIL" if bad else "ok", cid, res, got.size, nbits, mabs, rel,
                         "" if kernels[cid] == "nchw" else "  (torch: channels-last kernel)"))
        print("  worst whole-output relative error: %.3g" % worst)
    print("resize_vs_torch: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
