#!/usr/bin/env bash
# Same-minute A/B of two ladle-server binaries on the submit path: alternates
# `ladle-loadbench --server BIN --submit_only --rounds 3 --seconds 2` between them
# PAIRS times and prints, per run and binary, each round's
# submits/s : server CPU µs per submit : clients' CPU µs per submit : ratio to raw gRPC,
# the raw gRPC rounds (QPS : echo server CPU µs per call) and the group commit size; then the
# median ratio, server CPU and rate of each binary over all its rounds. This VM's speed drifts
# within minutes, so only alternating runs compare two binaries fairly.
#
#   ./bench/ab_submit.sh OLD_SERVER NEW_SERVER [PAIRS]     # PAIRS: default 4 (~20 s each run)
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1
new=$2
pairs=${3:-4}
bench=${LADLE_BUILD_DIR:-build}/bin/ladle-loadbench
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for i in $(seq 1 "$pairs"); do
  for label in A B; do
    server=$old
    [ "$label" = B ] && server=$new
    out=$("$bench" --server "$server" --submit_only --rounds 3 --seconds 2 2>&1)
    rounds=$(echo "$out" | sed -n 's/^submit round [0-9]*: \([0-9]*\)\/s (CPU per submit: server \([0-9]*\) us, clients \([0-9]*\) us) = \([0-9.]*\).*/\1:\2:\3:\4/p' | tr '\n' ' ')
    raw=$(echo "$out" | sed -n 's/^baseline: raw gRPC unary \([0-9]*\) QPS.*server \([0-9]*\) us.*/\1:\2/p' | tr '\n' ' ')
    group=$(echo "$out" | grep -o '[0-9.]* per transaction' || true)
    echo "$label submit $rounds| raw $raw| $group" | tee -a "$log"
  done
done
for label in A B; do
  grep "^$label " "$log" | sed 's/|.*//' | tr ' ' '\n' | grep ':' | awk -F: -v l="$label" '
    { r[NR] = $4; s[NR] = $2; q[NR] = $1 }
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { n = NR; low = 0; for (i = 1; i <= n; i++) if (r[i] >= 0.5) low++
          printf "%s: %d rounds, median ratio %.3f, %d%% of rounds >= 0.5, median server CPU %d us per submit, median %d submits/s\n",
                 l, n, median(r, n), 100 * low / n, median(s, n), median(q, n) }'
done
