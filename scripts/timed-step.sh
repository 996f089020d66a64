#!/usr/bin/env bash
# Runs one step of `make test` and prints how long it took, so a CI log says where its minutes
# went (the budget is in docs/TESTING.md).   timed-step.sh <name> <command...>
set -uo pipefail
name=$1
shift
start=$(date +%s)
"$@"
status=$?
took=$(( $(date +%s) - start ))
printf '== make test: %s took %d:%02d (exit %d)\n' "$name" $((took / 60)) $((took % 60)) "$status"
exit "$status"
