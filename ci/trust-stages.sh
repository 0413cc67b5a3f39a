# Hardening stages of `make test` (issue 6), sourced by ci/test.sh after its own stages:
# stage NAME COMMAND... and $BUILD come from there. docs/testing.md describes each one.
# Budget (2 cores): about 6 minutes in all; TRUST_FUZZ_SECONDS sets the libFuzzer time per
# harness (15 s: 12 harnesses, 2 at a time), TRUST_SKIP="cross fuzz ..." skips stages by tag.
trust_on() { case " ${TRUST_SKIP:-} " in *" $1 "*) echo "=== $2: skipped (TRUST_SKIP)"; return 1 ;; esac; return 0; }
trust_on replay "fuzz corpus replay" &&
    stage "fuzz: every corpus input through the plain harnesses (ASan+UBSan, no libFuzzer)" sh fuzz/run.sh replay
trust_on fuzz "fuzz" &&
    stage "fuzz: libFuzzer, ${TRUST_FUZZ_SECONDS:-15} s per harness (seed 1)" \
        env FUZZ_SEED=1 sh fuzz/run.sh fuzz "${TRUST_FUZZ_SECONDS:-15}"
trust_on sanitize "sanitizers" &&
    stage "sanitizers: unit tests, conformance, bad command input under ASan+UBSan (clang), zero reports" \
        sh ci/sanitize.sh
trust_on coverage "coverage" &&
    stage "coverage (gcovr, lines and branches of ref/) at or above the thresholds" sh ci/coverage.sh
trust_on cross "cross-architecture conformance" &&
    stage "bit-identical on aarch64 and s390x (big-endian): cross-compiled, run under QEMU" \
        env CROSS_NATIVE="$BUILD/ggdm" sh ci/cross.sh aarch64 s390x
trust_on planted "planted bugs" &&
    stage "planted bugs (reader off-by-one, reduction order, size check) are caught" sh ci/planted-bugs.sh
