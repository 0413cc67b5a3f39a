#!/bin/sh
# gpu/pack-for-device.sh - run HERE (a machine with the Debian toolchain), before a run on a
# lent GPU machine: builds everything and stages what the GPU machine needs in build-device/
# (about 10 MB: build/ggdm, build/ggdm-cuda, build/bench_gpu, the unit-test programs, and the
# shared libraries a bare CUDA image may lack: libxxhash, libcmocka). The GPU machine cannot
# install packages; gpu/check-on-device.sh uses build-device/ when it is there.
#   sh gpu/pack-for-device.sh            then, on the GPU machine (carry build-device):
#   sh gpu/check-on-device.sh
set -eu
cd "$(dirname "$0")/.."
make -j"$(nproc 2>/dev/null || echo 2)" all
tests=$(ls ref/tests/test_*.c | sed 's|ref/tests/\(.*\)\.c|build/tests/\1|')
# shellcheck disable=SC2086
make -j"$(nproc 2>/dev/null || echo 2)" $tests
[ -x build/ggdm-cuda ] || { echo "pack: build/ggdm-cuda was not built (no nvcc?)" >&2; exit 1; }
rm -rf build-device
mkdir -p build-device/tests build-device/lib
cp build/ggdm build/ggdm-cuda build/bench_gpu build-device/
cp $tests build-device/tests/
cp build/.flags build-device/ 2>/dev/null || true
for lib in libxxhash.so.0 libcmocka.so.0; do
    p=$(ldd build/ggdm build-device/tests/test_unet | awk -v L="$lib" '$1 == L { print $3; exit }')
    [ -n "$p" ] && cp -L "$p" build-device/lib/
done
git rev-parse HEAD > build-device/COMMIT 2>/dev/null || true
du -sh build-device
echo "pack: build-device/ ready (commit $(cat build-device/COMMIT 2>/dev/null)); carry it to the GPU machine"
