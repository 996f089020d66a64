#!/usr/bin/env bash
# Installs the Debian 12 packages kvtier builds and tests with, only those that are missing, without
# prompts. docs/DEPENDENCIES.md says why each one is here.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  liburing-dev libxxhash-dev libssl-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev
  fio python3
  python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest openssl
  redis-server iperf3 memcached
  libhiredis-dev bindfs libfuse3-dev
  chromium
  git
  clang-14 libclang-rt-14-dev clang-16
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
