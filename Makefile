# kvtier: `make run` starts kvtierd and shows it serving a chat workload, `make test` runs every
# test. Both install what is missing (Debian 12, as root, non-interactive) and build first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DATA_DIR ?= ./var/kvtier
# CI builds once from clean, in unity batches of 16 files (each batch parses gtest, spdlog and
# toml++ once: measured 189 s instead of 335 s on 2 cores) and without debug info; a developer's
# tree rebuilds one file per edit instead of a batch, with -g.
UNITY ?= $(if $(CI),ON,OFF)

.PHONY: all deps deps-run build run test bench clean

# Each mk/*.mk adds its own targets (sanitizer builds, fuzzing, integrations) and may append to
# TEST_FIRST_TARGETS (quick checks `make test` runs before the suite) or TEST_EXTRA_TARGETS (run
# after the unit and integration suite), in order.
TEST_FIRST_TARGETS :=
TEST_EXTRA_TARGETS :=
-include $(sort $(wildcard mk/*.mk))

all: build

# `make run` installs only what the daemon and the CLI need; every other target, the test tools too.
deps-run:
	@scripts/install-deps.sh run

deps:
	@scripts/install-deps.sh test
	@scripts/install-azurite.sh

# Tests, benchmarks and the Python module are configured only when their libraries are installed
# (CMakeLists.txt), so the build directory `make run` made is the one `make test` completes.
# `make build` (and so `make test`) requires them: a test run cannot pass with no tests configured.
CONFIGURE = cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_UNITY_BUILD=$(UNITY) -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
  -DKVTIER_DEBUG_INFO=$(if $(CI),OFF,ON)

build: deps
	@$(CONFIGURE) -DKVTIER_REQUIRE_TESTS=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) -- --no-print-directory

run: deps-run
	@$(CONFIGURE) -DKVTIER_REQUIRE_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_DIR) --target kvtier_cli -j $(JOBS) -- --no-print-directory
	@DATA_DIR=$(DATA_DIR) scripts/run-demo.sh $(BUILD_DIR)

# Each step prints its time (scripts/timed-step.sh): CI's budget is 40 minutes from a fresh clone.
test:
	@scripts/timed-step.sh deps $(MAKE) --no-print-directory deps
	@scripts/timed-step.sh build $(MAKE) --no-print-directory build
	@for t in $(TEST_FIRST_TARGETS); do scripts/timed-step.sh $$t $(MAKE) --no-print-directory $$t || exit 1; done
	@cd $(BUILD_DIR) && $(CURDIR)/scripts/timed-step.sh ctest ctest --output-on-failure --no-tests=error -j $(JOBS)
	@for t in $(TEST_EXTRA_TARGETS); do scripts/timed-step.sh $$t $(MAKE) --no-print-directory $$t || exit 1; done

bench: build
	@bench/run-all.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
