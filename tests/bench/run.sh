#!/usr/bin/env bash
# The benchmarks behind `./appliance bench`: tests/bench/run.sh BUILD_DIR [--quick]
# (BUILD_DIR configured with -DROUTER_BUILD_BENCH=ON and built). Runs, in order:
#   1. transcode_bench  transcoder MB/s per syntax vs raw CharLS, GDCM's J2K codec, dcmtk CLIs;
#                       then 300 CTs to JPEG-LS through the worker processes vs in process
#   2. rules_bench      RuleEngine::route() p50/p99 on tests/bench/rules20 vs a one-line rule
#   3. e2e_bench.py     300 CTs through Orthanc (+plugin) to two storescp peers vs bare Orthanc
#   4. queue_bench      jobs/s through the queue, SQLite vs PostgreSQL (a server it starts), one node
#   5. cluster_bench.py 300 CTs end to end: one node on SQLite, one on PostgreSQL (queue; queue + index),
#                       two nodes on one PostgreSQL, vs bare Orthanc (a PostgreSQL server it starts)
# then prints the short summary again. About 8-11 minutes on 2 cores; --quick
# cuts the repetitions (for a smoke run). Timings are printed, never asserted:
# the exit status is non-zero only when a benchmark could not run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${1:?usage: tests/bench/run.sh BUILD_DIR [--quick]}"
BUILD="$(cd "$BUILD" && pwd)"
QUICK="${2:-}"
OUT="$(mktemp -d /tmp/router-bench-XXXXXX)"
trap 'rm -rf "$OUT"' EXIT

min_time=0.5 cli_runs=10 evaluations=20000 count=300 repeat=2 pool_rounds=5 pool_slices=300 queue_jobs=3000 cluster_count=300 cluster_repeat=2
if [ "$QUICK" = "--quick" ]; then
  min_time=0.05 cli_runs=2 evaluations=4000 count=40 repeat=1 pool_rounds=1 pool_slices=40 queue_jobs=300 cluster_count=40 cluster_repeat=1
fi

section() { printf '\n######## %s ########\n' "$*"; }

status=0
section "1/5 transcoder (tests/bench/transcode_bench.cpp)"
"$BUILD/tests/bench/transcode_bench" --benchmark_min_time="$min_time" --cli-runs "$cli_runs" \
  --pool-rounds "$pool_rounds" --pool-slices "$pool_slices" | tee "$OUT/transcode.txt" || status=1

section "2/5 rules (tests/bench/rules_bench.cpp, tests/bench/rules20/)"
"$BUILD/tests/bench/rules_bench" --evaluations "$evaluations" | tee "$OUT/rules.txt" || status=1

section "3/5 end to end (tests/bench/e2e_bench.py)"
/usr/bin/python3 "$HERE/e2e_bench.py" "$BUILD" --count "$count" --repeat "$repeat" | tee "$OUT/e2e.txt" || status=1

section "4/5 queue (tests/bench/queue_bench.cpp)"
"$BUILD/tests/bench/queue_bench" --jobs "$queue_jobs" | tee "$OUT/queue.txt" || status=1

section "5/5 cluster end to end (tests/bench/cluster_bench.py)"
/usr/bin/python3 "$HERE/cluster_bench.py" "$BUILD" --count "$cluster_count" --repeat "$cluster_repeat" \
  | tee "$OUT/cluster.txt" || status=1

section "summary"
# The JPEG-LS comparison and tables of each part, without Google Benchmark's raw rows.
awk '/^-- image:/ {show=1} /^  JPEG-LS:/ {show=1} /command-line tools/ {show=0}
     /^==== transcoder workers/ {show=1} show' "$OUT/transcode.txt" \
  | grep -v '^\s*$' || true
grep -E '^(1-line|rules20|CPU loop|readInstanceView|ratio|p99 of)' "$OUT/rules.txt" || true
sed -n '/^==== end-to-end/,$p' "$OUT/e2e.txt" || true
cat "$OUT/queue.txt" || true
sed -n '/^==== cluster end to end/,$p' "$OUT/cluster.txt" || true
exit "$status"
