#!/usr/bin/env bash
# End-to-end: children that misbehave. A real ladle-server and ladle-worker on
# loopback whose --trainer is a script standing in for a broken ladle-train.
#  1. a child that hangs and ignores SIGTERM: its attempt times out
#     (timeout_seconds), the worker escalates to SIGKILL, the job fails with a
#     reason naming the timeout, and every attempt was tried (max_retries);
#  2. a child that crashes (SIGSEGV): the attempt fails with its exit status and
#     the tail of its stderr; the worker survives and serves the next job;
#  3. a child that floods stdout (20 MB): the worker relays it only up to
#     --log_cap_bytes with a notice, keeps at most --log_file_cap_bytes of it on
#     disk (start, notice, end), the job succeeds, the worker carries on.
# Usage: child_faults_test.sh BIN_DIR. Bounded; everything is killed at exit.
set -uo pipefail
bin="$1"
source "$(dirname "$0")/lib.sh"
port=$(python3 "$(dirname "$0")/free_port.py")
export LADLE_ADDR="127.0.0.1:$port"
metrics_port=$(python3 "$(dirname "$0")/free_port.py")
worker_metrics_port=$(python3 "$(dirname "$0")/free_port.py")

# The stand-in trainer: behaviour chosen by the spec's train.seed.
cat > "$work/fake-train" <<'SH'
#!/usr/bin/env bash
spec="$2"
if grep -q '"seed": 666' "$spec"; then
  trap '' TERM          # ignores SIGTERM, and so does its child
  echo "hanging on purpose" >&2
  sleep 600 & wait
elif grep -q '"seed": 77' "$spec"; then
  yes "flood line 0123456789 abcdefghij" | head -c 20000000
  echo "flood done: the last line"
elif grep -q '"seed": 13' "$spec"; then
  echo "about to crash: bad pointer" >&2
  kill -SEGV $$
fi
mkdir -p "$4"; echo '{"test_accuracy": 1.0}' > "$4/summary.json"
SH
chmod +x "$work/fake-train"

"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
  --heartbeat_ms=500 --metrics_listen="127.0.0.1:$metrics_port" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=1 \
  --trainer="$work/fake-train" --kill_grace_ms=500 --log_cap_bytes=1048576 \
  --log_file_cap_bytes=4194304 --metrics_listen="127.0.0.1:$worker_metrics_port" \
  > "$work/worker.log" 2>&1 &
worker_pid=$!; pids+=($worker_pid); disown $worker_pid
up() { "$bin/ladle" workers 2> /dev/null | grep -q alive; }
check "worker registered" wait_for 15 up

# 1. Hang past the timeout, twice (max_retries: 1).
cat > "$work/hang.yaml" <<'YAML'
name: hangs
trial: {train: {seed: 666}}
timeout_seconds: 1
max_retries: 1
YAML
exp=$("$bin/ladle" submit "$work/hang.yaml") || { echo "submit failed"; exit 1; }
start=$SECONDS
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "a hanging job ends failed (watch exits non-zero)" test $? -ne 0
check "within the timeouts plus grace (took $((SECONDS - start)) s)" test $((SECONDS - start)) -lt 30
"$bin/ladle" results "$exp" --format json > "$work/hang.json"
check "the job failed with a timeout reason" python3 - "$work/hang.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
assert job["state"] == "failed", job["state"]
assert "timed out" in job["reason"] and "timeout_seconds = 1" in job["reason"], job["reason"]
assert job["attempts"] == 2 and len(job["attempt_log"]) == 2, job["attempt_log"]
assert all("timed out" in a["reason"] for a in job["attempt_log"]), job["attempt_log"]
PY
no_hangers() { ! pgrep -f "[s]leep 600" > /dev/null; }
check "the stubborn children were killed (SIGKILL after grace)" wait_for 5 no_hangers
check "worker log shows the escalation" grep -q "SIGKILL" "$work/worker.log"

# 2. A crash, then an ordinary job on the same worker.
cat > "$work/crash.yaml" <<'YAML'
name: crashes
trial: {}
sweep: {grid: {train.seed: [13, 1]}}
max_retries: 0
YAML
exp=$("$bin/ladle" submit "$work/crash.yaml") || { echo "submit failed"; exit 1; }
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
"$bin/ladle" results "$exp" --format json > "$work/crash.json"
check "crash: failed with signal and stderr tail; next job succeeded" python3 - "$work/crash.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
crash, ok = jobs[0], jobs[1]
assert crash["state"] == "failed", crash
assert "code 139" in crash["reason"] and "about to crash" in crash["reason"], crash["reason"]
assert ok["state"] == "succeeded", ok
PY
# 3. A flood of stdout.
cat > "$work/flood.yaml" <<'YAML'
name: floods
trial: {train: {seed: 77}}
max_retries: 0
YAML
exp=$("$bin/ladle" submit "$work/flood.yaml") || { echo "submit failed"; exit 1; }
timeout 60 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "a flooding child's job succeeds" test $? -eq 0
job=$("$bin/ladle" results "$exp" --format json | python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['id'])")
"$bin/ladle" logs "$job" > "$work/flood.log" 2> /dev/null
size=$(stat -c %s "$work/flood.log")
check "its log is relayed up to the cap ($size bytes)" test "$size" -ge 1048576 -a "$size" -lt 1200000
check "with a notice where it stops" grep -q "relayed up to --log_cap_bytes=1048576" "$work/flood.log"
flood_file=$(ls "$work"/w/attempts/*/stdout.log 2> /dev/null | xargs -r ls -S | head -1)
fsize=$(stat -c %s "$flood_file" 2> /dev/null || echo 0)
check "on disk its log file stays under --log_file_cap_bytes ($fsize bytes of 20 MB)" \
  test "$fsize" -gt 2000000 -a "$fsize" -le 4194304
check "the file keeps its start, a notice and the child's last line" bash -c \
  "head -c 100 '$flood_file' | grep -q 'flood line' && grep -q 'dropped to keep this file under --log_file_cap_bytes=4194304' '$flood_file' && tail -1 '$flood_file' | grep -q 'flood done: the last line'"
check "the worker counts the bytes it cut" python3 - "$worker_metrics_port" <<'PY'
import re, sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
m = re.search(r"^ladle_worker_log_bytes_dropped_total (\S+)$", text, re.M)
sys.exit(0 if m and float(m.group(1)) > 1e6 else 1)
PY
check "worker still alive" kill -0 "$worker_pid"

if [ $fail -ne 0 ]; then
  echo "--- server log"; tail -30 "$work/server.log"; echo "--- worker log"; tail -30 "$work/worker.log"
fi
exit $fail
