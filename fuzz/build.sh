#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt) with clang and writes the generated seeds.
# Usage: fuzz/build.sh [build dir=build-fuzz] [jobs=nproc]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-fuzz}
JOBS=${2:-$(nproc 2>/dev/null || echo 2)}
CC_BIN=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
CXX_BIN=${FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
if [[ -z "$CXX_BIN" || -z "$CC_BIN" ]]; then
  echo "fuzz/build.sh: clang is not installed (scripts/install-deps.sh installs clang-14)" >&2
  exit 1
fi
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S fuzz -B "$OUT" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_COMPILER="$CC_BIN" \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" "${launcher[@]}" >/dev/null
cmake --build "$OUT" -j "$JOBS" -- --no-print-directory
"$OUT/make_seeds" "$OUT/seeds" >/dev/null
