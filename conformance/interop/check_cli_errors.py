#!/usr/bin/env python3
"""Bad input to the ggdm command gives a clear error and a non-zero exit, never a crash.

  check_cli_errors.py build/ggdm

Feeds malformed, truncated and hostile weights (safetensors) and arrays (.npy) to `ggdm eps`,
`vjp`, `loss-grad` and `info`, plus bad flags, and hostile diffusers folders (an `sd-init`
folder with a component, config.json or model_index.json missing, a config that does not
match the weights, another dtype, a truncated file, a 2 GiB+ header claim, ...) to
`unet2d`, `vae-decode` and `clip-encode --model`, and checks for each case: exit status 1 or 2
(not 0, not a signal), a one-line message on stderr that names the problem, and no output
file left behind. Prints one line per case and `cli-errors: N passed, M failed`.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np


def st_bytes(tensors, meta=None, header_override=None):
    """safetensors bytes from {name: np.ndarray} (any dtype) or a raw header."""
    codes = {np.float32: "F32", np.float64: "F64", np.int64: "I64", np.int32: "I32", np.float16: "F16"}
    hdr, data, off = {}, b"", 0
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        hdr[name] = {"dtype": codes[arr.dtype.type], "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    h = header_override if header_override is not None else json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main():
    ggdm = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/ggdm")
    tmp = tempfile.mkdtemp(prefix="ggdm-cli-errors-")
    p = lambda name: os.path.join(tmp, name)
    passed = failed = 0

    def run(args):
        return subprocess.run([ggdm] + args, capture_output=True, text=True, timeout=120, cwd=tmp)

    def expect_error(label, args, must_say, out=None):
        nonlocal passed, failed
        if out and os.path.isdir(out):
            shutil.rmtree(out)
        elif out and os.path.exists(out):
            os.remove(out)
        r = run(args)
        msg = (r.stderr.strip().splitlines() or [""])[-1]
        problems = []
        if r.returncode not in (1, 2):
            problems.append(f"exit {r.returncode}" + (" (killed by a signal)" if r.returncode < 0 else ""))
        if must_say.lower() not in r.stderr.lower():
            problems.append(f"message does not say '{must_say}'")
        if out and (os.path.exists(out) or any(f.startswith(os.path.basename(out) + ".tmp") for f in os.listdir(tmp))):
            problems.append("left an output file behind")
        if problems:
            failed += 1
            print(f"FAIL {label}: {'; '.join(problems)}: {r.stderr.strip()[:300]}")
        else:
            passed += 1
            print(f"ok   {label}: exit {r.returncode}: {msg[:130]}")

    # a valid small network and inputs
    w = p("w.safetensors")
    r = run(["init", "--dim", "8", "--dim-mults", "1,2", "--groups", "2", "--length", "8", "--heads", "2",
             "--dim-head", "4", "--seed", "1", "-o", w])
    if r.returncode:
        print("FAIL cannot create the test network:", r.stderr)
        print("cli-errors: 0 passed, 1 failed")
        return 1
    good = open(w, "rb").read()
    n_hdr = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8:8 + n_hdr])
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    np.save(p("x.npy"), x)
    np.save(p("t.npy"), np.array([1, 2], dtype=np.int64))
    out = p("out.npy")
    eps = lambda wpath, xpath=p("x.npy"): ["eps", "-w", wpath, "-x", xpath, "-t", "3", "-o", out]

    def weights_case(label, data, must_say):
        f = p("bad.safetensors")
        open(f, "wb").write(data)
        expect_error("weights: " + label, eps(f), must_say, out)

    expect_error("weights: missing file", eps(p("nope.safetensors")), "cannot open", out)
    weights_case("empty file", b"", "too short")
    weights_case("truncated inside the length", good[:5], "too short")
    weights_case("truncated inside the header", good[:8 + n_hdr // 2], "")
    weights_case("truncated inside the data", good[: len(good) - 100], "")
    weights_case("header length beyond the file", struct.pack("<Q", 10 ** 6) + good[8:], "")
    weights_case("header too large", struct.pack("<Q", 2 ** 40) + good[8:], "")
    weights_case("header is not JSON", good[:8] + b"{\"a\":" + good[13:], "")
    weights_case("top level is not an object", struct.pack("<Q", 8) + b"[1,2]   ", "")
    h = json.loads(good[8:8 + n_hdr])
    name = next(k for k in h if k != "__metadata__")
    h2 = dict(h); h2[name] = dict(h[name], data_offsets=[0, 10 ** 9])
    weights_case("offsets out of range", st_bytes({}, header_override=json.dumps(h2).encode()) + good[8 + n_hdr:], "")
    # semantic problems, built from the real tensors
    tens = {}
    meta = header.get("__metadata__", {})
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        tens[k] = np.frombuffer(good[8 + n_hdr + b: 8 + n_hdr + e], dtype="<f4").reshape(v["shape"])
    bad = dict(tens); bad["final_conv.weight"] = bad["final_conv.weight"].astype(np.float64)
    weights_case("wrong dtype (F64)", st_bytes(bad, meta), "F64")
    bad = dict(tens); bad["final_conv.weight"] = np.zeros((1, 8, 3), np.float32)
    weights_case("wrong shape", st_bytes(bad, meta), "shape")
    bad = dict(tens); del bad["mid_attn.fn.norm.g"]
    weights_case("missing tensor", st_bytes(bad, meta), "missing tensor mid_attn.fn.norm.g")
    bad = dict(tens); bad["extra.weight"] = np.zeros(3, np.float32)
    weights_case("extra tensor", st_bytes(bad, meta), "unexpected tensor 'extra.weight'")
    weights_case("impossible configuration in metadata", st_bytes(tens, dict(meta, groups="3")), "groups")
    weights_case("not a Unet1D at all", st_bytes({"a": np.zeros(2, np.float32)}), "init_conv.weight")

    # arrays
    def npy_case(label, data, must_say, which="-x"):
        f = p("bad.npy")
        open(f, "wb").write(data)
        args = eps(w, f) if which == "-x" else ["eps", "-w", w, "-x", p("x.npy"), "--t-file", f, "-o", out]
        expect_error(label, args, must_say, out)

    import io
    def npy_bytes(a, **kw):
        b = io.BytesIO(); np.save(b, a, **kw); return b.getvalue()
    goodx = npy_bytes(x)
    expect_error("x: missing file", eps(w, p("nope.npy")), "cannot open", out)
    npy_case("x: bad magic", b"\x93NUMPX" + goodx[6:], "magic")
    npy_case("x: truncated header", goodx[:40], "")
    npy_case("x: truncated data", goodx[:-4], "truncated")
    npy_case("x: trailing bytes", goodx + b"\0\0\0\0", "")
    npy_case("x: int32 dtype", npy_bytes(x.astype(np.int32)), "<i4")
    npy_case("x: big-endian", npy_bytes(x.astype(">f4")), ">f4")
    npy_case("x: fortran order", npy_bytes(np.asfortranarray(x.astype(np.float64))), "fortran")
    npy_case("x: 3-d", npy_bytes(x.reshape(2, 2, 4)), "expected a (N, D)")
    xn = x.copy(); xn[1, 3] = np.nan
    npy_case("x: NaN", npy_bytes(xn), "NaN")
    npy_case("x: wrong length D", npy_bytes(np.zeros((2, 4), np.float32)), "length")
    npy_case("t-file: float dtype", npy_bytes(np.array([1.0, 2.0])), "int64", which="t")
    npy_case("t-file: wrong count", npy_bytes(np.array([1, 2, 3], np.int64)), "one step per sample", which="t")
    npy_case("t-file: negative step", npy_bytes(np.array([1, -2], np.int64)), "outside", which="t")

    # flags
    expect_error("unknown flag", ["eps", "-w", w, "-x", p("x.npy"), "-t", "1", "-o", out, "--bogus"], "unknown option", out)
    expect_error("missing -o", ["eps", "-w", w, "-x", p("x.npy"), "-t", "1"], "required")
    expect_error("bad -t", ["eps", "-w", w, "-x", p("x.npy"), "-t", "abc", "-o", out], "integer", out)
    expect_error("unknown command", ["frobnicate"], "unknown command")
    expect_error("vjp: v of another shape", ["vjp", "-w", w, "-x", p("x.npy"), "-t", "1", "-v", p("t.npy"), "-o", out],
                 "expected a (N, D)", out)
    expect_error("loss-grad: t beyond T", ["loss-grad", "-w", w, "--x0", p("x.npy"), "--noise", p("x.npy"), "--t-file",
                                           p("t.npy"), "--T", "2", "-o", p("g.safetensors")], "not a step", p("g.safetensors"))
    expect_error("init: impossible configuration", ["init", "--dim", "8", "--groups", "3", "-o", p("i.safetensors")],
                 "groups", p("i.safetensors"))

    # diffusion commands
    sd = p("run")
    opt = lambda *a: ["optimize", "--score", "analytic", "--opt_rounds", "1", "--generate_bs", "2", "--reward_K", "2", "--T", "30",
                      "--run_dir", sd] + list(a)
    rewards = sd  # a refused run creates not even its folder
    expect_error("optimize: missing --hyper file", opt("--hyper", p("nope.npz")), "cannot open", rewards)
    open(p("junk.npz"), "wb").write(b"PK\x03\x04 this is not a zip archive at all")
    expect_error("optimize: malformed --hyper archive", opt("--hyper", p("junk.npz")), "junk.npz", rewards)
    np.savez(p("small.npz"), A=np.zeros((4, 16)), theta_1=np.zeros((16, 1)), theta_2=np.zeros((16, 1)),
             b_1=np.float64(4), b_2=np.zeros(16))
    expect_error("optimize: --hyper of another dimension", opt("--hyper", p("small.npz")), "expected", rewards)
    np.savez_compressed(p("zipped.npz"), A=np.zeros((16, 64)))
    expect_error("optimize: compressed --hyper", opt("--hyper", p("zipped.npz")), "savez", rewards)
    expect_error("optimize: unknown flag", opt("--frobnicate"), "unknown option", rewards)
    expect_error("optimize: bad --x_type", opt("--x_type", "cube"), "--x_type", rewards)
    expect_error("optimize: d_inner >= d_outer", opt("--d_inner", "64"), "must be below", rewards)
    expect_error("optimize: linear schedule with T <= 20", opt("--schedule", "linear", "--T", "10"), "T > 20", rewards)
    expect_error("optimize: bad --func_type", opt("--func_type", "cubic"), "--func_type", rewards)
    expect_error("optimize: --score analytic with unit_ball", opt("--x_type", "unit_ball"), "linear_latent only", rewards)
    g = np.ones((2, 8), np.float32); g[0, 1] = np.nan
    np.save(p("g_nan.npy"), g)
    np.save(p("y2.npy"), np.zeros(2, np.float32))
    s_out = p("s.npy")
    expect_error("sample: NaN in --g", ["sample", "-w", w, "-n", "2", "--T", "30", "--g", p("g_nan.npy"), "--y",
                                        p("y2.npy"), "-o", s_out], "not finite", s_out)
    expect_error("sample: --g without --y", ["sample", "-w", w, "-n", "2", "--g", p("g_nan.npy"), "-o", s_out],
                 "needs both", s_out)
    np.save(p("noise_bad.npy"), np.zeros((5, 2, 8), np.float32))
    expect_error("sample: --noise of the wrong shape", ["sample", "-w", w, "-n", "2", "--T", "30", "--noise",
                                                        p("noise_bad.npy"), "-o", s_out], "shape", s_out)
    expect_error("guide: t beyond T", ["guide", "-w", w, "-x", p("x.npy"), "-t", "40", "--T", "30", "--g", p("x.npy"),
                                       "--y", p("y2.npy"), "-o", s_out], "not a step", s_out)

    # hostile diffusers folders through the network commands (--model), from an sd-init folder
    base = p("sd-base")
    r = run(["sd-init", "--config", "tiny", "--seed", "1", "-o", base])
    if r.returncode:
        print("FAIL sd-init cannot write the test folder:", r.stderr)
        failed += 1
    else:
        np.save(p("zl.npy"), np.zeros((1, 4, 8, 8), np.float32))
        np.save(p("tl.npy"), np.array([3], np.int64))
        np.save(p("el.npy"), np.zeros((1, 77, 32), np.float32))
        m_out = p("m_out.npy")
        nets = {"unet": lambda d: ["unet2d", "--model", d, "--z", p("zl.npy"), "--t", p("tl.npy"), "--text",
                                   p("el.npy"), "-o", m_out],
                "vae": lambda d: ["vae-decode", "--model", d, "--z", p("zl.npy"), "-o", m_out],
                "text_encoder": lambda d: ["clip-encode", "--model", d, "--prompt", "a cat", "-o", m_out]}

        def folder_case(label, comp, mutate, must_say, variant=None):
            d = p("sd-case")
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(base, d)
            mutate(d)
            expect_error("model folder: " + label, nets[comp](d) + (["--variant", variant] if variant else []),
                         must_say, m_out)

        def edit_json(path, **kv):
            j = json.load(open(path))
            j.update(kv)
            json.dump(j, open(path, "w"))

        def rewrite_st(path, fn):
            data = open(path, "rb").read()
            open(path, "wb").write(fn(data))

        def retype_first(data):  # the first tensor's dtype F32 -> F64 (offsets no longer fit: either error)
            n = struct.unpack("<Q", data[:8])[0]
            h = json.loads(data[8:8 + n])
            k = sorted(k for k in h if k != "__metadata__")[0]
            h[k]["dtype"] = "I32"
            hb = json.dumps(h, separators=(",", ":")).encode()
            hb += b" " * (-len(hb) % 8)
            return struct.pack("<Q", len(hb)) + hb + data[8 + n:]

        st = lambda d, c: os.path.join(d, c, "model.safetensors" if c == "text_encoder"
                                       else "diffusion_pytorch_model.safetensors")
        folder_case("no model_index.json", "unet", lambda d: os.remove(os.path.join(d, "model_index.json")),
                    "model_index.json")
        folder_case("unet/ folder missing", "unet", lambda d: shutil.rmtree(os.path.join(d, "unet")), "unet")
        folder_case("text_encoder/ folder missing", "text_encoder",
                    lambda d: shutil.rmtree(os.path.join(d, "text_encoder")), "text_encoder")
        folder_case("tokenizer/ missing for --prompt", "text_encoder",
                    lambda d: os.remove(os.path.join(d, "tokenizer", "vocab.json")), "vocab.json")
        folder_case("vae/config.json missing", "vae", lambda d: os.remove(os.path.join(d, "vae", "config.json")),
                    "config.json")
        folder_case("unet config.json is not JSON", "unet",
                    lambda d: open(os.path.join(d, "unet", "config.json"), "w").write("{\"in_channels\": 4,"),
                    "config.json")
        folder_case("unet block_out_channels changed", "unet",
                    lambda d: edit_json(os.path.join(d, "unet", "config.json"), block_out_channels=[32, 48]), "shape")
        folder_case("vae layers_per_block changed", "vae",
                    lambda d: edit_json(os.path.join(d, "vae", "config.json"), layers_per_block=2), "missing")
        folder_case("text encoder with fewer layers than its weights", "text_encoder",
                    lambda d: edit_json(os.path.join(d, "text_encoder", "config.json"), num_hidden_layers=1),
                    "does not match")
        folder_case("unet weights of another dtype (I32)", "unet",
                    lambda d: rewrite_st(st(d, "unet"), retype_first), "I32")
        folder_case("truncated vae safetensors", "vae",
                    lambda d: rewrite_st(st(d, "vae"), lambda b: b[:len(b) // 2]), "diffusion_pytorch_model")
        folder_case("2 GiB+ header claim", "text_encoder",
                    lambda d: rewrite_st(st(d, "text_encoder"), lambda b: struct.pack("<Q", 3 << 30) + b[8:]),
                    "model.safetensors")
        folder_case("no weights of the asked variant", "unet", lambda d: None, "fp16", variant="fp16")
        folder_case("single file and index both present", "vae",
                    lambda d: open(os.path.join(d, "vae", "diffusion_pytorch_model.safetensors.index.json"),
                                   "w").write('{"weight_map": {}}'), "ambiguous")
        expect_error("sd-init: an existing folder", ["sd-init", "--config", "tiny", "-o", base], "exists")
        expect_error("sd-init: unknown --config", ["sd-init", "--config", "sdxl", "-o", p("sd-new")], "sd15, small or tiny",
                     p("sd-new"))
        expect_error("unet2d: --model with --weights", nets["unet"](base) + ["--weights", st(base, "unet")],
                     "neither", m_out)
    print(f"cli-errors: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
