"""Flips the first hex digit of vector ID's expected hash in a manifest (the tamper checks).
usage: python3 ci/flip-manifest-hash.py MANIFEST.tsv ID"""
import sys

p, vid = sys.argv[1], sys.argv[2]
out = []
for line in open(p):
    f = line.rstrip("\n").split("\t")
    if f[0] == vid:
        f[4] = ("0" if f[4][0] != "0" else "1") + f[4][1:]
    out.append("\t".join(f))
open(p, "w").write("\n".join(out) + "\n")
