#!/bin/sh
# The whole test suite (make test; .ci/run). Each stage prints its own result; the last
# line is the total: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
pass=0; fail=0; failed=""
stage() { # name, command...
    name=$1; shift
    echo "=== $name"
    start=$(date +%s)
    if "$@"; then
        pass=$((pass + 1)); echo "--- $name: ok ($(( $(date +%s) - start )) s)"
    else
        fail=$((fail + 1)); failed="$failed $name"; echo "--- $name: FAILED ($(( $(date +%s) - start )) s)"
    fi
}
tests=$(ls "$BUILD"/tests/test_* 2>/dev/null | grep -v '\.d$')

stage "library symbols (no allocation, no libm transcendentals)" sh ci/check-symbols.sh "$BUILD/libggdm.a"
stage "hot kernels are SIMD code (disassembly)" sh ci/check-vectorised.sh "$BUILD"
stage "unit tests (CMocka)" sh ci/run-unit.sh $tests
stage "conformance (golden vectors, reference)" "$BUILD/ggdm" conformance --vectors vectors
stage "conformance through the element functions (the GPU exact kernels' CPU twin)" "$BUILD/ggdm" conformance --vectors vectors --backend elem
stage "conformance on the GPU (exact: bit for bit; fast: tolerance), or loudly skipped" sh ci/conformance-gpu.sh "$BUILD"
stage "threads: bit-identical results for --threads 1, 2, 3" sh ci/threads.sh "$BUILD/ggdm"
stage "tampered vectors are caught" sh ci/tamper.sh "$BUILD/ggdm"
stage "tampered op vectors are caught" sh ci/tamper-ops.sh "$BUILD/ggdm"
stage "schedules equal the original's (PyTorch) bit for bit" sh ci/original-schedules.sh "$BUILD/ggdm"
stage "bad input to the command: clear errors, no crash, no partial output" /usr/bin/python3 conformance/interop/check_cli_errors.py "$BUILD/ggdm"
stage "Unet1D against PyTorch (small and paper configurations)" sh -c "/usr/bin/python3 conformance/interop/check_unet.py '$BUILD/ggdm' --config small && /usr/bin/python3 conformance/interop/check_unet.py '$BUILD/ggdm' --config paper"
stage "PyTorch checkpoints (.pth): the authors' read, ggdm's loaded by torch strictly, hostile ones refused" /usr/bin/python3 conformance/interop/check_pth.py "$BUILD/ggdm"
stage "guidance and sampling against PyTorch (guide v1/v2, replayed trajectories)" /usr/bin/python3 conformance/interop/check_guidance.py "$BUILD/ggdm" --config small
stage "Adam against PyTorch, bit for bit" /usr/bin/python3 conformance/interop/check_adam.py "$BUILD/libggdm.a"
stage "front end: TensorBoard files, SVG plots, progress bar" sh ci/test-frontend.sh
stage "Algorithms 1 and 2: the paper's qualitative results, resume, divergence" /usr/bin/python3 conformance/interop/check_algorithms.py "$BUILD/ggdm"
stage "runs: kill at every file operation and resume (byte-identical), run records, locks, the authors' command lines" /usr/bin/python3 conformance/interop/check_runs.py "$BUILD/ggdm"
stage "Stable Diffusion's networks, the reward model, tokenizer, weights and new ops against diffusers / transformers / torchvision" sh ci/interop.sh "$BUILD"
stage "GPU build compiles and links (or is skipped without nvcc)" make -s gpu
stage "bit-identical across gcc/clang -O0/-O3/-march=native" sh ci/repro.sh
stage "unit tests under Valgrind memcheck" sh ci/run-unit.sh --valgrind $tests
# Hardening stages (fuzz replay, sanitizers, coverage, cross-architecture) define more stages here.
[ -f ci/trust-stages.sh ] && . ci/trust-stages.sh

echo
[ -n "$failed" ] && echo "failed stages:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
