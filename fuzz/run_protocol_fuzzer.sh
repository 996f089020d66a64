#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the frame codec (fuzz/protocol_fuzzer.cpp). Not part of
# the default build: it needs clang with -fsanitize=fuzzer.
#
# Usage: fuzz/run_protocol_fuzzer.sh [seconds=60] [build dir=build-fuzz]
# Crashes are written to <build dir>/protocol-artifacts/; the corpus grows in <build dir>/protocol-corpus/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
OUT=${2:-build-fuzz}
CXX=${CXX:-$(command -v clang++-14 || command -v clang++)}
mkdir -p "$OUT/protocol-corpus" "$OUT/protocol-artifacts"

SOURCES=(src/protocol/frame.cpp src/protocol/meta.cpp src/protocol/meta_io.cpp src/status/status.cpp)
FLAGS=(-std=c++20 -O1 -g -Wall -Wextra -Werror -Wno-missing-field-initializers -Iinclude -Isrc -Itests)

"$CXX" "${FLAGS[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  fuzz/protocol_fuzzer.cpp "${SOURCES[@]}" -o "$OUT/protocol_fuzzer"
"$CXX" "${FLAGS[@]}" fuzz/protocol_fuzzer_seeds.cpp "${SOURCES[@]}" -o "$OUT/protocol_fuzzer_seeds"
"$OUT/protocol_fuzzer_seeds" "$OUT/protocol-corpus"

# -rss_limit_mb: a decoder that allocated from a hostile count would blow through this.
"$OUT/protocol_fuzzer" "$OUT/protocol-corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 \
  -rss_limit_mb=512 -malloc_limit_mb=64 -print_final_stats=1 \
  -artifact_prefix="$OUT/protocol-artifacts/"
