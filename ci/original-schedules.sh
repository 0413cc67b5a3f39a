#!/bin/sh
# ggdm's schedule tables against the original's, computed live by PyTorch (Debian's
# python3-torch) with the original's float64 code: every buffer, bit for bit.
set -u
ggdm="${1:-build/ggdm}"
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for kind in cosine linear; do
    for T in 200 1000 50; do
        "$ggdm" schedule --T $T --schedule $kind -o "$tmp/$kind$T.npz" || { status=1; continue; }
        /usr/bin/python3 conformance/interop/original_schedule.py --T $T --schedule $kind --check "$tmp/$kind$T.npz" \
            >"$tmp/log" 2>&1 || status=1
        tail -1 "$tmp/log"
        [ $status -ne 0 ] && cat "$tmp/log"
    done
done
exit $status
