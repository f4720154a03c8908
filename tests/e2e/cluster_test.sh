#!/usr/bin/env bash
# End-to-end: a real ladle-server, two ladle-workers and the ladle CLI on loopback.
#  1. a 6-job sweep over two workers completes, every result in SQLite;
#  2. kill -9 of a worker mid-attempt: the job is retried on the other worker;
#  3. kill -9 of the server mid-sweep, restart: every job succeeds exactly once;
#  4. cancel stops running children.
# Usage: cluster_test.sh BIN_DIR. Bounded: every wait has a deadline; everything is killed at exit.
set -uo pipefail
bin="$1"
source "$(dirname "$0")/lib.sh"
port=$(python3 "$(dirname "$0")/free_port.py")
addr="127.0.0.1:$port"
metrics_port=$(python3 "$(dirname "$0")/free_port.py")
export LADLE_ADDR="$addr"

start_server() {
  "$bin/ladle-server" --listen="$addr" --data_dir="$work/data" --lease_ms=3000 --heartbeat_ms=500 \
    --metrics_listen="127.0.0.1:$metrics_port" \
    >> "$work/server.log" 2>&1 &
  server_pid=$!
  disown "$server_pid"  # no "Killed" noise when the test kills it
  pids+=("$server_pid")
  for _ in $(seq 1 100); do "$bin/ladle" list > /dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not come up"; cat "$work/server.log"; exit 1
}
worker_metrics_port=$(python3 "$(dirname "$0")/free_port.py")
start_worker() {  # start_worker NAME [METRICS_ADDR] -> sets worker_pid
  "$bin/ladle-worker" --coordinator="$addr" --work_dir="$work/$1" --cpu_slots=1 --name="$1" \
    ${2:+--metrics_listen=$2} \
    >> "$work/$1.log" 2>&1 &
  worker_pid=$!
  disown "$worker_pid"
  pids+=("$worker_pid")
}
# results JSON of an experiment, via the CLI
results() { "$bin/ladle" results "$1" --format json; }

start_server
start_worker w1 "127.0.0.1:$worker_metrics_port"; w1_pid=$worker_pid
start_worker w2; w2_pid=$worker_pid
two_workers() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "both workers registered" wait_for 15 two_workers

# 1. A 6-job sweep over two workers.
cat > "$work/sweep.yaml" <<'YAML'
name: e2e-sweep
trial:
  model: {type: mlp, hidden: [32]}
  data: {dataset: fashion-mnist, limit: 2000}
  train: {epochs: 1, batch_size: 100}
sweep: {grid: {train.optimizer.lr: [0.001, 0.003], train.seed: [1, 2, 3]}}
resources: {cpu_slots: 1}
YAML
exp=$("$bin/ladle" submit "$work/sweep.yaml" 2> /dev/null | head -1)
check "submit prints the id" test -n "$exp"
timeout 120 "$bin/ladle" watch "$exp" 2> "$work/watch1.log"
check "sweep succeeded (watch exit 0)" test $? -eq 0
results "$exp" > "$work/r1.json"
check "6 jobs succeeded, each with a summary, on both workers" python3 - "$work/r1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
jobs = r["jobs"]
ok = len(jobs) == 6 and all(j["state"] == "succeeded" and j["summary"]["test_accuracy"] > 0.5 for j in jobs)
workers = {j["worker"] for j in jobs}
sys.exit(0 if ok and len(workers) == 2 else 1)
PY
check "results live in the SQLite file" test -s "$work/data/ladle.db"
"$bin/ladle" logs "$exp-0000" > "$work/logs.txt" 2>&1
check "ladle logs shows the trainer's output" grep -q "training on cpu" "$work/logs.txt"
check "each job's outputs were uploaded" python3 - "$work/r1.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
names = [{a["name"] for a in j["artifacts"]} for j in jobs]
sys.exit(0 if all({"model.safetensors", "summary.json", "metrics.jsonl"} <= n for n in names) else 1)
PY
"$bin/ladle" download "$exp-0000" model.safetensors -o "$work/model.safetensors" 2> /dev/null
check "download returns the model the worker wrote" python3 - "$work/model.safetensors" "$work/r1.json" <<'PY'
import hashlib, json, struct, sys
data = open(sys.argv[1], "rb").read()
want = [a for a in json.load(open(sys.argv[2]))["jobs"][0]["artifacts"] if a["name"] == "model.safetensors"][0]
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
sys.exit(0 if hashlib.sha256(data).hexdigest() == want["sha256"] and "layers.0.weight" in header else 1)
PY

python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics').read().decode())" > "$work/metrics.txt"
check "promtool accepts the server's /metrics" promtool check metrics < "$work/metrics.txt"
check "metrics count the 6 succeeded attempts" grep -q '^ladle_attempts_total{outcome="succeeded"} 6' "$work/metrics.txt"
python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$worker_metrics_port/metrics').read().decode())" > "$work/worker_metrics.txt"
check "promtool accepts the worker's /metrics" promtool check metrics < "$work/worker_metrics.txt"
check "worker metrics count its succeeded attempts and relayed lines" python3 -c "
import re,sys; t=open('$work/worker_metrics.txt').read()
ok = float(re.search(r'^ladle_worker_attempts_total\{outcome=\"succeeded\"\} (\S+)', t, re.M).group(1)) >= 1
ok = ok and float(re.search(r'^ladle_worker_metric_lines_relayed_total (\S+)', t, re.M).group(1)) > 0
sys.exit(0 if ok else 1)"
check "metrics count RPCs by method and code" grep -q '^ladle_rpcs_total{.*method="/ladle.v1.ExperimentService/SubmitExperiment".*} [1-9]' "$work/metrics.txt"
check "metrics count the ingested points" python3 -c "
import re,sys; t=open('$work/metrics.txt').read()
sys.exit(0 if float(re.search(r'^ladle_metric_points_ingested_total (\S+)', t, re.M).group(1)) > 0 else 1)"

# 2. kill -9 of a worker mid-attempt: the job moves to the other worker.
cat > "$work/long.yaml" <<'YAML'
name: e2e-retry
trial:
  model: {type: mlp, hidden: [256]}
  data: {dataset: fashion-mnist, limit: 20000}
  train: {epochs: 4, batch_size: 64}
resources: {cpu_slots: 1}
max_retries: 2
YAML
exp=$("$bin/ladle" submit "$work/long.yaml" 2> /dev/null | head -1)
running_on() { results "$exp" | python3 -c "import json,sys; j=json.load(sys.stdin)['jobs'][0]; print(j['worker'] if j['state']=='running' else '')"; }
is_running() { [ -n "$(running_on)" ]; }
wait_for 20 is_running
victim=$(running_on)
if [ "$(cat "$work/w1/worker_id")" = "$victim" ]; then victim_dir=w1; else victim_dir=w2; fi
if [ "$victim_dir" = w1 ]; then kill -9 "$w1_pid"; else kill -9 "$w2_pid"; fi
# Its ladle-train child notices it was orphaned and stops by itself (checkpoint, exit 3).
orphan_gone() { ! pgrep -f "$work/$victim_dir/attempt[s]" > /dev/null; }
check "the dead worker's child stops by itself" wait_for 10 orphan_gone
timeout 120 "$bin/ladle" watch "$exp" 2> "$work/watch2.log"
check "retried job succeeded after kill -9 of its worker" test $? -eq 0
check "first attempt lost, second on the other worker" python3 - <(results "$exp") "$victim" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
log = j["attempt_log"]
sys.exit(0 if len(log) >= 2 and log[0]["outcome"] == "lost" and log[-1]["outcome"] == "succeeded"
         and log[-1]["worker"] != sys.argv[2] else 1)
PY
lost_listed() { "$bin/ladle" workers 2> /dev/null | grep -q " lost"; }
check "the killed worker is listed lost once its heartbeats lapse" wait_for 20 lost_listed
if [ "$victim_dir" = w1 ]; then start_worker w1 "127.0.0.1:$worker_metrics_port"; w1_pid=$worker_pid; else start_worker w2; w2_pid=$worker_pid; fi

# 3. kill -9 of the server mid-sweep, then restart on the same data dir.
cat > "$work/mid.yaml" <<'YAML'
name: e2e-restart
trial:
  model: {type: mlp, hidden: [128]}
  data: {dataset: fashion-mnist, limit: 10000}
  train: {epochs: 2, batch_size: 64}
sweep: {grid: {train.seed: [1, 2, 3, 4]}}
resources: {cpu_slots: 1}
YAML
exp=$("$bin/ladle" submit "$work/mid.yaml" 2> /dev/null | head -1)
wait_for 30 bash -c "LADLE_ADDR=$addr $bin/ladle results $exp --format json | grep -q '\"state\": \"succeeded\"'"
kill -9 "$server_pid"
sleep 1
start_server
timeout 180 "$bin/ladle" watch "$exp" 2> "$work/watch3.log"
check "sweep finished after a server kill -9" test $? -eq 0
check "every job succeeded exactly once" python3 - <(results "$exp") <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
once = all(sum(a["outcome"] == "succeeded" for a in j["attempt_log"]) == 1 for j in jobs)
sys.exit(0 if len(jobs) == 4 and all(j["state"] == "succeeded" for j in jobs) and once else 1)
PY

# 4. cancel stops running children.
exp=$("$bin/ladle" submit "$work/long.yaml" 2> /dev/null | head -1)
wait_for 20 bash -c "LADLE_ADDR=$addr $bin/ladle results $exp --format json | grep -q '\"state\": \"running\"'"
"$bin/ladle" cancel "$exp" > /dev/null
check "cancelled experiment" wait_for 15 bash -c "LADLE_ADDR=$addr $bin/ladle show $exp | head -1 | grep -q cancelled"
check "no ladle-train left running" wait_for 15 bash -c "! pgrep -f '$work/w[12]/attempts' > /dev/null"

# 5. `ladle local up`: a coordinator and a worker as children, stopped together by Ctrl-C.
# Its metrics endpoints on free ports (the defaults could be taken by another stack here).
local_port=$(python3 "$(dirname "$0")/free_port.py")
local_metrics=$(python3 "$(dirname "$0")/free_port.py")
local_wmetrics=$(python3 "$(dirname "$0")/free_port.py")
local_http=$(python3 "$(dirname "$0")/free_port.py")
"$bin/ladle" --addr="127.0.0.1:$local_port" local up --data_dir="$work/local" --cpu_slots=1 \
  --metrics_listen="127.0.0.1:$local_metrics" --worker_metrics_listen="127.0.0.1:$local_wmetrics" \
  --http_listen="127.0.0.1:$local_http" \
  > "$work/local.log" 2>&1 &
local_pid=$!
disown "$local_pid"
pids+=("$local_pid")
has_worker() { "$bin/ladle" --addr="127.0.0.1:$local_port" workers 2> /dev/null | grep -q alive; }
check "ladle local up serves a worker" wait_for 20 has_worker
scrape() { python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$1/metrics', timeout=5).read().decode())"; }
check "its coordinator serves metrics on --metrics_listen" bash -c "$(declare -f scrape); scrape $local_metrics | grep -q '^ladle_'"
check "its worker serves metrics on --worker_metrics_listen" bash -c "$(declare -f scrape); scrape $local_wmetrics | grep -q '^ladle_worker_'"
check "its coordinator serves the web UI on --http_listen" bash -c "curl -sf http://127.0.0.1:$local_http/ | grep -q '<title>Ladle</title>' && curl -sf http://127.0.0.1:$local_http/api/v1/workers | grep -q alive"
kill -INT "$local_pid"
# (the [r] keeps pgrep's pattern from matching the shell that runs it)
check "ladle local up stops both children" wait_for 15 bash -c "! pgrep -f 'ladle-serve[r] --listen=127.0.0.1:$local_port' > /dev/null && ! pgrep -f 'ladle-worke[r] --coordinator=127.0.0.1:$local_port' > /dev/null"
# A coordinator that cannot start (its port is taken: here by the server's metrics endpoint)
# ends `ladle local up` with its reason, instead of leaving a worker with nobody to talk to.
timeout 30 "$bin/ladle" --addr="127.0.0.1:$metrics_port" local up --data_dir="$work/local2" \
  --http_listen "" > "$work/local2.log" 2>&1
check "ladle local up exits non-zero when its coordinator cannot start" test $? -eq 1
check "naming the reason and the log" grep -q "coordinator exited (code 1): ladle-server: cannot listen on 127.0.0.1:$metrics_port.*server.log" <(tr '\n' ' ' < "$work/local2.log")
check "and stopping the worker" bash -c "! pgrep -f 'ladle-worke[r] --coordinator=127.0.0.1:$metrics_port' > /dev/null"

if [ "$fail" -ne 0 ]; then
  echo "--- server log"; tail -20 "$work/server.log"; echo "--- w1"; tail -5 "$work/w1.log"; echo "--- w2"; tail -5 "$work/w2.log"
  echo "cluster e2e: FAILED"; exit 1
fi
echo "cluster e2e: all checks passed"
