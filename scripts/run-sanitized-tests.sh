#!/usr/bin/env bash
# Runs the CTest suite of a sanitizer build (mk/sanitize.mk, docs/SANITIZERS.md) and fails if any
# process wrote a sanitizer report. Reports go to files, not stderr, because the daemons the tests
# start write stderr to their own log (tests/support/daemon_process.h) and a daemon's exit status
# is not always checked: a report file from any process -- test, kvtierd, C smoke -- fails the run.
#   run-sanitized-tests.sh <build-dir> <asan|tsan> [ctest -R regex]
set -euo pipefail

build_dir=$(cd "$1" && pwd)
kind=$2
only=${3:-}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
reports="$build_dir/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"

case "$kind" in
  asan)
    # LeakSanitizer is part of ASan on Linux (detect_leaks=1 is its default; said for the reader).
    export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:strict_init_order=1:check_initialization_order=1"
    export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$source_dir/tests/sanitizers/lsan.supp:print_suppressions=0"
    ;;
  tsan)
    export TSAN_OPTIONS="log_path=$reports/tsan:second_deadlock_stack=1:suppressions=$source_dir/tests/sanitizers/tsan.supp:print_suppressions=0"
    ;;
  *) echo "usage: $0 <build-dir> <asan|tsan> [ctest -R regex]" >&2; exit 2 ;;
esac

# The Python tests are not run here: the module would need the sanitizer runtime LD_PRELOADed into
# /usr/bin/python3, whose own allocations at exit LeakSanitizer reports (docs/SANITIZERS.md).
args=(--test-dir "$build_dir" --output-on-failure -j "${JOBS:-$(nproc)}"
      -E '^(python_tests|keys_python_reference|keys_doc_vectors)$')
[ -n "$only" ] && args+=(-R "$only")

status=0
ctest "${args[@]}" || status=$?

shopt -s nullglob
found=("$reports"/*)
if [ ${#found[@]} -gt 0 ]; then
  echo "error: ${#found[@]} $kind report(s) in $reports:" >&2
  for f in "${found[@]}"; do
    echo "==== $f" >&2
    head -n 60 "$f" >&2
  done
  exit 1
fi
exit "$status"
