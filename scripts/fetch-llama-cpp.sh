#!/usr/bin/env bash
# Prints the path of a llama.cpp source checkout, fetching one if needed (docs/INTEGRATIONS.md).
#
# LLAMA_CPP_DIR set: that checkout is used as it is (it must have include/llama.h).
# Otherwise: llama.cpp's source comes from the npm package node-llama-cpp, which ships it as a git
# bundle (package/llama/gitRelease.bundle); npm's registry is reachable where GitHub is not. The
# tarball and the clone are cached under $1 (default build-llama/), so a second run is offline.
#
# usage: scripts/fetch-llama-cpp.sh [cache dir=build-llama]
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_LLAMA_CPP_VERSION=3.21.1
# The registry's integrity of that tarball (npm view node-llama-cpp@3.21.1 dist.integrity).
INTEGRITY=sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg==
CACHE=${1:-build-llama}

if [ -n "${LLAMA_CPP_DIR:-}" ]; then
  [ -f "$LLAMA_CPP_DIR/include/llama.h" ] || {
    echo "error: LLAMA_CPP_DIR=$LLAMA_CPP_DIR is not a llama.cpp checkout (no include/llama.h)" >&2
    exit 1
  }
  cd "$LLAMA_CPP_DIR" && pwd
  exit 0
fi

SRC="$CACHE/llama.cpp"
if [ ! -f "$SRC/include/llama.h" ]; then
  mkdir -p "$CACHE/npm"
  TGZ="$CACHE/npm/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz"
  if [ ! -f "$TGZ" ]; then
    echo "fetching node-llama-cpp@$NODE_LLAMA_CPP_VERSION from the npm registry" >&2
    if command -v npm >/dev/null; then
      (cd "$CACHE/npm" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null)
    else
      # No npm (Debian's npm package would fight a Node.js from elsewhere): the same tarball from
      # the same registry, checked against the pinned integrity below.
      python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "https://registry.npmjs.org/node-llama-cpp/-/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz" "$TGZ.part"
      mv "$TGZ.part" "$TGZ"
    fi
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)"
  if [ "$got" != "$INTEGRITY" ]; then
    rm -f "$TGZ"
    echo "error: $TGZ does not have the registry's integrity ($got)" >&2
    exit 1
  fi
  rm -rf "$CACHE/npm/package"
  tar -xzf "$TGZ" -C "$CACHE/npm" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
  rm -rf "$SRC.tmp"
  git clone -q "$CACHE/npm/package/llama/gitRelease.bundle" "$SRC.tmp"
  rm -rf "$SRC"
  mv "$SRC.tmp" "$SRC"
fi
cd "$SRC" && pwd
