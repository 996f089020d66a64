#!/usr/bin/env bash
# kvtierd over TLS 1.3 next to plaintext TCP (issue 25): two daemons on loopback, one with a
# certificate (made here with openssl, a throwaway CA), the same daemon_bench --mode tcp run
# against each (4 threads, 1 MiB values, a DRAM-sized working set, put then get), one after the
# other so they do not share the two cores. Prints both RESULT lines and the TLS/plaintext ratio
# per direction.
#
#   bench/tls_vs_plaintext.sh [build-dir]     (default build)
set -euo pipefail
BUILD=${1:-build}
KVTIER="$BUILD/kvtier"
BENCH="$BUILD/daemon_bench"
WORK=$(mktemp -d /tmp/kvtier-tls-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=kvtier bench CA" \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kvtierd" \
  -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$WORK/san.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 1 -extfile "$WORK/san.ext" -out "$WORK/server.pem" 2>/dev/null

start() {  # start NAME EXTRA-CONFIG: sets ADDR (the TCP address) and PID
  local dir="$WORK/$1"
  mkdir -m 700 "$dir"
  printf '[dram]\ncapacity_bytes = "2GiB"\n[nvme]\ndefault_file_bytes = 0\n[server]\n%b' "$2" > "$WORK/$1.toml"
  "$KVTIER" serve --config "$WORK/$1.toml" --data-dir "$dir" --tcp-listen 127.0.0.1:0 \
    --metrics-listen off --log-level warn >/dev/null 2>"$WORK/$1.log" &
  PID=$!
  for _ in $(seq 300); do [ -s "$dir/kvtierd.ready" ] && break; sleep 0.1; done
  ADDR=$(sed -n 's/^tcp=//p' "$dir/kvtierd.ready")
}
run() {  # run LABEL ADDRESS DIR [extra bench flags]
  local label=$1 address=$2 dir=$3; shift 3
  "$BENCH" --mode tcp --address "$address" --token-file "$dir/auth-token" --threads 4 \
    --value-bytes 1M --working-set-bytes 1G --rounds 3 --passes 2 --label "$label" "$@" | grep '^RESULT'
}

start plain ""
run plaintext "tcp:$ADDR" "$WORK/plain" | tee "$WORK/plain.out"
kill "$PID"; wait "$PID" 2>/dev/null || true
start tls "tls_cert_file = \"$WORK/server.pem\"\ntls_key_file = \"$WORK/server.key\"\n"
run tls "tls:$ADDR" "$WORK/tls" --tls-ca-file "$WORK/ca.pem" | tee "$WORK/tls.out"
kill "$PID"; wait "$PID" 2>/dev/null || true

ratio() {  # ratio put|get: the TLS GB/s over the plaintext one
  local p t
  p=$(grep "^RESULT daemon_$1 " "$WORK/plain.out" | grep -o 'gb_s=[0-9.]*' | cut -d= -f2)
  t=$(grep "^RESULT daemon_$1 " "$WORK/tls.out" | grep -o 'gb_s=[0-9.]*' | cut -d= -f2)
  awk -v p="$p" -v t="$t" -v k="$1" 'BEGIN { if (p > 0) printf "RATIO tls/plaintext %s=%.2f\n", k, t / p }'
}
ratio put
ratio get
