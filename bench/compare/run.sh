#!/usr/bin/env bash
# One workload, one machine, one run: kvtierd against the stores people put KV cache in today, and
# against the hardware ceilings, with the ratios printed (issue 6, docs/BENCH.md "Comparisons").
#
#   kvtier bench --target kvtier            kvtierd (Unix socket), DRAM + NVMe tiers
#   kvtier bench --target redis://...       redis-server 7, persistence off, loopback TCP
#   kvtier bench --target memcached://...   memcached 1.6, 1 GiB (as kvtierd's DRAM), loopback TCP
#   kvtier bench --target dir:...           one file per block, write-then-rename, on the same
#                                           filesystem as kvtierd's data dir
# every one with the same workload, seed, block size and client threads, every GET'd byte checked;
# then the ceilings, measured in the same run:
#   memcpy   dram_tier_bench's plain memcpy of blocks of the same size (DRAM)
#   iperf3   -P <threads> -l <block> over 127.0.0.1 (the loopback network a TCP store crosses)
#   fio      random 4 threads reads of <block> with O_DIRECT on that filesystem (the device)
#
# usage: bench/compare/run.sh BUILD_DIR [--workload chat|rag|agent] [--requests N] [--dir D]
#                             [--block-bytes B] [--concurrency C] [--trace FILE]
#                             [--dram SIZE] [--nvme SIZE]   (kvtierd's tiers; memcached gets --dram too)
# Prints one table and writes compare.json into --dir's results/ and each target's SVG charts
# into charts/<target>/. Servers are stopped at exit.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '/^# usage:/,/^# Prints/p' "$0" >&2; exit 2; }
BUILD_DIR=$(cd "$1" && pwd); shift
WORKLOAD=chat REQUESTS=2000 DIR=./var/bench/compare BLOCK=262144 CONC=4 TRACE= DRAM_MIB=1024 NVME_MIB=4096
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) WORKLOAD=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --block-bytes) BLOCK=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --trace) TRACE=$2; shift 2 ;;
    --dram) DRAM_MIB=$2; shift 2 ;;
    --nvme) NVME_MIB=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
KVTIER="$BUILD_DIR/kvtier"
for t in redis-server memcached iperf3 fio; do command -v $t >/dev/null || { echo "error: $t is not installed (scripts/install-deps.sh)" >&2; exit 1; }; done
rm -rf "$DIR"; mkdir -p "$DIR/results" "$DIR/logs"
DIR=$(cd "$DIR" && pwd)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# kvtierd: --dram MiB of DRAM, an --nvme MiB NVMe file on $DIR's filesystem.
printf '[dram]\ncapacity_bytes = "%sMiB"\n[nvme]\ndefault_file_bytes = "%sMiB"\n' "$DRAM_MIB" "$NVME_MIB" >"$DIR/kvtier.toml"
"$KVTIER" serve --config "$DIR/kvtier.toml" --data-dir "$DIR/kv" --tcp-listen 127.0.0.1:0 --metrics-listen off --log-level warn 2>"$DIR/logs/kvtierd.log" &
PIDS+=($!)
RPORT=$(free_port)
mkdir -p "$DIR/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$DIR/redis" \
  --logfile "$DIR/logs/redis.log" &
PIDS+=($!)
MPORT=$(free_port)
memcached -u "$(id -un)" -l 127.0.0.1 -p "$MPORT" -U 0 -m "$DRAM_MIB" -I 64m >"$DIR/logs/memcached.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$DIR/logs/kvtierd.log" >&2; exit 1; }
  [ -s "$DIR/kv/kvtierd.ready" ] && [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
ADDR="unix:$(sed -n 's/^unix=//p' "$DIR/kv/kvtierd.ready")"

WL=(--workload "$WORKLOAD")
[ -n "$TRACE" ] && WL=(--trace "$TRACE")
echo "== kvtier bench compare, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "   $(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); ${WL[*]}, $REQUESTS requests, blocks of $BLOCK bytes, $CONC client threads; kvtierd DRAM $DRAM_MIB MiB + NVMe $NVME_MIB MiB, memcached $DRAM_MIB MiB"
for target in kvtier "redis://127.0.0.1:$RPORT" "memcached://127.0.0.1:$MPORT" "dir:$DIR/blocks"; do
  name=${target%%:*}
  timeout 900 "$KVTIER" bench --address "$ADDR" --target "$target" "${WL[@]}" --requests "$REQUESTS" \
    --block-bytes "$BLOCK" --concurrency "$CONC" --seed 1 --charts "$DIR/charts/$name" --json >"$DIR/results/$name.json"
done

# Ceilings.
timeout 300 "$BUILD_DIR/dram_tier_bench" --value-bytes "$BLOCK" --working-set-bytes 1GiB --rounds 3 \
  >"$DIR/logs/memcpy.log" 2>&1
IPORT=$(free_port)
iperf3 -s -B 127.0.0.1 -p "$IPORT" >"$DIR/logs/iperf3-server.log" 2>&1 &
PIDS+=($!)
sleep 0.5
timeout 60 iperf3 -c 127.0.0.1 -p "$IPORT" -P "$CONC" -l "$BLOCK" -t 3 -J >"$DIR/results/iperf3.json"
timeout 300 fio --name=ceiling --directory="$DIR" --filename=fio.dat --size=2g --rw=randread --bs="$BLOCK" \
  --direct=1 --ioengine=io_uring --iodepth=4 --numjobs="$CONC" --time_based --runtime=5 --group_reporting \
  --output-format=json >"$DIR/results/fio.json" 2>"$DIR/logs/fio.log"
rm -f "$DIR/fio.dat"

python3 - "$DIR" <<'PY'
import json, re, sys
d = sys.argv[1]
r = {n: json.load(open(f"{d}/results/{n}.json")) for n in ("kvtier", "redis", "memcached", "dir")}
memcpy = float(re.search(r"memcpy_gb_s=([0-9.]+)", open(f"{d}/logs/memcpy.log").read()).group(1))
iperf = json.load(open(f"{d}/results/iperf3.json"))["end"]["sum_received"]["bits_per_second"] / 8e9
fio = json.load(open(f"{d}/results/fio.json"))["jobs"][0]["read"]["bw_bytes"] / 1e9
print("%-10s %9s %9s %9s %12s %12s %12s %6s" % ("target", "hit", "GET GB/s", "PUT GB/s", "lookup p50", "get p99", "put p99", "wrong"))
for n, j in r.items():
    lat = j["latency"]
    ms = lambda op, q: (lat[op][q] or 0) * 1e3
    print("%-10s %9.4f %9.3f %9.3f %10.3f ms %10.3f ms %10.3f ms %6d" % (
        n, j["hit_ratio"]["total"], j["gb_per_s_in"], j["gb_per_s_out"], ms("lookup", "p50_s"),
        ms("get_many", "p99_s"), ms("put_many", "p99_s"), j["blocks"]["wrong_bytes"]))
k = r["kvtier"]
ratio = lambda a, b: a / b if b else float("nan")
print("ceilings: memcpy %.2f GB/s, iperf3 loopback %.2f GB/s, fio randread %.2f GB/s" % (memcpy, iperf, fio))
print("kvtier GET vs redis %.2fx, vs memcached %.2fx, vs dir %.2fx; kvtier GET / memcpy %.0f%%, / iperf3 %.0f%%, / fio %.0f%%" % (
    ratio(k["gb_per_s_in"], r["redis"]["gb_per_s_in"]), ratio(k["gb_per_s_in"], r["memcached"]["gb_per_s_in"]),
    ratio(k["gb_per_s_in"], r["dir"]["gb_per_s_in"]),
    100 * ratio(k["gb_per_s_in"], memcpy), 100 * ratio(k["gb_per_s_in"], iperf), 100 * ratio(k["gb_per_s_in"], fio)))
print("kvtier PUT vs redis %.2fx, vs memcached %.2fx, vs dir %.2fx" % (
    ratio(k["gb_per_s_out"], r["redis"]["gb_per_s_out"]), ratio(k["gb_per_s_out"], r["memcached"]["gb_per_s_out"]),
    ratio(k["gb_per_s_out"], r["dir"]["gb_per_s_out"])))
out = {"targets": r, "ceilings_gb_s": {"memcpy": memcpy, "iperf3": iperf, "fio_randread": fio}}
json.dump(out, open(f"{d}/results/compare.json", "w"), indent=2)
bad = [n for n, j in r.items() if j["blocks"]["wrong_bytes"] or j["errors"]]
if bad:
    print("error: wrong bytes or errors from " + ", ".join(bad)); sys.exit(1)
PY
