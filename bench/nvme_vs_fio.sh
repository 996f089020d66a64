#!/usr/bin/env bash
# NVMe tier vs fio on the same filesystem, in the same run (issue 2).
#
# Write phase, WRITE_ROUNDS pairs, each side on a fresh file in DIR:
#   fio --rw=write --bs=4M --iodepth=QD --direct=1 --ioengine=io_uring --end_fsync=1, SIZE
#   nvme_tier_bench put: SIZE of 4 MiB values through NvmeTier::put, timed until flush() returned
#                        (O_DIRECT writes done and fdatasync'ed, as fio's end_fsync)
# Read phase, on ONE file that fio wrote in full and kvtier then formatted and filled with SIZE of
# values (so both read the same blocks), READ_ROUNDS pairs of:
#   fio --rw=randread --bs=4M --iodepth=QD --direct=1 --ioengine=io_uring over the whole file
#   nvme_tier_bench get: get_many batches of QD random keys, O_DIRECT straight into the caller's
#                        4 KiB-aligned memory, XXH3 verified
# each for SECONDS. Odd pairs run fio first, even pairs kvtier first. Each pair gives a ratio
# kvtier/fio; the summary is the median ratio. A VM's disk drifts by 2x within minutes, so only
# pairs measured back to back are compared.
#
# Memory matters on a virtual disk: a block request holds at most max_segments (254 on
# virtio-blk) physically contiguous runs, so 4 MiB read into scattered 4 KiB pages goes out as
# requests of ~1 MiB or less, into huge pages as one 4 MiB request. By default kvtier's get reads
# into memory obtained as fio's default buffers are (an untouched anonymous mapping), and the
# average request size of each side is printed (from /sys/class/block/<dev>/stat). kvtier's put
# writes from the tier's own region buffers, which the tier asks to be transparent huge pages.
# With --hugepages (root only) fio's buffers are 2 MiB huge pages too (--iomem=shmhuge, for the
# writes and the reads) and so are kvtier's get destinations (--dst-memory hugetlb):
# vm.nr_hugepages is raised for the run and restored at exit.
#
# usage: bench/nvme_vs_fio.sh BUILD_DIR [--dir D] [--qd Q] [--size-gib G] [--write-rounds N]
#          [--read-rounds N] [--seconds S] [--threads T] [--hugepages] [--write-buffers W]
#          [--write-io-bytes B] [--region-bytes B]
# Defaults: --dir ./var/bench/nvme-vs-fio (created and removed), QD 8, 4 GiB, 5 write rounds,
# 8 read rounds of 4 s. --threads splits each get batch over T threads of QD/T keys (same total
# depth). --write-buffers / --write-io-bytes / --region-bytes are passed to the tier.
# Prints "SUMMARY <name> kvtier_mb_s=<median> fio_mb_s=<median> ratio=<median> ... goal=0.85".
# Data files are removed at the end, also on failure or interrupt.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '/^# usage:/,/^# Prints/p' "$0" >&2
  exit 2
fi
BUILD_DIR=$1
shift
DIR=./var/bench/nvme-vs-fio
QD=8
SIZE_GIB=4
WRITE_ROUNDS=5
READ_ROUNDS=8
SECONDS_READ=4
THREADS=1
HUGEPAGES=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --qd) QD=$2; shift 2 ;;
    --size-gib) SIZE_GIB=$2; shift 2 ;;
    --write-rounds) WRITE_ROUNDS=$2; shift 2 ;;
    --read-rounds) READ_ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_READ=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --hugepages) HUGEPAGES=1; shift ;;
    --write-buffers) EXTRA+=(--write-buffers "$2"); shift 2 ;;
    --write-io-bytes) EXTRA+=(--write-io-bytes "$2"); shift 2 ;;
    --region-bytes) EXTRA+=(--region-bytes "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ $((QD % THREADS)) -ne 0 ]; then echo "--qd must be a multiple of --threads" >&2; exit 2; fi

BENCH="$BUILD_DIR/nvme_tier_bench"
PY=/usr/bin/python3
[ -x "$BENCH" ] || { echo "error: $BENCH not built (cmake --build $BUILD_DIR --target nvme_tier_bench)" >&2; exit 1; }
command -v fio >/dev/null || { echo "error: fio is not installed" >&2; exit 1; }

CREATED_DIR=0
[ -d "$DIR" ] || CREATED_DIR=1
# The directory must be dedicated: this script deletes DIR/nvme and its own data files at the end.
if [ "$CREATED_DIR" = 0 ] && [ -e "$DIR/nvme" ]; then
  echo "error: $DIR/nvme exists; give nvme_vs_fio.sh a dedicated --dir (it removes DIR/nvme at the end)" >&2
  exit 1
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
FIO_FILE="$DIR/fio-bench.dat"
READ_FILE="$DIR/shared-read.dat"
LOG_DIR=$(mktemp -d)
OLD_HUGEPAGES=""
cleanup() {
  rm -f "$FIO_FILE" "$READ_FILE"
  rm -rf "$DIR/nvme" "$LOG_DIR"
  if [ "$CREATED_DIR" = 1 ]; then rmdir "$DIR" 2>/dev/null || true; fi
  if [ -n "$OLD_HUGEPAGES" ]; then echo "$OLD_HUGEPAGES" >/proc/sys/vm/nr_hugepages || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VALUES=$((SIZE_GIB * 256))  # 4 MiB values

# Block-device counters of the filesystem under DIR, to report the average request size.
DEV=$(basename "$(df --output=source "$DIR" | tail -1)")
DEV_STAT="/sys/class/block/$DEV/stat"
[ -r "$DEV_STAT" ] || DEV_STAT=""
dev_snap() { if [ -n "$DEV_STAT" ]; then cat "$DEV_STAT"; else echo "0 0 0 0 0 0 0 0"; fi; }
# Average request size in KiB between two snapshots: $1 before, $2 after, $3 read|write.
avg_req_kib() {
  "$PY" -c 'import sys
a, b = list(map(int, sys.argv[1].split())), list(map(int, sys.argv[2].split()))
ios, sec = (0, 2) if sys.argv[3] == "read" else (4, 6)
n = b[ios] - a[ios]
print("%d" % ((b[sec] - a[sec]) / 2 / n) if n > 0 else "?")' "$1" "$2" "$3"
}

# Bytes/s of the job's read or write side, as MB/s (10^6).
fio_mb_s() {  # $1 json file, $2 read|write
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f" % (d["jobs"][0][sys.argv[2]]["bw_bytes"]/1e6))' "$1" "$2"
}
# The mb_s field of the RESULT line of a bench log.
bench_mb_s() {  # $1 log
  "$PY" -c 'import sys
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        print(dict(kv.split("=") for kv in line.split()[2:])["mb_s"])' "$1"
}

# Each run_* prints "<MB/s> <average request KiB>".
run_fio_write() {  # $1 round
  rm -f "$FIO_FILE"
  local a b
  a=$(dev_snap)
  timeout 600 fio --name=seqwrite --rw=write --end_fsync=1 --filename="$FIO_FILE" --size="${SIZE_GIB}G" \
    --bs=4M --iodepth="$QD" --direct=1 --ioengine=io_uring "${FIO_MEM[@]}" --output-format=json \
    >"$LOG_DIR/fio-write-$1.json"
  b=$(dev_snap)
  rm -f "$FIO_FILE"
  echo "$(fio_mb_s "$LOG_DIR/fio-write-$1.json" write) $(avg_req_kib "$a" "$b" write)"
}
run_put() {  # $1 round
  local a b
  a=$(dev_snap)
  timeout 600 "$BENCH" put --dir "$DIR" --values "$VALUES" --qd "$QD" "${EXTRA[@]}" >"$LOG_DIR/put-$1.log"
  b=$(dev_snap)
  rm -rf "$DIR/nvme"
  echo "$(bench_mb_s "$LOG_DIR/put-$1.log") $(avg_req_kib "$a" "$b" write)"
}

FIO_MEM=()
DST_MEM=fio
if [ "$HUGEPAGES" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "error: --hugepages needs root (it raises vm.nr_hugepages for the run)" >&2; exit 1; }
  OLD_HUGEPAGES=$(cat /proc/sys/vm/nr_hugepages)
  need=$((OLD_HUGEPAGES + QD * 2 + 8))  # fio's QD x 4 MiB, or kvtier's; they never run together
  echo "$need" >/proc/sys/vm/nr_hugepages
  got=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  [ "$got" -ge $((QD * 2 + 4)) ] || { echo "error: could only reserve $got huge pages" >&2; exit 1; }
  FIO_MEM=(--iomem=shmhuge)
  DST_MEM=hugetlb
fi
echo "== nvme tier vs fio: ${SIZE_GIB} GiB of 4 MiB blocks, QD $QD, dir $DIR"
echo "   filesystem $(df -T "$DIR" | awk 'NR==2 {print $2 " on " $1}'), $(fio --version), get threads $THREADS"
echo "   $WRITE_ROUNDS write pairs, $READ_ROUNDS read pairs of ${SECONDS_READ} s; columns: MB/s (average device request KiB)"
echo "   memory: fio ${FIO_MEM[*]:-default buffers}; kvtier get --dst-memory $DST_MEM; kvtier put uses the tier's own region buffers"
: >"$LOG_DIR/pairs"
for r in $(seq 1 "$WRITE_ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then f=$(run_fio_write "$r"); k=$(run_put "$r"); order="fio first"
  else k=$(run_put "$r"); f=$(run_fio_write "$r"); order="kvtier first"; fi
  read -r fw fwq <<<"$f"
  read -r kw kwq <<<"$k"
  echo "write pair $r ($order): fio $fw ($fwq KiB), kvtier put $kw ($kwq KiB)"
  grep -E "puts returned" "$LOG_DIR/put-$r.log" | sed 's/^ */     kvtier: /'
  echo "write $r $fw $kw" >>"$LOG_DIR/pairs"
done

# Read phase. fio writes the file in full first (so there are no unwritten extents that fio would
# read as zeros without I/O), then kvtier formats it and puts SIZE of values into it.
if [ "$READ_ROUNDS" -gt 0 ]; then
READ_BYTES=$("$BENCH" put --dir "$DIR" --values "$VALUES" --qd "$QD" "${EXTRA[@]}" --print-file-bytes 1)
timeout 600 fio --name=prepare --rw=write --filename="$READ_FILE" --size="$READ_BYTES" --bs=4M --iodepth="$QD" \
  --direct=1 --ioengine=io_uring --end_fsync=1 --output-format=json >"$LOG_DIR/fio-prepare.json"
timeout 600 "$BENCH" put --dir "$DIR" --file "$READ_FILE" --values "$VALUES" --qd "$QD" "${EXTRA[@]}" \
  >"$LOG_DIR/put-read-file.log"
echo "read file: $READ_BYTES bytes, written by fio, then formatted and filled by kvtier"
run_fio_read() {  # $1 round
  local a b
  a=$(dev_snap)
  timeout 600 fio --name=randread --rw=randread --filename="$READ_FILE" --size="$READ_BYTES" --bs=4M \
    --iodepth="$QD" --direct=1 --ioengine=io_uring --runtime="$SECONDS_READ" --time_based "${FIO_MEM[@]}" \
    --output-format=json >"$LOG_DIR/fio-read-$1.json"
  b=$(dev_snap)
  echo "$(fio_mb_s "$LOG_DIR/fio-read-$1.json" read) $(avg_req_kib "$a" "$b" read)"
}
run_get() {  # $1 round
  local a b
  a=$(dev_snap)
  timeout 600 "$BENCH" get --dir "$DIR" --file "$READ_FILE" --qd $((QD / THREADS)) --threads "$THREADS" \
    --seconds "$SECONDS_READ" --seed "$1" --dst-memory "$DST_MEM" >"$LOG_DIR/get-$1.log"
  b=$(dev_snap)
  echo "$(bench_mb_s "$LOG_DIR/get-$1.log") $(avg_req_kib "$a" "$b" read)"
}
for r in $(seq 1 "$READ_ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then f=$(run_fio_read "$r"); k=$(run_get "$r"); order="fio first"
  else k=$(run_get "$r"); f=$(run_fio_read "$r"); order="kvtier first"; fi
  read -r fr frq <<<"$f"
  read -r kr krq <<<"$k"
  echo "read pair $r ($order): fio $fr ($frq KiB), kvtier get $kr ($krq KiB)"
  echo "read $r $fr $kr" >>"$LOG_DIR/pairs"
done
fi
echo "-- last put and get, in full:"
for f in "$LOG_DIR/put-$WRITE_ROUNDS.log" "$LOG_DIR/get-$READ_ROUNDS.log"; do
  if [ -f "$f" ]; then sed 's/^/   /' "$f" | grep -v '^   RESULT'; fi
done

MEM_NOTE=$([ "$HUGEPAGES" = 1 ] && echo hugepages || echo default)
"$PY" - "$LOG_DIR/pairs" "$MEM_NOTE" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
mem = sys.argv[2]
med = statistics.median
for kind, name, what in (("write", "nvme_put_vs_fio_write", "fio seq write vs kvtier put"),
                         ("read", "nvme_randget_vs_fio_randread", "fio randread vs kvtier get_many")):
    pairs = [(float(f), float(k)) for k_, _, f, k in rows if k_ == kind]
    if not pairs:
        continue
    ratios = [k / f for f, k in pairs]
    print("   %-32s ratios: %s" % (what, " ".join("%.0f%%" % (100 * x) for x in ratios)))
    extra = " memory=%s" % mem
    print("SUMMARY %s kvtier_mb_s=%.1f fio_mb_s=%.1f ratio=%.4f min=%.4f max=%.4f pairs=%d%s goal=0.85" %
          (name, med([k for _, k in pairs]), med([f for f, _ in pairs]), med(ratios), min(ratios),
           max(ratios), len(pairs), extra))
EOF
