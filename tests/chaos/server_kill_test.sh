#!/usr/bin/env bash
# Chaos: kill -9 the coordinator at random moments while a sweep of tiny jobs runs on two
# workers; restart it each time on the same data dir. At the end every job succeeded exactly
# once, no attempt was recorded twice, and the SQLite file passes PRAGMA integrity_check.
# Usage: server_kill_test.sh BIN_DIR [JOBS] [KILLS] [SEED]
#   CI (ctest): 60 jobs, 10 kills. On demand: e.g. 200 jobs, 20 kills.
set -uo pipefail
bin="$1"; jobs="${2:-60}"; kills="${3:-10}"; seed="${4:-$RANDOM}"
source "$(dirname "$0")/../e2e/lib.sh"
echo "chaos: $jobs jobs, $kills coordinator kills, seed $seed"
RANDOM=$seed
port=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
start_server() {
  "$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
    --heartbeat_ms=500 --metrics_listen="127.0.0.1:$(free_port)" >> "$work/server.log" 2>&1 &
  server_pid=$!; disown $server_pid; pids+=($server_pid)
  for _ in $(seq 1 100); do "$bin/ladle" list > /dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server did not come back"; tail -20 "$work/server.log"; exit 1
}
start_server
for w in w1 w2; do
  "$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/$w" --cpu_slots=1 \
    --name=$w > "$work/$w.log" 2>&1 &
  pids+=($!); disown $!
done
two() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "two workers registered" wait_for 15 two
seeds=$(seq -s, 1 "$jobs")
cat > "$work/sweep.yaml" <<YAML
name: chaos-sweep
trial: {model: {type: mlp, hidden: [8]}, data: {dataset: csbm, nodes: 200}, train: {epochs: 1}}
sweep: {grid: {train.seed: [$seeds]}}
resources: {cpu_slots: 1}
max_retries: 5
YAML
exp=$("$bin/ladle" submit "$work/sweep.yaml" 2> /dev/null)
check "sweep accepted" test -n "$exp"
for k in $(seq 1 "$kills"); do
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$server_pid" 2> /dev/null
  start_server
done
timeout 180 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "the sweep finished successfully after $kills kills" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/results.json"
check "every job succeeded exactly once; no attempt recorded twice" python3 - "$work/results.json" "$jobs" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
jobs = d["jobs"]
assert len(jobs) == int(sys.argv[2]), len(jobs)
seen = set()
retried = 0
for j in jobs:
    assert j["state"] == "succeeded", (j["id"], j["state"], j["reason"])
    ok = [a for a in j["attempt_log"] if a["outcome"] == "succeeded"]
    assert len(ok) == 1, (j["id"], j["attempt_log"])
    for a in j["attempt_log"]:
        assert a["id"] not in seen, ("attempt recorded twice", a)
        seen.add(a["id"])
    retried += len(j["attempt_log"]) > 1
print(f"{len(jobs)} jobs, {len(seen)} attempts, {retried} jobs retried")
PY
kill -9 "$server_pid" 2> /dev/null; sleep 0.2
check "PRAGMA integrity_check is ok" python3 -c "
import sqlite3, sys
r = sqlite3.connect('$work/data/ladle.db').execute('PRAGMA integrity_check').fetchone()[0]
print('integrity_check:', r); sys.exit(0 if r == 'ok' else 1)"
if [ $fail -ne 0 ]; then tail -30 "$work/server.log"; fi
exit $fail
