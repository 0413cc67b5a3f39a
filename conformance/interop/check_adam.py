#!/usr/bin/env python3
"""ggdm's Adam (ggdm_adam_step) against PyTorch's torch.optim.Adam, bit for bit.

  check_adam.py [LIBGGDM] [--cc CC] [--steps S] [--scalar-steps K] [--emit-c] [--verbose]

LIBGGDM is the reference library (default build/libggdm.a). The script compiles a tiny C
driver against it (CC, default $CC or cc; strict C99 flags with -ffp-contract=off) and feeds the
same parameters and gradients to ggdm and to torch.optim.Adam(foreach=False, amsgrad=False,
weight_decay=0), float32 on the CPU, one thread. Checks:

  trajectory  for several configurations (the spec's betas (0.9, 0.99) with lr 1e-3, 1e-4 and
              1e-6, PyTorch's default betas (0.9, 0.999), and a large eps), S steps (default 40)
              on n = 1037 parameters (vectorised body and scalar tail of ATen's kernels) and on
              n = 5, with gradients spanning 1e-7 .. 10 in magnitude, zeros included: after every
              step the parameters and both moments (exp_avg, exp_avg_sq) must be bit-identical,
              both along the two trajectories and for each step started from PyTorch's state
  scalars     for steps 1 .. K (default 200000) the float32 scalars of a step,
              (float)(-lr / (1 - b1^k)) and (float)sqrt(1 - b2^k), must equal what Adam's Python
              code computes (Python's float ** and math.sqrt, then the tensor op's conversion)
  nonfinite   a NaN gradient: ggdm refuses the step and leaves everything untouched

Bit-identity holds for ATen's AVX2 and AVX-512 kernels (every x86-64 CPU of the last decade; the
ones Debian's torch picks there), which fuse add_(alpha) and addcmul_ into fma. With another CPU
capability (ATEN_CPU_CAPABILITY=default, or a CPU without them) PyTorch rounds those two ops
differently; the script then reports the differences and requires, for each step started from
PyTorch's own state, agreement within the rounding of the step's operations (2 ulp of each
operation's operands), and says so.

--emit-c prints the C arrays embedded in ref/tests/test_adam.c (inputs and PyTorch's results for
a small case) instead of checking. One line per check, "ok   ..." or "FAIL ...", then
"adam: N passed, M failed"; exit status 1 on any failure, 2 on usage errors.
Needs torch and numpy only.
"""
import argparse
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

DRIVER = r"""
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ggdm/adam.h"

static void rd(void *p, size_t sz, size_t n) { if (fread(p, sz, n, stdin) != n) exit(3); }

int main(void)
{
    /* header: mode (u64), cfg (4 doubles), n (u64), steps (u64) */
    uint64_t mode, n, steps, k;
    ggdm_adam_cfg c;
    rd(&mode, 8, 1); rd(&c.lr, 8, 1); rd(&c.beta1, 8, 1); rd(&c.beta2, 8, 1); rd(&c.eps, 8, 1);
    rd(&n, 8, 1); rd(&steps, 8, 1);
    if (mode == 0) { /* trajectory: params[n], grads[steps*n] -> per step p, m, v */
        float *p = malloc(n * 4 + 1), *g = malloc(steps * n * 4 + 1), *m = calloc(n + 1, 4), *v = calloc(n + 1, 4);
        ggdm_adam_state s;
        s.step = 0;
        rd(p, 4, n); rd(g, 4, steps * n);
        for (k = 0; k < steps; k++) {
            ggdm_status st = ggdm_adam_step(&c, &s, p, g + k * n, m, v, n);
            if (st != GGDM_OK) { fprintf(stderr, "ggdm_adam_step: status %d\n", (int)st); return 4; }
            fwrite(p, 4, n, stdout); fwrite(m, 4, n, stdout); fwrite(v, 4, n, stdout);
        }
        free(p); free(g); free(m); free(v);
    } else if (mode == 1) { /* scalars of steps 1..steps: neg_step_size, bc2_sqrt */
        for (k = 1; k <= steps; k++) {
            ggdm_adam_scalars sc;
            if (ggdm_adam_scalars_at(&c, k, &sc) != GGDM_OK) return 4;
            fwrite(&sc.neg_step_size, 4, 1, stdout); fwrite(&sc.bc2_sqrt, 4, 1, stdout);
        }
    } else if (mode == 3) { /* one step from each given state: per step k (1-based) p, m, v, g -> p, m, v */
        float *b = malloc(4 * n * 4 + 1);
        for (k = 1; k <= steps; k++) {
            ggdm_adam_state s;
            rd(b, 4, 4 * n);
            s.step = k - 1;
            if (ggdm_adam_step(&c, &s, b, b + 3 * n, b + n, b + 2 * n, n) != GGDM_OK) return 4;
            fwrite(b, 4, 3 * n, stdout);
        }
        free(b);
    } else { /* a NaN gradient: status, then p, m, v and step must be unchanged */
        float p[3] = {1.0f, -2.0f, 0.5f}, m[3] = {0.25f, 0.0f, -1.0f}, v[3] = {1.0f, 0.0f, 2.0f};
        float g[3] = {0.1f, 0.0f, 0.0f};
        float p0[3], m0[3], v0[3];
        ggdm_adam_state s;
        ggdm_status st;
        s.step = 7;
        g[2] = strtof("nan", 0);
        memcpy(p0, p, sizeof p); memcpy(m0, m, sizeof m); memcpy(v0, v, sizeof v);
        st = ggdm_adam_step(&c, &s, p, g, m, v, 3);
        printf("%d %d\n", (int)st, (int)(s.step == 7 && !memcmp(p, p0, sizeof p) && !memcmp(m, m0, sizeof m)
                                         && !memcmp(v, v0, sizeof v)));
    }
    return 0;
}
"""

CONFIGS = [
    ("lr 1e-3, betas (0.9, 0.99), eps 1e-8 (default)", 1e-3, 0.9, 0.99, 1e-8),
    ("lr 1e-4, betas (0.9, 0.99) (pre-training)", 1e-4, 0.9, 0.99, 1e-8),
    ("lr 1e-6, betas (0.9, 0.99) (fine-tuning)", 1e-6, 0.9, 0.99, 1e-8),
    ("lr 1e-3, betas (0.9, 0.999) (PyTorch's default)", 1e-3, 0.9, 0.999, 1e-8),
    ("lr 3e-2, betas (0.8, 0.95), eps 1e-3", 3e-2, 0.8, 0.95, 1e-3),
]


def cpu_capability():
    env = os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    m = re.search(r"CPU capability usage:\s*(\S+)", torch.__config__.show())
    cap = m.group(1).lower() if m else "unknown"
    if cap == "no":  # "NO AVX"
        cap = "default"
    if env in ("default", "avx2", "avx512"):
        # an override can only lower the capability
        order = ["default", "avx2", "avx512"]
        if cap in order and order.index(env) < order.index(cap):
            cap = env
    return cap


def build_driver(lib, cc, tmp):
    src = os.path.join(tmp, "adam_driver.c")
    exe = os.path.join(tmp, "adam_driver")
    with open(src, "w") as f:
        f.write(DRIVER)
    cmd = shlex.split(cc) + ["-std=c99", "-O2", "-ffp-contract=off", "-fno-fast-math",
                             "-I" + os.path.join(ROOT, "ref", "include"), src, lib, "-lm", "-o", exe]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write("check_adam.py: cannot build the driver:\n  %s\n%s" % (" ".join(cmd), p.stderr))
        return None
    return exe


def header(mode, lr, b1, b2, eps, n, steps):
    return (np.array([mode], "<u8").tobytes() + np.array([lr, b1, b2, eps], "<f8").tobytes()
            + np.array([n, steps], "<u8").tobytes())


def ggdm_trajectory(exe, cfg, p0, grads):
    _, lr, b1, b2, eps = cfg
    steps, n = grads.shape
    inp = header(0, lr, b1, b2, eps, n, steps) + p0.astype("<f4").tobytes() + grads.astype("<f4").tobytes()
    p = subprocess.run([exe], input=inp, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("driver failed (%d): %s" % (p.returncode, p.stderr.decode()))
    out = np.frombuffer(p.stdout, "<f4").reshape(steps, 3, n)
    return out


def ggdm_one_steps(exe, cfg, p0, grads, states):
    """Step k from PyTorch's state after step k-1 (p0 and zero moments for k = 1)."""
    _, lr, b1, b2, eps = cfg
    steps, n = grads.shape
    prev = np.concatenate([np.stack([p0, np.zeros(n, np.float32), np.zeros(n, np.float32)])[None], states[:-1]])
    inp = np.concatenate([prev, grads[:, None, :]], axis=1).astype("<f4")
    p = subprocess.run([exe], input=header(3, lr, b1, b2, eps, n, steps) + inp.tobytes(), capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("driver failed (%d): %s" % (p.returncode, p.stderr.decode()))
    return np.frombuffer(p.stdout, "<f4").reshape(steps, 3, n), prev


def one_step_bounds(cfg, prev, grads, t):
    """Rounding bounds of one step for kernels that do not fuse (2 ulp of each op's operands)."""
    _, lr, b1, b2, eps = cfg
    u = 2.0 ** -23
    pm, m0, v0 = (prev[:, i].astype(np.float64) for i in range(3))
    g = grads.astype(np.float64)
    bm = 2 * u * (np.abs(m0) * b1 + np.abs(g) * (1 - b1))
    bv = 2 * u * (v0 * b2 + g * g * (1 - b2))
    upd = np.abs(t[:, 0].astype(np.float64) - pm)
    bp = 2 * u * (np.abs(pm) + upd) + 4 * u * upd
    return np.stack([bp, bm, bv], axis=1)


def torch_trajectory(cfg, p0, grads):
    _, lr, b1, b2, eps = cfg
    steps, n = grads.shape
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=0, amsgrad=False, foreach=False)
    out = np.zeros((steps, 3, n), np.float32)
    for k in range(steps):
        p.grad = torch.from_numpy(grads[k].copy())
        opt.step()
        st = opt.state[p]
        out[k, 0] = p.detach().numpy()
        out[k, 1] = st["exp_avg"].numpy()
        out[k, 2] = st["exp_avg_sq"].numpy()
    return out


def inputs(rng, n, steps):
    p0 = rng.standard_normal(n).astype(np.float32)
    mag = 10.0 ** rng.uniform(-7, 1, size=(1, n))  # per-parameter gradient scale
    grads = (rng.standard_normal((steps, n)) * mag).astype(np.float32)
    grads[:, ::17] = 0.0          # parameters that never get a gradient
    grads[steps // 2, 5::23] = 0  # and occasional zeros
    return p0, grads


def ulps(a, b):
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def c_array(name, a):
    words = a.astype("<f4").view("<u4").ravel()
    lines = []
    for i in range(0, len(words), 8):
        lines.append("    " + ", ".join("0x%08x" % w for w in words[i:i + 8]) + ",")
    return "static const uint32_t %s[%d] = {\n%s\n};" % (name, len(words), "\n".join(lines))


def emit_c():
    """The small case embedded in test_adam.c: n = 19, 4 steps, two configurations."""
    rng = np.random.default_rng(20240517)
    n, steps = 19, 4
    p0, grads = inputs(rng, n, steps)
    print("/* Generated by conformance/interop/check_adam.py --emit-c (torch %s, CPU capability %s). */"
          % (torch.__version__, cpu_capability()))
    print("enum { ADAM_N = %d, ADAM_STEPS = %d };" % (n, steps))
    print(c_array("adam_p0", p0))
    print(c_array("adam_grads", grads))
    for j, cfg in enumerate([CONFIGS[0], CONFIGS[4]]):
        out = torch_trajectory(cfg, p0, grads)
        print("/* %s: after each step, p, exp_avg, exp_avg_sq */" % cfg[0])
        print(c_array("adam_expect%d" % j, out))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lib", nargs="?", default=os.path.join(ROOT, "build", "libggdm.a"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--scalar-steps", type=int, default=200000)
    ap.add_argument("--emit-c", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.emit_c:
        return emit_c()
    if not os.path.isfile(a.lib):
        print("check_adam.py: %s is not a file (build the library first: make)" % a.lib, file=sys.stderr)
        return 2
    if a.steps < 1 or a.scalar_steps < 1:
        print("check_adam.py: --steps and --scalar-steps must be >= 1", file=sys.stderr)
        return 2
    cap = cpu_capability()
    exact = cap in ("avx2", "avx512")
    print("PyTorch %s, CPU capability %s: %s" % (torch.__version__, cap,
          "bit-identical results required" if exact else
          "kernels without fma: each step from PyTorch's state must agree within the rounding of its ops"))
    passed = failed = 0

    def report(ok, msg):
        nonlocal passed, failed
        print("%s %s" % ("ok  " if ok else "FAIL", msg), flush=True)
        if ok:
            passed += 1
        else:
            failed += 1

    with tempfile.TemporaryDirectory() as tmp:
        exe = build_driver(a.lib, a.cc, tmp)
        if exe is None:
            return 1
        rng = np.random.default_rng(2345)
        for cfg in CONFIGS:
            for n in (1037, 5):
                p0, grads = inputs(rng, n, a.steps)
                g = ggdm_trajectory(exe, cfg, p0, grads)
                t = torch_trajectory(cfg, p0, grads)
                same = (g.view(np.uint32) == t.view(np.uint32))
                u = ulps(g, t)
                first = None
                if not same.all():
                    k, what, i = np.argwhere(~same)[0]
                    first = "first at step %d %s[%d]: ggdm %r torch %r" % (
                        k + 1, ("p", "exp_avg", "exp_avg_sq")[what], i, float(g[k, what, i]), float(t[k, what, i]))
                one, prev = ggdm_one_steps(exe, cfg, p0, grads, t)
                same1 = (one.view(np.uint32) == t.view(np.uint32))
                if exact:
                    ok = bool(same.all()) and bool(same1.all())
                else:
                    err = np.abs(one.astype(np.float64) - t)
                    ok = bool(np.all(err <= one_step_bounds(cfg, prev, grads, t)))
                msg = ("%s, n %d, %d steps: trajectory %d of %d values bit-identical (max %d ulp); "
                       "each step from PyTorch's state: %d of %d bit-identical (max %d ulp)") % (
                    cfg[0], n, a.steps, int(same.sum()), same.size, int(u.max()),
                    int(same1.sum()), same1.size, int(ulps(one, t).max()))
                if first and (not ok or a.verbose):
                    msg += "; " + first
                report(ok, msg)

        for cfg in CONFIGS[:4]:
            _, lr, b1, b2, eps = cfg
            K = a.scalar_steps
            p = subprocess.run([exe], input=header(1, lr, b1, b2, eps, 0, K), capture_output=True)
            if p.returncode != 0:
                report(False, "scalars %s: driver failed" % cfg[0])
                continue
            got = np.frombuffer(p.stdout, "<f4").reshape(K, 2)
            ns = np.array([-(lr / (1 - b1 ** float(k))) for k in range(1, K + 1)]).astype(np.float32)
            sq = np.array([math.sqrt(1 - b2 ** float(k)) for k in range(1, K + 1)]).astype(np.float32)
            bad = np.nonzero((got[:, 0].view(np.uint32) != ns.view(np.uint32))
                             | (got[:, 1].view(np.uint32) != sq.view(np.uint32)))[0]
            msg = "scalars %s, steps 1..%d: %d differ" % (cfg[0], K, len(bad))
            if len(bad):
                msg += " (first at step %d)" % (bad[0] + 1)
            report(len(bad) == 0, msg)

        _, lr, b1, b2, eps = CONFIGS[0]
        p = subprocess.run([exe], input=header(2, lr, b1, b2, eps, 0, 0), capture_output=True, text=False)
        words = p.stdout.decode().split() if p.returncode == 0 else []
        ok = words == ["3", "1"]
        report(ok, "nonfinite: a NaN gradient gives GGDM_ERR_NONFINITE (3) and changes nothing (%s)"
               % " ".join(words))

    print("adam: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
