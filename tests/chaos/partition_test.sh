#!/usr/bin/env bash
# Chaos: a partitioned worker. The worker running a job is SIGSTOPped past its lease: the
# coordinator declares the attempt lost and retries it on the other worker. On SIGCONT the
# stale worker comes back: its session is ended, it reconnects, is told its attempt was
# superseded and stops that child; it serves again (alive in `ladle workers`). The job ends
# succeeded exactly once.
# Usage: partition_test.sh BIN_DIR
set -uo pipefail
bin="$1"
source "$(dirname "$0")/../e2e/lib.sh"
port=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
  --heartbeat_ms=500 --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
declare -A wpid
for w in w1 w2; do
  "$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/$w" --cpu_slots=1 \
    --name=$w > "$work/$w.log" 2>&1 &
  wpid[$w]=$!; pids+=($!); disown $!
done
two() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "two workers registered" wait_for 15 two
cat > "$work/long.yaml" <<'YAML'
name: partition
trial: {model: {type: mlp, hidden: [1024, 1024]}, train: {epochs: 2, log_every: 50}}
resources: {cpu_slots: 1}
max_retries: 2
YAML
exp=$("$bin/ladle" submit "$work/long.yaml" 2> /dev/null)
started() { compgen -G "$work/w*/attempts/*/spec.json" > /dev/null; }
check "the job started" wait_for 15 started
victim=$(ls -d "$work"/w*/attempts/* | head -1 | sed -E 's|.*/(w[12])/attempts/.*|\1|')
first_attempt=$(basename "$(ls -d "$work/$victim"/attempts/* | head -1)")
other=w1; [ "$victim" = w1 ] && other=w2
sleep 1
kill -STOP "${wpid[$victim]}"
retried() { ls -d "$work/$other"/attempts/* > /dev/null 2>&1; }
check "after the lease the job is retried on $other" wait_for 20 retried
kill -CONT "${wpid[$victim]}"
stale_gone() { ! pgrep -f "[a]ttempts/$first_attempt/spec.json" > /dev/null; }
check "the stale attempt's child is stopped after SIGCONT" wait_for 15 stale_gone
check "the stale worker is told to reconnect" wait_for 10 grep -q "is back after its lease expired" "$work/server.log"
check "and is alive again" wait_for 15 two
timeout 180 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "the job succeeded" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/results.json"
check "exactly one succeeded attempt, the first one lost" python3 - "$work/results.json" "$first_attempt" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
log = job["attempt_log"]
assert [a["outcome"] for a in log].count("succeeded") == 1, log
first = [a for a in log if str(a["id"]) == sys.argv[2]][0]
assert first["outcome"] == "lost", first
PY
if [ $fail -ne 0 ]; then tail -15 "$work/server.log"; tail -15 "$work/$victim.log"; fi
exit $fail
