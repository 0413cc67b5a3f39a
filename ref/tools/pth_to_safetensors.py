#!/usr/bin/env python3
"""Convert a PyTorch checkpoint of the original's score network to a ggdm weights file.

  pth_to_safetensors.py CHECKPOINT.pth -o WEIGHTS.safetensors [options]

The checkpoint may be
  - the network's own state_dict (names 'init_conv.weight', 'downs.0.0.mlp.1.weight', ...);
  - the diffusion wrapper's state_dict: names prefixed 'model.', beside the schedule buffers
    ('betas', 'alphas_cumprod', ...), which are left out;
  - a training checkpoint holding such a state_dict under a key ('model', 'state_dict', 'ema',
    ...; nested keys with --key a.b), other entries (step, optimiser state, version) ignored;
  - with --trust, a pickled nn.Module (its state_dict() is used; its classes must be importable).

The network's tensors are found by their names (the prefix in front of 'init_conv.weight',
or --prefix), the configuration is inferred from their shapes (dim from init_conv, dim_mults
from the down-sampling convs), every tensor the specification lists (section 2 of
original-implementation.md; 276 tensors for dim 64 and dim_mults 1,2,4,8) is checked for
presence and shape, and the output holds exactly these tensors, float32, in the original's
state_dict order, with the configuration in __metadata__ as `ggdm init` writes it (format
ggdm.unet1d, dim, dim_mults, groups, length, heads 4, dim_head 32; and converted_from). The
group count of the GroupNorms and the sequence length are not recorded in the weights: they
default to 8 and 64 (the paper's) and are set with --groups and --length.

Loading is safe by default: only tensors, containers and plain values are unpickled (PyTorch's
weights_only loader, or, where torch 1.13's refuses ordinary training checkpoints, a scan of
the pickle's imports against an allow-list); --trust allows anything. Needs torch (to read the
.pth) and numpy; not the safetensors package.

Exit status: 0 written, 1 the checkpoint does not fit (one line saying what is missing, of
the wrong shape or ambiguous), 2 usage error.

Examples:
  pth_to_safetensors.py diffusion.pth -o unet.safetensors
  pth_to_safetensors.py trainer-20.pt --key ema --prefix ema_model.model. -o unet.safetensors
  pth_to_safetensors.py model.pth --list           # show what is in it and what would be taken
  pth_to_safetensors.py --self-test                # convert checkpoints it writes itself
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np

HEADS, DIM_HEAD = 4, 32              # both attentions of the original (hidden width 128)
ANCHOR = "init_conv.weight"          # the first tensor of the network: finds the prefix
CONTAINER_KEYS = ("model", "state_dict", "model_state_dict", "net", "network", "ema")


class ConvertError(Exception):
    """The checkpoint cannot be converted; the message says why."""


# --------------------------------------------------------------------------------------------
# The specification's state_dict, as a function of the configuration
# --------------------------------------------------------------------------------------------

def expected_state(dim, dim_mults):
    """[(name, shape)] of Unet1D(dim, dim_mults), one input channel, in state_dict order."""
    time_dim = 4 * dim
    hidden = HEADS * DIM_HEAD
    out = [("init_conv.weight", (dim, 1, 7)), ("init_conv.bias", (dim,)),
           ("time_mlp.1.weight", (time_dim, dim)), ("time_mlp.1.bias", (time_dim,)),
           ("time_mlp.3.weight", (time_dim, time_dim)), ("time_mlp.3.bias", (time_dim,))]

    def resnet(pre, a, b):
        out.extend([(pre + ".mlp.1.weight", (2 * b, time_dim)), (pre + ".mlp.1.bias", (2 * b,))])
        for blk, cin in (("block1", a), ("block2", b)):
            out.extend([(pre + ".%s.proj.weight" % blk, (b, cin, 3)), (pre + ".%s.proj.bias" % blk, (b,)),
                        (pre + ".%s.norm.weight" % blk, (b,)), (pre + ".%s.norm.bias" % blk, (b,))])
        if a != b:
            out.extend([(pre + ".res_conv.weight", (b, a, 1)), (pre + ".res_conv.bias", (b,))])

    def lin_attn(pre, c):
        out.extend([(pre + ".fn.fn.to_qkv.weight", (3 * hidden, c, 1)),
                    (pre + ".fn.fn.to_out.0.weight", (c, hidden, 1)), (pre + ".fn.fn.to_out.0.bias", (c,)),
                    (pre + ".fn.fn.to_out.1.g", (1, c, 1)), (pre + ".fn.norm.g", (1, c, 1))])

    dims = [dim] + [dim * m for m in dim_mults]
    in_out = list(zip(dims[:-1], dims[1:]))
    for i, (a, b) in enumerate(in_out):
        pre = "downs.%d" % i
        resnet(pre + ".0", a, a)
        resnet(pre + ".1", a, a)
        lin_attn(pre + ".2", a)
        k = 3 if i == len(in_out) - 1 else 4          # last level: conv k3, else Downsample k4 s2
        out.extend([(pre + ".3.weight", (b, a, k)), (pre + ".3.bias", (b,))])
    for i, (a, b) in enumerate(reversed(in_out)):
        pre = "ups.%d" % i
        resnet(pre + ".0", b + a, b)
        resnet(pre + ".1", b + a, b)
        lin_attn(pre + ".2", b)
        conv = pre + (".3" if i == len(in_out) - 1 else ".3.1")   # Upsample = (nearest, conv)
        out.extend([(conv + ".weight", (a, b, 3)), (conv + ".bias", (a,))])
    mid = dims[-1]
    resnet("mid_block1", mid, mid)
    out.extend([("mid_attn.fn.fn.to_qkv.weight", (3 * hidden, mid, 1)),
                ("mid_attn.fn.fn.to_out.weight", (mid, hidden, 1)), ("mid_attn.fn.fn.to_out.bias", (mid,)),
                ("mid_attn.fn.norm.g", (1, mid, 1))])
    resnet("mid_block2", mid, mid)
    resnet("final_res_block", 2 * dim, dim)
    out.extend([("final_conv.weight", (1, dim, 1)), ("final_conv.bias", (1,))])
    return out


# --------------------------------------------------------------------------------------------
# Reading the checkpoint
# --------------------------------------------------------------------------------------------

def is_tensor(v):
    import torch
    return isinstance(v, torch.Tensor)


# Globals a checkpoint of tensors, containers and numbers may name; anything else (a class
# of the training code, an arbitrary callable) is refused unless --trust is given.
_SAFE_GLOBALS = {
    ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"), ("torch", "device"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "complex"), ("builtins", "slice"), ("__builtin__", "set"),
    ("__builtin__", "frozenset"), ("__builtin__", "complex"), ("__builtin__", "slice"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "dtype"),
}
_TORCH_DTYPES = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                 "uint8", "bool"}


def _safe_global(module, name):
    return (module, name) in _SAFE_GLOBALS or (module == "torch" and (
        name.endswith("Storage") or name in _TORCH_DTYPES))


def _unsafe_globals(path):
    """The globals named by the pickle of a zip checkpoint (torch.save's format since 1.6) that
    are not in the allow-list; None if the file cannot be scanned (not a zip, or a global whose
    name cannot be resolved statically)."""
    import pickletools
    import zipfile
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as z:
        pkls = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkls) != 1:
            return None
        data = z.read(pkls[0])
    bad, memo, strings = [], {}, []
    last = None
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            module, name = arg.split(" ", 1)
            if not _safe_global(module, name):
                bad.append("%s.%s" % (module, name))
            last = None
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            last = arg
            strings.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = last
        elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = last
        elif op.name in ("BINGET", "LONG_BINGET", "GET"):
            last = memo.get(arg)
            strings.append(last)
        elif op.name == "STACK_GLOBAL":
            if len(strings) < 2 or not all(isinstance(x, str) for x in strings[-2:]):
                return None
            module, name = strings[-2], strings[-1]
            if not _safe_global(module, name):
                bad.append("%s.%s" % (module, name))
            last = None
        else:
            last = None
            if op.name not in ("BINPERSID", "PERSID"):
                strings.append(None)
    return bad


def load_checkpoint(path, trust):
    """torch.load on the CPU. Without trust only tensors, containers and plain values: PyTorch's
    weights_only loader, or, where it fails (torch 1.13's cannot read floats, e.g. an optimiser's
    lr in a training checkpoint), a scan of the pickle's globals against an allow-list."""
    import torch
    if not os.path.isfile(path):
        raise ConvertError("%s: no such file" % path)

    def first_line(e):
        return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    obj = None
    if trust:
        try:
            obj = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - pickle/zip errors of all kinds
            hint = ""
            if isinstance(e, (AttributeError, ImportError)):
                hint = " (a pickled object's class must be importable: put the training code's " \
                       "package on PYTHONPATH, or save its state_dict() instead)"
            raise ConvertError("%s: torch.load failed: %s%s" % (path, first_line(e), hint))
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            bad = _unsafe_globals(path)
            if bad is None:
                raise ConvertError("%s: not readable as plain tensors and containers (%s); if you "
                                   "trust the file, rerun with --trust" % (path, first_line(e)[:200]))
            if bad:
                raise ConvertError("%s: the pickle imports %s: more than tensors and containers (a "
                                   "pickled module?); if you trust the file, rerun with --trust"
                                   % (path, ", ".join(sorted(set(bad))[:4])))
            try:
                obj = torch.load(path, map_location="cpu")
            except Exception as e2:  # noqa: BLE001
                raise ConvertError("%s: torch.load failed: %s" % (path, first_line(e2)))
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConvertError("%s holds a %s, not a state_dict or a dict of them" % (path, type(obj).__name__))
    return obj


def find_container(obj, key):
    """The dict holding the network's tensors: --key's (dot path), else the checkpoint itself
    if it holds one, else the first of CONTAINER_KEYS that does."""
    def holds_net(d):
        return isinstance(d, dict) and any(isinstance(k, str) and k.endswith(ANCHOR) and is_tensor(v)
                                           for k, v in d.items())
    if key:
        d = obj
        for part in key.split("."):
            if not isinstance(d, dict) or part not in d:
                have = ", ".join(repr(k) for k in list(d)[:10]) if isinstance(d, dict) else type(d).__name__
                raise ConvertError("--key %s: no entry %r (the level holds %s)" % (key, part, have))
            d = d[part]
            if hasattr(d, "state_dict") and callable(d.state_dict):
                d = d.state_dict()
        if not holds_net(d):
            raise ConvertError("--key %s: no tensor named '...%s' there" % (key, ANCHOR))
        return d, key
    if holds_net(obj):
        return obj, ""
    for k in CONTAINER_KEYS:
        if k in obj and holds_net(obj[k]):
            return obj[k], k
    keys = ", ".join(repr(k) for k in list(obj)[:12])
    raise ConvertError("no tensor named '...%s' at the top level or under %s (top-level keys: %s); "
                       "name the entry with --key" % (ANCHOR, "/".join(CONTAINER_KEYS), keys))


def find_prefix(sd, prefix):
    if prefix is not None:
        if prefix + ANCHOR not in sd:
            raise ConvertError("--prefix %r: no tensor '%s%s'" % (prefix, prefix, ANCHOR))
        return prefix
    cands = sorted(k[:-len(ANCHOR)] for k, v in sd.items()
                   if isinstance(k, str) and k.endswith(ANCHOR) and is_tensor(v))
    if len(cands) > 1:
        raise ConvertError("several networks in the checkpoint (prefixes %s); choose one with --prefix"
                           % ", ".join(repr(c) for c in cands))
    return cands[0]


def infer_config(net):
    """dim, dim_mults from the shapes of the network's tensors (names without prefix)."""
    w = net["init_conv.weight"]
    if w.dim() != 3 or w.shape[2] != 7:
        raise ConvertError("'init_conv.weight' has shape %s, expected (dim, 1, 7)" % tuple(w.shape))
    if w.shape[1] != 1:
        raise ConvertError("'init_conv.weight' has %d input channels: ggdm's network takes 1 "
                           "(no self-conditioning, one channel)" % w.shape[1])
    dim = int(w.shape[0])
    levels = 0
    while "downs.%d.3.weight" % levels in net:
        levels += 1
    if levels == 0:
        raise ConvertError("no 'downs.0.3.weight': not the original's Unet1D")
    mults = []
    for i in range(levels):
        out = int(net["downs.%d.3.weight" % i].shape[0])
        if out % dim:
            raise ConvertError("'downs.%d.3.weight' has %d output channels, not a multiple of dim %d"
                               % (i, out, dim))
        mults.append(out // dim)
    return dim, tuple(mults)


def convert(obj, key=None, prefix=None, dim=None, dim_mults=None, groups=8, length=64):
    """-> (ordered {name: float32 ndarray}, metadata, report lines)."""
    import torch
    sd, where = find_container(obj, key)
    prefix = find_prefix(sd, prefix)
    net = {k[len(prefix):]: v for k, v in sd.items()
           if isinstance(k, str) and k.startswith(prefix) and is_tensor(v)}
    ignored = sorted(k for k in sd if not (isinstance(k, str) and k.startswith(prefix)))
    idim, imults = infer_config(net)
    dim = idim if dim is None else dim
    dim_mults = imults if dim_mults is None else tuple(dim_mults)
    spec = expected_state(dim, dim_mults)
    cfg = "dim=%d dim_mults=%s" % (dim, ",".join(map(str, dim_mults)))
    for name, shape in spec:
        if name not in net:
            raise ConvertError("missing tensor '%s%s' (shape %s for %s)" % (prefix, name, shape, cfg))
        if tuple(net[name].shape) != shape:
            raise ConvertError("tensor '%s%s' has shape %s, expected %s for %s"
                               % (prefix, name, tuple(net[name].shape), shape, cfg))
    unexpected = sorted(set(net) - {n for n, _ in spec})
    if unexpected:
        raise ConvertError("%d tensors under prefix %r are not part of the network ggdm implements "
                           "(%s%s): a different variant of the model?"
                           % (len(unexpected), prefix, ", ".join(unexpected[:4]),
                              ", ..." if len(unexpected) > 4 else ""))
    dims = [dim * m for m in dim_mults]
    if groups < 1 or any(c % groups for c in dims):
        raise ConvertError("--groups %d does not divide the widths %s" % (groups, dims))
    if length < 1 or length % (2 ** (len(dim_mults) - 1)):
        raise ConvertError("--length %d is not a positive multiple of 2^%d"
                           % (length, len(dim_mults) - 1))
    tensors, notes = {}, []
    for name, _ in spec:
        t = net[name].detach().cpu()
        if not t.is_floating_point():
            raise ConvertError("tensor '%s%s' has dtype %s, not floating point" % (prefix, name, t.dtype))
        if t.dtype != torch.float32:
            notes.append("%s: %s converted to float32" % (name, str(t.dtype).replace("torch.", "")))
        tensors[name] = t.to(torch.float32).contiguous().numpy()
    meta = {"format": "ggdm.unet1d", "dim": str(dim), "dim_mults": ",".join(map(str, dim_mults)),
            "groups": str(groups), "length": str(length), "heads": str(HEADS), "dim_head": str(DIM_HEAD)}
    lines = ["network: %sprefix %r, %s, groups %d, length %d: %d tensors, %d parameters"
             % ("under key %r, " % where if where else "", prefix, cfg, groups, length,
                len(tensors), sum(a.size for a in tensors.values()))]
    if ignored:
        lines.append("left out %d other entries: %s%s" % (len(ignored), ", ".join(map(str, ignored[:8])),
                                                           ", ..." if len(ignored) > 8 else ""))
    if notes:
        lines.append("%d tensors converted to float32 (first: %s)" % (len(notes), notes[0]))
    return tensors, meta, lines


# --------------------------------------------------------------------------------------------
# safetensors writer (json + numpy)
# --------------------------------------------------------------------------------------------

def write_safetensors(path, tensors, meta):
    """Float32 tensors in the given order, compact JSON header padded with spaces to 8 bytes,
    written to a temporary file in the same folder and renamed."""
    header = {"__metadata__": meta}
    off = 0
    for k, a in tensors.items():
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - (8 + len(hb)) % 8) % 8)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".pth_to_safetensors.", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(hb)))
            f.write(hb)
            for a in tensors.values():
                f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for k, e in header.items():
        assert e["dtype"] == "F32"
        b, end = e["data_offsets"]
        out[k] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
    return out, meta


# --------------------------------------------------------------------------------------------
# Self-test: checkpoints of every supported form, written here with torch.save
# --------------------------------------------------------------------------------------------

def self_test():
    import torch
    failures = []

    def expect(ok, what):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            failures.append(what)

    def random_net(dim, mults, seed, dtype=torch.float32):
        g = torch.Generator().manual_seed(seed)
        return {k: torch.randn(s, generator=g).to(dtype) for k, s in expected_state(dim, mults)}

    n_paper = sum(int(np.prod(s)) for _, s in expected_state(64, (1, 2, 4, 8)))
    expect(len(expected_state(64, (1, 2, 4, 8))) == 276 and n_paper == 14861569,
           "specification listing: 276 tensors, %d parameters (spec: 14861569)" % n_paper)
    net = random_net(8, (1, 2), 1)
    buffers = {"betas": torch.linspace(0.01, 0.2, 10), "alphas_cumprod": torch.rand(10, dtype=torch.float64)}
    with tempfile.TemporaryDirectory() as d:
        def run(obj, want_ok, what, **kw):
            p = os.path.join(d, "c.pth")
            torch.save(obj, p)
            try:
                tensors, meta, _ = convert(load_checkpoint(p, False), **kw)
            except ConvertError as e:
                expect(want_ok is False or (isinstance(want_ok, str) and want_ok in str(e)),
                       "%s: refused: %s" % (what, e))
                return
            if want_ok is not True:
                expect(False, "%s: accepted, but should be refused" % what)
                return
            out = os.path.join(d, "o.safetensors")
            write_safetensors(out, tensors, meta)
            back, m = read_safetensors(out)
            same = list(back) == [k for k, _ in expected_state(8, (1, 2))] and all(
                np.array_equal(back[k], net[k].float().numpy()) for k in back)
            expect(same and m["dim"] == "8" and m["dim_mults"] == "1,2",
                   "%s: converted, %d tensors, metadata %s" % (what, len(back), json.dumps(m)))
        wrapped = {"model." + k: v for k, v in net.items()}
        wrapped.update(buffers)
        run(net, True, "plain state_dict")
        run(wrapped, True, "'model.' prefix with schedule buffers")
        run({"step": 100, "model": wrapped, "opt": {"state": {}, "param_groups": [{"lr": 1e-4}]},
             "version": "1.0"}, True, "training checkpoint, state_dict under 'model'")
        run({"model": wrapped, "ema": {"ema_model.model." + k: v for k, v in net.items()}},
            True, "--key ema --prefix ema_model.model.", key="ema", prefix="ema_model.model.")
        run({"ema": dict([("online_model.model." + k, v) for k, v in net.items()]
                         + [("ema_model.model." + k, v) for k, v in net.items()])},
            "several networks", "EMA checkpoint without --prefix")
        run({"model." + k: v for k, v in net.items() if k != "ups.0.2.fn.norm.g"},
            "missing tensor 'model.ups.0.2.fn.norm.g'", "a missing tensor")
        bad = dict(net)
        bad["mid_block1.block1.proj.weight"] = torch.zeros(16, 16, 1)
        run(bad, "has shape (16, 16, 1), expected (16, 16, 3)", "a tensor of the wrong shape")
        extra = dict(net)
        extra["time_mlp.0.weights"] = torch.zeros(8)
        run(extra, "not part of the network", "an extra network tensor (learned sinusoidal variant)")
        run(net, "does not divide", "--groups 3", groups=3)
        run(net, "expected", "--dim-mults 1,4 against the shapes", dim_mults=(1, 4))
        run({"weights": net}, "name the entry with --key", "network under an unknown key")
        run(net, False, "--prefix that is not there", prefix="model.")
        run({k: torch.nn.Parameter(v) for k, v in net.items()}, True, "nn.Parameter values")
        p = os.path.join(d, "module.pth")
        holder = torch.nn.Module()
        holder.register_buffer("betas", buffers["betas"])
        torch.save(holder, p)
        try:
            load_checkpoint(p, False)
            expect(False, "pickled nn.Module without --trust: accepted, but should be refused")
        except ConvertError as e:
            expect("--trust" in str(e), "pickled nn.Module without --trust: refused: %s" % e)
        expect("betas" in load_checkpoint(p, True), "pickled nn.Module with --trust: its state_dict is read")
        net = random_net(8, (1, 2), 2, torch.float64)
        run(net, True, "float64 tensors (converted to float32)")
    print("self-test: %d failed" % len(failures))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", help="the PyTorch checkpoint (.pth / .pt)")
    ap.add_argument("-o", "--output", help="the ggdm weights file to write (.safetensors)")
    ap.add_argument("--key", help="entry of the checkpoint holding the state_dict (dots for nesting); "
                                  "default: the checkpoint itself, else one of " + ", ".join(CONTAINER_KEYS))
    ap.add_argument("--prefix", help="name prefix of the network's tensors (default: whatever precedes "
                                     "'init_conv.weight', e.g. 'model.')")
    ap.add_argument("--dim", type=int, help="check against this dim (default: from init_conv.weight)")
    ap.add_argument("--dim-mults", help="check against these multipliers, e.g. 1,2,4,8 "
                                        "(default: from the down-sampling convs)")
    ap.add_argument("--groups", type=int, default=8, help="GroupNorm groups, not stored in the weights "
                                                          "(default 8)")
    ap.add_argument("--length", type=int, default=64, help="sequence length D the network is used at, "
                                                           "not stored in the weights (default 64)")
    ap.add_argument("--trust", action="store_true", help="allow full unpickling (pickled modules); only "
                                                         "for files you trust")
    ap.add_argument("--list", action="store_true", help="print the checkpoint's tensors and what would "
                                                        "be converted; write nothing")
    ap.add_argument("--self-test", action="store_true", help="convert checkpoints written here with "
                                                             "torch.save, good and bad")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.checkpoint:
        ap.error("give a CHECKPOINT (or --self-test)")
    if not a.output and not a.list:
        ap.error("give -o OUTPUT.safetensors (or --list)")
    try:
        mults = None
        if a.dim_mults:
            try:
                mults = tuple(int(s) for s in a.dim_mults.split(",") if s.strip())
            except ValueError:
                ap.error("--dim-mults: expected integers separated by commas, got %r" % a.dim_mults)
        obj = load_checkpoint(a.checkpoint, a.trust)
        if a.list:
            def show(d, pre, depth):
                for k, v in d.items():
                    if is_tensor(v):
                        print("  %s%s %s %s" % (pre, k, str(v.dtype).replace("torch.", ""), tuple(v.shape)))
                    elif isinstance(v, dict) and depth < 3:
                        print("  %s%s: {%d entries}" % (pre, k, len(v)))
                        show(v, pre + str(k) + "/", depth + 1)
                    else:
                        print("  %s%s: %s" % (pre, k, type(v).__name__))
            show(obj, "", 0)
        tensors, meta, lines = convert(obj, a.key, a.prefix, a.dim, mults, a.groups, a.length)
        meta["converted_from"] = os.path.basename(a.checkpoint)
        for ln in lines:
            print(ln)
        if a.output:
            write_safetensors(a.output, tensors, meta)
            print("wrote %s" % a.output)
    except ConvertError as e:
        print("pth_to_safetensors: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
