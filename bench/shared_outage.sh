#!/usr/bin/env bash
# The shared-tier outage scenario (issue 4, "Must show"): kvtierd under steady mixed load while its
# shared tier is frozen for 30 s and then resumed, and, in a second run, killed and restarted
# 30 s later. Four scenarios: {fs, redis} x {freeze, kill}.
#
#   fs     the shared directory is served through a FUSE mount: `bindfs -f SRC MNT`; kvtierd runs
#          with --shared-fs MNT. freeze = SIGSTOP bindfs (every access to MNT then hangs, as on a
#          dead NFS hard mount), SIGCONT after the outage. kill = SIGKILL bindfs (MNT answers
#          ENOTCONN), then `fusermount -u -z MNT; bindfs -f SRC MNT` after the outage.
#   redis  redis-server --port P --bind 127.0.0.1 --save '' --appendonly no; kvtierd runs with
#          --shared-redis 127.0.0.1:P. freeze = SIGSTOP / SIGCONT; kill = SIGKILL, then a new
#          redis-server on the same port, EMPTY (no persistence): what it held before the kill is
#          gone, and only what was still in kvtierd's outbox is uploaded again.
#
# Each scenario: start the shared tier and a fresh kvtierd (DRAM 64 MiB, so DRAM evicts to NVMe
# from the warm-up on, as on a node in steady state; NVMe 2 GiB, which holds the whole run;
# [shared] at its defaults), start shared_outage_bench --mode load (put / get_hit / lookup_local /
# lookup_tail / get_miss at a steady pace), WARMUP_S s not measured (DRAM fills), BEFORE_S s of
# steady load, the fault for OUTAGE_S s, resume, then poll /metrics every 0.1 s until every block
# acknowledged before the resume has left the outbox ("drained": kvtier_shared_outbox_pending is
# 0, or its oldest entry is younger than the time since the resume; 1 s resolution in that second
# case), AFTER_S s more, stop the load, wait (at most 60 s) for the outbox to empty, stop kvtierd.
# The driver's wall-clock marks (steady, outage, resume, drained) split its operations into
# phases. Then a FRESH kvtierd (empty data dir, read_deadline_ms 2000) on the same shared tier
# GETs every acknowledged block: what it returns intact came from the shared tier.
#
# usage: bench/shared_outage.sh BUILD_DIR [--dir D] [--results FILE] [--backends "fs redis"]
#          [--faults "freeze kill"] [--warmup-s 8] [--before-s 10] [--outage-s 30] [--after-s 5]
#          [--rate 24]
#          [--threads 3] [--value-bytes 512K] [--drain-limit-s 180] [--keep]
#   --dir D        work directories (default ./var/bench/shared-outage; removed at exit)
#   --results F    where the table and each scenario's driver output go (default
#                  ./var/bench/shared-outage-results.md; kept)
#   --keep         keep the work directory (every operation in <scenario>/out/ops.tsv, the daemon
#                  logs, the shared directory of the fs scenarios)
# Processes: bindfs, redis-server, two kvtierd and the driver per scenario; only the pids this
# script started are signalled, every one is stopped and every mount unmounted at exit, also on
# failure or interrupt. Every wait is bounded. Needs root (or fuse access) for bindfs.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '/^# usage:/,/^# Processes/p' "$0" >&2
  exit 2
fi
BUILD_DIR=$1
shift
DIR=./var/bench/shared-outage
RESULTS=./var/bench/shared-outage-results.md
BACKENDS="fs redis"
FAULTS="freeze kill"
WARMUP_S=8 BEFORE_S=10 OUTAGE_S=30 AFTER_S=5 RATE=24 THREADS=3 VALUE_BYTES=512K DRAIN_LIMIT_S=180 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    --backends) BACKENDS=$2; shift 2 ;;
    --faults) FAULTS=$2; shift 2 ;;
    --warmup-s) WARMUP_S=$2; shift 2 ;;
    --before-s) BEFORE_S=$2; shift 2 ;;
    --outage-s) OUTAGE_S=$2; shift 2 ;;
    --after-s) AFTER_S=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --value-bytes) VALUE_BYTES=$2; shift 2 ;;
    --drain-limit-s) DRAIN_LIMIT_S=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
KVTIER="$BUILD_DIR/kvtier"
BENCH="$BUILD_DIR/shared_outage_bench"
PY=/usr/bin/python3
for f in "$KVTIER" "$BENCH"; do
  [ -x "$f" ] || { echo "error: $f is not built (cmake --build $BUILD_DIR --target kvtier_cli shared_outage_bench)" >&2; exit 1; }
done
for c in bindfs fusermount redis-server redis-cli curl; do
  command -v "$c" >/dev/null || { echo "error: $c is not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

CREATED_DIR=0
[ -d "$DIR" ] || CREATED_DIR=1
mkdir -p "$DIR" "$(dirname "$RESULTS")"
DIR=$(cd "$DIR" && pwd)
WORK=$(mktemp -d "$DIR/run-XXXXXX")
SHARED_PID="" KV_PID="" VERIFY_PID="" DRIVER_PID="" MNT="" FROZEN=0

# Stops one process: SIGCONT (it may be frozen), SIGTERM, up to 30 s, then SIGKILL.
stop_pid() {  # $1 pid, $2 name
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "warning: $2 (pid $pid) did not stop within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
unmount() {
  [ -n "$MNT" ] || return 0
  if mountpoint -q "$MNT" 2>/dev/null || grep -q " $MNT fuse" /proc/mounts; then
    fusermount -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  fi
}
stop_scenario() {
  stop_pid "$DRIVER_PID" shared_outage_bench
  stop_pid "$VERIFY_PID" "kvtierd (verify)"
  stop_pid "$KV_PID" kvtierd
  stop_pid "$SHARED_PID" "shared tier"
  unmount
  DRIVER_PID="" VERIFY_PID="" KV_PID="" SHARED_PID="" MNT=""
}
cleanup() {
  stop_scenario
  if [ "$KEEP" = 1 ]; then
    echo "(work directory kept: $WORK)"
  else
    rm -rf "$WORK"
    if [ "$CREATED_DIR" = 1 ]; then rmdir "$DIR" 2>/dev/null || true; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
die() { echo "error: $*" >&2; exit 1; }

# ---- the shared tier ----

# Mounts $S/src on $S/mnt with bindfs in the foreground (so its pid is ours); waits up to 10 s.
start_bindfs() {
  local i
  bindfs -f "$S/src" "$MNT" 2>>"$S/bindfs.log" &
  SHARED_PID=$!
  for i in $(seq 100); do
    mountpoint -q "$MNT" && return 0
    kill -0 "$SHARED_PID" 2>/dev/null || { cat "$S/bindfs.log" >&2; die "bindfs exited"; }
    sleep 0.1
  done
  die "bindfs did not mount $MNT within 10 s"
}
start_redis() {
  local i
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --save "" \
    --appendonly no --daemonize no --dir "$S" --logfile "$S/redis.log" &
  SHARED_PID=$!
  for i in $(seq 100); do
    [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    kill -0 "$SHARED_PID" 2>/dev/null || die "redis-server exited (see $S/redis.log)"
    sleep 0.1
  done
  die "redis-server did not answer within 10 s"
}
start_shared() {  # $1 backend
  if [ "$1" = fs ]; then
    mkdir -p "$S/src" "$S/mnt"
    MNT="$S/mnt"
    start_bindfs
    SHARED_FLAG=(--shared-fs "$MNT")
  else
    REDIS_PORT=$(free_port)
    start_redis
    SHARED_FLAG=(--shared-redis "127.0.0.1:$REDIS_PORT")
  fi
}
fault() {  # $1 backend, $2 fault
  if [ "$2" = freeze ]; then
    kill -STOP "$SHARED_PID"
    FROZEN=1
  else
    kill -KILL "$SHARED_PID"
    wait "$SHARED_PID" 2>/dev/null || true
    SHARED_PID=""
  fi
}
resume() {  # $1 backend, $2 fault
  if [ "$2" = freeze ]; then
    kill -CONT "$SHARED_PID"
    FROZEN=0
  elif [ "$1" = fs ]; then
    fusermount -u -z "$MNT"
    # The mount point must be empty again: anything here was written while it was unmounted.
    [ -z "$(ls -A "$MNT")" ] || echo "warning: $MNT was not empty after the unmount: $(ls -A "$MNT")" >&2
    start_bindfs
  else
    start_redis
  fi
}

# ---- kvtierd ----

# Starts kvtierd with config $1 on data dir $2, shared flags after; sets the pid variable named
# $3 and KV_UNIX / KV_METRICS from the ready file.
start_kvtierd() {
  local config=$1 data=$2 var=$3 pid i
  mkdir -p "$data" && chmod 700 "$data"  # kvtierd refuses a data dir others can reach
  "$KVTIER" serve --config "$config" --data-dir "$data" --tcp-listen 127.0.0.1:0 \
    --metrics-listen 127.0.0.1:0 --log-level warn "${SHARED_FLAG[@]}" 2>>"$data.log" &
  pid=$!
  printf -v "$var" %s "$pid"
  for i in $(seq 300); do
    [ -s "$data/kvtierd.ready" ] && grep -q '^metrics=' "$data/kvtierd.ready" && break
    kill -0 "$pid" 2>/dev/null || { cat "$data.log" >&2; die "kvtierd exited"; }
    sleep 0.1
  done
  [ -s "$data/kvtierd.ready" ] || die "kvtierd not ready after 30 s"
  KV_UNIX="unix:$(sed -n 's/^unix=//p' "$data/kvtierd.ready")"
  KV_METRICS="$(sed -n 's/^metrics=//p' "$data/kvtierd.ready")"
}

# One metric's value from a /metrics text in $1 (a file), as an integer (the daemon may write
# 1000 as 1e+03); empty when absent.
metric() {  # $1 file, $2 name
  awk -v n="$2" '$1 == n { printf "%.0f\n", $2; exit }' "$1" 2>/dev/null || true
}
scrape() {  # $1 output file
  timeout 5 curl -s "http://$KV_METRICS/metrics" >"$1.tmp" 2>/dev/null && mv "$1.tmp" "$1"
}

# ---- one scenario ----

cat >"$WORK/load.toml" <<EOF
# The load daemon: DRAM evicts to NVMe from the warm-up on; NVMe holds the whole run; the
# shared tier at its defaults.
[dram]
capacity_bytes = "64MiB"
[nvme]
default_file_bytes = "2GiB"
region_size = "4MiB"
EOF
cat >"$WORK/verify.toml" <<EOF
# The verifying daemon: empty local tiers, so every hit comes from the shared tier, which it
# waits for longer than a serving daemon would.
[dram]
capacity_bytes = "256MiB"
[nvme]
default_file_bytes = "64MiB"
region_size = "4MiB"
[shared]
read_deadline_ms = 2000
EOF

: >"$WORK/rows"
run_scenario() {  # $1 backend, $2 fault
  local backend=$1 kind=$2 name="$1-$2"
  S="$WORK/$name"
  mkdir -p "$S/out"
  local OUT="$S/out" MARKS="$S/out/marks" LOG="$S/driver.log"
  : >"$MARKS"
  echo
  echo "## $name ($(date -u '+%H:%M:%S UTC'), load average $(cut -d' ' -f1 /proc/loadavg))"
  start_shared "$backend"
  start_kvtierd "$WORK/load.toml" "$S/kv" KV_PID
  local run_s=$((WARMUP_S + BEFORE_S + OUTAGE_S + DRAIN_LIMIT_S + AFTER_S))
  timeout $((run_s + 120)) "$BENCH" --mode load \
    --address "$KV_UNIX" --out "$OUT" --stop-file "$OUT/stop" --marks "$MARKS" \
    --threads "$THREADS" --rate "$RATE" --value-bytes "$VALUE_BYTES" \
    --max-seconds $((run_s + 60)) >"$LOG" 2>&1 &
  DRIVER_PID=$!
  local t0 i pending oldest open peak=0 drained="" resume_ns outage_ns
  t0=$(now_ns)
  printf 't_ms\tpending\toldest_s\tbreaker_open\tuploads\n' >"$S/timeline.tsv"
  timeline() {  # appends one /metrics sample; sets pending, oldest, open
    scrape "$S/m.txt" || true
    pending=$(metric "$S/m.txt" kvtier_shared_outbox_pending)
    oldest=$(metric "$S/m.txt" kvtier_shared_outbox_oldest_seconds)
    open=$(metric "$S/m.txt" kvtier_shared_breaker_open)
    pending=${pending:-0} oldest=${oldest:-0} open=${open:-0}
    if [ "$pending" -gt "$peak" ]; then peak=$pending; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$(( ($(now_ns) - t0) / 1000000 ))" "$pending" "$oldest" "$open" \
      "$(metric "$S/m.txt" kvtier_shared_uploads_total)" >>"$S/timeline.tsv"
  }
  for i in $(seq "$WARMUP_S"); do sleep 1; timeline; done
  echo "steady $(now_ns)" >>"$MARKS"
  for i in $(seq "$BEFORE_S"); do sleep 1; timeline; done
  scrape "$S/m-before.txt" || true

  outage_ns=$(now_ns)
  fault "$backend" "$kind"
  echo "outage $outage_ns" >>"$MARKS"
  echo "   $(date -u '+%H:%M:%S') $kind: shared tier $([ "$kind" = freeze ] && echo SIGSTOPped || echo SIGKILLed) for $OUTAGE_S s"
  # One /metrics sample a second, and the resume on time: the last sleep is what remains.
  local left_ms
  for i in $(seq $((OUTAGE_S + 1))); do
    left_ms=$(( OUTAGE_S * 1000 - ($(now_ns) - outage_ns) / 1000000 ))
    [ "$left_ms" -gt 0 ] || break
    if [ "$left_ms" -gt 1000 ]; then sleep 1; timeline; else sleep "0.$(printf %03d "$left_ms")"; fi
  done
  resume "$backend" "$kind"
  resume_ns=$(now_ns)
  echo "resume $resume_ns" >>"$MARKS"
  echo "   $(date -u '+%H:%M:%S') resumed after $(( (resume_ns - outage_ns) / 1000000 )) ms"

  for i in $(seq $((DRAIN_LIMIT_S * 10))); do
    timeline
    local since=$(( ($(now_ns) - resume_ns) / 1000000000 ))
    if [ "$open" = 0 ] && { [ "$pending" = 0 ] || [ "$oldest" -lt "$since" ]; }; then
      drained=$(now_ns)
      echo "drained $drained" >>"$MARKS"
      break
    fi
    sleep 0.1
  done
  local drain_s="not drained in ${DRAIN_LIMIT_S} s"
  if [ -n "$drained" ]; then
    drain_s=$("$PY" -c "print('%.1f' % (($drained - $resume_ns) / 1e9))")
    echo "   drained $drain_s s after the resume (outbox peak $peak blocks)"
  else
    echo "   warning: the outbox did not drain within $DRAIN_LIMIT_S s of the resume" >&2
  fi
  for i in $(seq "$AFTER_S"); do sleep 1; timeline; done
  touch "$OUT/stop"
  wait "$DRIVER_PID" || echo "warning: the driver exited with status $?" >&2
  DRIVER_PID=""
  # What the last puts queued, so the blocks of every phase can be verified.
  for i in $(seq 600); do
    timeline
    [ "$pending" = 0 ] && break
    sleep 0.1
  done
  [ "$pending" = 0 ] || echo "warning: $pending blocks still in the outbox 60 s after the load stopped" >&2
  scrape "$S/m-end.txt" || true
  stop_pid "$KV_PID" kvtierd
  KV_PID=""

  start_kvtierd "$WORK/verify.toml" "$S/verify" VERIFY_PID
  timeout 600 "$BENCH" --mode verify --address "$KV_UNIX" --acked "$OUT/acked.tsv" \
    --value-bytes "$VALUE_BYTES" >"$S/verify.log" 2>&1 || echo "warning: verify failed" >&2
  stop_scenario

  cat "$LOG" "$S/verify.log"
  { echo "### $name"; echo; echo '```'; cat "$LOG" "$S/verify.log"; echo "marks:"; cat "$MARKS";
    echo "timeline (ms since the load started, outbox pending, oldest s, breaker open, uploads):";
    cat "$S/timeline.tsv"; echo "shared-tier counters at the end:";
    grep '^kvtier_shared_' "$S/m-end.txt" | grep -v ' 0$' || true; echo '```'; echo; } >>"$WORK/details"
  add_row "$name" "$LOG" "$S/verify.log" "$S/m-end.txt" "$drain_s" "$peak"
}

# One table row from the driver's and verifier's RESULT lines and the final /metrics.
add_row() {  # $1 name, $2 driver log, $3 verify log, $4 metrics, $5 drain, $6 outbox peak
  local failed opens lost full
  r() { sed -n "s/^RESULT $1 .*$2=\([^ ]*\).*/\1/p" "$3" | head -1; }
  ratio() {  # $1 op
    local line
    line=$(grep "^RESULT outage_p99_ratio op=$1 " "$2" || true)
    [ -n "$line" ] || { echo "-"; return; }
    echo "$line" | sed 's/.*before_p99_us=\([0-9]*\) outage_p99_us=\([0-9]*\) ratio=\([0-9.]*\).*/\1 → \2 (\3×)/'
  }
  failed=$(r outage_load failed_ops "$2")
  local acked_out v_intact v_bacc v_bint
  acked_out=$(r outage_load acked_outage "$2")
  v_intact=$(grep '^RESULT outage_verify phase=outage ' "$3" | sed 's/.*intact=\([0-9]*\).*/\1/')
  # Blocks acknowledged before the outage: the warm-up's and the before phase's.
  v_bacc=$(grep -E '^RESULT outage_verify phase=(warmup|before) ' "$3" | sed 's/.*acked=\([0-9]*\).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
  v_bint=$(grep -E '^RESULT outage_verify phase=(warmup|before) ' "$3" | sed 's/.*intact=\([0-9]*\).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
  local st_b st_o
  st_b=$(grep '^RESULT outage_stalls phase=before ' "$2" | sed 's/.*stalls=\([0-9]*\) stalled_ms=\([0-9]*\).*/\1 (\2 ms)/')
  st_o=$(grep '^RESULT outage_stalls phase=outage ' "$2" | sed 's/.*stalls=\([0-9]*\) stalled_ms=\([0-9]*\).*/\1 (\2 ms)/')
  opens=$(metric "$4" kvtier_shared_breaker_opens_total)
  lost=$(metric "$4" kvtier_shared_upload_lost_local_total)
  full=$(metric "$4" kvtier_shared_outbox_rejected_full_total)
  printf '| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s / %s | %s → %s |\n' \
    "$1" "${failed:-?}" "$(ratio get_hit "$2")" "$(ratio lookup_local "$2")" "$(ratio put "$2")" \
    "$(ratio lookup_tail "$2")" "${v_intact:-?}" "${acked_out:-?}" "${v_bint:-?}" "${v_bacc:-?}" \
    "$5" "${opens:-?}" "$6" "${full:-?}" "${lost:-?}" "${st_b:-?}" "${st_o:-?}" >>"$WORK/rows"
}

HEADER="== shared-tier outage ride-through, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$HEADER"
echo "   $THREADS client threads, $RATE ticks/s, values of $VALUE_BYTES; ${WARMUP_S} s warm-up, ${BEFORE_S} s before, ${OUTAGE_S} s outage, ${AFTER_S} s after the drain"
for b in $BACKENDS; do
  for f in $FAULTS; do
    run_scenario "$b" "$f"
  done
done

{
  echo "$HEADER"
  echo
  echo "Command: bench/shared_outage.sh $BUILD_DIR --warmup-s $WARMUP_S --before-s $BEFORE_S --outage-s $OUTAGE_S --after-s $AFTER_S --rate $RATE --threads $THREADS --value-bytes $VALUE_BYTES"
  echo
  echo "| scenario | failed client ops | get_hit p99 µs before → outage | lookup_local p99 µs before → outage | put p99 µs before → outage | lookup_tail p99 µs before → outage | outage-acked blocks intact in shared after drain | before-acked blocks intact in shared | drain s | breaker opens | outbox peak | rejected full / lost local | driver stalls > 10 ms before → outage |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  cat "$WORK/rows"
  echo
  cat "$WORK/details"
} >"$RESULTS"
echo
sed -n '1,/^$/p;/^| scenario/,/^$/p' "$RESULTS"
echo "(details: $RESULTS)"
