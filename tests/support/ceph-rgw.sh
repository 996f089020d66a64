#!/usr/bin/env bash
# A single-node Ceph cluster with a RADOS Gateway on loopback, for the S3 tests (issue 29): one
# monitor, one OSD on memstore (objects in the OSD's RAM, one replica), radosgw (beast) on
# 127.0.0.1, and one S3 user. Everything lives under DIR (config, data, logs, pid files,
# admin sockets); nothing touches /etc/ceph or /var/lib/ceph.
#
#   ceph-rgw.sh start DIR MON_PORT RGW_PORT   prints "endpoint access_key secret_key" when an S3
#                                             request answers (exit 1 and the logs if not in 60 s);
#                                             the OSD binds in MON_PORT+1..MON_PORT+40
#   ceph-rgw.sh stop DIR                      kills every daemon of DIR's cluster
#
# Traps met while writing it (Ceph 16.2, Debian 12): with auth "none" the clients hang unless
# `ms mon client mode = crc`; pool creation waits a second per pool unless paxos proposes sooner;
# radosgw refuses requests without x-amz-content-sha256 (the S3 store always sends it); two
# clusters started at once in the default OSD port range (6800-7300) reached each other's
# daemons ("wrong fsid"), so each has its own range and starts are taken one at a time.
# Packages: ceph-mon ceph-osd radosgw ceph-common (scripts/install-deps.sh).
set -euo pipefail

cmd=${1:?usage: ceph-rgw.sh start DIR MON_PORT RGW_PORT | stop DIR}
dir=$(realpath -m "${2:?DIR}")
conf="$dir/ceph.conf"

stop() {
  for f in "$dir"/run/*.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
}

case "$cmd" in
  stop)
    stop
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: ceph-rgw.sh start DIR MON_PORT RGW_PORT | stop DIR" >&2
    exit 2
    ;;
esac

mon_port=${3:?MON_PORT}
rgw_port=${4:?RGW_PORT}
fsid=$(cat /proc/sys/kernel/random/uuid)
access_key="KVTIERTEST$(head -c 5 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
secret_key=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')
mkdir -p "$dir"/{mon,osd,run,log}

cat > "$conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind msgr2 = false
ms bind port min = $((mon_port + 1))
ms bind port max = $((mon_port + 40))
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 4294967296
paxos propose interval = 0.01
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
run dir = $dir/run
admin socket = $dir/run/\$cluster-\$name.asok
log file = $dir/log/\$cluster-\$name.log
pid file = $dir/run/\$name.pid
keyring = /dev/null
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = localhost
rgw thread pool size = 64
EOF

fail() {
  echo "ceph-rgw.sh: $1" >&2
  tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true
  stop
  exit 1
}

# One cluster starting at a time on this machine (ctest runs tests in parallel).
exec 9>/tmp/kvtier-ceph-rgw-start.lock
flock -w 120 9 || fail "another cluster's start held the lock for 120 s"

monmaptool --create --add a "v1:127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" >/dev/null ||
  fail "monmaptool failed"
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null 2>&1 || fail "ceph-mon --mkfs failed"
# Daemons get no stdio of ours (a caller reading our output until EOF must not wait for them)
# and not the start lock (fd 9), which would stay held as long as they run.
ceph-mon -c "$conf" -i a </dev/null >/dev/null 2>&1 9>&- || fail "ceph-mon did not start"
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(timeout 30 ceph -c "$conf" osd new "$osd_uuid" </dev/null 2>/dev/null) || fail "ceph osd new failed"
mkdir -p "$dir/osd/ceph-$osd_id"
ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1 || fail "ceph-osd --mkfs failed"
# Now and then (more often with other clusters busy) the OSD's first command reaches the monitor
# before its client knows the cluster's fsid ("handle_command on fsid 0000...") and the OSD exits
# at start: it is started again.
osd_up=0
for _ in 1 2 3 4 5; do
  if ceph-osd -c "$conf" -i "$osd_id" </dev/null >/dev/null 2>&1 9>&-; then
    osd_up=1
    break
  fi
  sleep 0.5
done
[ "$osd_up" = 1 ] || fail "ceph-osd did not start"
radosgw -c "$conf" -n client.rgw </dev/null >/dev/null 2>&1 9>&- || fail "radosgw did not start"
user_made=0
for _ in 1 2 3; do
  if timeout 60 radosgw-admin -c "$conf" -n client.rgw user create --uid=kvtier --display-name=kvtier \
      --access-key="$access_key" --secret="$secret_key" >/dev/null 2>&1 9>&-; then
    user_made=1
    break
  fi
  sleep 1
done
[ "$user_made" = 1 ] || fail "radosgw-admin user create failed"

# Ready when radosgw answers an S3 request (an anonymous listing answers 200 once it serves).
for _ in $(seq 1 600); do
  if curl -s -o /dev/null -m 2 "http://127.0.0.1:$rgw_port/"; then
    echo "http://127.0.0.1:$rgw_port $access_key $secret_key"
    exit 0
  fi
  sleep 0.1
done
fail "radosgw did not answer on 127.0.0.1:$rgw_port within 60 s"
