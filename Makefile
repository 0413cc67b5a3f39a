# ggdm - top-level build.  `make` builds the reference library and build/ggdm.
#
#   make                 library + command (gcc by default; CC=clang make works)
#   make run             set up, build and run the main job (conformance, then the demo)
#   make test            the whole test suite (what .ci/run and the README run)
#   make check           unit tests only          make conformance   golden vectors
#   make memcheck        unit tests under Valgrind make vectors       regenerate golden vectors
#   make repro           gcc/clang x -O0/-O3 conformance hashes must be identical
#   make bench           benchmarks beside PyTorch (figures go to docs/performance.md)
#   make bench-gpu       the CUDA backend's timings beside PyTorch on the GPU (needs a GPU)
#
# BUILD selects the output folder, so several compilers/levels can coexist:
#   make BUILD=build/clang-O0 CC=clang OPT=-O0

CC      ?= cc
OPT     ?= -O2
# Instruction set: x86-64-v3 (AVX2 + FMA) where the CPU has it; PORTABLE=1 for the baseline.
# Bits never depend on it (make repro).
ifeq ($(PORTABLE),1)
ARCH    ?=
else
ARCH    ?= $(shell sh ci/arch-flags.sh $(CC))
endif
BUILD   ?= build
# Exactness: strict C99, no contraction of a*b+c into fma, never fast-math.
STDFLAGS = -std=c99 -pedantic -Wall -Wextra -Werror -ffp-contract=off -fno-fast-math
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = $(STDFLAGS) $(CFLAGS) $(ARCH) $(EXTRA_CFLAGS) -Iref/include -Iconformance -MMD -MP
LDLIBS  = -lxxhash -lm -pthread

LIB_SRC  := $(sort $(wildcard ref/src/*.c)) $(sort $(wildcard ref/src/ops/*.c))
CLI_SRC  := $(sort $(wildcard ref/cli/*.c)) $(sort $(wildcard conformance/*.c))
TEST_SRC := $(sort $(wildcard ref/tests/test_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:ref/tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libggdm.a
GGDM     := $(BUILD)/ggdm

.PHONY: all deps run test check conformance memcheck vectors repro tamper clean help gpu bench bench-gpu
all: deps $(LIB) $(GGDM) gpu

help:
	@sed -n '1,15p' Makefile

# One script installs whatever is missing (Debian packages), another the interop tests' Python
# packages (pip, into the venv .venv-interop: diffusers, transformers); both quick when all is there.
deps:
	@CC="$(CC)" sh ci/setup.sh
	@sh ci/setup-py.sh

# Objects are rebuilt when the compiler or its flags change.
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD); echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $(FLAGS_STAMP) 2>/dev/null || echo '$(CC) $(ALL_CFLAGS)' > $(FLAGS_STAMP))

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(GGDM): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(ARCH) $(EXTRA_CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: ref/tests/%.c $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iref/tests -o $@ $< $(LIB) -lcmocka $(LDLIBS)

# The GPU build is its own Makefile (build/ggdm-cuda: the front end's objects, the library and
# the CUDA backend); it is skipped, loudly, without nvcc. `make bench-gpu` needs a GPU.
gpu: $(LIB) $(CLI_OBJ)
	@$(MAKE) --no-print-directory -f gpu/Makefile BUILD=$(BUILD) CC="$(CC)"

bench-gpu: gpu
	@$(MAKE) --no-print-directory -f gpu/Makefile BUILD=$(BUILD) CC="$(CC)" bench

check: all $(TESTS)
	@sh ci/run-unit.sh $(TESTS)

conformance: all
	$(GGDM) conformance --vectors vectors
	@sh ci/conformance-gpu.sh $(BUILD)

vectors: all
	$(GGDM) vectors --vectors vectors

memcheck: all $(TESTS)
	@sh ci/run-unit.sh --valgrind $(TESTS)

repro: deps
	@sh ci/repro.sh

tamper: all
	@sh ci/tamper.sh $(GGDM)

# The main job: the demo (pre-train a small Unet1D, then G vs G_loss), after the conformance run.
run: all
	$(GGDM) conformance --vectors vectors
	$(GGDM) demo --out demo_out

test: all $(TESTS)
	@sh ci/test.sh

# Benchmarks (not tests): ggdm beside PyTorch on this machine, same thread count.
# Both use the front end's thread pool (ref/cli/pool.c, built by `all`).
$(BUILD)/bench_unet: ref/bench/bench_unet.c ref/bench/bench_util.h $(BUILD)/obj/ref/cli/pool.o $(LIB) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -Iref/cli -o $@ $< $(BUILD)/obj/ref/cli/pool.o $(LIB) $(LDLIBS)

$(BUILD)/bench_steps: ref/bench/bench_steps.c ref/bench/bench_util.h $(BUILD)/obj/ref/cli/pool.o $(LIB) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -Iref/cli -o $@ $< $(BUILD)/obj/ref/cli/pool.o $(LIB) $(LDLIBS)

# Stable Diffusion's networks at image sizes (minutes, up to ~10 GiB): not part of `make bench`.
$(BUILD)/bench_sd: ref/bench/bench_sd.c ref/bench/bench_util.h $(BUILD)/obj/ref/cli/pool.o $(LIB) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -Iref/cli -o $@ $< $(BUILD)/obj/ref/cli/pool.o $(LIB) $(LDLIBS)

bench: all $(BUILD)/bench_unet $(BUILD)/bench_steps
	@sh ci/bench.sh $(BUILD)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# Hardening targets (fuzz, sanitizers, coverage, cross-architecture conformance).
-include ci/trust.mk
