#!/usr/bin/env bash
# Applies kvtier's llama.cpp patch (integrations/llama/server/llama-server.patch: the
# llama_state_seq_set_data_reader entry point and llama-server's #ifdef LLAMA_KVTIER hooks) to a
# llama.cpp checkout, unless it is applied already (docs/INTEGRATIONS.md).
#
# A checkout the patch does not apply to cleanly is left untouched: with --required (llama-server
# needs the hooks) that is an error naming both commits; without, a warning, and the integration
# builds against llama.cpp's own API (restores then put the state together first: one more copy).
#
# usage: scripts/patch-llama-cpp.sh LLAMA_CPP_DIR [--required]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$1
REQUIRED=${2:-}
PATCH=$(realpath integrations/llama/server/llama-server.patch)
# The llama.cpp commit the patch was made and checked against (docs/INTEGRATIONS.md).
CHECKED_AGAINST=80fb11a

if git -C "$SRC" apply --reverse --check "$PATCH" 2>/dev/null; then
  exit 0  # applied already
fi
if git -C "$SRC" apply --check "$PATCH" 2>/dev/null; then
  git -C "$SRC" apply "$PATCH"
  echo "applied $PATCH to $SRC" >&2
  exit 0
fi
commit=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
why="$PATCH does not apply cleanly to $SRC (llama.cpp $commit; it was made against $CHECKED_AGAINST). Nothing was changed."
if [ "$REQUIRED" = --required ]; then
  echo "error: $why Rebase the patch (docs/INTEGRATIONS.md says what it adds) or use the llama.cpp that scripts/fetch-llama-cpp.sh fetches." >&2
  exit 1
fi
echo "warning: $why The integration uses llama.cpp's own state API (one more copy per restore)." >&2
