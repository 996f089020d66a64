#!/usr/bin/env bash
# `make run`: starts kvtierd on its embedded defaults (data under ./var/kvtier, Unix socket in the
# data dir, TCP and /metrics on 127.0.0.1), replays the chat demo through it over the same-node
# shared-memory path, prints the daemon's counters, then stops it with SIGTERM (flush, index
# persisted: the next run restarts warm). A daemon already serving ./var/kvtier is used as it is
# and left running.
set -euo pipefail
build=${1:-build}
data_dir=${DATA_DIR:-./var/kvtier}
kvtier="$build/kvtier"
ready="$data_dir/kvtierd.ready"
mkdir -p "$data_dir" && chmod 700 "$data_dir"  # kvtierd refuses a data dir others can reach

daemon_pid=""
stop_daemon() {
  [ -n "$daemon_pid" ] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null
  local rc=$?
  daemon_pid=""
  return $rc
}
trap stop_daemon EXIT

running_pid() {
  [ -f "$ready" ] || return 1
  local pid
  pid=$(sed -n 's/^pid=//p' "$ready")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

if pid=$(running_pid); then
  echo "== kvtierd (pid $pid) is already serving $data_dir: using it"
else
  rm -f "$ready"
  echo "== starting kvtierd: $kvtier serve --data-dir $data_dir (log: $data_dir/kvtierd.log)"
  "$kvtier" serve --data-dir "$data_dir" 2>>"$data_dir/kvtierd.log" &
  daemon_pid=$!
  for _ in $(seq 1 300); do
    [ -f "$ready" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || { tail -5 "$data_dir/kvtierd.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -f "$ready" ] || { echo "kvtierd did not become ready in 30 s" >&2; exit 1; }
  sed 's/^/   /' "$ready"
fi
socket=$(sed -n 's/^unix=//p' "$ready")

echo "== the chat demo through kvtierd (shared memory)"
"$kvtier" demo --address "unix:$socket"
echo
echo "== kvtier stat"
"$kvtier" stat --address "unix:$socket" || true
if [ -n "$daemon_pid" ]; then
  echo
  echo "== stopping kvtierd (SIGTERM: finish requests, flush, persist the index)"
  stop_daemon
  echo "   kvtierd exited 0; run 'make run' again to see a warm restart"
fi
