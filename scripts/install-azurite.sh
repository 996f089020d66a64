#!/usr/bin/env bash
# Installs Azurite, Azure Storage's emulator, from npm into build-tools/azurite (the Azure Blob
# tests' real server: tests/support/azurite.h), unless it is there. Node.js and npm from Debian
# when the machine has no npm. docs/DEPENDENCIES.md says why.
set -euo pipefail

# 3.35.0: the last release that runs on Node.js 20 and Debian's 18 (3.36 wants Node.js 21 or later).
version=3.35.0
dir=$(cd "$(dirname "$0")/.." && pwd)/build-tools/azurite
bin=$dir/node_modules/.bin/azurite-blob
if [ -x "$bin" ] && grep -q "\"version\": \"$version\"" "$dir/node_modules/azurite/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  if command -v node >/dev/null; then
    # Debian's npm would pull Debian's Node.js over one installed from elsewhere.
    echo "error: node is installed without npm; install the npm of that Node.js" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: npm is missing and not root; install nodejs and npm with apt-get" >&2
    exit 1
  fi
  echo "installing: nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "installing: azurite@$version (npm) into $dir"
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "azurite@$version" >/dev/null
[ -x "$bin" ] || { echo "error: npm installed no $bin" >&2; exit 1; }
