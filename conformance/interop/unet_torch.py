#!/usr/bin/env python3
"""The original's score network (a 1-D UNet) in PyTorch, written from the specification.

Written from ../shared/spec/original-implementation.md, section 2, as the reference that ggdm's
network is compared with (check_unet.py). The module structure reproduces the original's
state_dict exactly: the same parameter names, shapes and order (unet1d-dim64-state.txt: 276
tensors, 14,861,569 parameters for dim 64), so weights move between the two unchanged.

  Unet1D(dim=64, dim_mults=(1, 2, 4, 8), groups=8, length=64)
      forward(x, t): x (N, length) or (N, 1, length) float, t an int or (N,) int64 steps;
      returns the predicted noise, (N, length).

Also here, with no dependency beyond numpy (the `safetensors` package is not needed):
  load_safetensors(path)                   -> ({name: np.ndarray}, {metadata})
  save_safetensors(path, tensors, metadata) writes the format ggdm and safetensors read
  config_from_metadata(meta), config_metadata(model)
  build_from_safetensors(path)             -> Unet1D with the file's weights (strict=True)

  unet_torch.py --self-check [--spec unet1d-dim64-state.txt]
      checks the state_dict names, shapes and order against the specification (the file when
      given or found, else its SHA-256 recorded here) and the parameter count 14,861,569;
      compares the forward with an independent NumPy float64 implementation of section 2;
      runs forward/backward, torch.autograd.gradcheck (float64) and finite-difference checks
      of the input VJP and of parameter gradients on a small configuration.
  unet_torch.py --summary [--dim 64 --dim-mults 1,2,4,8 --groups 8 --length 64]
      prints every parameter's name and shape, in state_dict order, and the total.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-5          # every normalisation (spec: eps = 1e-5 everywhere, whatever the dtype)
HEADS = 4           # both attentions: 4 heads of width 32 (hidden 128), whatever dim is
DIM_HEAD = 32

PAPER_CONFIG = {"dim": 64, "dim_mults": (1, 2, 4, 8), "groups": 8, "length": 64}
PAPER_PARAMS = 14861569
# SHA-256 of unet1d-dim64-state.txt (one "name (shape)" line per tensor, state_dict order),
# so that --self-check also works where the specification folder is not checked out.
SPEC_STATE_SHA256 = "98ec597964ca6e6e550541355db831ab21a67b7ba0bc231bc78e2c0087cd22b5"
SPEC_STATE_LINES = 276


# --------------------------------------------------------------------------------------------
# Building blocks (section 2)
# --------------------------------------------------------------------------------------------

class WeightStandardizedConv1d(nn.Conv1d):
    """Conv1d whose weight is standardised per output channel before each use:
    (w - mean) * rsqrt(var + 1e-5), mean and biased var over the in*k entries of w[o].
    Gradients flow through the standardisation to the raw weight; the bias is unchanged."""

    def forward(self, x):
        w = self.weight
        mean = w.mean(dim=(1, 2), keepdim=True)
        var = w.var(dim=(1, 2), unbiased=False, keepdim=True)
        w = (w - mean) * (var + EPS).rsqrt()
        return F.conv1d(x, w, self.bias, self.stride, self.padding)


class ChannelNorm(nn.Module):
    """The original's `LayerNorm`: at each position, normalise across the C channels
    (biased variance, eps 1e-5) and multiply by g (1, C, 1); no bias."""

    def __init__(self, dim):
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1))

    def forward(self, x):
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, unbiased=False, keepdim=True)
        return (x - mean) * (var + EPS).rsqrt() * self.g


class PreNorm(nn.Module):
    """fn(ChannelNorm(x)); `fn` registered before `norm`, as in the original's state_dict."""

    def __init__(self, dim, fn):
        super().__init__()
        self.fn = fn
        self.norm = ChannelNorm(dim)

    def forward(self, x):
        return self.fn(self.norm(x))


class Residual(nn.Module):
    """x + fn(x)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return x + self.fn(x)


class SinusoidalPosEmb(nn.Module):
    """Sinusoidal time embedding of width dim, computed in float32 as the original does:
    freq = exp(arange(half) * -(ln 10000 / (half - 1))), arg = t * freq, [sin(arg), cos(arg)].
    The result is cast to `dtype` (float32 normally; float64 for the high-precision checks, where
    the embedding itself stays the float32 one so that both models compute the same function)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, t, dtype=torch.float32):
        half = self.dim // 2
        emb = math.log(10000) / (half - 1)
        freq = torch.exp(torch.arange(half, device=t.device) * -emb)   # float32
        arg = t.float()[:, None] * freq[None, :]
        return torch.cat((arg.sin(), arg.cos()), dim=-1).to(dtype)


class Block(nn.Module):
    """WS-conv k=3 pad=1 -> GroupNorm(groups) -> optional x * (scale + 1) + shift -> SiLU."""

    def __init__(self, dim, dim_out, groups):
        super().__init__()
        self.proj = WeightStandardizedConv1d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out, eps=EPS)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)


class ResnetBlock(nn.Module):
    """mlp = SiLU -> Linear(time_dim, 2 dim_out) on the time embedding, split into scale (first
    half) and shift (second half); h = block2(block1(x, scale, shift)); h + res_conv(x), with
    res_conv a 1x1 conv when the widths differ, else the identity (no parameters)."""

    def __init__(self, dim, dim_out, time_dim, groups):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, dim_out * 2))
        self.block1 = Block(dim, dim_out, groups)
        self.block2 = Block(dim_out, dim_out, groups)
        self.res_conv = nn.Conv1d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, temb):
        scale_shift = self.mlp(temb)[:, :, None].chunk(2, dim=1)
        h = self.block1(x, scale_shift)
        h = self.block2(h)
        return h + self.res_conv(x)


def _heads(t):
    """(N, heads*32, L) -> (N, heads, 32, L); channel = head*32 + d."""
    n, _, length = t.shape
    return t.reshape(n, HEADS, DIM_HEAD, length)


class LinearAttention(nn.Module):
    """qkv 1x1 conv (no bias) to 3*128; q softmax over the 32 head channels then * 32^-0.5,
    k softmax over positions; ctx = k v^T per head; out = ctx^T q; heads concatenated;
    to_out = 1x1 conv 128 -> C with bias, then ChannelNorm."""

    def __init__(self, dim):
        super().__init__()
        hidden = HEADS * DIM_HEAD
        self.scale = DIM_HEAD ** -0.5
        self.to_qkv = nn.Conv1d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv1d(hidden, dim, 1), ChannelNorm(dim))

    def forward(self, x):
        n, _, length = x.shape
        q, k, v = (_heads(t) for t in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        context = torch.einsum("bhdn,bhen->bhde", k, v)
        out = torch.einsum("bhde,bhdn->bhen", context, q)
        return self.to_out(out.reshape(n, HEADS * DIM_HEAD, length))


class Attention(nn.Module):
    """Full softmax attention (middle only): q * 32^-0.5, sim = q^T k, softmax over keys,
    out = v attn^T, channel = head*32 + d, then a 1x1 conv 128 -> C with bias (no norm)."""

    def __init__(self, dim):
        super().__init__()
        hidden = HEADS * DIM_HEAD
        self.scale = DIM_HEAD ** -0.5
        self.to_qkv = nn.Conv1d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv1d(hidden, dim, 1)

    def forward(self, x):
        n, _, length = x.shape
        q, k, v = (_heads(t) for t in self.to_qkv(x).chunk(3, dim=1))
        q = q * self.scale
        sim = torch.einsum("bhdi,bhdj->bhij", q, k)
        attn = sim.softmax(dim=-1)
        out = torch.einsum("bhij,bhdj->bhid", attn, v)          # (b, h, i, d)
        out = out.permute(0, 1, 3, 2).reshape(n, HEADS * DIM_HEAD, length)
        return self.to_out(out)


def Downsample(dim, dim_out):
    return nn.Conv1d(dim, dim_out, 4, 2, 1)


def Upsample(dim, dim_out):
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv1d(dim, dim_out, 3, padding=1))


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------

class Unet1D(nn.Module):
    """The original's Unet1D(dim, dim_mults, resnet_block_groups=groups), one input channel,
    unconditional. Input (N, length) (or (N, 1, length)) and integer steps t; output (N, length).
    Modules are registered in the original's state_dict order (downs, ups, then the middle)."""

    def __init__(self, dim=64, dim_mults=(1, 2, 4, 8), groups=8, length=64):
        super().__init__()
        dim_mults = tuple(int(m) for m in dim_mults)
        if dim < 4 or dim % 2:
            raise ValueError("dim must be even and at least 4 (sinusoidal embedding), got %d" % dim)
        if length % (2 ** (len(dim_mults) - 1)):
            raise ValueError("length %d is not divisible by 2^(len(dim_mults)-1) = %d"
                             % (length, 2 ** (len(dim_mults) - 1)))
        dims = [dim] + [dim * m for m in dim_mults]
        for c in dims[1:]:
            if c % groups:
                raise ValueError("width %d is not divisible by groups %d" % (c, groups))
        self.config = {"dim": dim, "dim_mults": dim_mults, "groups": groups, "length": length}
        self.length = length
        in_out = list(zip(dims[:-1], dims[1:]))
        time_dim = dim * 4

        self.init_conv = nn.Conv1d(1, dim, 7, padding=3)
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(dim), nn.Linear(dim, time_dim),
                                      nn.GELU(), nn.Linear(time_dim, time_dim))

        self.downs = nn.ModuleList()
        for i, (a, b) in enumerate(in_out):
            last = i == len(in_out) - 1
            self.downs.append(nn.ModuleList([
                ResnetBlock(a, a, time_dim, groups),
                ResnetBlock(a, a, time_dim, groups),
                Residual(PreNorm(a, LinearAttention(a))),
                nn.Conv1d(a, b, 3, padding=1) if last else Downsample(a, b),
            ]))
        self.ups = nn.ModuleList()
        for i, (a, b) in enumerate(reversed(in_out)):
            last = i == len(in_out) - 1
            self.ups.append(nn.ModuleList([
                ResnetBlock(b + a, b, time_dim, groups),
                ResnetBlock(b + a, b, time_dim, groups),
                Residual(PreNorm(b, LinearAttention(b))),
                nn.Conv1d(b, a, 3, padding=1) if last else Upsample(b, a),
            ]))
        mid = dims[-1]
        self.mid_block1 = ResnetBlock(mid, mid, time_dim, groups)
        self.mid_attn = Residual(PreNorm(mid, Attention(mid)))
        self.mid_block2 = ResnetBlock(mid, mid, time_dim, groups)
        self.final_res_block = ResnetBlock(dim * 2, dim, time_dim, groups)
        self.final_conv = nn.Conv1d(dim, 1, 1)

    def time_embedding(self, t, n):
        """t (int, 0-d or (N,) integer tensor) -> (N, 4 dim) embedding in the model's dtype."""
        t = torch.as_tensor(t, device=self.init_conv.weight.device)
        if t.dim() == 0:
            t = t.expand(n)
        emb = self.time_mlp[0](t, self.init_conv.weight.dtype)
        for layer in list(self.time_mlp)[1:]:
            emb = layer(emb)
        return emb

    def forward(self, x, t):
        squeeze = x.dim() == 2
        if squeeze:
            x = x[:, None, :]
        temb = self.time_embedding(t, x.shape[0])
        x = self.init_conv(x)
        r = x
        h = []
        for block1, block2, attn, down in self.downs:
            x = block1(x, temb)
            h.append(x)
            x = attn(block2(x, temb))
            h.append(x)
            x = down(x)
        x = self.mid_block1(x, temb)
        x = self.mid_attn(x)
        x = self.mid_block2(x, temb)
        for block1, block2, attn, up in self.ups:
            x = block1(torch.cat((x, h.pop()), dim=1), temb)
            x = block2(torch.cat((x, h.pop()), dim=1), temb)
            x = up(attn(x))
        x = self.final_res_block(torch.cat((x, r), dim=1), temb)
        x = self.final_conv(x)
        return x[:, 0, :] if squeeze else x


def state_listing(model):
    """The state_dict as the specification lists it: 'name (d0, d1, ...)' per line."""
    return ["%s %s" % (k, tuple(v.shape)) for k, v in model.state_dict().items()]


# --------------------------------------------------------------------------------------------
# Configuration <-> safetensors __metadata__
# --------------------------------------------------------------------------------------------

def parse_mults(s):
    """'1,2,4,8' (or a sequence) -> (1, 2, 4, 8)."""
    if isinstance(s, str):
        parts = [p for p in s.strip("()[] ").replace(" ", "").split(",") if p]
        return tuple(int(p) for p in parts)
    return tuple(int(m) for m in s)


def config_from_metadata(meta):
    """Model configuration from a file's __metadata__ (missing keys: the paper's defaults)."""
    meta = meta or {}
    for key, fixed in (("heads", HEADS), ("dim_head", DIM_HEAD)):
        if key in meta and int(meta[key]) != fixed:
            raise ValueError("metadata %s = %s: this network has %s %d" % (key, meta[key], key, fixed))
    return {"dim": int(meta.get("dim", PAPER_CONFIG["dim"])),
            "dim_mults": parse_mults(meta.get("dim_mults", PAPER_CONFIG["dim_mults"])),
            "groups": int(meta.get("groups", PAPER_CONFIG["groups"])),
            "length": int(meta.get("length", PAPER_CONFIG["length"]))}


def config_metadata(config):
    """__metadata__ strings for a configuration (the keys ggdm writes and reads)."""
    return {"dim": str(config["dim"]),
            "dim_mults": ",".join(str(m) for m in config["dim_mults"]),
            "groups": str(config["groups"]),
            "length": str(config["length"])}


# --------------------------------------------------------------------------------------------
# safetensors, read and written with json + numpy
# --------------------------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),   # read as raw bits, widened to float32 below
}
_NP_TO_ST = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
             np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
             np.dtype(np.int8): "I8", np.dtype(np.uint64): "U64", np.dtype(np.uint32): "U32",
             np.dtype(np.uint16): "U16", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


def load_safetensors(path):
    """Read a safetensors file: ({name: np.ndarray}, {metadata}). Tensors come in header order;
    BF16 is widened to float32; other dtypes than those of _ST_DTYPES raise ValueError."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: not a safetensors file (shorter than 8 bytes)" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d runs past the end of the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    out = {}
    for name, e in header.items():
        dt = e["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError("%s: tensor '%s' has unsupported dtype %s" % (path, name, dt))
        b, end = e["data_offsets"]
        shape = tuple(int(s) for s in e["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if end > len(data) or end - b != count * _ST_DTYPES[dt].itemsize:
            raise ValueError("%s: tensor '%s': data_offsets %s do not fit shape %s of %s"
                             % (path, name, [b, end], list(shape), dt))
        a = np.frombuffer(data[b:end], dtype=_ST_DTYPES[dt], count=count).reshape(shape).copy()
        if dt == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a
    return out, dict(meta)


def save_safetensors(path, tensors, metadata=None, order="given"):
    """Write {name: array-like} (numpy arrays or torch tensors) as safetensors, with optional
    string metadata. order="given" lays the tensors out in dict order; order="save_file" as
    safetensors.torch.save_file does (dtype alignment descending, then name). The header is
    compact JSON padded with spaces so that the data starts on an 8-byte boundary."""
    arrays = {}
    for name, v in tensors.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        a = np.asarray(v)
        if not a.flags.c_contiguous:     # (np.ascontiguousarray would make 0-d arrays 1-d)
            a = a.copy(order="C")
        if a.dtype not in _NP_TO_ST:
            raise ValueError("tensor '%s': dtype %s cannot be written" % (name, a.dtype))
        arrays[name] = a.astype(a.dtype.newbyteorder("<"), copy=False)
    names = list(arrays)
    if order == "save_file":
        names.sort(key=lambda k: (-arrays[k].dtype.itemsize, k))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    off = 0
    for k in names:
        nb = arrays[k].nbytes
        header[k] = {"dtype": _NP_TO_ST[arrays[k].dtype.newbyteorder("=")],
                     "shape": list(arrays[k].shape), "data_offsets": [off, off + nb]}
        off += nb
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - (8 + len(hb)) % 8) % 8)
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for k in names:
            f.write(arrays[k].tobytes())
    os.replace(tmp, path)


# The buffers of the original's diffusion wrapper, found beside the network in its checkpoints.
DIFFUSION_BUFFERS = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
    "posterior_mean_coef1", "posterior_mean_coef2", "loss_weight",
}


def build_from_safetensors(path, prefix=None):
    """A Unet1D configured from the file's __metadata__ (dim, dim_mults, groups, length;
    missing keys default to the paper's), its weights loaded with strict=True. Names may carry
    a prefix (e.g. 'model.'): given, or detected from 'init_conv.weight'; entries outside the
    network's prefix, and the diffusion's schedule buffers, are ignored; any other tensor is
    unexpected. Returns the model, float32, in eval mode."""
    tensors, meta = load_safetensors(path)
    model = Unet1D(**config_from_metadata(meta))
    if prefix is None:
        prefix = ""
        if "init_conv.weight" not in tensors:
            cands = [k[:-len("init_conv.weight")] for k in tensors if k.endswith("init_conv.weight")]
            if len(cands) == 1:
                prefix = cands[0]
    sd = {k[len(prefix):]: np.asarray(v, dtype=np.float32) for k, v in tensors.items()
          if k.startswith(prefix) and k not in DIFFUSION_BUFFERS}
    load_strict(model, sd, "%s (%s)" % (path, " ".join(
        "%s=%s" % kv for kv in config_metadata(model.config).items())))
    return model.eval()


def load_strict(model, sd, what="state_dict"):
    """model.load_state_dict(sd, strict=True), first raising a ValueError with a one-line
    message naming the missing, unexpected and wrongly shaped tensors."""
    want = model.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    shapes = ["%s is %s, expected %s" % (k, tuple(np.shape(sd[k])), tuple(want[k].shape))
              for k in want if k in sd and tuple(np.shape(sd[k])) != tuple(want[k].shape)]
    problems = []
    if missing:
        problems.append("%d missing (%s%s)" % (len(missing), ", ".join(missing[:3]),
                                                ", ..." if len(missing) > 3 else ""))
    if unexpected:
        problems.append("%d unexpected (%s%s)" % (len(unexpected), ", ".join(unexpected[:3]),
                                                   ", ..." if len(unexpected) > 3 else ""))
    if shapes:
        problems.append("%d of the wrong shape: %s%s" % (len(shapes), "; ".join(shapes[:2]),
                                                         "; ..." if len(shapes) > 2 else ""))
    if problems:
        raise ValueError("%s: %s" % (what, "; ".join(problems)))
    model.load_state_dict({k: torch.as_tensor(v) for k, v in sd.items()}, strict=True)


# --------------------------------------------------------------------------------------------
# An independent NumPy float64 implementation of section 2, for the self-check
# --------------------------------------------------------------------------------------------

def numpy_forward(p, x, t, cfg, emb=None):
    """Section 2's forward in float64 NumPy, straight from the text, on a {name: array} dict.
    x (N, L) float, t (N,) ints. The sinusoidal embedding is computed in float32 as specified,
    unless given as `emb` (N, dim): NumPy's float32 exp/sin/cos are not PyTorch's (each is off
    by one ulp here and there), and with t up to 199 one ulp of a frequency moves the output by
    ~1e-8..1e-7 relative, so a comparison at float64 precision needs the very same embedding."""
    def conv(h, w, b=None, stride=1, pad=0):
        n, c, length = h.shape
        o, _, k = w.shape
        hp = np.pad(h, ((0, 0), (0, 0), (pad, pad)))
        lout = (length + 2 * pad - k) // stride + 1
        out = np.zeros((n, o, lout))
        for j in range(k):
            out += np.einsum("oc,ncl->nol", w[:, :, j], hp[:, :, j:j + stride * (lout - 1) + 1:stride])
        return out if b is None else out + b[None, :, None]

    def ws_conv(h, pre):
        w = p[pre + ".weight"]
        mu = w.mean(axis=(1, 2), keepdims=True)
        var = ((w - mu) ** 2).mean(axis=(1, 2), keepdims=True)
        return conv(h, (w - mu) / np.sqrt(var + EPS), p[pre + ".bias"], pad=1)

    def group_norm(h, pre, g):
        n, c, length = h.shape
        hg = h.reshape(n, g, c // g * length)
        mu = hg.mean(axis=2, keepdims=True)
        var = ((hg - mu) ** 2).mean(axis=2, keepdims=True)
        hg = ((hg - mu) / np.sqrt(var + EPS)).reshape(n, c, length)
        return hg * p[pre + ".weight"][None, :, None] + p[pre + ".bias"][None, :, None]

    def chan_norm(h, g):
        mu = h.mean(axis=1, keepdims=True)
        var = ((h - mu) ** 2).mean(axis=1, keepdims=True)
        return (h - mu) / np.sqrt(var + EPS) * g

    def silu(h):
        return h / (1.0 + np.exp(-h))

    def softmax(a, axis):
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def resnet(h, pre, temb):
        c_out = p[pre + ".block1.proj.weight"].shape[0]
        ss = silu(temb) @ p[pre + ".mlp.1.weight"].T + p[pre + ".mlp.1.bias"]
        scale, shift = ss[:, :c_out, None], ss[:, c_out:, None]
        y = group_norm(ws_conv(h, pre + ".block1.proj"), pre + ".block1.norm", cfg["groups"])
        y = silu(y * (scale + 1) + shift)
        y = silu(group_norm(ws_conv(y, pre + ".block2.proj"), pre + ".block2.norm", cfg["groups"]))
        res = conv(h, p[pre + ".res_conv.weight"], p[pre + ".res_conv.bias"]) \
            if pre + ".res_conv.weight" in p else h
        return y + res

    def qkv(h, w):
        n, _, length = h.shape
        q, k, v = np.split(conv(h, w), 3, axis=1)
        return [a.reshape(n, HEADS, DIM_HEAD, length) for a in (q, k, v)]

    def lin_attn(h, pre):   # x + LinAttn(ChannelNorm(x))
        n, c, length = h.shape
        q, k, v = qkv(chan_norm(h, p[pre + ".fn.norm.g"]), p[pre + ".fn.fn.to_qkv.weight"])
        q = softmax(q, 2) * DIM_HEAD ** -0.5
        k = softmax(k, 3)
        ctx = np.einsum("bhdn,bhen->bhde", k, v)
        out = np.einsum("bhde,bhdn->bhen", ctx, q).reshape(n, HEADS * DIM_HEAD, length)
        out = conv(out, p[pre + ".fn.fn.to_out.0.weight"], p[pre + ".fn.fn.to_out.0.bias"])
        return h + chan_norm(out, p[pre + ".fn.fn.to_out.1.g"])

    def full_attn(h, pre):  # x + Attn(ChannelNorm(x))
        n, c, length = h.shape
        q, k, v = qkv(chan_norm(h, p[pre + ".fn.norm.g"]), p[pre + ".fn.fn.to_qkv.weight"])
        attn = softmax(np.einsum("bhdi,bhdj->bhij", q * DIM_HEAD ** -0.5, k), 3)
        out = np.einsum("bhij,bhdj->bhdi", attn, v).reshape(n, HEADS * DIM_HEAD, length)
        return h + conv(out, p[pre + ".fn.fn.to_out.weight"], p[pre + ".fn.fn.to_out.bias"])

    p = {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}
    dim = cfg["dim"]
    half = dim // 2
    if emb is None:
        freq = np.exp(np.arange(half, dtype=np.float32) * np.float32(-math.log(10000) / (half - 1)))
        arg = np.asarray(t).astype(np.float32)[:, None] * freq[None, :]
        emb = np.concatenate([np.sin(arg), np.cos(arg)], axis=1)
    emb = np.asarray(emb, dtype=np.float64)
    erf = np.vectorize(math.erf)
    a = emb @ p["time_mlp.1.weight"].T + p["time_mlp.1.bias"]
    a = 0.5 * a * (1.0 + erf(a / math.sqrt(2.0)))
    temb = a @ p["time_mlp.3.weight"].T + p["time_mlp.3.bias"]

    nlev = len(cfg["dim_mults"])
    h = conv(np.asarray(x, dtype=np.float64)[:, None, :], p["init_conv.weight"], p["init_conv.bias"], pad=3)
    r = h
    stack = []
    for i in range(nlev):
        pre = "downs.%d" % i
        h = resnet(h, pre + ".0", temb)
        stack.append(h)
        h = lin_attn(resnet(h, pre + ".1", temb), pre + ".2")
        stack.append(h)
        if i < nlev - 1:
            h = conv(h, p[pre + ".3.weight"], p[pre + ".3.bias"], stride=2, pad=1)
        else:
            h = conv(h, p[pre + ".3.weight"], p[pre + ".3.bias"], pad=1)
    h = resnet(h, "mid_block1", temb)
    h = full_attn(h, "mid_attn")
    h = resnet(h, "mid_block2", temb)
    for i in range(nlev):
        pre = "ups.%d" % i
        h = resnet(np.concatenate([h, stack.pop()], axis=1), pre + ".0", temb)
        h = resnet(np.concatenate([h, stack.pop()], axis=1), pre + ".1", temb)
        h = lin_attn(h, pre + ".2")
        if i < nlev - 1:
            h = conv(np.repeat(h, 2, axis=2), p[pre + ".3.1.weight"], p[pre + ".3.1.bias"], pad=1)
        else:
            h = conv(h, p[pre + ".3.weight"], p[pre + ".3.bias"], pad=1)
    h = resnet(np.concatenate([h, r], axis=1), "final_res_block", temb)
    return conv(h, p["final_conv.weight"], p["final_conv.bias"])[:, 0, :]


# --------------------------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------------------------

def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (d if d > 0 else 1.0))


def perturb_norms(model, seed):
    """Give the norms' weights/biases and g non-default values, so that they matter in the checks."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if ".norm." in name or name.endswith(".g"):
                prm.add_(0.3 * torch.randn(prm.shape, generator=g, dtype=prm.dtype))


def find_spec(explicit):
    if explicit:
        if not os.path.exists(explicit):
            raise SystemExit("unet_torch.py: --spec %s: no such file" % explicit)
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    for up in ("../../../shared/spec", "../../shared/spec", "../../../../shared/spec"):
        cand = os.path.normpath(os.path.join(here, up, "unet1d-dim64-state.txt"))
        if os.path.exists(cand):
            return cand
    return None


def self_check(spec_path):
    results = []

    def report(ok, msg):
        results.append(ok)
        print("%s %s" % ("ok  " if ok else "FAIL", msg))

    t0 = time.time()
    torch.manual_seed(0)
    model = Unet1D(**PAPER_CONFIG)
    listing = state_listing(model)
    text = "\n".join(listing) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    spec_path = find_spec(spec_path)
    if spec_path:
        with open(spec_path) as f:
            want = [ln.strip() for ln in f if ln.strip()]
        diff = [(i, a, b) for i, (a, b) in enumerate(zip(listing, want)) if a != b]
        ok = not diff and len(listing) == len(want)
        detail = "" if ok else ": first difference at line %d: %r vs spec %r" % (
            diff[0] if diff else (min(len(listing), len(want)), "<end>", "<end>"))
        report(ok, "state_dict names, shapes and order equal %s (%d tensors)%s"
               % (spec_path, len(want), detail))
    else:
        report(digest == SPEC_STATE_SHA256 and len(listing) == SPEC_STATE_LINES,
               "state_dict listing SHA-256 %s... matches the specification's (spec file not found)"
               % digest[:16])
    n_params = sum(p.numel() for p in model.parameters())
    report(n_params == PAPER_PARAMS, "parameter count %d (spec: %d)" % (n_params, PAPER_PARAMS))
    report(len(list(model.buffers())) == 0, "no buffers (the state_dict holds only parameters)")

    # default PyTorch initialisation bounds (spec: uniform within 1/sqrt(fan_in))
    bad = []
    for name, prm in model.named_parameters():
        if name.endswith(".g") or ".norm." in name:
            continue
        w = dict(model.named_parameters())[name.rsplit(".", 1)[0] + ".weight"]
        fan_in = w[0].numel()
        if prm.abs().max().item() > 1.0 / math.sqrt(fan_in) + 1e-7:
            bad.append(name)
    report(not bad, "PyTorch default init within 1/sqrt(fan_in)%s" % ("" if not bad else ": " + bad[0]))

    # paper config: forward/backward, batch independence, NumPy reference
    perturb_norms(model, 1)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((4, 64)).astype(np.float32))
    tt = torch.tensor([0, 63, 137, 199])
    t1 = time.time()
    xg = x.clone().requires_grad_(True)
    eps = model(xg, tt)
    (eps.square().mean()).backward()
    report(eps.shape == (4, 64) and torch.isfinite(eps).all().item()
           and all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters()),
           "paper config forward/backward N=4 (%.2f s): finite output and gradients for all %d tensors"
           % (time.time() - t1, len(listing)))
    with torch.no_grad():
        single = torch.cat([model(x[i:i + 1], tt[i:i + 1]) for i in range(4)])
    report(rel_err(single, eps.detach()) < 1e-6, "samples are independent: batch vs one by one, rel %.1e"
           % rel_err(single, eps.detach()))
    params = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    t1 = time.time()
    with torch.no_grad():
        emb = model.time_mlp[0](tt).numpy()      # PyTorch's float32 sinusoidal embedding
    ref = numpy_forward(params, x.numpy(), tt.numpy(), model.config, emb=emb)
    m64 = Unet1D(**PAPER_CONFIG).double()
    m64.load_state_dict(model.state_dict())
    with torch.no_grad():
        e64 = m64(x.double(), tt).numpy()
    r1, r2 = rel_err(e64, ref), rel_err(eps.detach().numpy(), ref)
    report(r1 < 1e-12 and r2 < 1e-5,
           "paper config vs independent NumPy float64 forward (%.1f s): torch f64 rel %.1e, torch f32 rel %.1e"
           % (time.time() - t1, r1, r2))
    own = numpy_forward(params, x.numpy(), tt.numpy(), model.config)
    r3 = rel_err(own, ref)
    report(r3 < 1e-6, "paper config: NumPy's own float32 embedding (exp/sin/cos differ from PyTorch's by "
           "one ulp in places) moves the output by rel %.1e" % r3)

    # small config: gradcheck (float64) and finite differences
    small = {"dim": 8, "dim_mults": (1, 2), "groups": 2, "length": 8}
    torch.manual_seed(1)
    ms = Unet1D(**small).double()
    perturb_norms(ms, 2)
    ps = {k: v.detach().numpy() for k, v in ms.state_dict().items()}
    xs = torch.from_numpy(rng.standard_normal((3, 8)))
    ts = torch.tensor([5, 100, 199])
    with torch.no_grad():
        es = ms(xs, ts).numpy()
        emb = ms.time_mlp[0](ts).numpy()
    r = rel_err(es, numpy_forward(ps, xs.numpy(), ts.numpy(), small, emb=emb))
    report(r < 1e-12, "small config (%d params) vs NumPy float64 forward: rel %.1e"
           % (sum(p.numel() for p in ms.parameters()), r))
    xs_g = xs.clone().requires_grad_(True)
    ok = torch.autograd.gradcheck(lambda a: ms(a, ts), (xs_g,), eps=1e-6, atol=1e-6, rtol=1e-4)
    report(ok, "small config: torch.autograd.gradcheck of eps(x) in float64 (full Jacobian)")

    # VJP J^T v via autograd.grad vs central finite differences along random directions
    v = torch.from_numpy(rng.standard_normal((3, 8)))
    x_ = xs.clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(ms(x_, ts), x_, grad_outputs=v)
    worst = 0.0
    for _ in range(5):
        u = torch.from_numpy(rng.standard_normal((3, 8)))
        h = 1e-5
        with torch.no_grad():
            fd = ((ms(xs + h * u, ts) - ms(xs - h * u, ts)) * v).sum().item() / (2 * h)
        an = (vjp * u).sum().item()
        worst = max(worst, abs(fd - an) / max(abs(an), 1e-12))
    report(worst < 1e-6, "small config: <J^T v, u> via autograd.grad vs finite differences, worst rel %.1e" % worst)

    # parameter gradients of the training loss vs finite differences along random directions
    z = torch.from_numpy(rng.standard_normal((3, 8)))

    def loss_fn():
        return (ms(xs, ts) - z).square().mean()
    ms.zero_grad()
    loss_fn().backward()
    grads = [p.grad.clone() for p in ms.parameters()]
    worst = 0.0
    for k in range(4):
        dirs = [torch.from_numpy(rng.standard_normal(tuple(p.shape))) for p in ms.parameters()]
        h = 1e-6
        with torch.no_grad():
            for p, d in zip(ms.parameters(), dirs):
                p.add_(h * d)
            lp = loss_fn().item()
            for p, d in zip(ms.parameters(), dirs):
                p.sub_(2 * h * d)
            lm = loss_fn().item()
            for p, d in zip(ms.parameters(), dirs):
                p.add_(h * d)
        fd = (lp - lm) / (2 * h)
        an = sum((g * d).sum().item() for g, d in zip(grads, dirs))
        worst = max(worst, abs(fd - an) / max(abs(an), 1e-12))
    report(worst < 1e-5, "small config: parameter gradients vs finite differences (all tensors at once), "
           "worst rel %.1e" % worst)

    # safetensors round trip + strict load with a prefix and extra buffers
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.safetensors")
        ms32 = Unet1D(**small)
        tensors = {"model." + k: v for k, v in ms32.state_dict().items()}
        tensors["betas"] = np.linspace(0.01, 0.2, 10).astype(np.float32)
        tensors["step"] = np.array(7, dtype=np.int64)
        save_safetensors(path, tensors, config_metadata(ms32.config), order="save_file")
        back, meta = load_safetensors(path)
        m2 = build_from_safetensors(path)
        same = all(np.array_equal(back["model." + k], v.numpy()) for k, v in ms32.state_dict().items())
        same = same and all(torch.equal(a, b) for a, b in zip(m2.state_dict().values(),
                                                              ms32.state_dict().values()))
        odd = {"scalar": np.float32(1.5).reshape(()), "empty": np.zeros((0, 3), np.float32),
               "strided": np.arange(12, dtype=np.float64).reshape(3, 4).T, "flag": np.array([True, False])}
        save_safetensors(path, odd, {"note": "caf\u00e9 \"q\""})
        back2, meta2 = load_safetensors(path)
        same2 = all(back2[k].shape == v.shape and back2[k].dtype == v.dtype and np.array_equal(back2[k], v)
                    for k, v in odd.items()) and meta2 == {"note": "caf\u00e9 \"q\""}
        report(same and same2 and m2.config == ms32.config and back["step"].dtype == np.int64,
               "safetensors write/read round trip (0-d, empty, strided, bool, int64, escaped metadata), "
               "prefix 'model.' and extra entries, strict load")
    print("self-check: %d passed, %d failed (%.1f s)" % (sum(results), len(results) - sum(results),
                                                      time.time() - t0))
    return 0 if all(results) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-check", action="store_true", help="run the checks described above")
    ap.add_argument("--spec", help="unet1d-dim64-state.txt to compare with (default: found beside "
                                   "the repository, else the SHA-256 recorded in this file)")
    ap.add_argument("--summary", action="store_true", help="list the parameters of a configuration")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--dim-mults", default="1,2,4,8")
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--length", type=int, default=64)
    a = ap.parse_args()
    if not (a.self_check or a.summary):
        ap.error("give --self-check or --summary")
    if a.summary:
        model = Unet1D(a.dim, parse_mults(a.dim_mults), a.groups, a.length)
        for line in state_listing(model):
            print(line)
        print("# %d tensors, %d parameters" % (len(model.state_dict()),
                                                sum(p.numel() for p in model.parameters())))
    if a.self_check:
        return self_check(a.spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
