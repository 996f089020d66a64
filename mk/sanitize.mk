# Sanitizer builds (docs/SANITIZERS.md). `make test` also runs
#   asan: every C++ test (kvtier_tests, the kvtier daemon it starts, the C smoke program) built with
#         AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer, any UB fatal;
#   tsan: the tests whose code runs threads, built with ThreadSanitizer.
# Only what the tests need is built (no benchmarks, no Python module), at -O1 with line tables:
# enough for exact stacks, a fraction of -O2 -g's compile time; and in unity batches of 16 files
# (CMAKE_UNITY_BUILD: each batch parses gtest, spdlog and toml++ once), which halves it again.
# g++ 12, not clang-14: clang-14 lacks C++20 parenthesized aggregate init (make_unique of an aggregate, src/server/server.cpp).
ASAN_BUILD_DIR ?= build-asan
TSAN_BUILD_DIR ?= build-tsan
SANITIZE_CC ?= gcc
SANITIZE_CXX ?= g++
# Suites with threads in the test or in the code under test (io threads, NVMe completion thread,
# shared-tier blocking executor and outbox, metrics HTTP server), incl. the daemon started by
# the daemon tests: kvtierd is the TSan build too. Not ClientDaemonLarge: one 256 MiB value over
# both transports is a copy, not a race, and took 46 s of CI's TSan run (the plain and ASan
# builds run it).
TSAN_TESTS ?= ^(DramConcurrency|DramEviction|Store|StoreZeroCopy|StoreVersions|StoreVersionsStress|NvmeTier|TombstoneRecovery|Index|DaemonIntegrity|LatencyHistogram|SharedFs[A-Za-z]*|SharedOutbox|SharedTierStore|SharedDaemon(Fs|Redis|Cluster)|SharedRedis[A-Za-z]*|DaemonLoad|DaemonWire|DaemonLimits|DaemonAdmission|DaemonAuth|DaemonMemory|DaemonTls|DaemonReload|DaemonPin|AuthThrottle|TenantAdmission|MetricsHttpServer|ClientDaemon|ClientProtocol|PackedBackend|PackedS3|S3StoreTest)\.

# $(call sanitize_build,<build dir>,<-fsanitize= list>)
define sanitize_build
	@cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=Sanitize -DKVTIER_SANITIZE=$(2) \
	  -DCMAKE_C_COMPILER=$(SANITIZE_CC) -DCMAKE_CXX_COMPILER=$(SANITIZE_CXX) \
	  -DCMAKE_C_FLAGS_SANITIZE="-O1 -g1" \
	  -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
	@cmake --build $(1) -j $(JOBS) --target kvtier_tests kvtier_llama_seq_state_tests -- --no-print-directory
endef

.PHONY: asan tsan asan-build tsan-build

asan-build: deps
	$(call sanitize_build,$(ASAN_BUILD_DIR),address$(comma)undefined)

tsan-build: deps
	$(call sanitize_build,$(TSAN_BUILD_DIR),thread)

asan: asan-build
	@JOBS=$(JOBS) scripts/run-sanitized-tests.sh $(ASAN_BUILD_DIR) asan

tsan: tsan-build
	@JOBS=$(JOBS) scripts/run-sanitized-tests.sh $(TSAN_BUILD_DIR) tsan '$(TSAN_TESTS)'

comma := ,
# In `make test` (CI-like run on 2 cores, 2026-12-07: asan 18.5 min in all, build and a 6.6 min
# run; tsan: see docs/SANITIZERS.md).
TEST_EXTRA_TARGETS += asan tsan
