# llama.cpp on kvtier (issue 8, docs/INTEGRATIONS.md): fetch llama.cpp (or use LLAMA_CPP_DIR),
# build libllama and the integration against this tree's kvtier build, write the random-weight
# test models, run the end-to-end tests against a real kvtierd. `make llama-bench` times a cached
# 2,000-token prefix against recomputing it.
LLAMA_WORK ?= build-llama
LLAMA_MODELS := $(LLAMA_WORK)/models
LLAMA_BUILD := $(LLAMA_WORK)/integration
LLAMA_PRESETS ?= tiny tiny-other

.PHONY: llama test-llama llama-bench llama-server test-llama-server llama-server-bench

llama: build
	@src=$$(scripts/fetch-llama-cpp.sh $(LLAMA_WORK)) && scripts/patch-llama-cpp.sh $$src && \
	  cmake -S integrations/llama -B $(LLAMA_BUILD) -DLLAMA_CPP_DIR=$$src \
	    -DKVTIER_BUILD_DIR=$(abspath $(BUILD_DIR)) >/dev/null && \
	  cmake --build $(LLAMA_BUILD) -j $(JOBS) --target kvtier_llama_tests kvtier-llama -- --no-print-directory >/dev/null
	@src=$$(scripts/fetch-llama-cpp.sh $(LLAMA_WORK)) && mkdir -p $(LLAMA_MODELS) && \
	  for p in $(LLAMA_PRESETS); do \
	    [ -f $(LLAMA_MODELS)/$$p.gguf ] || /usr/bin/python3 scripts/make-tiny-llama-gguf.py $$src $(LLAMA_MODELS)/$$p.gguf --preset $$p || exit 1; \
	  done

test-llama: llama
	@KVTIER_LLAMA_MODEL=$(LLAMA_MODELS)/tiny.gguf KVTIER_LLAMA_MODEL_OTHER=$(LLAMA_MODELS)/tiny-other.gguf \
	  timeout 600 $(LLAMA_BUILD)/kvtier_llama_tests --gtest_brief=1

llama-bench: LLAMA_PRESETS = tiny tiny-other small
llama-bench: llama
	@scripts/llama-bench.sh $(BUILD_DIR) $(LLAMA_BUILD)/kvtier-llama $(LLAMA_MODELS)/small.gguf

# llama-server with kvtier as its prompt cache (issue 28): llama.cpp's server patched with
# integrations/llama/server/llama-server.patch, tested through HTTP against real processes.
# Built in the integration's tree, from the same llama.cpp objects as `make llama`; the patch must
# apply (scripts/build-llama-server.sh is the standalone build for users).
LLAMA_SERVER_BIN := $(LLAMA_BUILD)/bin/llama-server
llama-server: llama
	@src=$$(scripts/fetch-llama-cpp.sh $(LLAMA_WORK)) && scripts/patch-llama-cpp.sh $$src --required && \
	  cmake --build $(LLAMA_BUILD) -j $(JOBS) --target llama-server -- --no-print-directory >/dev/null

test-llama-server: llama llama-server
	@KVTIER_BINARY=$(BUILD_DIR)/kvtier LLAMA_SERVER=$(LLAMA_SERVER_BIN) \
	  KVTIER_LLAMA_MODEL=$(LLAMA_MODELS)/tiny.gguf timeout 900 /usr/bin/python3 integrations/llama/tests/llama_server_test.py

# llama-server's TTFT over HTTP: cold, in the slot, restored after a restart, on a replica and on
# another node (docs/BENCHMARKS.md). Minutes: it prefills 8k-token prompts on one thread.
llama-server-bench: LLAMA_PRESETS = tiny tiny-other small wide-kv
llama-server-bench: llama llama-server
	@KVTIER_BINARY=$(BUILD_DIR)/kvtier LLAMA_SERVER=$(LLAMA_SERVER_BIN) \
	  LLAMA_MODELS=$(LLAMA_MODELS) timeout 3600 /usr/bin/python3 bench/llama_server_bench.py

TEST_EXTRA_TARGETS += test-llama test-llama-server
