#!/usr/bin/env bash
# End-to-end with a real Prometheus (Debian's) on loopback: it scrapes a running ladle-server and
# ladle-worker (1 s interval) while a small experiment runs, loads deploy/prometheus/rules.yml,
# and its HTTP API shows the queue and job metrics change. Everything is stopped by PID.
# Usage: prometheus_e2e.sh BIN_DIR SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
source "$src/tests/e2e/lib.sh"
port=$(free_port); mport=$(free_port); wport=$(free_port); pport=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --metrics_listen="127.0.0.1:$mport" \
  > "$work/server.log" 2>&1 &
pids+=($!); disown $!
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=1 \
  --metrics_listen="127.0.0.1:$wport" > "$work/worker.log" 2>&1 &
pids+=($!); disown $!
cp "$src/deploy/prometheus/rules.yml" "$work/rules.yml"
cat > "$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules.yml]
scrape_configs:
  - job_name: ladle-coordinator
    static_configs: [{targets: ["127.0.0.1:$mport"]}]
  - job_name: ladle-workers
    static_configs: [{targets: ["127.0.0.1:$wport"]}]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" > "$work/prometheus.log" 2>&1 &
pids+=($!); disown $!

query() {  # query PROMQL -> the first sample's value, or empty
  python3 - "$pport" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    r = json.load(urllib.request.urlopen(url, timeout=2))
    res = r["data"]["result"]
    print(res[0]["value"][1] if res else "")
except Exception:
    print("")
PY
}
is_up() { [ "$(query 'sum(up)')" = "2" ]; }
check "Prometheus scrapes the coordinator and the worker" wait_for 30 is_up
worker_seen() { [ "$(query 'ladle_workers{state="alive"}')" = "1" ]; }
check "it sees the worker alive" wait_for 20 worker_seen
before=$(query 'ladle_jobs_submitted_total')
cat > "$work/sweep.yaml" <<'YAML'
name: prometheus-e2e
trial: {model: {type: mlp, hidden: [256]}, data: {limit: 12000}, train: {epochs: 3, log_every: 5}}
sweep: {grid: {train.seed: [1, 2, 3]}}
YAML
exp=$("$bin/ladle" submit "$work/sweep.yaml" 2> /dev/null)
submitted() { [ "$(query 'ladle_jobs_submitted_total')" = "3" ]; }
check "submitted jobs counted (was ${before:-0})" wait_for 20 submitted
timeout 120 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "experiment succeeded" test $? -eq 0
succeeded() { [ "$(query 'sum(ladle_attempts_total{outcome="succeeded"})')" = "3" ]; }
check "attempts by outcome reach 3 succeeded" wait_for 20 succeeded
queue_seen() { [ -n "$(query 'max_over_time(ladle_jobs{state="queued"}[5m]) > 0')" ] || [ -n "$(query 'max_over_time(ladle_jobs{state="running"}[5m]) > 0')" ]; }
check "the queue gauges moved while it ran" queue_seen
drained() { [ "$(query 'ladle_jobs{state="running"}')" = "0" ]; }
check "and went back to 0 running" wait_for 20 drained
latency() { [ -n "$(query 'ladle:scheduling_latency_seconds:p99 >= 0')" ]; }
check "recording rule ladle:scheduling_latency_seconds:p99 evaluates" wait_for 20 latency
firing() { python3 -c "
import json,sys,urllib.request
a=json.load(urllib.request.urlopen('http://127.0.0.1:$pport/api/v1/alerts'))['data']['alerts']
sys.exit(0 if not [x for x in a if x['state']=='firing'] else 1)"; }
check "no alert fires on a healthy cluster" firing
if [ $fail -ne 0 ]; then tail -20 "$work/prometheus.log"; fi
exit $fail
