#!/usr/bin/env bash
# End-to-end: the PyTorch example (examples/pytorch) through Ladle, and resuming from a
# checkpoint after a worker is killed with -9. A real ladle-server and two ladle-workers.
#  1. the example's sweep (lr × seed, a short version): every job succeeds, `ladle results`
#     has its summary keys with test_accuracy mean ± std over the seed, model.pt downloads
#     byte-identical to the file the program wrote;
#  2. a longer trial checkpoints every epoch; once a checkpoint is uploaded the worker running
#     it is killed with -9: the retry on the other worker restores the checkpoint and resumes
#     after its epoch — its first reported step is past 0 and its summary says which epoch it
#     resumed from — and it finishes;
#  3. the worker of another such trial is drained (SIGTERM): it tells the coordinator, the
#     program sees should_stop(), exits 3 and is reported stopped before the worker leaves;
#     the job resumes elsewhere from its checkpoint without using a retry (it has none).
# Usage: command_resume_test.sh BIN_DIR EXAMPLES_DIR. Needs python3-torch (skips, exit 77,
# without it). Bounded; everything is killed at exit.
set -uo pipefail
bin="$1"; examples="$2"
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import torch" 2> /dev/null || { echo "no python3-torch: skipped"; exit 77; }
export LADLE_ADDR="127.0.0.1:$(free_port)"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
  --heartbeat_ms=500 --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
declare -A worker_pid
for w in a b; do
  "$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w-$w" --cpu_slots=1 \
    --name="worker-$w" > "$work/worker-$w.log" 2>&1 &
  worker_pid[$w]=$!; pids+=($!); disown $!
done
two_up() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "two workers registered" wait_for 20 two_up
[ $fail -eq 0 ] || exit 1
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# 1. The example, shortened: 2 lr × 2 seeds, 1 epoch on 5,000 images.
cp -r "$examples/pytorch" "$work/torch"
sed -i 's/grid: {lr: \[0.02, 0.1\], seed: \[1, 2, 3\]}/grid: {lr: [0.02, 0.1], seed: [1, 2]}/;
        s/epochs: 3,/epochs: 1,/; s/train_samples: 20000/train_samples: 5000/' \
  "$work/torch/experiment.yaml"
exp=$("$bin/ladle" submit "$work/torch/experiment.yaml" 2> /dev/null)
timeout 240 "$bin/ladle" watch "$exp" 2> "$work/watch.txt"
check "the PyTorch sweep succeeded" test $? -eq 0
check "watch showed its val_accuracy live" grep -q "val_accuracy 0\.[5-9]" "$work/watch.txt"
"$bin/ladle" results "$exp" > "$work/results.txt"
check "results: test_accuracy mean ± std over the seed" \
  grep -Eq '^\{"lr":0.1\} +2 .* 0\.[6-9][0-9]* ± [0-9.e-]+' "$work/results.txt"
"$bin/ladle" results "$exp" --format json > "$work/sweep.json"
job=$(field "d['jobs'][0]['id']" < "$work/sweep.json")
"$bin/ladle" download "$job" out/model.pt -o "$work/model.pt" 2> /dev/null
attempt_dir=$(grep -l "\"lr\": 0.02" "$work"/w-*/attempts/*/work/params.json | while read -r f; do
  grep -q '"seed": 1' "$f" && dirname "$(dirname "$f")"; done | head -1)
check "model.pt downloads byte-identical to what the program wrote" \
  cmp -s "$work/model.pt" "$attempt_dir/work/out/model.pt"

# 2. Kill -9 the worker of a checkpointing trial.
cat > "$work/torch/long.yaml" <<'YAML'
name: torch-resume
kind: command
command: {argv: [/usr/bin/python3, train.py], code: .}
params: {lr: 0.05, seed: 7, epochs: 150, train_samples: 5000}
max_retries: 2
YAML
exp=$("$bin/ladle" submit "$work/torch/long.yaml" 2> /dev/null)
has_checkpoint() {
  "$bin/ladle" results "$exp" --format json 2> /dev/null | grep -q '"checkpoint.tar.gz"'
}
check "a checkpoint was uploaded while it ran" wait_for 120 has_checkpoint
victim=$(grep -l '"epochs": 150' "$work"/w-*/attempts/*/work/params.json | head -1 |
  sed 's|.*/w-\([ab]\)/attempts/.*|\1|')
check "found the worker running it ($victim)" test -n "$victim"
kill -9 "${worker_pid[$victim]}"
timeout 240 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "after kill -9 of its worker the trial finished on the other" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/resume.json"
check "it took two attempts, the second on the other worker" python3 - "$work/resume.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
log = job["attempt_log"]
assert job["state"] == "succeeded" and len(log) == 2, log
assert log[0]["worker"] != log[1]["worker"], log
assert job["summary"]["resumed_from_epoch"] >= 1, job["summary"]
PY
other=$([ "$victim" = a ] && echo b || echo a)
retry=$(field "d['jobs'][0]['attempt_log'][1]['id']" < "$work/resume.json")
first_step=$(head -1 "$work/w-$other/attempts/$retry/metrics.jsonl" 2> /dev/null |
  python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['step'])")
check "the retry's first reported step is past 0 (step $first_step)" test "${first_step:-0}" -gt 0
check "the retry's log says it resumed" grep -q "resuming after epoch" \
  "$work/w-$other/attempts/$retry/stdout.log"

# 3. A drain (SIGTERM to the worker): the program is asked to stop (ladle.should_stop), keeps
# its last checkpoint and exits 3; the job runs again from that checkpoint elsewhere.
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w-c" --cpu_slots=1 \
  --name=worker-c > "$work/worker-c.log" 2>&1 &
worker_pid[c]=$!; pids+=($!); disown $!
c_up() { "$bin/ladle" workers 2> /dev/null | grep worker-c | grep -q alive; }
check "a third worker registered" wait_for 20 c_up
# No retries: a drain is not the program's failure and must not use one.
sed 's/seed: 7, epochs: 150/seed: 8, epochs: 151/; s/name: torch-resume/name: torch-drain/;
     s/max_retries: 2/max_retries: 0/' "$work/torch/long.yaml" > "$work/torch/drain.yaml"
exp=$("$bin/ladle" submit "$work/torch/drain.yaml" 2> /dev/null)
check "a checkpoint was uploaded while it ran" wait_for 120 has_checkpoint
drained=$(grep -l '"epochs": 151' "$work"/w-*/attempts/*/work/params.json | head -1 |
  sed 's|.*/w-\([abc]\)/attempts/.*|\1|')
kill -TERM "${worker_pid[$drained]}"
check "the drained worker exits" wait_for 30 bash -c "! kill -0 ${worker_pid[$drained]} 2> /dev/null"
check "the program stopped with exit 3 after being asked to" \
  grep -q "attempt [0-9]* ended with code 3" "$work/worker-$drained.log"
timeout 240 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "after the drain the trial finished elsewhere" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/drain.json"
check "resuming from the checkpoint it kept" python3 - "$work/drain.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
assert job["state"] == "succeeded" and len(job["attempt_log"]) == 2, job["attempt_log"]
first = job["attempt_log"][0]
assert first["outcome"] == "stopped" and "no retry used" in first["reason"], first
assert job["summary"]["resumed_from_epoch"] >= 1, job["summary"]
PY
check "the drained worker is listed as drained" bash -c \
  "'$bin/ladle' workers 2> /dev/null | grep worker-$drained | grep -q drained"

if [ $fail -ne 0 ]; then
  echo "--- server log"; tail -30 "$work/server.log"
  for w in a b; do echo "--- worker $w log"; tail -20 "$work/worker-$w.log"; done
fi
exit $fail
