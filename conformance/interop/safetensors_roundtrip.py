#!/usr/bin/env python3
"""safetensors interoperability between ggdm and the real Python package.

  safetensors_roundtrip.py --write ref.safetensors
      writes a small file with safetensors.torch.save_file: float32 tensors of rank 0..3
      (one empty) named like ggdm's PyTorch state_dict entries, with awkward values
      (NaN payloads, -0.0, infinities, subnormals) and __metadata__ with escapes.
  safetensors_roundtrip.py --check ggdm.safetensors [--reference ref.safetensors]
      loads a file (ggdm's) with safetensors.torch.load_file and safe_open, checks what
      safetensors' own writer also guarantees (header padded to a multiple of 8 so the
      data is 8-aligned, JSON starting with '{'), and with --reference checks that it
      holds the same tensors (names, dtypes, shapes, bit patterns) and metadata.
      --prefix P accepts names written as P + name (or the reverse).

Exit status 0 when everything holds, 1 with one line per problem otherwise.
Needs torch and safetensors (pip install safetensors).
"""
import argparse
import json
import struct
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def reference_tensors():
    """The canonical set of --write: deterministic, float32, ggdm-like names."""
    g = torch.arange(4 * 3 * 5, dtype=torch.float32).reshape(4, 3, 5) / 7.0 - 3.0
    special = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 1e-45, -3.4e38, 1.0, 0.1],
                           dtype=torch.float32)
    special_bits = special.view(torch.int32).clone()
    special_bits[0] = 0x7FC00001  # a quiet NaN with a payload
    special = special_bits.view(torch.float32)
    return {
        "downs.0.0.block1.proj.weight": g,
        "downs.0.0.block1.proj.bias": torch.linspace(-1.0, 1.0, 7, dtype=torch.float32),
        "time_mlp.1.scale": torch.tensor(0.125, dtype=torch.float32),
        "special": special,
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }


REFERENCE_METADATA = {"format": "pt", "note": "quote \" backslash \\ newline \n caf\u00e9"}


def read_header(path):
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            return None, None, "file shorter than 8 bytes"
        (n,) = struct.unpack("<Q", raw)
        header = f.read(n)
    if len(header) != n:
        return None, None, "header length %d runs past the end of the file" % n
    return n, header, None


def bits(t):
    """Bit pattern of a tensor, comparable whatever its dtype (NaN payloads included)."""
    if t.numel() == 0:
        return b""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def check(path, reference, prefix):
    problems = []
    n, header, err = read_header(path)
    if err:
        return [err]
    if n % 8 != 0:
        problems.append("header length %d is not a multiple of 8 (data not 8-aligned)" % n)
    if not header.startswith(b"{"):
        problems.append("header does not start with '{'")
    try:
        json.loads(header.decode("utf-8"))
    except ValueError as e:
        problems.append("header is not valid JSON: %s" % e)

    try:
        got = load_file(path)
        with safe_open(path, framework="pt") as f:
            got_meta = f.metadata() or {}
    except Exception as e:  # the real loader refused it: that is the finding
        return problems + ["safetensors refused the file: %s" % e]
    print("%s: %d tensors, %d metadata entries, loaded by safetensors" %
          (path, len(got), len(got_meta)))
    for name in sorted(got):
        t = got[name]
        print("  %-40s %-14s %s" % (name, str(t.dtype).replace("torch.", ""), list(t.shape)))

    if reference is None:
        return problems
    want = load_file(reference)
    with safe_open(reference, framework="pt") as f:
        want_meta = f.metadata() or {}

    def lookup(name):
        for cand in (name, prefix + name if prefix else None,
                     name[len(prefix):] if prefix and name.startswith(prefix) else None):
            if cand is not None and cand in got:
                return cand
        return None

    matched = set()
    for name, w in want.items():
        g_name = lookup(name)
        if g_name is None:
            problems.append("tensor '%s' missing" % name)
            continue
        matched.add(g_name)
        g = got[g_name]
        if g.dtype != w.dtype:
            problems.append("tensor '%s': dtype %s, want %s" % (name, g.dtype, w.dtype))
        elif list(g.shape) != list(w.shape):
            problems.append("tensor '%s': shape %s, want %s" % (name, list(g.shape), list(w.shape)))
        elif bits(g) != bits(w):
            problems.append("tensor '%s': values differ (bit patterns)" % name)
    for name in sorted(set(got) - matched):
        problems.append("unexpected tensor '%s'" % name)
    if got_meta != want_meta:
        problems.append("metadata %r, want %r" % (got_meta, want_meta))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", metavar="PATH", help="write the reference file with safetensors")
    ap.add_argument("--check", metavar="PATH", help="load and verify a file")
    ap.add_argument("--reference", metavar="PATH", help="with --check: the expected content")
    ap.add_argument("--prefix", default="", help="with --check: name prefix to tolerate")
    args = ap.parse_args()
    if not args.write and not args.check:
        ap.error("give --write and/or --check")
    if args.write:
        save_file(reference_tensors(), args.write, metadata=REFERENCE_METADATA)
        print("wrote %s" % args.write)
    if args.check:
        problems = check(args.check, args.reference, args.prefix)
        for p in problems:
            print("FAIL: %s" % p)
        if problems:
            return 1
        print("ok: %s%s" % (args.check, " matches %s" % args.reference if args.reference else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
