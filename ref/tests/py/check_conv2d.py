#!/usr/bin/env python3
"""ggdm's 2-D convolution and 2-D nearest upsampling against PyTorch (F.conv2d, its autograd;
F.interpolate(mode='nearest', scale_factor=2)).

  check_conv2d.py [--build build] [--keep DIR] [--verbose]

Compiles a tiny driver (below) against BUILD/libggdm.a that runs the CONV and UPSAMPLE ops'
reference drivers (ggdm_cpu_conv_fwd / _vjp: the fast kernels with a scratch buffer, and the
elem drivers, whose bits must be the same) on float32 files, for Stable Diffusion's and
ResNet-18's shapes (3x3, stride-2 pad-1 downsamplers, 1x1, 7x7 stride 2 pad 3, odd shapes,
channel counts that are and are not multiples of 16). Every result is compared with PyTorch in
float64 (the exact value of the float32 inputs' convolution) and float32:
    rel = ||ggdm - torch64|| / ||torch64||  over the whole tensor, required < 1e-5
(the float32 rounding of a chain of C*KH*KW fused multiply-adds; PyTorch float32 itself is
printed beside it). The upsampling is exact (y: bit-equal; dx: a sum of four terms, rel < 1e-6).
Needs: cc, numpy, torch (the system python has torch 1.13).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

DRIVER = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggdm/op.h"

static float *rd(const char *dir, const char *name, size_t n)
{
    char p[4096];
    float *v = calloc(n ? n : 1, sizeof(float));
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "rb");
    if (!f || fread(v, sizeof(float), n, f) != n) { fprintf(stderr, "read %s\n", p); exit(2); }
    fclose(f);
    return v;
}

static void wr(const char *dir, const char *name, const float *v, size_t n)
{
    char p[4096];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "wb");
    if (!f || fwrite(v, sizeof(float), n, f) != n) { fprintf(stderr, "write %s\n", p); exit(2); }
    fclose(f);
}

/* driver DIR conv|upsample N C H W Cout KH KW sh sw ph pw bias elem */
int main(int argc, char **argv)
{
    ggdm_op_attr a;
    ggdm_op_info info;
    ggdm_op_call c;
    const char *dir = argv[1];
    int conv = strcmp(argv[2], "conv") == 0, bias, elem;
    size_t nx, nw, ny;
    float *x, *w = NULL, *b = NULL, *dy, *y, *dx, *dw = NULL, *db = NULL, *sc;
    if (argc != 17) return 2;
    memset(&a, 0, sizeof a);
    a.N = atoi(argv[3]), a.C = atoi(argv[4]), a.H = atoi(argv[5]), a.W = atoi(argv[6]);
    a.Cout = atoi(argv[7]), a.KH = atoi(argv[8]), a.KW = atoi(argv[9]);
    a.sh = atoi(argv[10]), a.sw = atoi(argv[11]), a.ph = atoi(argv[12]), a.pw = atoi(argv[13]);
    bias = atoi(argv[14]), elem = atoi(argv[15]);
    (void)argv[16];
    if (ggdm_op_info_get(conv ? GGDM_OP_CONV : GGDM_OP_UPSAMPLE, &a, &info) != GGDM_OK) return 3;
    nx = (size_t)a.N * a.C * a.H * a.W, ny = info.out;
    x = rd(dir, "x.bin", nx), dy = rd(dir, "dy.bin", ny);
    y = calloc(ny, sizeof(float)), dx = calloc(nx, sizeof(float));
    sc = calloc(info.scratch_vjp > info.scratch_fwd ? info.scratch_vjp + 1 : info.scratch_fwd + 1, sizeof(float));
    memset(&c, 0, sizeof c);
    c.a = a, c.in[0] = x, c.out = y, c.scratch = sc, c.dout = dy, c.din[0] = dx;
    if (conv) {
        nw = (size_t)a.Cout * a.C * a.KH * a.KW;
        w = rd(dir, "w.bin", nw), dw = calloc(nw, sizeof(float)), db = calloc((size_t)a.Cout, sizeof(float));
        if (bias) b = rd(dir, "b.bin", (size_t)a.Cout);
        c.in[1] = w, c.in[2] = b, c.din[1] = dw, c.din[2] = bias ? db : NULL;
        (elem ? ggdm_elem_conv_fwd : ggdm_cpu_conv_fwd)(NULL, &c);
        (elem ? ggdm_elem_conv_vjp : ggdm_cpu_conv_vjp)(NULL, &c);
        wr(dir, "dw.out", dw, nw);
        wr(dir, "db.out", db, (size_t)a.Cout);
    } else {
        (elem ? ggdm_elem_upsample_fwd : ggdm_cpu_upsample_fwd)(NULL, &c);
        (elem ? ggdm_elem_upsample_vjp : ggdm_cpu_upsample_vjp)(NULL, &c);
    }
    wr(dir, "y.out", y, ny);
    wr(dir, "dx.out", dx, nx);
    printf("%d %d %d\n", info.out_C, info.out_H, info.out_W);
    return 0;
}
'''

# N C H W Cout KH KW sh sw ph pw bias   (what it stands for)
CASES = [
    (1, 32, 16, 16, 48, 3, 3, 1, 1, 1, 1, 1, "UNet/VAE 3x3 (channels multiples of 16: fast kernels)"),
    (2, 40, 13, 11, 36, 3, 3, 1, 1, 1, 1, 1, "3x3, odd map, channels not multiples of 16"),
    (1, 32, 17, 16, 32, 3, 3, 2, 2, 1, 1, 1, "Downsample: 3x3 stride 2 pad 1, odd height"),
    (1, 48, 9, 12, 32, 1, 1, 1, 1, 0, 0, 1, "1x1 (shortcut, proj_in / proj_out)"),
    (2, 32, 15, 15, 64, 1, 1, 2, 2, 0, 0, 0, "ResNet 1x1 stride 2 shortcut, no bias"),
    (1, 3, 37, 35, 64, 7, 7, 2, 2, 3, 3, 0, "ResNet stem 7x7 stride 2 pad 3, no bias"),
    (1, 320, 16, 16, 320, 3, 3, 1, 1, 1, 1, 1, "UNet 320 channels (chain of 2880 terms)"),
    (1, 4, 16, 16, 320, 3, 3, 1, 1, 1, 1, 1, "UNet conv_in 4 -> 320"),
    (1, 320, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, "UNet conv_out 320 -> 4"),
    (2, 5, 6, 7, 4, 2, 3, 1, 2, 0, 2, 1, "asymmetric kernel, strides and padding"),
]


def run_driver(exe, d, op, attrs, bias, elem):
    out = subprocess.run([exe, d, op] + [str(v) for v in attrs] + [str(bias), str(elem), "-"],
                         check=True, capture_output=True, text=True)
    return [int(v) for v in out.stdout.split()]


def rel(a, ref):
    ref = np.asarray(ref, dtype=np.float64)
    n = np.linalg.norm(ref.ravel())
    return float(np.linalg.norm((np.asarray(a, np.float64) - ref).ravel()) / (n if n > 0 else 1.0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--keep", default=None)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    lib = os.path.join(args.build, "libggdm.a")
    if not os.path.exists(lib):
        sys.exit("check_conv2d: %s missing (make BUILD=%s build/ggdm first)" % (lib, args.build))
    tmp = args.keep or tempfile.mkdtemp(prefix="ggdm_conv2d_")
    os.makedirs(tmp, exist_ok=True)
    src, exe = os.path.join(tmp, "driver.c"), os.path.join(tmp, "driver")
    with open(src, "w") as f:
        f.write(DRIVER)
    subprocess.run(["cc", "-std=c99", "-O2", "-ffp-contract=off", "-Iref/include", "-o", exe, src, lib, "-lm"],
                   check=True)
    rng = np.random.default_rng(14)
    worst, fails = 0.0, 0
    torch.set_num_threads(1)
    for case in CASES:
        N, C, H, W, Co, KH, KW, sh, sw, ph, pw, bias, what = case
        x = rng.standard_normal((N, C, H, W), dtype=np.float32)
        w = (rng.standard_normal((Co, C, KH, KW)) / np.sqrt(C * KH * KW)).astype(np.float32)
        b = rng.standard_normal(Co).astype(np.float32)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        y64 = F.conv2d(xt, wt, bt if bias else None, stride=(sh, sw), padding=(ph, pw))
        dy = rng.standard_normal(tuple(y64.shape)).astype(np.float32)
        y64.backward(torch.tensor(dy, dtype=torch.float64))
        x32 = torch.tensor(x, requires_grad=True)
        w32 = torch.tensor(w, requires_grad=True)
        y32 = F.conv2d(x32, w32, torch.tensor(b) if bias else None, stride=(sh, sw), padding=(ph, pw))
        y32.backward(torch.tensor(dy))
        for name, v in (("x", x), ("w", w), ("b", b), ("dy", dy)):
            v.tofile(os.path.join(tmp, name + ".bin"))
        res = {}
        for elem in (0, 1):
            if elem and N * Co * C * KH * KW * H * W > 3e7:
                continue  # the element form is slow (one chain per element): small cases only
            shape = run_driver(exe, tmp, "conv", (N, C, H, W, Co, KH, KW, sh, sw, ph, pw), bias, elem)
            assert tuple(shape) == tuple(y64.shape[1:]), (shape, y64.shape)
            got = {k: np.fromfile(os.path.join(tmp, k + ".out"), dtype=np.float32) for k in ("y", "dx", "dw", "db")}
            if elem:
                for k in got:
                    if not np.array_equal(got[k].view(np.uint32), res[k].view(np.uint32)):
                        print("FAIL %s: elem and cpu drivers differ in %s" % (what, k))
                        fails += 1
            else:
                res = got
        line = []
        for k, ref, r32 in (("y", y64, y32), ("dx", xt.grad, x32.grad), ("dw", wt.grad, w32.grad),
                            ("db", bt.grad, None)):
            if k == "db" and not bias:
                continue
            ref = ref.detach().numpy().ravel()
            e = rel(res[k], ref)
            worst = max(worst, e)
            if e >= 1e-5:
                fails += 1
            if r32 is not None:
                line.append("%s %.2e (torch32 %.2e)" % (k, e, rel(r32.detach().numpy().ravel(), ref)))
            else:
                line.append("%s %.2e" % (k, e))
        print("%-58s %s" % ("conv %dx%d s%d,%d p%d,%d %d->%d %dx%d: %s" % (KH, KW, sh, sw, ph, pw, C, Co, H, W, what),
                             "  ".join(line)))
    # upsampling 2-D
    for (N, C, H, W) in ((2, 5, 3, 7), (1, 320, 8, 8), (1, 3, 1, 1)):
        x = rng.standard_normal((N, C, H, W), dtype=np.float32)
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        y = F.interpolate(xt, scale_factor=2, mode="nearest")
        dy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(torch.tensor(dy, dtype=torch.float64))
        x.tofile(os.path.join(tmp, "x.bin"))
        dy.tofile(os.path.join(tmp, "dy.bin"))
        outs = []
        for elem in (0, 1):
            run_driver(exe, tmp, "upsample", (N, C, H, W, 0, 0, 0, 2, 0, 0, 0), 0, elem)
            outs.append([np.fromfile(os.path.join(tmp, k + ".out"), dtype=np.float32) for k in ("y", "dx")])
        ok_y = np.array_equal(outs[0][0], y.detach().numpy().astype(np.float32).ravel())
        e = rel(outs[0][1], xt.grad.numpy().ravel())
        same = all(np.array_equal(a.view(np.uint32), b.view(np.uint32)) for a, b in zip(outs[0], outs[1]))
        if not ok_y or e >= 1e-6 or not same:
            fails += 1
        print("%-58s y %s  dx %.2e  elem %s" % ("upsample2d %dx%dx%dx%d" % (N, C, H, W), "exact" if ok_y else "DIFFERS",
                                                e, "same bits" if same else "DIFFERS"))
    print("check_conv2d: %s (worst conv rel %.2e vs float64 PyTorch)" % ("FAIL" if fails else "ok", worst))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
