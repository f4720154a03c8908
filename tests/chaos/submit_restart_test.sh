#!/usr/bin/env bash
# Chaos: submits across coordinator crashes.
#  1. kill -9 between commit and reply (ladle-server --testing_exit_before_reply): the CLI's
#     submit waits for the restarted coordinator, retries with the same request id and gets the
#     experiment its first try created; exactly one experiment exists.
#  2. 40 submits one after another while the coordinator is killed -9 six times and restarted:
#     every submit succeeds and exactly 40 experiments exist (none lost, none doubled).
#  3. `ladle logs -f` of a running job across a kill -9 of the coordinator: it follows again once
#     the coordinator is back, and what it printed equals the job's whole log, nothing doubled.
# Usage: submit_restart_test.sh BIN_DIR
set -uo pipefail
bin="$1"
source "$(dirname "$0")/../e2e/lib.sh"
port=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
start_server() {  # start_server [extra flags...]
  "$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" \
    --metrics_listen="127.0.0.1:$(free_port)" "$@" >> "$work/server.log" 2>&1 &
  server_pid=$!; pids+=($server_pid)
}
cat > "$work/spec.yaml" <<YAML
name: restart
trial: {model: {type: mlp, hidden: [8]}, data: {dataset: csbm, nodes: 200}, train: {epochs: 1}}
sweep: {grid: {train.seed: [1, 2, 3]}}
YAML
experiments() { "$bin/ladle" list 2> /dev/null | grep -c "^exp-"; }


# --- 1. a crash between commit and reply
start_server --testing_exit_before_reply=1
"$bin/ladle" submit "$work/spec.yaml" --wait_for_coordinator=60 > "$work/id" 2> "$work/submit.err" &
client=$!
gone() { ! kill -0 "$server_pid" 2> /dev/null; }
wait_for 60 gone || { cat "$work/submit.err"; kill -9 "$server_pid"; }
wait $server_pid; code=$?
check "the coordinator exited after the commit, before the reply (137)" test $code -eq 137
check "it had committed the experiment" grep -q "exiting after the commit of" "$work/server.log"
sleep 1  # the client is waiting for it meanwhile
start_server
wait $client; rc=$?
check "the submit succeeded after the restart" test $rc -eq 0
check "it waited for the coordinator" grep -q "waiting for it" "$work/submit.err"
n=$(experiments)
check "exactly one experiment (found $n)" test "$n" -eq 1
check "the client printed that experiment" \
  grep -q "$("$bin/ladle" list | awk '/^exp-/ {print $1}')" "$work/id"
check "with its three jobs" grep -q "with 3 jobs" "$work/submit.err"

# --- 2. 40 submits through six kill -9s
echo "$server_pid" > "$work/server.pid"
( for k in 1 2 3 4 5 6; do
    sleep "0.$((RANDOM % 6 + 3))"
    kill -9 "$(cat "$work/server.pid")" 2> /dev/null
    sleep 0.3
    "$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" \
      --metrics_listen="127.0.0.1:$(free_port)" >> "$work/server.log" 2>&1 &
    echo $! > "$work/server.pid"
  done ) &
killer=$!
failed=0
for i in $(seq 1 40); do
  "$bin/ladle" submit "$work/spec.yaml" > /dev/null 2>> "$work/loop.err" || failed=$((failed + 1))
done
wait $killer
pids+=("$(cat "$work/server.pid")")
kills=$(grep -c "recovered" "$work/server.log")
echo "40 submits, $((kills - 2)) coordinator restarts during them, $failed failed"
check "the coordinator was restarted during the submits" test "$kills" -ge 5
check "no submit failed" test $failed -eq 0
n=$(experiments)
check "exactly 41 experiments, none lost, none doubled (found $n)" test "$n" -eq 41

# --- 3. following a job's logs through a kill -9
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w1" --cpu_slots=1 \
  > "$work/w1.log" 2>&1 &
pids+=($!)
cat > "$work/slow.yaml" <<YAML
name: slow
trial:
  model: {type: mlp, hidden: [512, 512]}
  data: {dataset: fashion-mnist, limit: 6000}
  train: {epochs: 60, batch_size: 64, log_every: 20}
  threads: 1
YAML
exp=$("$bin/ladle" submit "$work/slow.yaml" 2> /dev/null)
job="$exp-0000"
logging() { [ "$("$bin/ladle" logs "$job" 2> /dev/null | wc -c)" -gt 0 ] ||
            [ "$("$bin/ladle" logs "$job" 2>&1 > /dev/null | grep -c step)" -gt 2 ]; }
check "the slow job is running and logging" wait_for 60 logging
"$bin/ladle" logs -f "$job" > "$work/follow.out" 2> "$work/follow.err" &
follower=$!
sleep 1
kill -9 "$(cat "$work/server.pid")"
sleep 1
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" \
  --metrics_listen="127.0.0.1:$(free_port)" >> "$work/server.log" 2>&1 &
pids+=($!)
ended() { ! kill -0 "$follower" 2> /dev/null; }
check "ladle logs -f ended with the job" wait_for 180 ended
check "it followed again after the restart" grep -q "following again" "$work/follow.err"
"$bin/ladle" logs "$job" > "$work/full.out" 2> "$work/full.err"
check "its stdout is the whole log, once" cmp -s "$work/follow.out" "$work/full.out"
check "its stderr is the whole log, once" \
  cmp -s <(grep -v "^ladle: " "$work/follow.err") <(grep -v "^ladle: " "$work/full.err")
check "the job's stderr was there to compare" test "$(wc -l < "$work/full.err")" -gt 10
[ $fail -eq 0 ] || { tail -20 "$work/loop.err"; tail -5 "$work/follow.err"; tail -30 "$work/server.log"; }
exit $fail
