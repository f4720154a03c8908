#!/usr/bin/env bash
# End-to-end: adaptive searches run by a real ladle-server on two real ladle-workers.
#  1. ASHA over ladle-train on Fashion-MNIST (9 trials, epochs 1 → 3 → 9); the server is
#     killed with -9 once a few results are in and restarted: the search goes on where it
#     was and ends with 9 trials, each (trial, rung) once, results in one unbroken order,
#     every promoted segment resumed from its previous segment's model (its first step is
#     the previous segment's last), each job succeeded by exactly one attempt; `ladle
#     results` shows the leaderboard and a budget below the same trials without stopping;
#  2. TPE over a program (kind command, Branin in Python) minimising its output: all trials
#     run, the leaderboard's best is the smallest value any job reported;
#  3. ASHA over a program: promoted segments resume from the previous segment's checkpoint, or
#     start over when the program saves none, and the budget table says which;
#  4. a search cancelled mid-way starts no more trials and ends cancelled.
# Usage: search_test.sh BIN_DIR. Bounded; everything is killed at exit.
set -uo pipefail
bin="$1"
source "$(dirname "$0")/lib.sh"
export LADLE_ADDR="127.0.0.1:$(free_port)"
metrics="127.0.0.1:$(free_port)"
start_server() {
  "$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
    --heartbeat_ms=500 --metrics_listen="$metrics" >> "$work/server.log" 2>&1 &
  server_pid=$!; pids+=($!); disown $!
  wait_for 20 "$bin/ladle" list > /dev/null 2>&1 || { echo "no server"; cat "$work/server.log"; exit 1; }
}
start_server
start_workers "$bin" a b
[ $fail -eq 0 ] || exit 1

# 1. ASHA with a kill -9 of the server mid-search.
cat > "$work/asha.yaml" <<'YAML'
name: e2e-asha
trial:
  model: {type: mlp, hidden: [32], activation: relu}
  data: {dataset: fashion-mnist, val_fraction: 0.1, limit: 3000}
  train: {epochs: 1, batch_size: 100, log_every: 10, optimizer: {name: adamw, lr: 0.001}}
search:
  algorithm: asha
  metric: val_accuracy
  space:
    train.optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
    model.hidden: {choice: [[16], [32]]}
  max_trials: 9
  max_concurrent: 2
  seed: 3
  budget: {param: train.epochs, min: 1, max: 9, reduction_factor: 3}
resources: {cpu_slots: 1}
max_retries: 1
YAML
exp=$("$bin/ladle" submit "$work/asha.yaml" 2> "$work/submit.err")
check "the ASHA search was accepted ($exp)" test -n "$exp"
results_in() {
  "$bin/ladle" results "$exp" --format json 2> /dev/null |
    python3 -c "import json,sys; d=json.load(sys.stdin)
n=sum(1 for j in d['jobs'] if j.get('search',{}).get('result_seq',-1)>=0)
sys.exit(0 if n>=$1 else 1)"
}
check "four results came in" wait_for 120 results_in 4
kill -9 "$server_pid"
start_server
timeout 300 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "after kill -9 of the server the search finished" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/asha.json"
"$bin/ladle" results "$exp" > "$work/asha.txt"
check "9 trials, each segment once, results in one order, promotions resumed" \
  python3 - "$work/asha.json" "$work" <<'PY'
import glob, json, sys
d = json.load(open(sys.argv[1]))
assert d["experiment"]["state"] == "succeeded", d["experiment"]
jobs = d["jobs"]
seg = {(j["search"]["trial"], j["search"]["rung"]): j for j in jobs}
assert len(seg) == len(jobs), "a (trial, rung) twice"
assert {t for t, _ in seg} == set(range(9)), sorted(seg)
seqs = sorted(j["search"]["result_seq"] for j in jobs)
assert seqs == list(range(len(jobs))), seqs
by_id = {j["id"]: j for j in jobs}
promoted = 0
for (t, r), j in seg.items():
    assert j["state"] == "succeeded", j["id"]
    ok = [a for a in j["attempt_log"] if a["outcome"] == "succeeded"]
    assert len(ok) == 1, (j["id"], j["attempt_log"])
    assert j["spec"]["train"]["epochs"] == 3 ** r, (j["id"], j["spec"]["train"])
    assert j["search"]["value"] == j["summary"]["val_accuracy"], j["id"]
    if r == 0:
        assert j["search"]["resume_from"] == "", j["id"]
        continue
    promoted += 1
    prev = by_id[j["search"]["resume_from"]]
    assert (prev["search"]["trial"], prev["search"]["rung"]) == (t, r - 1), j["id"]
    # It continued the previous segment's model: its steps start where those ended.
    assert j["summary"]["resumed_from_step"] == prev["summary"]["steps"], (
        j["summary"], prev["summary"])
    assert j["summary"]["steps"] == 3 * prev["summary"]["steps"], j["id"]
assert promoted >= 3, promoted
PY
check "results show the leaderboard" grep -q "Search: best trials (asha, maximizing val_accuracy)" "$work/asha.txt"
check "results show the budget saved" python3 - "$work/asha.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["report"]
budget = [t for t in report if t["title"].startswith("Search budget")][0]
spent, full, ratio = (float(x) for x in budget["rows"][0][:3])
assert full == 81 and spent < full / 2 and abs(ratio - spent / full) < 1e-3, budget
PY
grep -E "^ *[0-9]+ +[0-9]+ " "$work/asha.txt" | head -3
"$bin/ladle" plot "$exp" --search --metric val_accuracy -o "$work/search.svg" > /dev/null
check "ladle plot --search draws every trial, marked by how far it went" python3 - "$work/search.svg" <<'PY'
import re, sys
svg = open(sys.argv[1]).read()
names = re.findall(r"trial \d+: [a-z ,]+rung \d", svg)
assert len(set(n.split(":")[0] for n in names)) == 9, names
assert any("up to rung 2" in n for n in names), names
assert any("stopped, rung 0" in n for n in names), names
PY
"$bin/ladle" report "$exp" -o "$work/report.html" > /dev/null
check "ladle report has the leaderboard and the search chart" bash -c \
  "grep -q 'Search: best trials' '$work/report.html' && grep -q '<h2>Search</h2>' '$work/report.html'"

# 2. TPE over a program: Branin, minimised.
mkdir -p "$work/branin"
cat > "$work/branin/branin.py" <<'PY'
import json, math, os
p = json.loads(os.environ["LADLE_PARAMS"])
x, y = p["x"], p["y"]
v = (y - 5.1 / (4 * math.pi ** 2) * x * x + 5 / math.pi * x - 6) ** 2 \
    + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10
with open(os.environ["LADLE_SUMMARY_FILE"], "w") as f:
    json.dump({"branin": v}, f)
PY
cat > "$work/branin/experiment.yaml" <<'YAML'
name: e2e-tpe-branin
kind: command
command: {argv: [/usr/bin/python3, branin.py], code: .}
search:
  algorithm: tpe
  metric: branin
  mode: min
  space: {x: {uniform: [-5, 10]}, y: {uniform: [0, 15]}}
  max_trials: 14
  max_concurrent: 2
  seed: 5
  tpe: {n_startup_trials: 6}
YAML
exp=$("$bin/ladle" submit "$work/branin/experiment.yaml" 2> "$work/submit.err")
timeout 240 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "the TPE search over a program finished" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/tpe.json"
check "14 trials; the leaderboard's best is the smallest value reported" \
  python3 - "$work/tpe.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
jobs = d["jobs"]
assert len(jobs) == 14 and all(j["state"] == "succeeded" for j in jobs), len(jobs)
best = min(j["summary"]["branin"] for j in jobs)
board = [t for t in d["report"] if t["title"].startswith("Search: best trials")][0]
assert "minimizing branin" in board["title"], board["title"]
assert abs(float(board["rows"][0][3]) - best) <= 1e-3 * max(1, abs(best)), (board["rows"][0], best)
PY

# 3. ASHA over a program: a promoted segment gets its previous segment's checkpoint and goes on
#    from it; the same program saving no checkpoint starts each promoted segment over, and the
#    results' budget table says so.
cat > "$work/branin/steps.py" <<'PY'
import json, os
p = json.loads(os.environ["LADLE_PARAMS"])
state = os.path.join(os.environ["LADLE_CHECKPOINT_DIR"], "state.json")
start = json.load(open(state))["steps"] if os.path.exists(state) else 0
if p["checkpoint"]:
    with open(state, "w") as f:
        json.dump({"steps": p["steps"]}, f)
    with open(os.environ["LADLE_CHECKPOINT_SAVED_FILE"], "w") as f:
        f.write("{}")
with open(os.environ["LADLE_SUMMARY_FILE"], "w") as f:
    json.dump({"score": 0.01 * p["steps"] - (p["x"] - 0.3) ** 2, "resumed_from": start}, f)
PY
for ck in 1 0; do
  cat > "$work/branin/steps-$ck.yaml" <<YAML
name: e2e-asha-program-$ck
kind: command
command: {argv: [/usr/bin/python3, steps.py], code: .}
params: {checkpoint: $ck}
search:
  algorithm: asha
  metric: score
  space: {x: {uniform: [0, 1]}}
  max_trials: 9
  max_concurrent: 2
  budget: {param: steps, min: 1, max: 9, reduction_factor: 3}
YAML
  exp=$("$bin/ladle" submit "$work/branin/steps-$ck.yaml" 2> "$work/submit.err")
  timeout 120 "$bin/ladle" watch "$exp" > /dev/null 2>&1
  "$bin/ladle" results "$exp" --format json > "$work/steps-$ck.json"
  check "ASHA over a program (checkpoints: $ck) resumes or starts over, and says which" \
    python3 - "$work/steps-$ck.json" "$ck" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ck = sys.argv[2] == "1"
assert d["experiment"]["state"] == "succeeded", d["experiment"]
by_id = {j["id"]: j for j in d["jobs"]}
promoted = [j for j in d["jobs"] if j["search"]["resume_from"]]
assert promoted
for j in promoted:
    prev = by_id[j["search"]["resume_from"]]
    want = prev["params"]["steps"] if ck else 0
    assert j["summary"]["resumed_from"] == want, (j["id"], j["summary"], want)
budget = [t for t in d["report"] if t["title"].startswith("Search budget")][0]
row = dict(zip(budget["columns"], budget["rows"][0]))
assert int(row["promoted segments"]) == len(promoted), row
assert int(row["resumed from a checkpoint"]) == (len(promoted) if ck else 0), row
assert int(row["started over"]) == (0 if ck else len(promoted)), row
PY
done

# 4. Cancel mid-search: nothing more starts.
sed 's/name: e2e-tpe-branin/name: e2e-cancel/; s/max_trials: 14/max_trials: 500/; s/max_concurrent: 2/max_concurrent: 1/' \
  "$work/branin/experiment.yaml" > "$work/branin/cancel.yaml"
exp=$("$bin/ladle" submit "$work/branin/cancel.yaml" 2> "$work/submit.err")
jobs_of() { "$bin/ladle" results "$exp" --format json 2> /dev/null |
  python3 -c "import json,sys; print(len(json.load(sys.stdin)['jobs']))"; }
three() { [ "$(jobs_of)" -ge 3 ]; }
check "the long search started trials" wait_for 60 three
"$bin/ladle" cancel "$exp" > /dev/null
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
n=$(jobs_of); sleep 1
check "it ended cancelled" bash -c "'$bin/ladle' results '$exp' --format json | grep -q '\"state\": \"cancelled\"'"
check "no trial started after the cancel ($n of 500 trials)" test "$(jobs_of)" -eq "$n" -a "$n" -lt 500

[ $fail -eq 0 ] || { tail -30 "$work/server.log"; exit 1; }
echo "search e2e passed"
