#!/usr/bin/env bash
# Runs bench/run-all.sh (or another script of bench/ that ends with the same kind of summary
# table, such as daemon_vs_redis.sh) against two builds in alternation (before, after, before,
# after, ...) and prints, per row of its summary, the median of each build and after / before.
# Alternating pairs in one sitting is how a change is shown not to be slower on a shared machine
# whose speed drifts within minutes (docs/BENCHMARKS.md, "Running them").
#
# usage: bench/compare_builds.sh BEFORE_BUILD AFTER_BUILD [--pairs N] [--out DIR] [--script S]
#                                [the script's options]
#   --pairs N   alternated pairs (default 6)
#   --out DIR   where each run's output is kept (default: a new directory under /tmp)
#   --report    only print the medians of the runs already in --out DIR
#   --script S  the script of bench/ to run (default run-all.sh; daemon_vs_redis.sh works too)
#   other options go to the script (run-all.sh: --quick, --no-hugepages, --dir D)
# Both builds are driven by this tree's script, so the harness is the same for both.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '/^# usage:/,/^# Both/p' "$0" >&2
  exit 2
fi
BEFORE=$1
AFTER=$2
shift 2
PAIRS=6
OUT=""
REPORT_ONLY=0
SCRIPT=run-all.sh
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --report) REPORT_ONLY=1; shift ;;
    --script) SCRIPT=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/kvtier-compare.XXXXXX)
mkdir -p "$OUT"
echo "== $PAIRS alternated pairs: before = $BEFORE, after = $AFTER; runs in $OUT"
for ((i = 1; i <= PAIRS && !REPORT_ONLY; i++)); do
  for side in before after; do
    build=$BEFORE
    [ "$side" = after ] && build=$AFTER
    echo "-- pair $i, $side ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"
    "$HERE/$SCRIPT" "$build" "${ARGS[@]}" > "$OUT/$i-$side.log" 2>&1 ||
      echo "   $SCRIPT exited non-zero: see $OUT/$i-$side.log"
  done
done

/usr/bin/python3 - "$OUT" "$PAIRS" <<'EOF'
import re, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])

def summary(path):
    """{row label: (kvtier value, ratio to the run's own ceiling or None)} of one run."""
    rows, inside = {}, False
    for line in open(path, errors="replace"):
        if line.startswith("== summary"):
            inside = True
            continue
        if not inside or line.startswith("benchmark") or not line.strip():
            continue
        cols = re.split(r"\s{2,}", line.strip())
        if len(cols) < 5:
            continue
        value = re.search(r"[-\d.]+", cols[1])
        ratio = re.match(r"([\d.]+)(%|x)", cols[3])
        if value:
            rows[cols[0]] = (float(value.group()),
                             float(ratio.group(1)) if ratio else None)
    return rows

runs = {side: [summary("%s/%d-%s.log" % (out, i, side)) for i in range(1, pairs + 1)]
        for side in ("before", "after")}
labels = [l for l in runs["after"][0] if all(l in r for s in runs.values() for r in s)]
print("\n== medians over %d pairs (value: the kvtier column; ratio: to the same run's ceiling)" % pairs)
print("%-70s %12s %12s %8s %9s %9s" % ("benchmark", "before", "after", "a/b", "ratio b", "ratio a"))
for l in labels:
    b = statistics.median(r[l][0] for r in runs["before"])
    a = statistics.median(r[l][0] for r in runs["after"])
    rb = [r[l][1] for r in runs["before"] if r[l][1] is not None]
    ra = [r[l][1] for r in runs["after"] if r[l][1] is not None]
    fmt = lambda v: "%.3g" % statistics.median(v) if v else "-"
    print("%-70s %12.4g %12.4g %8.3f %9s %9s" % (l[:70], b, a, a / b if b else float("nan"), fmt(rb), fmt(ra)))
EOF
