#!/bin/sh
# Installs what the cross-architecture conformance run needs, from Debian's packages, when
# it is missing (quick, no apt at all, when everything is there). Called by ci/cross.sh.
#
#   sh ci/setup-cross.sh [aarch64] [s390x]        (default: both)
#
# For each architecture: Debian's cross compiler (gcc-TRIPLE), the target's C library for it
# (libc6-dev-DEB-cross: headers such as bits/wordsize.h, crt1.o, libc.so in /usr/TRIPLE),
# QEMU's user-mode emulator (qemu-user), and through Debian multiarch (dpkg
# --add-architecture) the target's libxxhash-dev and libcmocka-dev, which also bring the
# target's libc6 (its loader in /lib, so the programs run under qemu-ARCH without -L).
# Needs root or sudo.
#
# libc6-dev-DEB-cross is only a Recommends of gcc-TRIPLE, and the installation below uses
# --no-install-recommends: it is named explicitly (without it, a fresh machine fails with
# "bits/wordsize.h: No such file or directory"; ci/fresh-machine.sh proves the set-up).
set -eu
archs=${*:-aarch64 s390x}
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="none"; fi
fi
missing() { # sets need (packages) and add_arch (architectures dpkg does not know yet)
    need=""
    add_arch=""
    for a in $archs; do
        case "$a" in
        aarch64) triple=aarch64-linux-gnu; deb=arm64 ;;
        s390x) triple=s390x-linux-gnu; deb=s390x ;;
        *) echo "setup-cross: unknown architecture '$a' (aarch64 or s390x)" >&2; exit 2 ;;
        esac
        command -v "$triple-gcc" >/dev/null 2>&1 || need="$need gcc-$triple"
        { [ -f "/usr/$triple/include/stdio.h" ] && [ -f "/usr/$triple/lib/crt1.o" ]; } || need="$need libc6-dev-$deb-cross"
        command -v "qemu-$a" >/dev/null 2>&1 || command -v "qemu-$a-static" >/dev/null 2>&1 || need="$need qemu-user"
        dpkg --print-foreign-architectures 2>/dev/null | grep -qx "$deb" || add_arch="$add_arch $deb"
        [ -f "/usr/lib/$triple/libxxhash.so" ] || need="$need libxxhash-dev:$deb"
        [ -f "/usr/lib/$triple/libcmocka.so" ] || need="$need libcmocka-dev:$deb"
    done
}
missing
if [ -z "$need" ] && [ -z "$add_arch" ]; then
    exit 0
fi
need=$(echo $need | tr ' ' '\n' | sort -u | tr '\n' ' ')
if [ "$SUDO" = none ]; then
    echo "setup-cross: need root (or sudo) to install: $need" >&2
    [ -n "$add_arch" ] && echo "            run: for a in$add_arch; do dpkg --add-architecture \$a; done; apt-get update" >&2
    echo "            run: apt-get install $need" >&2
    exit 1
fi
start=$(date +%s)
echo "setup-cross: installing $need(Debian packages${add_arch:+; adding architectures$add_arch})"
for d in $add_arch; do $SUDO dpkg --add-architecture "$d"; done
# (through env: sudo drops DEBIAN_FRONTEND from the environment)
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
missing
if [ -n "$need$add_arch" ]; then
    echo "setup-cross: still missing after the installation:$need$add_arch (see ci/setup-cross.sh)" >&2
    exit 1
fi
echo "setup-cross: installed in $(( $(date +%s) - start )) s"
