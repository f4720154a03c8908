#!/usr/bin/env bash
# End-to-end checks of the ladle-train binary as a worker runs it: exit codes, error messages,
# SIGTERM -> checkpoint + exit 3, and --resume finishing the run.
# Usage: ladle_train_cli_test.sh PATH/TO/ladle-train
set -uo pipefail
bin="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() {  # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}

# 1. A bad spec exits 2 and names the key.
printf 'model: {type: mlp, hidden: [256]}\ntrain: {optimizer: {lr: -1}}\n' > "$work/bad.yaml"
"$bin" --spec "$work/bad.yaml" --out "$work/bad" 2> "$work/bad.err"
code=$?
check "bad spec exits 2" test "$code" -eq 2
check "bad spec names the key" grep -q "train.optimizer.lr" "$work/bad.err"
check "bad spec writes nothing" test ! -e "$work/bad"

# 2. Unknown flag exits 2; missing spec file exits 2.
"$bin" --spec "$work/bad.yaml" --bogus > /dev/null 2>&1
check "unknown flag exits 2" test $? -eq 2
"$bin" --spec "$work/nope.yaml" --out "$work/x" 2> "$work/nope.err"
check "missing spec exits 2" test $? -eq 2
check "missing spec is named" grep -q "nope.yaml" "$work/nope.err"

# 3. --check prints the resolved spec.
printf 'model: {type: mlp, hidden: [32]}\ndata: {limit: 2000}\ntrain: {epochs: 40, batch_size: 50, log_every: 5}\nthreads: 1\n' > "$work/ok.yaml"
"$bin" --spec "$work/ok.yaml" --check > "$work/resolved.json"
check "--check exits 0" test $? -eq 0
check "--check fills defaults" grep -q '"weight_decay"' "$work/resolved.json"

# 4. device: cuda without a GPU: exit 2 with a message that names the fallback.
if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi > /dev/null 2>&1; then
  "$bin" --spec "$work/ok.yaml" --out "$work/cuda" --device cuda 2> "$work/cuda.err"
  check "cuda without gpu exits 2" test $? -eq 2
  check "cuda without gpu explains" grep -q "device: cpu" "$work/cuda.err"
fi

# 5. SIGTERM mid-run: checkpoint, exit 3; --resume completes. The run is long enough (2000
# steps of a 784-512-512-10 MLP, several seconds) that the signal lands well before the end.
printf 'model: {type: mlp, hidden: [512, 512]}\ndata: {limit: 10000}\ntrain: {epochs: 100, max_steps: 2000, batch_size: 200, log_every: 5}\nthreads: 1\n' > "$work/long.yaml"
"$bin" --spec "$work/long.yaml" --out "$work/run" --quiet > /dev/null 2> "$work/run.err" &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$work/run/metrics.jsonl" ] && break
  sleep 0.05
done
sleep 0.5  # a few epochs in, GEMMs running: the case that once corrupted the heap
kill -TERM "$pid"
wait "$pid"
code=$?
check "SIGTERM exits 3" test "$code" -eq 3
check "SIGTERM leaves a checkpoint" test -s "$work/run/checkpoint.safetensors"
"$bin" --spec "$work/long.yaml" --out "$work/run" --quiet --resume "$work/run/checkpoint.safetensors" > "$work/summary.json"
check "resume exits 0" test $? -eq 0
check "resume reports its start" python3 -c "
import json,sys; s=json.load(open('$work/summary.json'))
sys.exit(0 if 0 < s['resumed_from_step'] < 2000 and s['steps'] == 2000 and s['test_accuracy'] > 0.8 else 1)"

if [ "$fail" -ne 0 ]; then echo "ladle-train e2e: FAILED"; exit 1; fi
echo "ladle-train e2e: all checks passed"
