# Reliability runs (docs/RELIABILITY.md). `make test` already runs the 50-kill crash loop
# (CrashLoop.*, ~1 min) and the disk-fault tests (DiskFault.*, which skip without root, loop
# devices, mount or device-mapper) as part of kvtier_tests under ctest; the targets here are the
# longer runs:
#   make crash-loop [CRASH_KILLS=500] [CRASH_SEED=1]   more SIGKILLs; reserves 16 MiB of NVMe file per kill
#   make soak [SOAK_SECONDS=14400] [SOAK_SAMPLE_SECONDS=10]   RSS/fd/thread samples -> soak.csv
#   make disk-faults                                  just the disk-fault tests, verbosely
CRASH_KILLS ?= 500
CRASH_SEED ?= 1
SOAK_SECONDS ?= 14400
SOAK_SAMPLE_SECONDS ?= 10
SOAK_CSV ?= $(BUILD_DIR)/soak.csv

.PHONY: crash-loop soak disk-faults

crash-loop: build
	@KVTIER_CRASH_KILLS=$(CRASH_KILLS) KVTIER_CRASH_SEED=$(CRASH_SEED) \
	  $(BUILD_DIR)/kvtier_tests --gtest_filter='CrashLoop.*'

soak: build
	@KVTIER_SOAK_SECONDS=$(SOAK_SECONDS) KVTIER_SOAK_SAMPLE_SECONDS=$(SOAK_SAMPLE_SECONDS) \
	  KVTIER_SOAK_CSV=$(abspath $(SOAK_CSV)) $(BUILD_DIR)/kvtier_tests --gtest_filter='Soak.*'

disk-faults: build
	@$(BUILD_DIR)/kvtier_tests --gtest_filter='DiskFault.*'
