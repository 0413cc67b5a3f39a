#!/bin/sh
# The per-op golden vectors (vectors/ops) are evidence too: proves that `ggdm conformance` fails,
# naming what, when one of them is altered (the companion of ci/tamper.sh, for vectors/ops):
#   1. one byte of a stored op result             -> "stored file X was altered" and the vector fails
#   2. one manifest hash of an op vector            -> "FAIL <id>"
#   3. a stored result, files.xxh3 and the manifest all altered consistently (a wrong
#      regeneration that hides itself)              -> the recomputation differs: "FAIL <id> ... differ"
#   4. an op result file deleted                    -> "stored file X: ..." fails
#   5. vectors/ops/manifest.tsv deleted             -> reported as SKIP, never passed silently
#   sh ci/tamper-ops.sh [build/ggdm] [--backend elem]
set -u
ggdm="${1:-build/ggdm}"
shift 2>/dev/null || true
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
pass=0

fresh() { rm -rf "$tmp/v"; cp -r vectors "$tmp/v"; }
run() { "$ggdm" conformance --vectors "$tmp/v" "$@" >"$tmp/out.txt" 2>&1; }

check() { # name, rc, wanted rc, pattern
    if [ "$2" -ne "$3" ]; then
        echo "tamper-ops: FAIL: $1: conformance exited $2, expected $3"; head -5 "$tmp/out.txt"; status=1
    elif ! grep -q -- "$4" "$tmp/out.txt"; then
        echo "tamper-ops: FAIL: $1: the output does not name it ($4):"; grep -v '^ok ' "$tmp/out.txt" | head -5; status=1
    else
        echo "tamper-ops: ok: $1 -> $(grep -m1 -- "$4" "$tmp/out.txt" | cut -c1-160)"; pass=$((pass + 1))
    fi
}

row() { # the first op vector of op NAME (not an error vector): "id<TAB>expect"
    awk -F'\t' -v n="name=$1;" '$2=="op" && index($3, n)==1 && $4 !~ /^error:/ {print $1 "\t" $4; exit}' vectors/ops/manifest.tsv
}

fresh
run "$@"; rc=$?
check "the untouched copy passes, op vectors included" $rc 0 "^conformance: .* 0 failed"
n=$(grep -c '^op\.' "$tmp/v/ops/manifest.tsv")
[ "$n" -gt 0 ] || { echo "tamper-ops: FAIL: no op vectors in vectors/ops/manifest.tsv"; exit 1; }

# 1. one byte of a stored result (conv)
fresh; r=$(row conv); id=$(echo "$r" | cut -f1); f=$(echo "$r" | cut -f2)
python3 - "$tmp/v/ops/$f" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-1] ^= 0x01; open(p, "wb").write(bytes(b))
PY
run "$@"; rc=$?
check "one byte of stored op result $f" $rc 1 "stored file $f was altered"
check "... and its vector fails" $rc 1 "FAIL $id"

# 2. one manifest hash (attn)
fresh; r=$(row attn); id=$(echo "$r" | cut -f1)
python3 ci/flip-manifest-hash.py "$tmp/v/ops/manifest.tsv" "$id"
run "$@"; rc=$?
check "the manifest hash of $id" $rc 1 "FAIL $id"

# 3. a consistent forgery: the last float of a VJP result (norm), its file hash and its data hash
fresh; id=$(awk -F'\t' '$2=="op" && index($3, "name=norm;")==1 && $3 ~ /result=din0/ {print $1; exit}' vectors/ops/manifest.tsv)
f=$(awk -F'\t' -v i="$id" '$1==i {print $4}' vectors/ops/manifest.tsv)
python3 - "$tmp/v/ops" "$f" "$id" <<'PY'
import struct, subprocess, sys
d, rel, vid = sys.argv[1], sys.argv[2], sys.argv[3]
p = d + "/" + rel
b = bytearray(open(p, "rb").read())
hl = struct.unpack("<H", b[8:10])[0]
b[-4] ^= 0x01                                  # one ulp of the last float
open(p, "wb").write(bytes(b))
def xxh3(data):
    out = subprocess.run(["xxhsum", "-H3", "-"], input=bytes(data), capture_output=True, check=True).stdout.decode()
    return [t for t in out.replace("=", " ").split() if len(t) == 16 and all(c in "0123456789abcdef" for c in t)][0]
fh, dh = xxh3(b), xxh3(b[10 + hl:])
lines = open(d + "/files.xxh3").read().split("\n")
lines = [(fh + "  " + rel) if l.endswith("  " + rel) else l for l in lines]
open(d + "/files.xxh3", "w").write("\n".join(lines))
out = []
for line in open(d + "/manifest.tsv"):
    f = line.rstrip("\n").split("\t")
    if f[0] == vid:
        f[4] = dh
    out.append("\t".join(f))
open(d + "/manifest.tsv", "w").write("\n".join(out) + "\n")
PY
run "$@"; rc=$?
check "a consistent forgery of $f (file, files.xxh3 and manifest)" $rc 1 "FAIL $id .*differ"

# 4. a result file deleted (gelu)
fresh; r=$(row gelu); f=$(echo "$r" | cut -f2)
rm -f "$tmp/v/ops/$f"
run "$@"; rc=$?
check "stored op result $f deleted" $rc 1 "FAIL stored file $f"

# 5. the op manifest deleted: SKIP, loudly
fresh; rm -f "$tmp/v/ops/manifest.tsv"
run "$@"; rc=$?
check "vectors/ops/manifest.tsv deleted" $rc 0 "^SKIP .*ops/manifest.tsv: not present"

if [ $status -eq 0 ]; then echo "tamper-ops: $pass passed, 0 failed"; else echo "tamper-ops: failed"; fi
exit $status
