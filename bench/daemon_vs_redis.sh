#!/usr/bin/env bash
# Issue 3's "must show", in one run on one machine: kvtierd's same-node shared-memory path against
# the engine in-process; loopback TCP with 1 MiB values and 4 clients against redis-server 7
# (SET/GET of the same size, persistence off) and iperf3's raw loopback bandwidth; and LOOKUP of a
# 4,096-chunk chain through the daemon. Every server it starts is stopped on exit.
# usage: bench/daemon_vs_redis.sh BUILD_DIR [SECONDS_PER_PHASE]
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR [SECONDS]}
SECS=${2:-3}
WORK=$(mktemp -d /tmp/kvtier-daemon-bench-XXXXXX)
KV_PID="" REDIS_PID="" IPERF_PID=""
cleanup() {
  for p in $KV_PID $REDIS_PID $IPERF_PID; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$WORK/kv"
printf '[dram]\ncapacity_bytes = "1GiB"\n[nvme]\ndefault_file_bytes = 0\n' > "$WORK/kv.toml"
"$BUILD/kvtier" serve --config "$WORK/kv.toml" --data-dir "$WORK/kv" --tcp-listen 127.0.0.1:0 \
  --metrics-listen off --log-level warn 2>"$WORK/kvtierd.log" &
KV_PID=$!
for _ in $(seq 300); do [ -f "$WORK/kv/kvtierd.ready" ] && break; sleep 0.1; done
UNIX="unix:$(sed -n 's/^unix=//p' "$WORK/kv/kvtierd.ready")"
TCP="tcp:$(sed -n 's/^tcp=//p' "$WORK/kv/kvtierd.ready")"
TOKEN=$(cat "$WORK/kv/auth-token")
B="$BUILD/daemon_bench"

out=$( "$B" --mode shm --address "$UNIX" --engine-dir "$WORK/engine" --seconds "$SECS"
       "$B" --mode stream --address "$TCP" --token "$TOKEN" --threads 4 --seconds "$SECS" | sed 's/^stream/tcp/'
       "$B" --mode stream --address "$UNIX" --threads 4 --seconds "$SECS" | sed 's/^stream/unix/'
       "$B" --mode lookup --address "$UNIX" --seconds "$SECS" )
echo "$out"
kill -TERM "$KV_PID"; wait "$KV_PID" || true; KV_PID=""

# redis-server 7: the same value size, 4 connections driven by 4 client threads.
RPORT=$((20000 + RANDOM % 20000))
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --protected-mode yes \
  --daemonize no --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
N=$(( SECS * 1500 ))
rps() {
  redis-benchmark -p "$RPORT" -t "$1" -n "$N" -c 4 --threads 4 -d 1048576 -r 256 -q 2>/dev/null |
    tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
rset=$(rps set)
rget=$(rps get)
kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""

IPORT=$((40000 + RANDOM % 20000))
iperf3 -s -B 127.0.0.1 -p "$IPORT" -1 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
ibps=$(iperf3 -c 127.0.0.1 -p "$IPORT" -P 4 -t "$SECS" -J |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
wait "$IPERF_PID" 2>/dev/null || true; IPERF_PID=""

OUT="$out" /usr/bin/python3 - "$rset" "$rget" "$ibps" <<'PY'
import os, sys
vals = {}
for line in os.environ["OUT"].splitlines():
    parts = line.split()
    if len(parts) >= 2:
        vals[parts[0]] = float(parts[1])
rset, rget, ibps = (float(x or 0) for x in sys.argv[1:4])
redis = {"put": rset * 1048576 / 1e9, "get": rget * 1048576 / 1e9}
iperf = ibps / 8 / 1e9
print()
print(f"{'measure':36} {'value':>8}  ratio / goal")
for op, name in (("get", "GET_MANY_SHM"), ("put", "PUT_MANY_SHM")):
    print(f"{'shm ' + name + ' 4 MiB (GB/s)':36} {vals[f'shm_{op}_gbps']:8.2f}  "
          f"{vals[f'shm_{op}_vs_engine']:.0f}% of engine {op}_many {vals[f'engine_{op}_gbps']:.2f} (goal >= 80%)")
for op in ("put", "get"):
    k = vals[f"tcp_{op}_gbps"]
    r = redis[op]
    print(f"{'TCP ' + op.upper() + ' 1 MiB x 4 clients (GB/s)':36} {k:8.2f}  {100 * k / iperf:.0f}% of iperf3 "
          f"{iperf:.2f} (goal >= 90%); redis {'SET' if op == 'put' else 'GET'} {r:.2f} "
          f"({k / r if r else 0:.2f}x, goal > 1)")
    print(f"{'  the same over the Unix socket':36} {vals[f'unix_{op}_gbps']:8.2f}")
for which in ("cached", "uncached"):
    print(f"{'LOOKUP 4,096 chunks ' + which + ' (us)':36} {vals[f'lookup_4096_{which}_median']:8.1f}  "
          f"median, p99 {vals[f'lookup_4096_{which}_p99']:.1f}")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
