# libFuzzer targets (fuzz/README.md). `make test` runs every target for FUZZ_TEST_SECONDS from
# its seeds and regressions; `make fuzz` runs them for FUZZ_SECONDS each (FUZZ_TARGETS: a subset).
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_TEST_SECONDS ?= 10
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=

.PHONY: fuzz fuzz-build fuzz-short

fuzz-build: deps
	@fuzz/build.sh $(FUZZ_BUILD_DIR) $(JOBS)

fuzz-short: fuzz-build
	@FUZZ_BUILD_DIR=$(FUZZ_BUILD_DIR) FUZZ_PARALLEL=$(JOBS) fuzz/run.sh $(FUZZ_TEST_SECONDS) $(FUZZ_TARGETS)

fuzz: fuzz-build
	@FUZZ_BUILD_DIR=$(FUZZ_BUILD_DIR) FUZZ_PARALLEL=$(JOBS) fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

TEST_EXTRA_TARGETS += fuzz-short
