#!/usr/bin/env bash
# Installs the Debian 12 packages kvtier builds and runs with (`run`) or also tests with (`test`),
# only those that are missing, without prompts. docs/DEPENDENCIES.md says why each one is here.
set -euo pipefail

# `run`: what `make run` needs to build and run the daemon and the CLI. `test` (the default):
# those and the tools of every test, benchmark and check (`make test`).
set_name=${1:-test}
packages=(
  build-essential cmake pkg-config
  liburing-dev libxxhash-dev libssl-dev libcurl4-openssl-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libhiredis-dev libpugixml-dev
)
case "$set_name" in
  run) ;;
  test)
    packages+=(
      libgtest-dev libgmock-dev libbenchmark-dev
      fio python3
      python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest openssl
      redis-server iperf3 memcached
      ceph-mon ceph-osd radosgw ceph-common curl
      bindfs libfuse3-dev
      chromium
      git
      clang-14 libclang-rt-14-dev clang-16
    )
    ;;
  *)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac

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
