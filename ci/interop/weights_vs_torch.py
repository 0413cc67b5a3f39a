#!/usr/bin/env python3
"""ggdm's weight files against PyTorch and safetensors (needs torch and safetensors: the venv
/work/venv-interop, or any python with both).

  /work/venv-interop/bin/python ci/interop/weights_vs_torch.py [BUILD]

Builds ci/interop/weights_tool.c against BUILD/libggdm.a (default build) and the front end's
ref/cli/{io,json,model_dir}.c, then checks:
  1. F16 and BF16 files written by torch (every one of the 65536 bit patterns of each, NaNs
     included) load in ggdm to exactly torch's .float() bits; F32 bit for bit;
  2. the same through a sharded folder (model.safetensors.index.json + 2 shards written the way
     huggingface_hub does), and the .fp16 variant of a folder;
  3. ggdm's F32 files, one and sharded (small max_shard_bytes), load with
     safetensors.torch.load_file bit-identically, the index lists every tensor with its shard,
     total_size is the data bytes; ggdm's single F32 file is byte-identical to
     safetensors.torch.save_file(..., metadata={"format": "pt"}) of the same tensors;
  4. ggdm's F16 files hold exactly torch's float32 -> float16 conversion (.half()) of the same
     values: nearest-even, overflow to inf, NaN -> 0x7e00 with the sign;
  5. hostile inputs (a wrong dtype, a missing shard) fail with exit status 1 and a message.
Prints one line per check and "weights_vs_torch: N passed, M failed".
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def bits(t):
    """The raw bits of a float tensor as int64 numpy (for exact comparisons, NaNs included)."""
    if t.dtype == torch.float32:
        return t.contiguous().view(torch.int32).numpy().astype(np.int64) & 0xFFFFFFFF
    return t.contiguous().view(torch.int16).numpy().astype(np.int64) & 0xFFFF


def u16_tensor(vals, dtype):
    return torch.from_numpy(np.asarray(vals, dtype=np.uint16).view(np.int16).copy()).view(dtype)


def build_tool(tmp):
    exe = os.path.join(tmp, "weights_tool")
    lib = os.path.join(ROOT, BUILD, "libggdm.a")
    cmd = ["cc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-O2",
           "-I" + os.path.join(ROOT, "ref/include"), "-I" + os.path.join(ROOT, "ref/cli"), "-o", exe,
           os.path.join(ROOT, "ci/interop/weights_tool.c")] + \
          [os.path.join(ROOT, "ref/cli", f) for f in ("io.c", "json.c", "model_dir.c")] + [lib, "-lxxhash", "-lm"]
    subprocess.run(cmd, check=True)
    return exe


def run(exe, *args):
    return subprocess.run([exe] + list(args), capture_output=True, text=True)


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_tool(tmp)
        all16 = np.arange(65536, dtype=np.uint16)
        rnd = torch.randn(1000) * 100
        special = torch.from_numpy(np.array([0x7F800001, 0xFFC00001, 0x7FA00000, 0x7F800000, 0xFF800000, 0x80000000,
                                             0x00000001, 0x33000000, 0x33000001, 0x477FF000, 0x477FEFFF, 0x47800000,
                                             0x38800000, 0x387FFFFF], dtype=np.uint32).view(np.int32)).view(torch.float32)
        tensors = {
            "f16.all": u16_tensor(all16, torch.float16).reshape(256, 256),
            "bf16.all": u16_tensor(all16, torch.bfloat16).reshape(256, 256),
            "f32.rnd": rnd.reshape(10, 10, 10),
            "f32.special": special,
            "f32.conv": torch.randn(8, 4, 1, 1),
            "f32.scalar": torch.tensor(3.25),
        }
        expect = {k: v.float() for k, v in tensors.items()}
        # 1. one file written by torch
        src = os.path.join(tmp, "torch.safetensors")
        save_file(tensors, src, metadata={"format": "pt"})
        out = os.path.join(tmp, "ggdm.safetensors")
        r = run(exe, "load", src, out)
        check("ggdm loads torch's F16/BF16/F32 file", r.returncode == 0, r.stderr)
        if r.returncode == 0:
            got = load_file(out)
            for k in tensors:
                check(f"  {k}: ggdm's float32 == torch .float(), bit for bit",
                      got[k].shape == expect[k].shape and np.array_equal(bits(got[k]), bits(expect[k])))
        # 2. a sharded folder (huggingface_hub's layout) and an fp16 variant
        sh = os.path.join(tmp, "sharded")
        os.makedirs(sh)
        names = sorted(tensors)
        parts = [names[:3], names[3:]]
        wm = {}
        total = 0
        for i, part in enumerate(parts):
            fn = f"model-{i + 1:05d}-of-{len(parts):05d}.safetensors"
            save_file({k: tensors[k] for k in part}, os.path.join(sh, fn), metadata={"format": "pt"})
            for k in part:
                wm[k] = fn
                total += tensors[k].numel() * tensors[k].element_size()
        with open(os.path.join(sh, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2, sort_keys=True)
        save_file({k: v.half() if v.dtype == torch.float32 else v for k, v in tensors.items()},
                  os.path.join(sh, "model.fp16.safetensors"), metadata={"format": "pt"})
        out2 = os.path.join(tmp, "ggdm2.safetensors")
        r = run(exe, "load", sh, out2)
        check("ggdm loads a sharded folder written like huggingface_hub", r.returncode == 0, r.stderr)
        if r.returncode == 0:
            got = load_file(out2)
            check("  every tensor bit for bit", all(np.array_equal(bits(got[k]), bits(expect[k])) for k in tensors))
        out3 = os.path.join(tmp, "ggdm3.safetensors")
        r = run(exe, "load", sh, out3, "fp16")
        check("ggdm loads the .fp16 variant", r.returncode == 0, r.stderr)
        if r.returncode == 0:
            got = load_file(out3)
            ok = all(np.array_equal(bits(got[k]), bits((tensors[k].half() if tensors[k].dtype == torch.float32
                                                        else tensors[k]).float())) for k in tensors)
            check("  values == torch's .half().float()", ok)
        # 3. ggdm's own files, read by safetensors
        one = os.path.join(tmp, "one")
        r = run(exe, "resave", src, one, "f32", "0")
        check("ggdm writes one F32 file", r.returncode == 0 and os.path.exists(os.path.join(one, "model.safetensors")),
              r.stderr)
        if r.returncode == 0:
            got = load_file(os.path.join(one, "model.safetensors"))
            check("  load_file reads it bit for bit", sorted(got) == names and
                  all(np.array_equal(bits(got[k]), bits(expect[k])) for k in names))
            ref = os.path.join(tmp, "ref.safetensors")
            save_file(expect, ref, metadata={"format": "pt"})
            check("  byte-identical to safetensors.torch.save_file of the same tensors",
                  open(ref, "rb").read() == open(os.path.join(one, "model.safetensors"), "rb").read())
        many = os.path.join(tmp, "many")
        r = run(exe, "resave", src, many, "f32", "100000")
        idx_path = os.path.join(many, "model.safetensors.index.json")
        check("ggdm writes shards and an index (max 100000 bytes)", r.returncode == 0 and os.path.exists(idx_path),
              r.stderr)
        if r.returncode == 0:
            idx = json.load(open(idx_path))
            shards = sorted(set(idx["weight_map"].values()))
            merged = {}
            for s in shards:
                part = load_file(os.path.join(many, s))
                check(f"  {s}: load_file reads it; every tensor in it is mapped to it",
                      all(idx["weight_map"][k] == s for k in part))
                merged.update(part)
            check("  the shards hold every tensor bit for bit", sorted(merged) == names and
                  all(np.array_equal(bits(merged[k]), bits(expect[k])) for k in names))
            check("  metadata.total_size is the data bytes",
                  idx["metadata"]["total_size"] == sum(v.numel() * 4 for v in expect.values()))
            check("  several shards, named model-0000k-of-0000N.safetensors",
                  len(shards) > 1 and all(s == f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
                                          for i, s in enumerate(shards)))
        # 4. F16 written by ggdm == torch's float -> half
        h = os.path.join(tmp, "half")
        r = run(exe, "resave", src, h, "f16", "0")
        check("ggdm writes an F16 file", r.returncode == 0, r.stderr)
        if r.returncode == 0:
            got = load_file(os.path.join(h, "model.safetensors"))
            for k in names:
                check(f"  {k}: ggdm's F16 == torch's .half() bits",
                      got[k].dtype == torch.float16 and np.array_equal(bits(got[k]), bits(expect[k].half())))
        # 5. hostile inputs
        bad = os.path.join(tmp, "bad.safetensors")
        save_file({"x": torch.zeros(3, dtype=torch.float64)}, bad)
        r = run(exe, "load", bad, os.path.join(tmp, "o.safetensors"))
        check("an F64 tensor is refused (exit 1, named)", r.returncode == 1 and "'x' is F64" in r.stderr, r.stderr)
        os.remove(os.path.join(sh, "model-00002-of-00002.safetensors"))
        r = run(exe, "load", os.path.join(sh, "model.safetensors.index.json"), os.path.join(tmp, "o.safetensors"))
        check("a missing shard is refused (exit 1, named)",
              r.returncode == 1 and "model-00002-of-00002.safetensors named in the index is missing" in r.stderr,
              r.stderr)
    print(f"weights_vs_torch: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
