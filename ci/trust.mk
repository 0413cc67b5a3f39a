# Hardening targets (included by the top-level Makefile). docs/testing.md describes them.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_HARNESSES="npy cli"]  libFuzzer, FUZZ_SECONDS per harness
#                                     (FUZZ_JOBS at a time, default: the number of cores)
#   make fuzz-replay                  replay fuzz/corpus/ through the plain harnesses (ASan+UBSan)
#   make sanitize                     unit tests + conformance + bad CLI input under ASan+UBSan
#   make coverage                     gcovr line/branch coverage of ref/, with thresholds
#   make conformance-cross [ARCH=aarch64|s390x]   cross-compiled, run under QEMU (default: both)
#   make planted-bugs                 plant bugs in a copy of the tree; the checks must catch them
#
# Each builds in its own folder (build/fuzz, build/fuzz-replay, build/asan, build/cov,
# build/cross/ARCH) and leaves build/ alone. ARCH=aarch64 on the command line also reaches
# the top-level Makefile, where ARCH means instruction-set flags: CROSS=aarch64 avoids that.

FUZZ_SECONDS ?= 60
FUZZ_HARNESSES ?=
CROSS ?=
CROSS_ARCHS := $(strip $(filter aarch64 s390x,$(CROSS) $(ARCH)))

.PHONY: fuzz fuzz-replay sanitize coverage conformance-cross planted-bugs

fuzz: deps
	@sh fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-replay: deps
	@sh fuzz/run.sh replay $(FUZZ_HARNESSES)

sanitize: deps
	@sh ci/sanitize.sh

coverage: deps
	@sh ci/coverage.sh

conformance-cross: deps
	@env -u ARCH sh ci/cross.sh $(if $(CROSS_ARCHS),$(CROSS_ARCHS),aarch64 s390x)

planted-bugs: deps
	@sh ci/planted-bugs.sh
