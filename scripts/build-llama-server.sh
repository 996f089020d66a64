#!/usr/bin/env bash
# Builds llama-server with kvtier as its prompt cache (docs/INTEGRATIONS.md, "llama-server").
#
# The llama.cpp checkout is scripts/fetch-llama-cpp.sh's (or LLAMA_CPP_DIR's), with kvtier's patch
# applied by scripts/patch-llama-cpp.sh; a checkout it does not apply to cleanly is left untouched
# and the build stops with the reason.
# llama.cpp is built CPU-only without curl or OpenSSL, linked with the hooks and the kvtier client
# library of a kvtier build tree.
#
# usage: scripts/build-llama-server.sh [kvtier build dir=build] [work dir=build-llama] [jobs]
# Prints the path of the llama-server binary.
set -euo pipefail
cd "$(dirname "$0")/.."
KVTIER_BUILD=$(realpath "${1:-build}")
WORK=${2:-build-llama}
JOBS=${3:-$(nproc)}
src=$(scripts/fetch-llama-cpp.sh "$WORK")
scripts/patch-llama-cpp.sh "$src" --required

out="$WORK/server"
cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DGGML_OPENMP=OFF \
  -DKVTIER_LLAMA_DIR="$(realpath integrations/llama)" -DKVTIER_BUILD_DIR="$KVTIER_BUILD" >/dev/null
cmake --build "$out" -j "$JOBS" --target llama-server -- --no-print-directory >/dev/null
realpath "$out/bin/llama-server"
