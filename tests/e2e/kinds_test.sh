#!/usr/bin/env bash
# End-to-end: the paper experiment kinds through a real ladle-server and two
# ladle-workers, on a reduced copy of each shipped example.
#  fusion: every job of the DAG succeeds; the narrow models ran as separate
#  attempts (their outputs reached the fuse job through the artifact store);
#  the fused model's logits are the mean of the narrow ones (checked by the
#  fuse job); the continued fused model trains (its loss falls); the results
#  table has every arm, in table, CSV and JSON.
# Usage: kinds_test.sh BIN_DIR EXAMPLES_DIR. Bounded; everything killed at exit.
set -uo pipefail
bin="$1"
examples="$2"
source "$(dirname "$0")/lib.sh"
port=$(python3 "$(dirname "$0")/free_port.py")
metrics_port=$(python3 "$(dirname "$0")/free_port.py")
export LADLE_ADDR="127.0.0.1:$port"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" \
  --metrics_listen="127.0.0.1:$metrics_port" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
for w in w1 w2; do
  "$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/$w" --cpu_slots=1 \
    --name=$w > "$work/$w.log" 2>&1 &
  pids+=($!); disown $!
done
two() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "two workers registered" wait_for 15 two

# --- fusion: the example, smaller (same keys, so the example's shape is what is tested).
python3 - "$examples/fusion.yaml" "$work/fusion.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = text.replace("limit: 20000", "limit: 3000").replace("hidden: [128, 128]", "hidden: [32, 32]")
text = re.sub(r"epochs: \d+", "epochs: 2", text)
text = text.replace("log_every: 50", "log_every: 10").replace("seeds: [1, 2, 3]", "seeds: [1, 2]")
open(sys.argv[2], "w").write(text)
PY
exp=$("$bin/ladle" submit "$work/fusion.yaml") || { echo "submit failed"; exit 1; }
fusion_exp=$exp
timeout 300 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "fusion experiment succeeded" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/fusion.json"
"$bin/ladle" results "$exp" > "$work/fusion.txt"
"$bin/ladle" results "$exp" --format csv > "$work/fusion.csv"
check "fusion: DAG, exactness, training, report" python3 - "$work/fusion.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
jobs = d["jobs"]
roles = {}
for j in jobs:
    assert j["state"] == "succeeded", (j["id"], j["state"], j["reason"])
    roles.setdefault(j["params"]["role"], []).append(j)
assert sorted(roles) == sorted(["narrow_a", "narrow_b", "fuse", "fused", "self_fuse",
                                "self_fused", "wide_scratch"]), sorted(roles)
assert len(jobs) == 14, len(jobs)
# Separate jobs and attempts for the narrow models; fusions read their artifacts.
narrow = roles["narrow_a"] + roles["narrow_b"]
assert len({j["attempt_log"][0]["id"] for j in narrow}) == 4
for f in roles["fuse"] + roles["self_fuse"]:
    s = f["summary"]
    assert s["fusion_max_rel_error"] < 1e-5, s["fusion_max_rel_error"]
    assert s["steps"] == 0 and s["parameters"] > s["narrow_parameters"]
# Self-fusion changes nothing: the same function as its narrow model.
for sf in roles["self_fuse"]:
    a = [n for n in roles["narrow_a"] if n["params"]["repeat"] == sf["params"]["repeat"]][0]
    assert abs(sf["summary"]["test_accuracy"] - a["summary"]["test_accuracy"]) < 1e-9
# The fused model trains on: its loss falls across the continued epochs.
for f in roles["fused"]:
    assert f["summary"]["steps"] > 0 and f["spec"]["init"]["checkpoint"].startswith("inputs/")
    assert f["summary"]["final_train_loss"] < 2.3  # below chance-level cross-entropy
report = d["report"]
assert len(report) == 1
arms = [r[0] for r in report[0]["rows"]]
assert arms == ["narrow", "fused_at_init", "fused", "self_fused", "wide_scratch"], arms
PY
check "fusion: table printed" grep -q "wide_scratch" "$work/fusion.txt"
check "fusion: CSV is the arm table" test "$(grep -c 'Deep Fusion' "$work/fusion.csv")" -eq 5
loss_falls() {
  python3 - "$work" <<'PY'
import glob, json, sys
ok = False
for path in glob.glob(sys.argv[1] + "/w*/attempts/*/out/metrics.jsonl"):
    spec = json.load(open(path.replace("out/metrics.jsonl", "spec.json")))
    if "init" not in spec:
        continue
    losses = [json.loads(l)["train_loss"] for l in open(path) if '"train_loss"' in l]
    if len(losses) >= 2 and losses[-1] < losses[0]:
        ok = True
sys.exit(0 if ok else 1)
PY
}
check "fusion: the continued fused model's loss decreases" loss_falls

# --- ladling: the example, smaller.
python3 - "$examples/ladling.yaml" "$work/ladling.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = text.replace("nodes: 10000", "nodes: 3000").replace("epochs: 30", "epochs: 15")
text = text.replace("seeds: [1, 2]", "seeds: [1]").replace("ingredients: 4", "ingredients: 3")
text = text.replace("parts: 32, parts_per_step: 8", "parts: 12, parts_per_step: 4")
open(sys.argv[2], "w").write(text)
PY
exp=$("$bin/ladle" submit "$work/ladling.yaml") || { echo "submit failed"; exit 1; }
ladling_exp=$exp
timeout 300 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "ladling experiment succeeded" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/ladling.json"
check "ladling: separate ingredients, soups, report" python3 - "$work/ladling.json" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
jobs = d["jobs"]
for j in jobs:
    assert j["state"] == "succeeded", (j["id"], j["reason"])
ing = [j for j in jobs if j["params"]["role"] == "ingredient"]
soup = [j for j in jobs if j["params"]["role"] == "soup"][0]
assert len(ing) == 3 and len({j["attempt_log"][0]["id"] for j in ing}) == 3
assert len({j["worker"] for j in ing}) == 2, [j["worker"] for j in ing]  # both workers used
assert all(j["spec"]["train"]["sampler"]["type"] == "cluster" for j in ing)
assert len(soup["spec"]["soup"]["ingredients"]) == 3
s = soup["summary"]
best_val = max(j["summary"]["val_accuracy"] for j in ing)
mean_test = statistics.mean(j["summary"]["test_accuracy"] for j in ing)
interp = s["soups"]["interpolation"]
assert interp["val_accuracy"] >= best_val, (interp["val_accuracy"], best_val)
assert s["test_accuracy"] >= mean_test, (s["test_accuracy"], mean_test)
# The soup job scored the same ingredients the ingredient jobs reported.
got = sorted(round(i["val_accuracy"], 5) for i in s["ingredients"])
want = sorted(round(j["summary"]["val_accuracy"], 5) for j in ing)
assert got == want, (got, want)
rows = [r[0] for r in d["report"][0]["rows"]]
assert rows == ["ingredient", "best ingredient (by val)", "uniform soup", "greedy soup",
                "interpolation soup", "full-graph baseline"], rows
PY

# --- dropcompute: the example, smaller.
python3 - "$examples/dropcompute.yaml" "$work/dropcompute.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
text = text.replace("val_fraction: 0.1}", "val_fraction: 0.1, limit: 6000}")
text = text.replace("epochs: 3", "epochs: 2").replace("ranks: [4, 16, 64]", "ranks: [4, 16]")
text = text.replace("thresholds: [none, auto, 11x, 9x]", "thresholds: [none, 9x]")
text = text.replace("seeds: [1, 2, 3]", "seeds: [1]").replace("calibration_steps: 10", "calibration_steps: 3")
open(sys.argv[2], "w").write(text)
PY
exp=$("$bin/ladle" submit "$work/dropcompute.yaml") || { echo "submit failed"; exit 1; }
dropcompute_exp=$exp
timeout 300 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "dropcompute experiment succeeded" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/dropcompute.json"
check "dropcompute: thresholds drop work and speed steps up" python3 - "$work/dropcompute.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
jobs = d["jobs"]
assert len(jobs) == 4, len(jobs)
for j in jobs:
    assert j["state"] == "succeeded", (j["id"], j["reason"])
    dc = j["summary"]["dropcompute"]
    assert dc["ranks"] == j["params"]["ranks"]
    if j["params"]["threshold"] == "none":
        assert dc["drop_rate"] == 0 and dc["measured_speedup"] == 1
    else:
        assert 0 < dc["drop_rate"] < 0.5, dc
        assert dc["measured_speedup"] > 1, dc
rows = d["report"][0]["rows"]
assert sorted((r[0], r[1]) for r in rows) == [("16", "9x"), ("16", "none"), ("4", "9x"), ("4", "none")], rows
PY

# --- pictures
check "ladle plot writes an SVG with one band per configuration" bash -c \
  "'$bin/ladle' plot $fusion_exp --metric val_accuracy --x epoch -o '$work/plot.svg' 2> /dev/null && grep -c '<polygon' '$work/plot.svg' | grep -qv '^0$'"
if command -v rsvg-convert > /dev/null; then
  check "ladle plot writes a PNG" bash -c \
    "'$bin/ladle' plot $fusion_exp --metric train_loss --per_job -o '$work/plot.png' 2> /dev/null && head -c 8 '$work/plot.png' | od -c | grep -q 'P   N   G'"
fi
missing_metric() {
  ! "$bin/ladle" plot "$fusion_exp" --metric nonsense -o "$work/x.svg" 2> "$work/plot.err" &&
    grep -q "metric 'nonsense'" "$work/plot.err"
}
check "ladle plot names a missing metric and fails" missing_metric
for kind in fusion ladling dropcompute; do
  eval "id=\$${kind}_exp"
  "$bin/ladle" report "$id" -o "$work/$kind.html" 2> /dev/null
  check "$kind report is self-contained (no scripts, no fetches)" bash -c \
    "test -s '$work/$kind.html' && ! grep -qiE '<script|src=\"http|href=\"http' '$work/$kind.html'"
done
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
  echo "SKIP headless Chromium checks: chromium is not installed (scripts/install-deps.sh installs it)"
else
  for kind in fusion:3 ladling:3 dropcompute:5; do
    name=${kind%%:*}; want=${kind##*:}
    flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-dev-shm-usage)
    timeout 90 "$chrome" "${flags[@]}" --dump-dom "file://$work/$name.html" > "$work/$name.dom" 2> "$work/$name.chrome.log"
    timeout 90 "$chrome" "${flags[@]}" --window-size=1280,3000 --screenshot="$work/$name.png" \
      "file://$work/$name.html" >> "$work/$name.chrome.log" 2>&1
    check "$name report renders in Chromium with $want charts" bash -c \
      "test \$(grep -o 'class=\"ladle-chart\"' '$work/$name.dom' | wc -l) -eq $want"
    check "$name report screenshot" bash -c "test \$(stat -c %s '$work/$name.png') -gt 20000"
    check "$name report: no script errors" bash -c "! grep -qiE 'uncaught|SyntaxError' '$work/$name.chrome.log'"
  done
fi

if [ $fail -ne 0 ]; then
  echo "--- server log"; tail -20 "$work/server.log"; echo "--- w1 log"; tail -20 "$work/w1.log"
fi
exit $fail
