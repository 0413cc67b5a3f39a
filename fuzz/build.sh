#!/bin/sh
# Builds the fuzz harnesses (fuzz/fuzz_*.c) with clang, in one of two modes:
#
#   sh fuzz/build.sh libfuzzer [HARNESS...]  -> build/fuzz/fuzz_NAME
#        libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer (make fuzz)
#   sh fuzz/build.sh replay [HARNESS...]     -> build/fuzz-replay/fuzz_NAME
#        the same source with fuzz/replay_main.c instead of libFuzzer, AddressSanitizer
#        + UBSan: replays corpus folders (CI, and a crash file: fuzz_NAME crash-...)
#
# The library and the command's objects are built by the top-level Makefile in the
# mode's BUILD folder with the same instrumentation; ref/cli/main.c is left out (the
# harness or replay_main.c has main). FUZZ_CC overrides clang; FUZZ_CFLAGS adds flags to the
# harnesses (e.g. -DFUZZ_OPEN_BUG_READ_DIR=0, fuzz/open-bugs/README.md). Quiet unless it fails.
set -eu
cd "$(dirname "$0")/.."
mode=${1:-replay}
[ $# -gt 0 ] && shift
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
case "$mode" in
libfuzzer) out=build/fuzz; lib_san="$SAN -fsanitize=fuzzer-no-link"; link_san="$SAN -fsanitize=fuzzer"; extra="" ;;
replay) out=build/fuzz-replay; lib_san="$SAN"; link_san="$SAN"; extra=fuzz/replay_main.c ;;
*) echo "usage: sh fuzz/build.sh libfuzzer|replay [HARNESS...]" >&2; exit 2 ;;
esac
command -v "$CC" >/dev/null 2>&1 || { echo "fuzz: $CC is not installed (make deps installs clang)" >&2; exit 1; }

harnesses=${*:-$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_||; s|\.c$||')}
cli_obj="$out/obj/ref/cli/io.o $out/obj/ref/cli/json.o $out/obj/ref/cli/model_dir.o $out/obj/ref/cli/args.o $out/obj/ref/cli/weights.o $out/obj/ref/cli/pth.o $out/obj/ref/cli/cmd_unet.o $out/obj/ref/cli/pool.o $out/obj/ref/cli/run.o"
mkdir -p "$out"
# The library and the front end's objects (not main.o), instrumented like the harness.
# MAKEFLAGS is dropped: variables given to an outer make (make fuzz CC=gcc ...) must not
# reach this one.
if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s -j"$(nproc 2>/dev/null || echo 2)" BUILD="$out" CC="$CC" \
    CFLAGS="-O2 -g $lib_san" EXTRA_CFLAGS= "$out/libggdm.a" $cli_obj >"$out/build.log" 2>&1; then
    cat "$out/build.log" >&2
    echo "fuzz: building the instrumented library failed" >&2
    exit 1
fi
FLAGS="-std=c99 -D_POSIX_C_SOURCE=200809L -pedantic -Wall -Wextra -Werror -ffp-contract=off -fno-fast-math -O1 -g ${FUZZ_CFLAGS:-}"
status=0
for h in $harnesses; do
    # shellcheck disable=SC2086
    if ! $CC $FLAGS $link_san -Iref/include -Iref/cli -Ifuzz -o "$out/fuzz_$h" "fuzz/fuzz_$h.c" $extra \
        $cli_obj "$out/libggdm.a" -lxxhash -lm -pthread >"$out/fuzz_$h.log" 2>&1; then
        cat "$out/fuzz_$h.log" >&2
        echo "fuzz: building fuzz_$h ($mode) failed" >&2
        status=1
    fi
done
exit $status
