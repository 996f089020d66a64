#!/usr/bin/env bash
# The clang thread-safety build (mk/thread_safety.mk): every layer of src/ compiled by clang-16
# with -Wthread-safety as an error, then a self-test showing the check bites: a guarded member
# written without its mutex or inside a MutexUnlock, and a wait on a mutex not held, must fail to
# compile.
# Usage: scripts/check-thread-safety.sh <build dir> <jobs>
set -euo pipefail
build_dir=${1:?build dir}
jobs=${2:-2}
cxx=${TSA_CXX:-clang++-16}
cc=${TSA_CC:-clang-16}
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v "$cxx" >/dev/null; then
  echo "check-thread-safety: $cxx is not installed (scripts/install-deps.sh installs clang-16)" >&2
  exit 1
fi

# -O0 and no debug info: only the diagnostics matter, and they come from the front end.
cmake -S "$root" -B "$build_dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DKVTIER_THREAD_SAFETY=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 >/dev/null
cmake --build "$build_dir" --target kvtier_cli kvtier_client_objects -j "$jobs" -- --no-print-directory

probe="$root/tests/sync/mutex_test.cpp"
compile() {
  "$cxx" -std=c++20 -fsyntax-only -Wthread-safety -Wthread-safety-beta -Werror -I"$root/src" \
    "$@" "$probe" 2>/dev/null
}
if ! compile; then
  echo "check-thread-safety: self-test: the correctly locked probe does not compile" >&2
  exit 1
fi
for violation in VIOLATE VIOLATE_UNLOCKED VIOLATE_WAIT; do
  if compile -D"$violation"; then
    echo "check-thread-safety: self-test: $violation compiled; the analysis is not checking" >&2
    exit 1
  fi
done
echo "check-thread-safety: src/ holds its lock annotations; the self-test's 3 violations are refused"
