#!/usr/bin/env bash
# Time to first token of llama.cpp with a 2,048-token prefix (i) recomputed, (ii) kept in the
# context by llama.cpp's own in-process prompt reuse, (iii) restored from kvtierd over shared
# memory by a fresh process (the case kvtier exists for: another worker, or a restart, computed
# it), (iv) restored from kvtierd in a warm process (context already used, as a serving worker's
# is). Each prompt is the shared prefix plus 64 tokens of its own; the model is the random-weight
# "small" preset (8 layers, 4 KV heads x 64, f16 KV: 8 KiB per token, 2 MiB per 256-token chunk).
#
# One llama.cpp thread by default (LLAMA_THREADS=N for more): on a shared 2-core machine two
# threads spin-wait on each other whenever one is descheduled, and a run then takes 10x longer.
#
# usage: scripts/llama-bench.sh BUILD_DIR KVTIER_LLAMA MODEL [RUNS=4]
set -euo pipefail
BUILD_DIR=$1 BIN=$2 MODEL=$3 RUNS=${4:-4}
KVTIER="$BUILD_DIR/kvtier"
WORK=$(mktemp -d /tmp/kvtier-llama-bench-XXXXXX)
KV_PID=
cleanup() { [ -n "$KV_PID" ] && kill "$KV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
printf '[dram]\ncapacity_bytes = "1GiB"\n[nvme]\ndefault_file_bytes = "512MiB"\n' >"$WORK/kv.toml"
"$KVTIER" serve --config "$WORK/kv.toml" --data-dir "$WORK/kv" --metrics-listen off --log-level warn 2>"$WORK/kvtierd.log" &
KV_PID=$!
for _ in $(seq 100); do [ -s "$WORK/kv/kvtierd.ready" ] && break; sleep 0.1; done
ADDR="unix:$(sed -n 's/^unix=//p' "$WORK/kv/kvtierd.ready")"
COMMON=(--model "$MODEL" --shared-seed 7 --shared-tokens 2048 --tokens 64 --chunk-tokens 256 --n-predict 4 --threads "${LLAMA_THREADS:-1}")

echo "== llama.cpp prefix KV: recompute vs in-process reuse vs kvtier restore, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "   $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), model $(basename "$MODEL"), ${LLAMA_THREADS:-1} llama.cpp thread(s)"
timeout 600 "$BIN" "${COMMON[@]}" --seed 100 --vary-suffix --repeat "$RUNS" --no-cache >"$WORK/recompute.jsonl"
timeout 600 "$BIN" "${COMMON[@]}" --seed 100 --vary-suffix --repeat "$RUNS" --no-cache --reuse-in-process >"$WORK/reuse.jsonl"
timeout 600 "$BIN" "${COMMON[@]}" --seed 100 --address "$ADDR" >"$WORK/kvtier-fill.jsonl"
timeout 600 "$BIN" "${COMMON[@]}" --shared-seed 8 --seed 200 --vary-suffix --repeat $((RUNS + 1)) --address "$ADDR" >"$WORK/kvtier-warm.jsonl"
: >"$WORK/kvtier.jsonl"
for r in $(seq 1 "$RUNS"); do
  timeout 600 "$BIN" "${COMMON[@]}" --seed $((100 + r)) --address "$ADDR" >>"$WORK/kvtier.jsonl"
done
/usr/bin/python3 - "$WORK" <<'PY'
import json, statistics, sys
w = sys.argv[1]
def runs(name):
    return [json.loads(l) for l in open(f"{w}/{name}.jsonl") if l.strip()]
rec = runs("recompute")
reuse = [r for r in runs("reuse") if r["reused_tokens"] > 0]
kv = runs("kvtier")
fill = runs("kvtier-fill")[0]
warm = runs("kvtier-warm")[1:]
med = lambda rs, k: statistics.median(r[k] for r in rs)
print("recompute (2,112 tokens)          ttft median %8.1f ms  (%s)" % (med(rec, "ttft_ms"), ", ".join("%.1f" % r["ttft_ms"] for r in rec)))
print("llama.cpp in-process reuse        ttft median %8.1f ms  reused %d tokens, computed %d" % (med(reuse, "ttft_ms"), reuse[0]["reused_tokens"], reuse[0]["computed_tokens"]))
print("kvtier restore, fresh process     ttft median %8.1f ms  restored %d tokens, computed %d; restore %.1f ms, %.1f MiB at %.2f GB/s" % (
    med(kv, "ttft_ms"), kv[0]["restored_tokens"], kv[0]["computed_tokens"], med(kv, "restore_ms"),
    kv[0]["bytes_loaded"] / 2**20, med(kv, "load_gb_s")))
print("kvtier restore, warm process      ttft median %8.1f ms  restored %d tokens, computed %d; restore %.1f ms at %.2f GB/s" % (
    med(warm, "ttft_ms"), warm[0]["restored_tokens"], warm[0]["computed_tokens"], med(warm, "restore_ms"), med(warm, "load_gb_s")))
print("first fill stored %d chunks (ttft %.1f ms)" % (fill["stored_chunks_total"], fill["ttft_ms"]))
print("SUMMARY llama_prefix recompute_ms=%.1f reuse_ms=%.1f kvtier_ms=%.1f kvtier_warm_ms=%.1f speedup_vs_recompute=%.1f kvtier_vs_reuse=%.2f restore_ms=%.1f load_gb_s=%.2f bytes=%d" % (
    med(rec, "ttft_ms"), med(reuse, "ttft_ms"), med(kv, "ttft_ms"), med(warm, "ttft_ms"), med(rec, "ttft_ms") / med(kv, "ttft_ms"),
    med(kv, "ttft_ms") / med(reuse, "ttft_ms"), med(kv, "restore_ms"), med(kv, "load_gb_s"), kv[0]["bytes_loaded"]))
bad = [r for r in kv + warm if r["restored_tokens"] != 2048]
if bad:
    print("error: a kvtier run restored %d tokens, expected 2048 (%s)" % (bad[0]["restored_tokens"], bad[0]["fallback"]))
    sys.exit(1)
PY
