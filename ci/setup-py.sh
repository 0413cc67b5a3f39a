#!/bin/sh
# Creates the Python environment of the interoperability tests against the real libraries
# (diffusers, transformers: the CLIP tokenizer, the SD v1.5 networks built from their configs).
#
#   ci/setup-py.sh            venv at $GGDM_VENV (default: .venv-interop in the repository)
#   GGDM_VENV=/path ci/setup-py.sh
#
# The venv is made with Debian's python (/usr/bin/python3, NOT pyenv's python3 on PATH) and
# --system-site-packages, over Debian's python3-torch 1.13 (CPU) and python3-torchvision 0.14,
# which are installed with apt when missing (root or sudo, as ci/setup.sh). pip then installs the
# pinned versions below into the venv only; nothing is installed system-wide.
#
# Quick no-op (no apt, no pip) when the venv already has the pinned versions. Prints what it did.
# The tests run offline: use HF_HUB_OFFLINE=1 (and TRANSFORMERS_OFFLINE=1); the networks and the
# tokenizer are built from local configs/files, nothing is downloaded at test time.
#
# Use: "$GGDM_VENV"/bin/python ci/interop/tokenizer_vs_transformers.py
# (Not wired into the Makefile or .ci/run: the lead does that.)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${GGDM_VENV:-$ROOT/.venv-interop}
PY=/usr/bin/python3
PINS="diffusers==0.25.1 transformers==4.36.2 huggingface_hub==0.20.3 tokenizers==0.15.2 safetensors"

# Prints the pins the venv does not satisfy (empty: all there). $1: the venv's python.
check_pins() {
    "$1" - $PINS <<'EOF' 2>/dev/null || echo "(venv python does not run)"
import sys
from importlib import metadata
bad = []
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        bad.append(spec); continue
    if want and have != want:
        bad.append(spec)
for mod in ("torch", "torchvision", "numpy"):
    try:
        __import__(mod)
    except Exception:
        bad.append(mod)
print(" ".join(bad))
EOF
}

if [ -x "$VENV/bin/python" ]; then
    bad=$(check_pins "$VENV/bin/python")
    if [ -z "$bad" ]; then
        echo "ggdm setup-py: $VENV has the pinned versions (nothing to do)"
        exit 0
    fi
    echo "ggdm setup-py: $VENV lacks:$bad"
fi

# Debian's packages: the python the venv is made from, venv itself, torch and torchvision.
need=""
[ -x "$PY" ] || need="$need python3"
{ [ -x "$PY" ] && "$PY" -c 'import ensurepip, venv' 2>/dev/null; } || need="$need python3-venv"
{ [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; } || need="$need python3-numpy"
{ [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; } || need="$need python3-torch"
{ [ -x "$PY" ] && "$PY" -c 'import torchvision' 2>/dev/null; } || need="$need python3-torchvision"
if [ -n "$need" ]; then
    echo "ggdm setup-py: installing$need (Debian packages)"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "ggdm setup-py: need root (or sudo) to install:$need" >&2
            echo "               run: apt-get install$need" >&2
            exit 1
        fi
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
    if [ -e "$VENV" ] || [ -L "$VENV" ]; then
        # something without a working python is in the way (a dangling link, a broken venv):
        # a venv is only ever made by this script, so it is replaced, saying so
        echo "ggdm setup-py: $VENV exists but holds no working venv: replacing it"
        rm -rf "$VENV"
    fi
    echo "ggdm setup-py: creating $VENV ($PY -m venv --system-site-packages)"
    "$PY" -m venv --system-site-packages "$VENV"
fi
echo "ggdm setup-py: pip install $PINS"
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install -q $PINS
bad=$(check_pins "$VENV/bin/python")
if [ -n "$bad" ]; then
    echo "ggdm setup-py: still missing after the installation:$bad (see ci/setup-py.sh)" >&2
    exit 1
fi
"$VENV/bin/python" -c 'import diffusers, transformers, torch, torchvision; print("ggdm setup-py: diffusers", diffusers.__version__, "transformers", transformers.__version__, "torch", torch.__version__, "torchvision", torchvision.__version__)'
echo "ggdm setup-py: ready in $(( $(date +%s) - start )) s: $VENV"
