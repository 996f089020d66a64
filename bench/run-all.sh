#!/usr/bin/env bash
# Runs every kvtier benchmark (issue 2) and prints a summary table of ratios and goals.
# Called by `make bench` as: bench/run-all.sh BUILD_DIR
#
# usage: bench/run-all.sh BUILD_DIR [--dir D] [--quick] [--no-hugepages]
#   --dir D          where the benchmarks put their data files (default ./var/bench; removed at the
#                    end when this script created it). Needs about 12 GB free.
#   --quick          fewer rounds and smaller data sets (a smoke run; numbers less reliable)
#   --no-hugepages   skip the second NVMe-vs-fio comparison on 2 MiB huge pages (it runs only as
#                    root anyway: it raises vm.nr_hugepages for its duration and restores it)
# Every benchmark is time-bounded (timeout) and removes its own data. docs/BENCHMARKS.md explains
# each number and how to read it. Exit status is 0 when every benchmark ran, whether or not the
# goals were met (the table says that); non-zero when one failed.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '/^# usage:/,/^# Every/p' "$0" >&2
  exit 2
fi
BUILD_DIR=$1
shift
DIR=./var/bench
QUICK=0
HUGE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --no-hugepages) HUGE=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

for b in nvme_tier_bench dram_tier_bench prefix_lookup_bench restart_bench; do
  [ -x "$BUILD_DIR/$b" ] || { echo "error: $BUILD_DIR/$b is not built (cmake --build $BUILD_DIR)" >&2; exit 1; }
done

CREATED_DIR=0
[ -d "$DIR" ] || CREATED_DIR=1
mkdir -p "$DIR"
LOG_DIR=$(mktemp -d)
cleanup() {
  rm -rf "$LOG_DIR"
  if [ "$CREATED_DIR" = 1 ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_gb=$(df -P -B1G "$DIR" | awk 'NR==2 {print $4}')
if [ "$free_gb" -lt 12 ]; then
  echo "error: $DIR has ${free_gb} GB free; the benchmarks need about 12 GB" >&2
  exit 1
fi

echo "== kvtier benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "   $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r),"
echo "   $(df -T "$DIR" | awk 'NR==2 {print $2 " on " $1}') under $DIR, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(fio --version 2>/dev/null || echo 'no fio')"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"

if [ "$QUICK" = 1 ]; then
  NVME_ARGS=(--size-gib 1 --write-rounds 2 --read-rounds 2 --seconds 2)
  DRAM_ARGS=(--rounds 3 --passes 1)
  PREFIX_ARGS=(--background 100000 --lookups 1000)
  RESTART_ARGS=(--entries 100000)
  DAEMON_ARGS=(--quick)
else
  NVME_ARGS=()
  DRAM_ARGS=()
  PREFIX_ARGS=()
  RESTART_ARGS=()
  DAEMON_ARGS=()
fi

run() {  # $1 name, $2 timeout seconds, rest: command
  local name=$1 limit=$2
  shift 2
  echo
  echo "## $name: $*"
  if ! timeout "$limit" "$@" 2>&1 | tee "$LOG_DIR/$name.log"; then
    echo "error: $name failed or timed out (see above)" >&2
    return 1
  fi
}

status=0
run dram 300 "$BUILD_DIR/dram_tier_bench" "${DRAM_ARGS[@]}" || status=1
run prefix 900 "$BUILD_DIR/prefix_lookup_bench" --dir "$DIR" "${PREFIX_ARGS[@]}" || status=1
run restart 900 "$BUILD_DIR/restart_bench" --dir "$DIR" "${RESTART_ARGS[@]}" || status=1
run nvme 1200 "$HERE/nvme_vs_fio.sh" "$BUILD_DIR" --dir "$DIR/nvme-vs-fio" "${NVME_ARGS[@]}" || status=1
if [ "$HUGE" = 1 ] && [ "$(id -u)" = 0 ]; then
  run nvme-hugepages 1200 "$HERE/nvme_vs_fio.sh" "$BUILD_DIR" --dir "$DIR/nvme-vs-fio" --hugepages "${NVME_ARGS[@]}" \
    || status=1
fi
if [ -x "$BUILD_DIR/nvme_index_bench" ]; then
  run index 600 "$BUILD_DIR/nvme_index_bench" || status=1
fi
# The daemon (issue 3): shared memory vs the engine, TCP vs iperf3 and redis-server, LOOKUP.
if [ -x "$BUILD_DIR/daemon_bench" ] && [ -x "$BUILD_DIR/kvtier" ]; then
  run daemon 1500 "$HERE/daemon_vs_redis.sh" "$BUILD_DIR" --dir "$DIR/daemon" "${DAEMON_ARGS[@]}" || status=1
else
  echo "error: $BUILD_DIR/daemon_bench or $BUILD_DIR/kvtier is not built" >&2
  status=1
fi

echo
echo "== summary (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
"$PY" - "$LOG_DIR" <<'EOF'
import os, sys
logs = sys.argv[1]

def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv)

def lines(name, prefix):
    path = os.path.join(logs, name + ".log")
    if not os.path.exists(path):
        return []
    return [l for l in open(path) if l.startswith(prefix)]

rows = []
for l in lines("dram", "RESULT dram_get"):
    f = fields(l)
    r = float(f["ratio"])
    rows.append(("DRAM get 1 MiB vs memcpy (1 thread)", "%s GB/s" % f["gb_s"], "%s GB/s" % f["memcpy_gb_s"],
                 "%.0f%%" % (100 * r), ">= 70%", r >= 0.70))
for name, mem in (("nvme", "4 KiB-page buffers"), ("nvme-hugepages", "2 MiB huge pages")):
    for l in lines(name, "SUMMARY"):
        f = fields(l)
        what = l.split()[1]
        label = ("NVMe put 4 MiB vs fio seq write" if what.startswith("nvme_put") else
                 "NVMe get_many 4 MiB vs fio randread") + " (%s)" % mem
        r = float(f["ratio"])
        rows.append((label, "%s MB/s" % f["kvtier_mb_s"], "%s MB/s" % f["fio_mb_s"],
                     "%.0f%% (%.0f-%.0f%%)" % (100 * r, 100 * float(f["min"]), 100 * float(f["max"])),
                     ">= 85%", r >= 0.85))
for l in lines("prefix", "RESULT prefix_lookup"):
    f = fields(l)
    med = float(f["median_us"])
    rows.append(("Store::lookup 4096 chunks: %s" % f["variant"], "median %s us" % f["median_us"],
                 "p99 %s us" % f["p99_us"], "-", "median < 200 us", med < 200))
for l in lines("restart", "RESULT restart"):
    f = fields(l)
    rows.append(("reopen %s entries after %s" % (f["entries"], "SIGKILL (scan)" if f["mode"] == "scan" else "close() (checkpoint)"),
                 "%s s" % f["open_s"], "", "-", "(reported)", None))
for l in lines("restart", "RESULT index_bytes_per_entry"):
    f = fields(l)
    rows.append(("NVMe index bytes per entry", f["after_checkpoint"], "", "-", "(reported)", None))
for l in lines("daemon", "SUMMARY daemon_shm_"):
    f = fields(l)
    r = float(f["ratio"])
    op = "GET" if l.split()[1].endswith("get") else "PUT"
    where = {"dram": "DRAM-resident", "nvme": "NVMe-resident", "dram_vs_thp": "DRAM, engine on THP",
             "nvme_vs_thp": "NVMe, engine on THP"}.get(f["label"], f["label"])
    rows.append(("kvtierd %s_MANY_SHM 4 MiB vs engine, %s" % (op, where), "%s GB/s" % f["gb_s"],
                 "%s GB/s" % f["engine_gb_s"], "%.0f%% (%.0f-%.0f%%)" % (100 * r, 100 * float(f["min"]), 100 * float(f["max"])),
                 ">= 80%", r >= 0.80))
for l in lines("daemon", "SUMMARY daemon_tcp_"):
    f = fields(l)
    op = "GET" if l.split()[1].endswith("get") else "PUT"
    r, q = float(f["vs_iperf3"]), float(f["vs_redis"])
    rows.append(("kvtierd TCP %s 1 MiB x 4 clients vs iperf3 -P 4 -l 1M" % op, "%s GB/s" % f["kvtier_gb_s"],
                 "%s GB/s" % f["iperf3_gb_s"], "%.0f%%" % (100 * r), ">= 90%", r >= 0.90))
    rows.append(("kvtierd TCP %s 1 MiB x 4 clients vs redis %s" % (op, "SET" if op == "PUT" else "GET"),
                 "%s GB/s" % f["kvtier_gb_s"], "%s GB/s" % f["redis_gb_s"], "%.2fx" % q, "> 1x", q > 1.0))
for l in lines("daemon", "SUMMARY daemon_lookup"):
    f = fields(l)
    rows.append(("kvtierd LOOKUP 4096 chunks, %s (%s)" % (f["variant"].replace("_", " "), f["label"]),
                 "median %s us" % f["median_us"], "p99 %s us" % f["p99_us"], "-", "median < 200 us",
                 float(f["median_us"]) < 200))

w = [max(len(str(r[i])) for r in rows + [("benchmark", "kvtier", "reference", "ratio", "goal", "")]) for i in range(5)]
head = ("benchmark", "kvtier", "reference", "ratio", "goal")
print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)) + "  met")
for r in rows:
    met = "-" if r[5] is None else ("yes" if r[5] else "NO")
    print("  ".join(str(r[i]).ljust(w[i]) for i in range(5)) + "  " + met)
EOF

exit $status
