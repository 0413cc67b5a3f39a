#!/bin/sh
# The golden vectors through build/ggdm-cuda, exact mode (bit for bit) and fast mode (within
# each vector's tolerance), whenever a CUDA device is present; loudly SKIPPED when not (or
# when the GPU build was skipped for want of nvcc).
#   sh ci/conformance-gpu.sh [build-dir]
set -u
B=${1:-build}
if [ ! -x "$B/ggdm-cuda" ]; then
    echo "cuda conformance: SKIPPED: $B/ggdm-cuda was not built (no nvcc) -- the GPU was NOT checked"
    exit 0
fi
rc=0
for mode in exact fast; do
    "$B/ggdm-cuda" conformance --vectors vectors --mode "$mode" >"$B/conformance-cuda-$mode.txt" 2>&1
    r=$?
    if [ $r = 3 ]; then
        echo "cuda conformance ($mode): SKIPPED: no CUDA device here ($(tail -1 "$B/conformance-cuda-$mode.txt")) -- the GPU was NOT checked"
    elif [ $r = 0 ]; then
        echo "cuda conformance ($mode): $(tail -1 "$B/conformance-cuda-$mode.txt")"
    else
        echo "cuda conformance ($mode): FAILED"
        grep -v '^ok ' "$B/conformance-cuda-$mode.txt" | tail -20
        rc=1
    fi
done
exit $rc
