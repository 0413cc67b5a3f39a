#!/bin/sh
# Bit-reproducibility across compilers and optimisation levels: builds the reference
# with gcc and clang at -O0 and -O3 (and -O3 -march=native), recomputes every golden
# vector with each, and requires identical XXH3 hashes for every vector.
set -u
cd "$(dirname "$0")/.."
out=build/repro
mkdir -p "$out"
configs="gcc:-O0 gcc:-O3 clang:-O0 clang:-O3 gcc:-O3_-march=native clang:-O3_-march=native"
[ "$(uname -m)" = x86_64 ] && configs="$configs gcc:-O2_-march=x86-64-v3"
first=""
status=0
for cfg in $configs; do
    cc=${cfg%%:*}
    opt=$(echo "${cfg#*:}" | tr '_' ' ')
    tag=$(echo "$cc$opt" | tr -d ' =-')
    command -v "$cc" >/dev/null 2>&1 || { echo "repro: $cc not installed" >&2; status=1; continue; }
    if ! make -s BUILD="$out/$tag" CC="$cc" OPT="$opt" PORTABLE=1 "$out/$tag/ggdm" >"$out/$tag.build.log" 2>&1; then
        echo "repro: FAIL: build with $cc $opt (see $out/$tag.build.log)"; status=1; continue
    fi
    "$out/$tag/ggdm" conformance --vectors vectors --verbose >"$out/$tag.log" 2>&1
    rc=$?
    grep -E '^(ok  |FAIL|SKIP) ' "$out/$tag.log" | grep -v 'stored files' >"$out/$tag.hashes"
    n=$(grep -c '^ok  ' "$out/$tag.hashes")
    if [ $rc -ne 0 ]; then
        echo "repro: FAIL: $cc $opt: conformance failed:"; grep FAIL "$out/$tag.log" | head -5; status=1
    fi
    if [ -z "$first" ]; then
        first="$out/$tag.hashes"; echo "repro: $cc $opt: $n vectors (baseline)"
    elif cmp -s "$first" "$out/$tag.hashes"; then
        echo "repro: $cc $opt: $n vectors, hashes identical to the baseline"
    else
        echo "repro: FAIL: $cc $opt: hashes differ from the baseline:"; diff "$first" "$out/$tag.hashes" | head -10; status=1
    fi
done
[ $status -eq 0 ] && echo "repro: ok: identical conformance hashes for $configs"
exit $status
