#!/usr/bin/env bash
# Builds llama-server with kvtier as its prompt cache (docs/INTEGRATIONS.md, "llama-server").
#
# The llama.cpp checkout is scripts/fetch-llama-cpp.sh's (or LLAMA_CPP_DIR's): the patch
# integrations/llama/server/llama-server.patch is applied to it unless it is applied already; a
# checkout it does not apply to cleanly is left untouched and the build stops with the reason.
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
PATCH=$(realpath integrations/llama/server/llama-server.patch)
# The llama.cpp commit the patch was made and checked against (docs/INTEGRATIONS.md).
CHECKED_AGAINST=80fb11a

src=$(scripts/fetch-llama-cpp.sh "$WORK")
if git -C "$src" apply --reverse --check "$PATCH" 2>/dev/null; then
  :  # applied already
elif git -C "$src" apply --check "$PATCH" 2>/dev/null; then
  git -C "$src" apply "$PATCH"
  echo "applied $PATCH to $src" >&2
else
  commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
  echo "error: $PATCH does not apply cleanly to $src (llama.cpp $commit; it was made against" \
       "$CHECKED_AGAINST). Nothing was changed. Rebase the patch (it adds a few #ifdef LLAMA_KVTIER" \
       "blocks, docs/INTEGRATIONS.md says where) or use the llama.cpp that scripts/fetch-llama-cpp.sh fetches." >&2
  exit 1
fi

out="$WORK/server"
cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DGGML_OPENMP=OFF \
  -DKVTIER_LLAMA_DIR="$(realpath integrations/llama)" -DKVTIER_BUILD_DIR="$KVTIER_BUILD" >/dev/null
cmake --build "$out" -j "$JOBS" --target llama-server -- --no-print-directory >/dev/null
realpath "$out/bin/llama-server"
