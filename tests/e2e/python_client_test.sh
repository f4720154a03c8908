#!/usr/bin/env bash
# The Python example drives a real ladle-server and worker through the generated stubs. It is
# started a second before the coordinator, so its submit has to wait for it.
# Usage: python_client_test.sh BIN_DIR PYTHON_STUBS_DIR EXAMPLE_SCRIPT
set -uo pipefail
bin="$1" stubs="$2" example="$3"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done; pkill -9 -f "$work/" 2> /dev/null; rm -rf "$work"' EXIT
free_port() { python3 "$(dirname "$0")/free_port.py"; }
port=$(free_port)
cat > "$work/spec.yaml" <<'YAML'
name: python-client
trial: {model: {hidden: [32]}, data: {limit: 2000}, train: {epochs: 1}}
sweep: {grid: {train.seed: [1, 2]}}
YAML
timeout 120 /usr/bin/python3 "$example" --stubs "$stubs" --addr "127.0.0.1:$port" "$work/spec.yaml" \
  > "$work/out.txt" &
client=$!
sleep 1
"$bin/ladle-server" --listen="127.0.0.1:$port" --data_dir="$work/data" --metrics_listen="127.0.0.1:$(free_port)" \
  > "$work/server.log" 2>&1 &
pids+=($!)
disown
"$bin/ladle-worker" --coordinator="127.0.0.1:$port" --work_dir="$work/w" --cpu_slots=2 > "$work/worker.log" 2>&1 &
pids+=($!)
disown
wait $client
rc=$?
cat "$work/out.txt"
if [ "$rc" -eq 0 ] && grep -q "EXPERIMENT_STATE_SUCCEEDED" "$work/out.txt" && grep -q "model.safetensors" "$work/out.txt" &&
   grep -Eq "attempt 1: val_accuracy [1-9][0-9]* points, last 0\.[0-9]+ at step" "$work/out.txt"; then
  echo "python client e2e: passed"
  exit 0
fi
echo "python client e2e: FAILED (rc=$rc)"; tail -5 "$work/server.log"
exit 1
