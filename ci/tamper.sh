#!/bin/sh
# Proves that `ggdm conformance` fails, clearly, when a stored golden vector is altered:
# flips one byte in the data of a stored result, then in an input file, then alters a
# hash in the manifest; each must fail and name what was altered.
set -u
ggdm="${1:-build/ggdm}"
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

flip_last_byte() { # flips the bits of the last byte of a file (inside the data, never the header)
    python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-1] ^= 0x01
open(p, "wb").write(bytes(b))
PY
}

expect_fail() { # name, grep pattern
    "$ggdm" conformance --vectors "$tmp/v" >"$tmp/out.txt" 2>&1
    rc=$?
    if [ $rc -ne 1 ]; then
        echo "tamper: FAIL: $1: conformance exited $rc, expected 1"; status=1
    elif ! grep -q "$2" "$tmp/out.txt"; then
        echo "tamper: FAIL: $1: message does not name it ($2):"; head -5 "$tmp/out.txt"; status=1
    else
        echo "tamper: ok: $1 -> $(grep -m1 "$2" "$tmp/out.txt" | cut -c1-150)"
    fi
}

fresh() { rm -rf "$tmp/v"; cp -r vectors "$tmp/v"; }

fresh
"$ggdm" conformance --vectors "$tmp/v" >"$tmp/out.txt" 2>&1 || { echo "tamper: FAIL: the untouched copy does not pass"; cat "$tmp/out.txt"; exit 1; }

fresh; f=$(awk -F'\t' '$2=="schedule" {print $4; exit}' vectors/manifest.tsv)
flip_last_byte "$tmp/v/$f"
expect_fail "one byte of stored result $f" "$f"

fresh; f=$(awk -F'\t' '$2=="philox" {print $4; exit}' vectors/manifest.tsv)
flip_last_byte "$tmp/v/$f"
expect_fail "one byte of stored result $f" "FAIL philox"

fresh; f=$(awk -F'\t' '$2=="input_f32" {print $4; exit}' vectors/manifest.tsv)
flip_last_byte "$tmp/v/$f"
expect_fail "one byte of input file $f" "stored file $f was altered"

fresh; id=$(awk -F'\t' '$2=="rng" {print $1; exit}' vectors/manifest.tsv)
python3 ci/flip-manifest-hash.py "$tmp/v/manifest.tsv" "$id"
expect_fail "the manifest hash of $id" "FAIL $id"

if [ $status -eq 0 ]; then echo "tamper: 4 passed, 0 failed"; else echo "tamper: failed"; fi
exit $status
