#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses: fuzz/corpus/<harness>/<name>.

    /usr/bin/python3 fuzz/make_seeds.py [build/ggdm [HARNESS...]]

Seeds are tiny (a few hundred bytes; the weights seeds a few KB), deterministic and
mostly valid, so that the fuzzer starts from inputs that reach deep into each reader;
a few are the classic near misses (truncated, trailing bytes, wrong dtype, bad
version). The folders are committed; rerun this only to change the seeds. Inputs the
fuzzer finds later (libFuzzer's -merge) may be added beside them.
"""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(arr, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, arr, allow_pickle=False)
    else:
        np.lib.format.write_array(b, arr, version=version, allow_pickle=False)
    return b.getvalue()


def npz(arrays, compressed=False):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, **arrays)
    return b.getvalue()


def st(tensors, meta=None, raw_header=None, pad=True):
    """safetensors bytes from {name: ndarray} (F32/F64/I64/I32/F16/U8...)."""
    codes = {"float32": "F32", "float64": "F64", "int64": "I64", "int32": "I32", "float16": "F16", "uint8": "U8",
             "int8": "I8", "bool": "BOOL", "uint32": "U32", "int16": "I16"}
    hdr, data, off = {}, b"", 0
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        hdr[name] = {"dtype": codes[str(a.dtype)], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def seeds_npy():
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5
    put("npy", "f32_2x3.npy", npy(f32))
    put("npy", "f64_4.npy", npy(np.array([1.5, -0.0, np.inf, np.nan])))
    put("npy", "i64_3.npy", npy(np.array([0, -1, 2 ** 62], dtype=np.int64)))
    put("npy", "u32_2.npy", npy(np.array([0, 0xFFFFFFFF], dtype=np.uint32)))
    put("npy", "f32_scalar.npy", npy(np.float32(3.25)))
    put("npy", "f32_empty.npy", npy(np.zeros((0, 4), dtype=np.float32)))
    put("npy", "f32_v2.npy", npy(np.ones(3, dtype=np.float32), version=(2, 0)))
    put("npy", "f32_v3.npy", npy(np.ones(2, dtype=np.float32), version=(3, 0)))
    put("npy", "f32_8d.npy", npy(np.ones((1,) * 8, dtype=np.float32)))
    put("npy", "f32_nan.npy", npy(np.array([1.0, np.nan, -np.inf], dtype=np.float32)))
    put("npy", "bad_fortran.npy", npy(np.asfortranarray(np.ones((2, 2), dtype=np.float32))))
    put("npy", "bad_bigendian.npy", npy(np.ones(2, dtype=">f4")))
    put("npy", "bad_f16.npy", npy(np.ones(2, dtype=np.float16)))
    put("npy", "bad_truncated.npy", npy(f32)[:-3])
    put("npy", "bad_trailing.npy", npy(f32) + b"\0\0\0\0")
    put("npy", "bad_structured.npy", npy(np.zeros(1, dtype=[("a", "<f4"), ("b", "<i8")])))
    # a hand-written header: extra spaces, single quotes, trailing comma, shape (3,)
    d = b"{ 'shape' : ( 3 , ) , 'fortran_order':False,'descr':'<f4', }"
    d += b" " * (-(len(d) + 11) % 64) + b"\n"
    put("npy", "handwritten.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d + b"\0" * 12)


def seeds_npz():
    put("npz", "two.npz", npz({"x": np.arange(3, dtype=np.float32), "t": np.array([1, 2], dtype=np.int64)}))
    put("npz", "one.npz", npz({"betas": np.linspace(0, 1, 4).astype(np.float32)}))
    put("npz", "empty_member.npz", npz({"e": np.zeros(0, dtype=np.float64)}))
    put("npz", "compressed.npz", npz({"c": np.ones(4, dtype=np.float32)}, compressed=True))
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr("plain.npy", npy(np.ones(2, dtype=np.float32)))
        z.writestr("A", npy(np.zeros(1, dtype=np.uint32)))
    put("npz", "names.npz", b.getvalue())
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.comment = b"a comment after the end record"
        z.writestr("x.npy", npy(np.ones(1, dtype=np.float64)))
    put("npz", "comment.npz", b.getvalue())
    put("npz", "bad_truncated.npz", npz({"x": np.ones(2, dtype=np.float32)})[:-10])


def seeds_safetensors():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    put("safetensors", "f32.safetensors", st({"a": a}))
    put("safetensors", "meta.safetensors", st({"w": a, "b": np.ones(3, dtype=np.float32)},
                                             meta={"format": "pt", "dim": "4"}))
    put("safetensors", "dtypes.safetensors", st({"d": np.ones(2, dtype=np.float64), "i": np.arange(2, dtype=np.int64),
                                                "h": np.ones(4, dtype=np.float16), "u": np.arange(3, dtype=np.uint8)}))
    put("safetensors", "scalar_empty.safetensors", st({"s": np.float32(2.0).reshape(()), "e": np.zeros((0, 3), np.float32)}))
    put("safetensors", "only_meta.safetensors", st({}, meta={"k": "v"}))
    put("safetensors", "empty.safetensors", st({}))
    esc = b'{"a\\u0062\\n\\"q\\"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' \
          b'"__metadata__":{"\\u00e9t\\u00e9":"\\ud83d\\ude00"}}'
    put("safetensors", "escapes.safetensors", st({}, raw_header=esc) + b"\0\0\x80\x3f")
    put("safetensors", "model_prefix.safetensors", st({"model.init_conv.weight": np.ones((4, 1, 7), np.float32)}))
    put("safetensors", "bad_gap.safetensors",
        st({}, raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}') + b"\0" * 8)
    put("safetensors", "bad_truncated.safetensors", st({"a": a})[:-5])
    put("safetensors", "bad_json.safetensors", st({}, raw_header=b'{"a":{"dtype":"F32","shape":[1,],}'))


def seeds_weights(ggdm):
    """Tiny Unet1D weight files written by `ggdm init`, plus PyTorch-style variants."""
    tmp = tempfile.mkdtemp(prefix="ggdm-seeds-")
    try:
        p = os.path.join(tmp, "w.safetensors")
        subprocess.run([ggdm, "init", "--dim", "4", "--dim-mults", "1", "--groups", "1", "--length", "2",
                        "--heads", "1", "--dim-head", "1", "--seed", "3", "-o", p], check=True,
                       capture_output=True)
        w = open(p, "rb").read()
        put("weights", "ggdm_dim4.safetensors", w)
        # the same tensors, PyTorch style: "model." prefix, no metadata, a schedule buffer
        n = struct.unpack("<Q", w[:8])[0]
        hdr = json.loads(w[8:8 + n])
        data = w[8 + n:]
        meta = hdr.pop("__metadata__")
        ten = {}
        for k, v in hdr.items():
            b0, b1 = v["data_offsets"]
            ten[k] = np.frombuffer(data[b0:b1], dtype="<f4").reshape(v["shape"])
        pt = {"model." + k: a for k, a in ten.items()}
        pt["betas"] = np.linspace(1e-4, 0.02, 2).astype(np.float32)
        put("weights", "torch_prefixed.safetensors", st(pt, meta={"format": "pt"}))
        m2 = dict(meta)
        m2["groups"] = "3"
        put("weights", "bad_groups.safetensors", st(ten, meta=m2))
        nanw = dict(ten)
        k0 = sorted(nanw)[0]
        nanw[k0] = nanw[k0].copy()
        nanw[k0].flat[0] = np.nan
        put("weights", "nan.safetensors", st(nanw, meta=meta))
        put("weights", "bad_truncated.safetensors", w[:2048])
    finally:
        shutil.rmtree(tmp)


def pth_zip(records, compress=False, archive="archive"):
    """A torch.save-like zip archive of {name: bytes} under archive/ (Python's zipfile layout)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in records.items():
            z.writestr("%s/%s" % (archive, name), data)
    return b.getvalue()


def pth_records(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        top = names[0].split("/")[0]
        return {n[len(top) + 1:]: z.read(n) for n in names}


def seeds_pth(ggdm):
    """PyTorch checkpoints (torch.save's zip format) for fuzz_pth, and two for fuzz_weights."""
    import collections
    import torch

    def saved(obj, **kw):
        b = io.BytesIO()
        torch.save(obj, b, **kw)
        return b.getvalue()
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 3, generator=g)
    b = torch.randn(3, generator=g)
    sd = collections.OrderedDict([("a", a), ("b", b)])
    put("pth", "state_dict.pth", saved(sd))
    wrap = collections.OrderedDict([("betas", torch.linspace(0.1, 0.2, 4)), ("model.w", a), ("model.b", b)])
    wrapped = saved({"x_type": "linear_latent", "model_state_dict": wrap, "epoch": 20})
    put("pth", "wrapper.pth", wrapped)
    put("pth", "proto4.pth", saved({"x_type": "unit_ball", "model_state_dict": sd, "iteration": 70000},
                                   pickle_protocol=4))
    put("pth", "parameters.pth", saved(collections.OrderedDict([("p", torch.nn.Parameter(a))])))
    base = torch.arange(12, dtype=torch.float32)
    put("pth", "views.pth", saved(collections.OrderedDict([
        ("scalar", torch.tensor(2.5)), ("empty", torch.zeros(0, 3)), ("tail", base[5:]), ("head", base[:4]),
        ("g", torch.ones(1, 4, 1))])))
    put("pth", "others.pth", saved({"model_state_dict": sd, "lr": 1e-4, "none": None, "flag": True,
                                    "big": 2 ** 40, "neg": -5, "opt": {"param_groups": [{"betas": (0.9, 0.99)}]},
                                    "name": "\u00e9t\u00e9"}))
    put("pth", "dtypes.pth", saved(collections.OrderedDict([("d", a.double()), ("i", torch.arange(3))])))
    put("pth", "bad_strided.pth", saved(collections.OrderedDict([("t", a.t())])))
    put("pth", "bad_truncated.pth", wrapped[:len(wrapped) - 100])
    rec = pth_records(wrapped)
    put("pth", "bad_compressed.pth", pth_zip(rec, compress=True))
    put("pth", "bad_big_endian.pth", pth_zip(dict(rec, byteorder=b"big")))
    put("pth", "bad_os_system.pth", pth_zip(dict(rec, **{"data.pkl": b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."})))
    short = dict(rec)
    short["data/1"] = short["data/1"][:-4]
    put("pth", "bad_storage_short.pth", pth_zip(short))
    # bare pickles (fuzz_pth wraps them in an archive whose storage K holds (K + 1) * 16 bytes)
    def pkl(obj, **kw):
        return pth_records(saved(obj, **kw))["data.pkl"]
    k3 = collections.OrderedDict([("a", torch.ones(4)), ("b", torch.ones(2, 4)), ("c", torch.ones(3, 2, 2))])
    put("pth", "pkl_state_dict.pkl", pkl(k3))
    put("pth", "pkl_wrapper.pkl", pkl({"x_type": "linear_latent", "model_state_dict": k3, "epoch": 20}))
    put("pth", "pkl_proto4.pkl", pkl({"x_type": "unit_ball", "model_state_dict": k3, "iteration": 7},
                                     pickle_protocol=4))
    put("pth", "pkl_parameters.pkl", pkl(collections.OrderedDict([("p", torch.nn.Parameter(torch.ones(4)))])))
    four = torch.arange(4, dtype=torch.float32)
    put("pth", "pkl_views.pkl", pkl(collections.OrderedDict([("tail", four[1:]), ("head", four[:2]),
                                                             ("s", four[3]), ("g", torch.ones(1, 8, 1))])))
    put("pth", "pkl_float64.pkl", pkl(collections.OrderedDict([("d", torch.ones(2, dtype=torch.float64))])))
    put("pth", "pkl_others.pkl", pkl({"model_state_dict": k3, "lr": 1e-4, "none": None, "flag": True, "big": 2 ** 40,
                                      "neg": -5, "opt": {"param_groups": [{"betas": (0.9, 0.99)}]}}))
    tmp = tempfile.mkdtemp(prefix="ggdm-seeds-")
    try:
        w = os.path.join(tmp, "w.safetensors")
        subprocess.run([ggdm, "init", "--dim", "4", "--dim-mults", "1", "--groups", "1", "--length", "2",
                        "--heads", "1", "--dim-head", "1", "--seed", "3", "-o", w], check=True, capture_output=True)
        o = os.path.join(tmp, "w.pth")
        subprocess.run([ggdm, "convert", "-w", w, "-o", o, "--T", "2", "--x_type", "linear_latent", "--epoch", "3",
                        "--groups", "1", "--heads", "1", "--dim-head", "1"], check=True, capture_output=True)
        mine = open(o, "rb").read()
        put("pth", "ggdm_dim4.pth", mine)
        put("weights", "ggdm_dim4.pth", mine)
        c = torch.load(io.BytesIO(mine), weights_only=True)
        put("weights", "torch_dim4.pth", saved(c["model_state_dict"]))
    finally:
        shutil.rmtree(tmp)


def seeds_clip_tok():
    """Mode byte 0 (even): a text with the harness's fixed tokenizer; 1 (odd): LE16 vocab
    length, LE16 merges length, vocab.json, merges.txt, text."""
    texts = {"ascii": b"abc ab's a b c abcabc", "hostile": "Crème ΣΑΣ 東京 🐶 e\u0301 <|endoftext|>!".encode(),
             "invalid": b"\xff\xc3\x28\x00ab\xed\xa0\x80", "empty": b"", "long": b"ab " * 60}
    for name, t in texts.items():
        put("clip_tok", "text_" + name, b"\0" + t)
    vocab = json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 2, "b</w>": 3, "ab</w>": 4,
                        "\u00e9": 5}).encode()
    merges = b"#version: 0.2\na b</w>\n"
    def files(v, m, t):
        return b"\1" + struct.pack("<HH", len(v), len(m)) + v + m + t
    put("clip_tok", "files_ok", files(vocab, merges, b"ab ab a"))
    put("clip_tok", "files_truncated", files(vocab[:-9], merges, b"ab"))
    put("clip_tok", "files_dup", files(b'{"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 1, "a": 0}', merges, b"a"))
    put("clip_tok", "files_range", files(b'{"<|startoftext|>": 0, "<|endoftext|>": 5}', merges, b"a"))
    put("clip_tok", "files_noheader", files(vocab, b"a b</w>\n", b"a"))
    put("clip_tok", "files_escapes", files(b'{"<|startoftext|>": 0, "<|endoftext|>": 1, "\\ud83d\\ude00": 2}',
                                           b"#version: 0.2\r\n", "\U0001f600".encode()))


def seeds_cli():
    """Command lines for the fuzz_cli harness: one argument per line, the first the command.
    The files named are the harness's fixtures (fuzz_cli.c)."""
    cmds = {
        "init_small": ["init", "--dim", "4", "--dim-mults", "1,2", "--groups", "2", "--length", "4", "--heads", "1",
                       "--dim-head", "2", "--seed", "9", "-o", "new.safetensors"],
        "init_eq": ["init", "--dim=6", "--dim-mults=1", "--groups=3", "--length=2", "--heads=2", "--dim-head=1",
                    "-o", "n.safetensors"],
        "init_bad": ["init", "--dim", "5", "-o", "x.safetensors"],
        "init_help": ["init", "--help"],
        "info": ["info", "-w", "w.safetensors", "--tensors"],
        "info_bad": ["info", "-w", "wbad.safetensors"],
        "eps": ["eps", "-w", "w.safetensors", "-x", "x.npy", "-t", "3", "-o", "eps.npy"],
        "eps_tfile": ["eps", "-w", "w.safetensors", "-x", "x64.npy", "--t-file", "t.npy", "-o", "eps.npy"],
        "eps_nan": ["eps", "-w", "w.safetensors", "-x", "xnan.npy", "-t", "0", "-o", "eps.npy"],
        "vjp": ["vjp", "-w", "w.safetensors", "-x", "x.npy", "-t", "1", "-v", "v.npy", "-o", "g.npy"],
        "trace": ["trace", "-w", "w.safetensors", "-x", "x.npy", "-t", "2", "-o", "trace_out"],
        "loss_grad": ["loss-grad", "-w", "w.safetensors", "--x0", "x.npy", "--t-file", "t.npy", "--noise", "v.npy",
                      "--T", "25", "--schedule", "linear", "-o", "grad.safetensors"],
        "diff": ["diff", "tr_a", "tr_b", "--rtol", "1e-3", "--atol=0"],
        "diff_bad": ["diff", "tr_a", "--rtol", "nan"],
        "unknown": ["eps", "--bogus", "-w"],
    }
    for name, args in cmds.items():
        put("cli", name, ("\n".join(args) + "\n").encode())


def le(fmt, *v):
    return struct.pack("<" + fmt, *v)


def seeds_unet():
    """fuzz_unet reads its choices byte by byte (see fuzz_unet.c): a few configurations."""
    put("unet", "small", bytes([0, 1, 2, 0, 1, 2, 1, 1, 2, 0]) + le("Q", 5) + bytes(range(64)))
    put("unet", "two_levels", bytes([2, 2, 1, 1, 1, 0, 3, 2, 1, 1]) + le("Q", 77) + bytes(range(200, 0, -3)))
    put("unet", "extreme", bytes([0xFF] * 48))
    put("unet", "zeros", bytes(32))


def seeds_dmath():
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 88.7, -103.9, 1e-45, 3.4e38, float("inf"), float("nan"), 1e6, 12.0,
            1.5172802, -16.2857819, 0.25, 0.75]
    put("dmath", "specials_f32", b"".join(struct.pack("<f", v) for v in vals))
    dv = [0.0, 1.0, 1e300, -1e-310, 5e-324, 1.5707963267948966, 3.141592653589793, 1e22, 0.7071067811865476]
    put("dmath", "specials_f64", b"\x01" + b"".join(struct.pack("<d", v) for v in dv))
    put("dmath", "ramp", bytes(range(256)))


def seeds_numeric():
    put("numeric", "schedule_cosine", bytes([0]) + le("I", 200) + bytes(16))
    put("numeric", "schedule_linear", bytes([1]) + le("I", 21) + bytes(16))
    put("numeric", "rng", bytes([2]) + le("QQQ", 2345, 2 << 56 | 199, 4095) + bytes([7, 0, 1]))
    put("numeric", "hash", bytes([3]) + b"0123456789abcdef" + bytes(range(40)))
    put("numeric", "diffusion", bytes([5, 199, 0, 150, 0, 2, 7, 1, 0]) + bytes(range(0, 250, 3)))
    put("numeric", "adam", bytes([6, 10, 0, 200, 3, 1, 2, 3, 1, 40]) + bytes(range(7, 200, 5)))
    put("numeric", "philox", bytes([4]) + le("IIIIII", 0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344,
                                             0xA4093822, 0x299F31D0) + bytes([10]))


def main():
    ggdm = sys.argv[1] if len(sys.argv) > 1 else "build/ggdm"
    makers = {"npy": seeds_npy, "npz": seeds_npz, "safetensors": seeds_safetensors,
              "weights": lambda: (seeds_weights(ggdm), seeds_pth(ggdm)), "cli": seeds_cli, "unet": seeds_unet,
              "dmath": seeds_dmath, "numeric": seeds_numeric, "pth": lambda: seeds_pth(ggdm),
              "clip_tok": seeds_clip_tok}
    chosen = sys.argv[2:] or list(makers)   # make_seeds.py GGDM [HARNESS...]: only these corpora
    for sub in chosen:
        shutil.rmtree(os.path.join(ROOT, sub), ignore_errors=True)
    done = set()
    for sub in chosen:
        if sub == "pth" and "weights" in done:
            continue                         # the weights maker wrote the pth seeds too
        makers[sub]()
        done.add(sub)
    for sub in sorted(os.listdir(ROOT)):
        files = os.listdir(os.path.join(ROOT, sub))
        size = sum(os.path.getsize(os.path.join(ROOT, sub, f)) for f in files)
        print(f"fuzz/corpus/{sub}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
