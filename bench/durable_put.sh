#!/usr/bin/env bash
# Durable PUT against plain PUT through kvtierd (issue 27: "its cost measured").
#
# One fresh kvtierd with a DRAM tier and an NVMe file (O_DIRECT, io_uring) on the data directory's
# filesystem; daemon_bench --mode tcp over the Unix socket, THREADS clients, values of VALUE bytes:
# plain puts, then the same with --durable 1 (every timed put answered only once it is on NVMe
# and synced), alternately ROUNDS times, for one value per request and for put_many of BATCH.
# Each run puts the working set once untimed (plain, into DRAM: it also takes back what the run
# before wrote to NVMe) and once timed, so a timed durable put writes a block the NVMe tier does
# not hold: one sync per request. (A durable put replacing a block the NVMe tier holds waits for
# its tombstone's sync first: two.)
# Each pair gives durable/plain; the summary is the median. The daemon's
# kvtier_nvme_syncs_total against kvtier_nvme_sync_requests_total says how many durable requests
# one device sync served (group commit).
#
# usage: bench/durable_put.sh BUILD_DIR [--dir D] [--rounds N] [--quick]
#   --dir D      data directory (default ./var/bench/durable; created and removed)
#   --rounds N   alternated plain/durable pairs per request shape (default 3)
#   --quick      a smaller working set (a smoke run; do not quote its numbers)
# Prints "SUMMARY durable_put ..." lines. Every step runs under `timeout`.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '/^# usage:/,/^# Prints/p' "$0" >&2
  exit 2
fi
BUILD_DIR=$1
shift
DIR=./var/bench/durable
ROUNDS=3
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
KVTIER="$BUILD_DIR/kvtier"
BENCH="$BUILD_DIR/daemon_bench"
for f in "$KVTIER" "$BENCH"; do
  [ -x "$f" ] || { echo "error: $f is not built (cmake --build $BUILD_DIR --target kvtier_cli daemon_bench)" >&2; exit 1; }
done
THREADS=4 VALUE=1MiB BATCH=16
if [ "$QUICK" = 1 ]; then WS=128MiB; else WS=512MiB; fi

mkdir -p "$DIR"
DATA="$DIR/data"
LOG="$DIR/kvtierd.log"
KV_PID=""
cleanup() {
  if [ -n "$KV_PID" ]; then
    kill -TERM "$KV_PID" 2>/dev/null || true
    timeout 60 tail --pid="$KV_PID" -f /dev/null 2>/dev/null || kill -KILL "$KV_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CONFIG="$DIR/kvtierd.toml"
# DRAM smaller than the working set is irrelevant to durable puts (they write NVMe either way);
# the NVMe file holds the working set several times over, so no durable entry is reclaimed.
cat >"$CONFIG" <<EOF
[dram]
capacity_bytes = "1GiB"
[nvme]
default_file_bytes = "4GiB"
region_size = "16MiB"
[server]
metrics_listen = "off"
EOF

rm -rf "$DATA" && mkdir -p "$DATA" && chmod 700 "$DATA"
"$KVTIER" serve --config "$CONFIG" --data-dir "$DATA" --log-level warn 2>>"$LOG" &
KV_PID=$!
for _ in $(seq 300); do
  [ -s "$DATA/kvtierd.ready" ] && break
  kill -0 "$KV_PID" 2>/dev/null || { cat "$LOG" >&2; echo "error: kvtierd exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$DATA/kvtierd.ready" ] || { echo "error: kvtierd not ready after 30 s" >&2; exit 1; }
ADDR="unix:$(sed -n 's/^unix=//p' "$DATA/kvtierd.ready")"

metric() {  # $1 metric name: its value from STATS
  timeout 30 "$KVTIER" stat --address "$ADDR" --raw 2>/dev/null | awk -v m="$1" '$1 == m {print $2}' | head -1
}

# One run: prints the median put GB/s. $1 durable (0|1), $2 batch.
run() {
  timeout 600 "$BENCH" --mode tcp --address "$ADDR" --threads "$THREADS" --value-bytes "$VALUE" \
    --working-set-bytes "$WS" --batch "$2" --rounds 1 --passes 1 --phases put --durable "$1" \
    --label "durable$1-batch$2" | awk '/^RESULT daemon_put/ {for (i = 1; i <= NF; i++) if ($i ~ /^gb_s=/) {sub("gb_s=", "", $i); print $i}}'
}

echo "# durable PUT vs plain PUT: $THREADS threads, $VALUE values, working set $WS, $(nproc) cores, kernel $(uname -r)"
echo "# data directory on: $(df -T "$DATA" | awk 'NR == 2 {print $2}')"
for batch in 1 "$BATCH"; do
  ratios=()
  for r in $(seq "$ROUNDS"); do
    syncs0=$(metric kvtier_nvme_syncs_total); asks0=$(metric kvtier_nvme_sync_requests_total)
    d=$(run 1 "$batch")
    syncs1=$(metric kvtier_nvme_syncs_total); asks1=$(metric kvtier_nvme_sync_requests_total)
    p=$(run 0 "$batch")
    ratio=$(awk -v d="$d" -v p="$p" 'BEGIN {printf "%.3f", d / p}')
    ratios+=("$ratio")
    echo "batch=$batch round=$r plain_gb_s=$p durable_gb_s=$d durable/plain=$ratio syncs=$((${syncs1%.*} - ${syncs0%.*})) sync_requests=$((${asks1%.*} - ${asks0%.*}))"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  echo "SUMMARY durable_put batch=$batch threads=$THREADS value=$VALUE durable/plain_median=$median rounds=$ROUNDS"
done
