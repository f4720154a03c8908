#!/usr/bin/env bash
# Chaos: submits across coordinator crashes.
#  1. kill -9 between commit and reply (ladle-server --testing_exit_before_reply): the CLI's
#     submit waits for the restarted coordinator, retries with the same request id and gets the
#     experiment its first try created; exactly one experiment exists.
#  2. 40 submits one after another while the coordinator is killed -9 six times and restarted:
#     every submit succeeds and exactly 40 experiments exist (none lost, none doubled).
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
[ $fail -eq 0 ] || { tail -20 "$work/loop.err"; tail -30 "$work/server.log"; }
exit $fail
