#!/bin/sh
# Installs what ggdm's build and tests need, from Debian's packages, when it is missing.
# Quick (no apt at all) when everything is present. Called by the Makefile (make deps).
#
# Packages are installed with --no-install-recommends, so everything a stage needs is named
# here, even where Debian only recommends it (libc6-dev is only a Recommends of gcc).
# ci/fresh-machine.sh proves the list on a clean Debian root (docs/testing.md, "Fresh machine").
set -eu

have_hdr() { [ -f "/usr/include/$1" ]; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }
missing() { # prints the packages whose files are missing
    need=""
    have_cmd gcc             || need="$need gcc"
    have_hdr stdio.h         || need="$need libc6-dev"
    have_hdr xxhash.h        || need="$need libxxhash-dev"
    have_cmd xxhsum          || need="$need xxhash"
    have_hdr cmocka.h        || need="$need libcmocka-dev"
    have_cmd clang           || need="$need clang"
    have_cmd make            || need="$need make"
    have_cmd valgrind        || need="$need valgrind"
    have_cmd gcovr           || need="$need gcovr"
    # clang's sanitizer and libFuzzer runtimes (the fuzz and sanitizer stages)
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 || need="$need libclang-rt-dev"
    have_cmd python3         || need="$need python3"
    # The interoperability tests compare with PyTorch's float32/float64 evaluation (Debian's CPU build).
    { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null; } || need="$need python3-numpy"
    { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; } || need="$need python3-torch"
    # The venv of the tests against diffusers/transformers (ci/setup-py.sh) is made over these.
    { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torchvision' 2>/dev/null; } || need="$need python3-torchvision"
    { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; } || need="$need python3-venv"
    echo "$need"
}

need=$(missing)
if [ -z "$need" ]; then
    exit 0
fi
echo "ggdm setup: installing$need (Debian packages)"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "ggdm setup: need root (or sudo) to install:$need" >&2
        echo "            run: apt-get install$need" >&2
        exit 1
    fi
fi
start=$(date +%s)
# (through env: sudo drops DEBIAN_FRONTEND from the environment)
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
left=$(missing)
if [ -n "$left" ]; then
    echo "ggdm setup: still missing after the installation:$left (see ci/setup.sh)" >&2
    exit 1
fi
echo "ggdm setup: installed in $(( $(date +%s) - start )) s"
