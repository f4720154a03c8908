#!/bin/sh
# A plain shell program (awk does the arithmetic; no Python): estimates pi by Monte Carlo
# from N thousand random points with a given seed. Speaks Ladle's protocol through the
# environment alone: a metrics line per thousand points, a summary, an output file.
# By hand (outside Ladle) it writes the same files under ./ladle-out/.
#   usage: estimate_pi.sh THOUSANDS SEED
set -eu
thousands="$1"
seed="$2"
out="${LADLE_OUTPUT_DIR:-ladle-out/outputs}"
metrics="${LADLE_METRICS_FILE:-ladle-out/metrics.jsonl}"
summary="${LADLE_SUMMARY_FILE:-ladle-out/summary.json}"
mkdir -p "$out" "$(dirname "$metrics")" "$(dirname "$summary")"
awk -v n="$thousands" -v seed="$seed" -v metrics="$metrics" -v summary="$summary" \
    -v hist="$out/hits_per_thousand.txt" '
function abs(v) { return v < 0 ? -v : v }
BEGIN {
  pi = atan2(0, -1); srand(seed); inside = 0
  for (k = 1; k <= n; k++) {
    hits = 0
    for (i = 0; i < 1000; i++) { x = rand(); y = rand(); if (x * x + y * y <= 1) hits++ }
    inside += hits
    est = 4 * inside / (k * 1000)
    printf "{\"step\": %d, \"pi_estimate\": %.6f, \"abs_error\": %.6f}\n", k, est, abs(est - pi) >> metrics
    fflush(metrics)
    print hits > hist
  }
  printf "{\"pi_estimate\": %.6f, \"abs_error\": %.6f, \"points\": %d}\n", est, abs(est - pi), n * 1000 > summary
  printf "pi ~ %.6f from %d points (seed %d)\n", est, n * 1000, seed
}'
