#!/usr/bin/env bash
# The deploy stack, validated without a Docker engine:
#  1. docker-compose (Debian's 1.29) accepts deploy/docker-compose.yml (full `config`);
#  2. promtool accepts the Prometheus config and rules, and the alert unit tests pass;
#  3. every PromQL expression of the Grafana dashboards is valid (checked as recording rules);
#  4. every metric name they use appears in the real /metrics of a running ladle-server and
#     ladle-worker while a job trains (GPU gauges: only on NVML workers, checked in the source).
# Usage: deploy_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
bin="$1"
src="$2"
source "$src/tests/e2e/lib.sh"
cp -r "$src/deploy" "$work/deploy"
for s in tokens worker_token grafana_admin_password; do echo placeholder > "$work/deploy/secrets/$s"; done

if command -v docker-compose > /dev/null; then
  check "docker-compose config accepts the stack" bash -c "docker-compose -f '$work/deploy/docker-compose.yml' config > '$work/compose.out'"
  check "docker-compose config (full) lists every service" bash -c \
    "docker-compose -f '$work/deploy/docker-compose.yml' --profile cpu config --services | sort | tr '\n' ' ' | grep -q 'coordinator grafana prometheus worker worker-cpu'"
else
  echo "FAIL docker-compose is missing (scripts/install-deps.sh installs it)"; fail=1
fi
check "the coordinator publishes the web UI (8080) and serves it (--http_listen)" bash -c \
  "grep -q '\"8080:8080\"' '$work/deploy/docker-compose.yml' && grep -q -- '--http_listen=0.0.0.0:8080' '$work/deploy/coordinator.Dockerfile'"
# The coordinator image's runtime stage installs the packages of every library ladle-server
# links (directly; apt brings what those need): a missing one only shows when the image starts.
image_has_libs() {
  local pkgs closure lib path pkg missing=""
  pkgs=$(sed -n '/^FROM debian:12-slim/,/rm -rf/p' "$src/deploy/coordinator.Dockerfile" |
         grep -o 'lib[a-z0-9.+-]*[0-9a-z]' | sort -u)
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances $pkgs 2> /dev/null | grep -v '^ ' | sort -u)
  for lib in $(readelf -d "$bin/ladle-server" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}'); do
    path=$(ldd "$bin/ladle-server" | awk -v l="$lib" '$1 == l {print $3}')
    pkg=$(dpkg -S "$(readlink -f "$path")" 2> /dev/null | head -1 | cut -d: -f1)
    case "$pkg" in libc6|libstdc++6|libgcc-s1|"") continue ;; esac
    grep -qx "$pkg" <<< "$closure" || missing="$missing $pkg($lib)"
  done
  [ -z "$missing" ] || { echo "coordinator.Dockerfile lacks:$missing"; return 1; }
}
check "the coordinator image installs every library ladle-server links" image_has_libs
check "promtool check config" promtool check config "$work/deploy/prometheus/prometheus.yml"
check "promtool check rules" promtool check rules "$work/deploy/prometheus/rules.yml"
check "promtool test rules (alerts)" promtool test rules "$work/deploy/prometheus/rules_test.yml"

python3 - "$work/deploy/grafana/dashboards" "$work/dash_rules.yml" "$work/dash_names.txt" <<'PY'
import glob, json, re, sys
exprs = []
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    d = json.load(open(path))
    for p in d["panels"]:
        for t in p.get("targets", []):
            exprs.append(t["expr"].replace("$experiment", ".*"))
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboards\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write(f"      - record: ladle:dashboard_expr_{i}\n        expr: {json.dumps(e)}\n")
names = sorted({m for e in exprs for m in re.findall(r"\bladle_[a-z0-9_]+", e)})
open(sys.argv[3], "w").write("\n".join(names) + "\n")
print(f"{len(exprs)} dashboard expressions, {len(names)} metric names")
PY
check "every dashboard expression is valid PromQL" promtool check rules "$work/dash_rules.yml"

# A server and a worker with /metrics, and a job long enough to scrape while it trains.
port=$(free_port); mport=$(free_port); wport=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --metrics_listen="127.0.0.1:$mport" \
  > "$work/server.log" 2>&1 &
pids+=($!); disown $!
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=1 \
  --metrics_listen="127.0.0.1:$wport" > "$work/worker.log" 2>&1 &
pids+=($!); disown $!
up() { "$bin/ladle" workers 2> /dev/null | grep -q alive; }
check "worker registered" wait_for 15 up
cat > "$work/job.yaml" <<'YAML'
name: deploy-metrics
trial: {model: {type: mlp, hidden: [512, 512]}, train: {epochs: 3, log_every: 10}}
YAML
exp=$("$bin/ladle" submit "$work/job.yaml" 2> /dev/null)
scrape() { python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$1/metrics').read().decode())"; }
job_gauges() { scrape "$mport" > "$work/server_metrics.txt" && grep -q '^ladle_job_val_accuracy{' "$work/server_metrics.txt"; }
check "per-job gauges appear while the job trains" wait_for 60 job_gauges
scrape "$wport" > "$work/worker_metrics.txt"
timeout 120 "$bin/ladle" watch "$exp" > /dev/null 2>&1
scrape "$mport" > "$work/server_after.txt"
check "per-job gauges are gone once it ended" bash -c "! grep -q '^ladle_job_' '$work/server_after.txt'"
cat "$work/server_metrics.txt" "$work/server_after.txt" "$work/worker_metrics.txt" > "$work/all_metrics.txt"
check "every dashboard metric is exported" python3 - "$work/dash_names.txt" "$work/all_metrics.txt" "$src/worker/metrics.h" <<'PY'
import re, sys
names = open(sys.argv[1]).read().split()
text = open(sys.argv[2]).read()
exported = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )", text, re.M))
gpu_only = {"ladle_worker_gpu_utilization_ratio", "ladle_worker_gpu_memory_used_bytes"}
worker_src = open(sys.argv[3]).read()
missing = []
for n in names:
    if n in exported:
        continue
    if n in gpu_only and f'"{n}"' in worker_src:
        continue  # series exist only where NVML finds GPUs
    missing.append(n)
if missing:
    print("not exported:", missing)
    sys.exit(1)
PY
if [ $fail -ne 0 ]; then tail -20 "$work/server.log"; fi
exit $fail
