#!/usr/bin/env bash
# Chaos: the coordinator unreachable for longer than a lease (3 s) while a job runs.
#  1. ladle-server frozen with SIGSTOP for 6 s, then SIGCONT: the worker's heartbeats could not
#     arrive, which is not the worker's fault; the job continues under its first attempt.
#  2. ladle-server killed (-9) and restarted 6 s later: the worker keeps its child running,
#     reconnects, lists it, and the attempt continues; again one attempt, succeeded once.
# Usage: coordinator_away_test.sh BIN_DIR
set -uo pipefail
bin="$1"
source "$(dirname "$0")/../e2e/lib.sh"
port=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
start_server() {
  "$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
    --heartbeat_ms=500 --metrics_listen="127.0.0.1:$(free_port)" >> "$work/server.log" 2>&1 &
  server_pid=$!; disown $server_pid; pids+=($server_pid)
  for _ in $(seq 1 100); do "$bin/ladle" list > /dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server did not start"; exit 1
}
start_server
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=1 \
  --name=w > "$work/w.log" 2>&1 &
pids+=($!); disown $!
one() { "$bin/ladle" workers 2> /dev/null | grep -q alive; }
check "worker registered" wait_for 15 one
cat > "$work/long.yaml" <<'YAML'
name: away
trial: {model: {type: mlp, hidden: [1024, 1024]}, train: {epochs: 2, log_every: 50}}
resources: {cpu_slots: 1}
max_retries: 2
YAML
one_attempt() {  # one_attempt EXP: succeeded with exactly one attempt
  "$bin/ladle" results "$1" --format json | python3 -c "
import json, sys
j = json.load(sys.stdin)['jobs'][0]
log = j['attempt_log']
ok = j['state'] == 'succeeded' and len(log) == 1 and log[0]['outcome'] == 'succeeded'
print('attempts:', [(a['id'], a['outcome']) for a in log])
sys.exit(0 if ok else 1)"
}
running() { compgen -G "$work/w/attempts/*/spec.json" > /dev/null; }

# 1. Frozen coordinator.
exp=$("$bin/ladle" submit "$work/long.yaml" 2> /dev/null)
check "job 1 started" wait_for 15 running
sleep 1
kill -STOP "$server_pid"; sleep 6; kill -CONT "$server_pid"
timeout 180 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "frozen 6 s: the job succeeded under its first attempt" one_attempt "$exp"

# 2. Dead coordinator, restarted after more than a lease.
rm -rf "$work/w/attempts"
exp=$("$bin/ladle" submit "$work/long.yaml" 2> /dev/null)
check "job 2 started" wait_for 15 running
sleep 1
kill -9 "$server_pid"; sleep 6; start_server
timeout 180 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "down 6 s: the job succeeded under its first attempt" one_attempt "$exp"
check "the worker reconnected and listed its running attempt" grep -q "reconnect\|session open" "$work/w.log"
if [ $fail -ne 0 ]; then tail -20 "$work/server.log"; tail -10 "$work/w.log"; fi
exit $fail
