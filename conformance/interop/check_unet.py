#!/usr/bin/env python3
"""Interoperability of ggdm's score network with PyTorch: forward, VJP, training-loss gradients.

  check_unet.py GGDM_BINARY [--config paper|small] [--n N] [--seed S] [--keep DIR] [--verbose]

Drives the ggdm command-line tool and recomputes everything in float32 PyTorch with the
network of unet_torch.py (written from the specification, section 2), from the very same
weights:

  GGDM init --dim D --dim-mults M --length L --groups G --seed S -o W.safetensors
  GGDM eps  -w W.safetensors -x X.npy (-t T | --t-file T.npy) -o EPS.npy
  GGDM vjp  -w W.safetensors -x X.npy -t T -v V.npy -o OUT.npy          (J_eps(x)^T v)
  GGDM loss-grad -w W.safetensors --x0 X0.npy --t-file T.npy --noise Z.npy -o GRAD.safetensors
           (prints "loss <value>"; GRAD holds d loss / d parameter under the parameter names)

Two weight sets are used: A, written by `ggdm init` (its norms are at their default 1 and 0),
and B, PyTorch's default initialisation with every norm weight, bias and g moved away from 1
and 0 (so that a norm parameter ggdm ignored or misapplied would show), written by this script.
The checks:

  init        ggdm's file: float32, exactly the specification's tensors and shapes, the
              configuration in __metadata__, loads into PyTorch with strict=True, values within
              PyTorch's default-initialisation bounds, deterministic in the seed
  forward     eps with one step per sample (--t-file, steps spread over 0..199) and with one
              step for all (-t): ||ggdm - torch|| / ||torch|| < 1e-5
  vjp         J^T v at two steps: rel < 1e-4
  loss-grad   the loss (rel < 1e-5) and every parameter gradient (rel of all of them together
              < 1e-4; the worst tensor is named), the file holding exactly the parameter names
  pytorch-written  A saved by PyTorch the way the original's checkpoints hold it (names prefixed
              'model.', the diffusion's schedule buffers beside them): ggdm's eps is bit-identical
              to the one from ggdm's own file
  errors      ggdm refuses a file missing a tensor, a tensor of the wrong shape, and an input of
              the wrong length, with a message and no output file left behind

Each line also gives, for scale, the distance of ggdm and of PyTorch float32 to PyTorch float64
(same weights; the float32 time embedding is shared). One line per check, "ok   ..." or
"FAIL ...", then "interop: N passed, M failed"; exit status 1 on any failure, 2 on usage errors.

--config small (dim 8, dim_mults 1,2, groups 2, length 8, N 2) runs in seconds; the default is
the paper's network (dim 64, dim_mults 1,2,4,8, groups 8, length 64) with N = 4.
Needs torch and numpy only.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import unet_torch as U                      # noqa: E402
from original_schedule import tables        # noqa: E402

CONFIGS = {
    "paper": {"dim": 64, "dim_mults": (1, 2, 4, 8), "groups": 8, "length": 64},
    "small": {"dim": 8, "dim_mults": (1, 2), "groups": 2, "length": 8},
}
DEFAULT_N = {"paper": 4, "small": 2}
T_STEPS = 200
TOL_FORWARD = 1e-5
TOL_VJP = 1e-4
TOL_GRAD = 1e-4
TOL_LOSS = 1e-5


class Checker:
    """Runs ggdm, counts and prints the checks."""

    def __init__(self, ggdm, workdir, timeout, verbose):
        self.ggdm = ggdm
        self.dir = workdir
        self.timeout = timeout
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.ggdm_seconds = 0.0

    def path(self, name):
        return os.path.join(self.dir, name)

    def report(self, ok, msg):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %s" % ("ok  " if ok else "FAIL", msg), flush=True)
        return ok

    def run(self, args):
        """Run ggdm; returns (returncode, stdout, stderr). Never raises."""
        cmd = [self.ggdm] + [str(a) for a in args]
        if "-o" in cmd[:-1]:                 # no stale output from an earlier run (--keep)
            out = cmd[cmd.index("-o") + 1]
            if os.path.isfile(out):
                os.unlink(out)
        if self.verbose:
            print("  $ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        t0 = time.time()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out after %d s" % self.timeout
        except OSError as e:
            return 127, "", str(e)
        finally:
            self.ggdm_seconds += time.time() - t0
        if self.verbose:
            print("    exit %d in %.2f s" % (p.returncode, time.time() - t0), flush=True)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def run_ok(self, args, what):
        """Run ggdm expecting success: returns stdout, or raises RuntimeError with its message."""
        rc, out, err = self.run(args)
        if rc != 0:
            lines = [ln for ln in (err.strip() or out.strip()).splitlines() if ln.strip()]
            raise RuntimeError("%s: ggdm %s exited %d%s" % (what, args[0], rc,
                                                             ": " + lines[-1] if lines else ""))
        return out


def rel(a, b):
    return U.rel_err(a, b)


def scale_note(ggdm_out, f32, f64):
    """'(vs torch float64: ggdm x, torch float32 y)' for a result and its two PyTorch versions."""
    return "(vs torch float64: ggdm %.1e, torch float32 %.1e)" % (rel(ggdm_out, f64), rel(f32, f64))


def load_npy(path, shape, what):
    a = np.load(path)
    if a.dtype != np.float32 or a.shape != tuple(shape):
        raise RuntimeError("%s: %s holds %s%s, expected float32%s"
                           % (what, os.path.basename(path), a.dtype, a.shape, tuple(shape)))
    return a


def models_from(tensors, cfg, prefix=""):
    """float32 and float64 Unet1D holding the given weights (strict load)."""
    m32 = U.Unet1D(**cfg)
    sd = {k: np.asarray(tensors[prefix + k]) for k in m32.state_dict() if prefix + k in tensors}
    U.load_strict(m32, sd)
    m64 = U.Unet1D(**cfg).double()
    m64.load_state_dict(m32.state_dict(), strict=True)
    return m32.eval(), m64.eval()


def torch_eps(model, x, t):
    dt = model.init_conv.weight.dtype
    with torch.no_grad():
        return model(torch.from_numpy(x).to(dt), torch.as_tensor(t)).numpy()


def torch_vjp(model, x, t, v):
    dt = model.init_conv.weight.dtype
    xx = torch.from_numpy(x).to(dt).requires_grad_(True)
    (g,) = torch.autograd.grad(model(xx, torch.as_tensor(t)), xx,
                               grad_outputs=torch.from_numpy(v).to(dt))
    return g.numpy()


def torch_loss_grad(model, x0, t, z, sched):
    """The training loss of section 5 with given t and noise: xt in float32 from the float32
    tables, loss = mean((eps(xt, t) - z)^2); returns (loss, {name: grad})."""
    dt = model.init_conv.weight.dtype
    xt = sched["sqrt_alphas_cumprod"][t][:, None] * x0 \
        + sched["sqrt_one_minus_alphas_cumprod"][t][:, None] * z           # float32, as the original
    model.zero_grad()
    loss = (model(torch.from_numpy(xt).to(dt), torch.from_numpy(t)) - torch.from_numpy(z).to(dt)).square().mean()
    loss.backward()
    return float(loss.item()), {k: p.grad.detach().numpy().copy() for k, p in model.named_parameters()}


def check_init_file(ck, path, cfg, label):
    """Format, names/shapes, metadata, strict load, value ranges of ggdm's weights file."""
    tensors, meta = U.load_safetensors(path)
    ref = U.Unet1D(**cfg).state_dict()
    problems = []
    for k, v in ref.items():
        if k not in tensors:
            problems.append("missing %s" % k)
        elif tensors[k].shape != tuple(v.shape):
            problems.append("%s has shape %s, spec %s" % (k, tensors[k].shape, tuple(v.shape)))
        elif tensors[k].dtype != np.float32:
            problems.append("%s is %s, not float32" % (k, tensors[k].dtype))
    extra = sorted(set(tensors) - set(ref))
    if extra:
        problems.append("%d unexpected tensors, e.g. %s" % (len(extra), extra[0]))
    ck.report(not problems, "init %s: %d float32 tensors, names and shapes of the specification%s"
              % (label, len(ref), "" if not problems else ": " + "; ".join(problems[:3])))

    want = U.config_metadata(cfg)
    bad = ["%s=%r (want %r)" % (k, meta.get(k), v) for k, v in want.items()
           if k not in meta or U.config_from_metadata({k: meta[k]})[k] != cfg[k]]
    ck.report(not bad, "init %s: configuration in __metadata__ %s%s"
              % (label, ",".join("%s=%s" % kv for kv in sorted(meta.items())) or "{}",
                 "" if not bad else ": " + "; ".join(bad)))

    try:
        model = U.build_from_safetensors(path)
        ok = model.config == {**cfg, "dim_mults": tuple(cfg["dim_mults"])}
        ck.report(ok, "init %s: loads into the PyTorch Unet1D with strict=True%s"
                  % (label, "" if ok else ", but as configuration %s" % model.config))
    except Exception as e:  # noqa: BLE001 - the message is the finding
        ck.report(False, "init %s: strict load into PyTorch failed: %s" % (label, str(e).splitlines()[0]))

    if problems:
        return tensors
    out_of_range = []
    for k, v in ref.items():
        a = tensors[k].astype(np.float64)
        if k.endswith(".g") or k.endswith("norm.weight"):
            if not np.all(a == 1.0):
                out_of_range.append("%s not all 1" % k)
            continue
        if k.endswith("norm.bias"):
            if not np.all(a == 0.0):
                out_of_range.append("%s not all 0" % k)
            continue
        w = ref[k.rsplit(".", 1)[0] + ".weight"]
        bound = 1.0 / np.sqrt(w[0].numel())
        if np.abs(a).max() > bound * (1 + 1e-6):
            out_of_range.append("%s max |w| %.3g > 1/sqrt(fan_in) = %.3g" % (k, np.abs(a).max(), bound))
        elif a.size >= 64 and a.std() < 0.25 * bound / np.sqrt(3):
            out_of_range.append("%s std %.3g degenerate (bound %.3g)" % (k, a.std(), bound))
    ck.report(not out_of_range, "init %s: values within PyTorch's default bounds "
              "(uniform 1/sqrt(fan_in), norms 1 and 0)%s"
              % (label, "" if not out_of_range else ": " + "; ".join(out_of_range[:3])))
    return tensors


def write_torch_checkpoint(path, state, cfg, sched, prefix, extra_meta=None):
    """The weights as PyTorch's safetensors.torch.save_file would lay out the original's
    GaussianDiffusion1D state_dict: prefixed names, its float32 schedule buffers beside them,
    tensors sorted by dtype size then name, config (and format=pt) in __metadata__."""
    tensors = {prefix + k: (v.detach().numpy() if isinstance(v, torch.Tensor) else v)
               for k, v in state.items()}
    if prefix:
        for k, v in sched.items():
            tensors[k] = v
    meta = dict(U.config_metadata(cfg))
    meta["format"] = "pt"
    meta.update(extra_meta or {})
    U.save_safetensors(path, tensors, meta, order="save_file")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ggdm", metavar="GGDM_BINARY", help="the ggdm command (e.g. build/ggdm)")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="paper",
                    help="paper: dim 64, dim_mults 1,2,4,8, groups 8, length 64 (default); "
                         "small: dim 8, dim_mults 1,2, groups 2, length 8")
    ap.add_argument("--n", type=int, help="samples per batch (default: 4 paper, 2 small)")
    ap.add_argument("--seed", type=int, default=2345, help="seed for ggdm init and the inputs")
    ap.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    ap.add_argument("--timeout", type=int, default=600, help="seconds allowed per ggdm command")
    ap.add_argument("--verbose", action="store_true", help="print the ggdm commands")
    a = ap.parse_args()

    cfg = CONFIGS[a.config]
    n = a.n if a.n is not None else DEFAULT_N[a.config]
    if n < 1:
        ap.error("--n must be at least 1")
    ggdm = a.ggdm if os.sep in a.ggdm else (shutil.which(a.ggdm) or a.ggdm)
    if not (os.path.isfile(ggdm) and os.access(ggdm, os.X_OK)):
        print("check_unet.py: %s is not an executable file" % a.ggdm, file=sys.stderr)
        return 2
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
        workdir = a.keep
    else:
        workdir = tempfile.mkdtemp(prefix="ggdm-interop-")
    ck = Checker(os.path.abspath(ggdm), workdir, a.timeout, a.verbose)
    try:
        run_checks(ck, cfg, a.config, n, a.seed)
    finally:
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("interop: %d passed, %d failed" % (ck.passed, ck.failed))
    return 1 if ck.failed else 0


def run_checks(ck, cfg, cname, n, seed):
    t_start = time.time()
    D = cfg["length"]
    sched = tables(T_STEPS, "cosine")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, D)).astype(np.float32)
    v = rng.standard_normal((n, D)).astype(np.float32)
    x0 = rng.standard_normal((n, D)).astype(np.float32)
    z = rng.standard_normal((n, D)).astype(np.float32)
    t_fwd = np.round(np.linspace(0, T_STEPS - 1, n)).astype(np.int64) if n > 1 \
        else np.array([T_STEPS - 1], dtype=np.int64)
    t_loss = np.round(np.linspace(T_STEPS - 1, 0, n) * 0.9 + 7).astype(np.int64)   # 186 .. 7
    t_loss[0] = T_STEPS - 1
    t_single = 42
    vjp_steps = (5, 150)
    for name, arr in (("x", x), ("v", v), ("x0", x0), ("z", z), ("t", t_fwd), ("tloss", t_loss)):
        np.save(ck.path(name + ".npy"), arr)
    tag = "%s N=%d" % (cname, n)
    mults = ",".join(str(m) for m in cfg["dim_mults"])
    init_args = ["init", "--dim", cfg["dim"], "--dim-mults", mults, "--length", D,
                 "--groups", cfg["groups"]]

    def guarded(label, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report and go on with the other checks
            ck.report(False, "%s: %s" % (label, str(e).splitlines()[0] if str(e) else type(e).__name__))

    # ---- weights A: ggdm init -------------------------------------------------------------
    wa = ck.path("ggdm_init.safetensors")
    state = {}

    def do_init():
        ck.run_ok(init_args + ["--seed", seed, "-o", wa], "init")
        state["A"] = check_init_file(ck, wa, cfg, cname)
        wa2, wa3 = ck.path("ggdm_init_again.safetensors"), ck.path("ggdm_init_other.safetensors")
        ck.run_ok(init_args + ["--seed", seed, "-o", wa2], "init")
        ck.run_ok(init_args + ["--seed", seed + 1, "-o", wa3], "init")
        with open(wa, "rb") as f1, open(wa2, "rb") as f2:
            same = f1.read() == f2.read()
        other, _ = U.load_safetensors(wa3)
        differs = any(not np.array_equal(other[k], state["A"][k]) for k in other if k in state["A"])
        ck.report(same and differs, "init %s: same seed gives the same file, seed+1 other weights%s"
                  % (cname, "" if same else " (same seed: files differ)") + ("" if differs else
                                                                           " (seed+1: same weights)"))
    guarded("init %s" % cname, do_init)

    # ---- weights B: PyTorch init with moved norm parameters --------------------------------
    wb = ck.path("torch_init.safetensors")
    torch.manual_seed(seed)
    mb = U.Unet1D(**cfg)
    U.perturb_norms(mb, seed)
    write_torch_checkpoint(wb, mb.state_dict(), cfg, sched, prefix="")
    state["B"] = {k: v.detach().numpy() for k, v in mb.state_dict().items()}

    def forward_checks(wlabel, wpath, tensors):
        m32, m64 = models_from(tensors, cfg)
        out = ck.path("eps_%s.npy" % wlabel)
        ck.run_ok(["eps", "-w", wpath, "-x", ck.path("x.npy"), "--t-file", ck.path("t.npy"),
                   "-o", out], "forward")
        g = load_npy(out, (n, D), "forward")
        e32, e64 = torch_eps(m32, x, t_fwd), torch_eps(m64, x, t_fwd)
        r = rel(g, e32)
        ck.report(r < TOL_FORWARD, "forward %s, weights %s, t %s: rel err %.1e %s"
                  % (tag, wlabel, ",".join(map(str, t_fwd)), r, scale_note(g, e32, e64)))
        state["eps_" + wlabel] = g
        return m32, m64

    def single_t_check(m32, m64, wlabel, wpath):
        out = ck.path("eps1_%s.npy" % wlabel)
        ck.run_ok(["eps", "-w", wpath, "-x", ck.path("x.npy"), "-t", t_single, "-o", out], "forward -t")
        g = load_npy(out, (n, D), "forward -t")
        e32, e64 = torch_eps(m32, x, t_single), torch_eps(m64, x, t_single)
        r = rel(g, e32)
        ck.report(r < TOL_FORWARD, "forward %s, weights %s, -t %d: rel err %.1e %s"
                  % (tag, wlabel, t_single, r, scale_note(g, e32, e64)))

    def vjp_checks(m32, m64, wlabel, wpath):
        for t in vjp_steps:
            out = ck.path("vjp_%s_%d.npy" % (wlabel, t))
            ck.run_ok(["vjp", "-w", wpath, "-x", ck.path("x.npy"), "-t", t, "-v", ck.path("v.npy"),
                       "-o", out], "vjp")
            g = load_npy(out, (n, D), "vjp")
            e32, e64 = torch_vjp(m32, x, t, v), torch_vjp(m64, x, t, v)
            r = rel(g, e32)
            ck.report(r < TOL_VJP, "vjp %s, weights %s, t %d: rel err %.1e %s"
                      % (tag, wlabel, t, r, scale_note(g, e32, e64)))

    def loss_grad_checks(m32, m64, wlabel, wpath):
        out = ck.path("grad_%s.safetensors" % wlabel)
        stdout = ck.run_ok(["loss-grad", "-w", wpath, "--x0", ck.path("x0.npy"), "--t-file",
                            ck.path("tloss.npy"), "--noise", ck.path("z.npy"), "-o", out], "loss-grad")
        l32, g32 = torch_loss_grad(m32, x0, t_loss, z, sched)
        l64, g64 = torch_loss_grad(m64, x0, t_loss, z, sched)
        m = re.search(r"^\s*loss\s*[:=]?\s*(\S+)", stdout, re.M)
        if not m:
            ck.report(False, "loss %s, weights %s: no 'loss <value>' line on stdout" % (tag, wlabel))
        else:
            lg = float(m.group(1))
            r = abs(lg - l32) / abs(l32)
            ck.report(r < TOL_LOSS, "loss %s, weights %s: ggdm %.9g torch %.9g, rel err %.1e "
                      "(vs torch float64: ggdm %.1e, torch float32 %.1e)"
                      % (tag, wlabel, lg, l32, r, abs(lg - l64) / abs(l64), abs(l32 - l64) / abs(l64)))
        grads, _ = U.load_safetensors(out)
        problems = []
        for k, a in g32.items():
            if k not in grads:
                problems.append("missing %s" % k)
            elif grads[k].shape != a.shape or grads[k].dtype != np.float32:
                problems.append("%s is %s%s, want float32%s" % (k, grads[k].dtype, grads[k].shape, a.shape))
        extra = sorted(set(grads) - set(g32))
        if extra:
            problems.append("%d unexpected tensors, e.g. %s" % (len(extra), extra[0]))
        if problems:
            ck.report(False, "grad %s, weights %s: %s" % (tag, wlabel, "; ".join(problems[:3])))
            return
        names = list(g32)
        cat = lambda d: np.concatenate([np.asarray(d[k], np.float64).ravel() for k in names])  # noqa: E731
        gg, t32, t64 = cat(grads), cat(g32), cat(g64)
        r = rel(gg, t32)
        per = sorted(((rel(grads[k], g32[k]), k) for k in names), reverse=True)
        ck.report(r < TOL_GRAD, "grad %s, weights %s, %d tensors: rel err %.1e %s; worst tensor %s %.1e"
                  % (tag, wlabel, len(names), r, scale_note(gg, t32, t64), per[0][1], per[0][0]))

    for wlabel, wpath in (("A", wa), ("B", wb)):
        if wlabel not in state:
            ck.report(False, "forward/vjp/loss-grad %s, weights %s: not run (no weights)" % (tag, wlabel))
            continue
        models = {}

        def fwd():
            models["m"] = forward_checks(wlabel, wpath, state[wlabel])
        guarded("forward %s, weights %s" % (tag, wlabel), fwd)
        if "m" not in models:
            models["m"] = models_from(state[wlabel], cfg)
        m32, m64 = models["m"]
        if wlabel == "A":
            guarded("forward %s -t %d" % (tag, t_single), lambda: single_t_check(m32, m64, wlabel, wpath))
        guarded("vjp %s, weights %s" % (tag, wlabel), lambda: vjp_checks(m32, m64, wlabel, wpath))
        guarded("loss-grad %s, weights %s" % (tag, wlabel), lambda: loss_grad_checks(m32, m64, wlabel, wpath))

    # ---- A re-written by PyTorch as the original's checkpoint holds it ---------------------
    def pytorch_written():
        if "A" not in state or "eps_A" not in state:
            raise RuntimeError("not run (needs ggdm's weights and their forward)")
        wp = ck.path("ggdm_init_as_pytorch.safetensors")
        write_torch_checkpoint(wp, state["A"], cfg, sched, prefix="model.")
        out = ck.path("eps_A_pytorch.npy")
        ck.run_ok(["eps", "-w", wp, "-x", ck.path("x.npy"), "--t-file", ck.path("t.npy"), "-o", out],
                  "pytorch-written")
        g = load_npy(out, (n, D), "pytorch-written")
        same = np.array_equal(g.view(np.uint32), state["eps_A"].view(np.uint32))
        ck.report(same, "pytorch-written %s: weights A as 'model.'-prefixed names beside %d schedule "
                  "buffers: eps %s" % (tag, len(sched), "bit-identical to ggdm's own file" if same else
                                       "differs, rel %.1e" % rel(g, state["eps_A"])))
    guarded("pytorch-written %s" % tag, pytorch_written)

    # ---- refusals ------------------------------------------------------------------------
    def refusals():
        if "eps_B" not in state and "eps_A" not in state:
            raise RuntimeError("not run (ggdm eps failed on valid input, so a refusal would prove nothing)")
        base = state["B"]
        victim = "ups.%d.2.fn.norm.g" % (len(cfg["dim_mults"]) - 2)
        cases = []
        missing = {k: v for k, v in base.items() if k != victim}
        cases.append(("a weights file missing '%s'" % victim, missing, "x.npy"))
        wrong = dict(base)
        wrong["final_conv.weight"] = np.zeros((1, cfg["dim"], 3), np.float32)
        cases.append(("'final_conv.weight' of shape (1, %d, 3)" % cfg["dim"], wrong, "x.npy"))
        np.save(ck.path("x_short.npy"), x[:, :D // 2].copy())
        cases.append(("an input of length %d for a network of length %d" % (D // 2, D), base, "x_short.npy"))
        for i, (what, tensors, xin) in enumerate(cases):
            wp = ck.path("bad_%d.safetensors" % i)
            U.save_safetensors(wp, tensors, U.config_metadata(cfg))
            out = ck.path("eps_bad_%d.npy" % i)
            rc, so, se = ck.run(["eps", "-w", wp, "-x", ck.path(xin), "--t-file", ck.path("t.npy"),
                                 "-o", out])
            msg = [ln.replace(ck.dir + os.sep, "") for ln in (se.strip() or so.strip()).splitlines()
                   if ln.strip()]
            ok = rc > 0 and rc not in (124, 127) and not os.path.exists(out) and bool(msg)
            ck.report(ok, "errors: ggdm eps refuses %s (exit %d%s%s)"
                      % (what, rc, ": " + msg[-1][:100] if msg else ", no message",
                         "; but wrote its output" if os.path.exists(out) else ""))
    guarded("errors %s" % tag, refusals)
    total = time.time() - t_start
    print("(%.1f s: ggdm %.1f s, PyTorch and the rest %.1f s)" % (total, ck.ggdm_seconds, total - ck.ggdm_seconds))


if __name__ == "__main__":
    sys.exit(main())
