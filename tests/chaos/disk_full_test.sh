#!/usr/bin/env bash
# Chaos: the coordinator's data dir fills up. ladle-server runs on a small tmpfs (mounted by
# this test; it needs root or CAP_SYS_ADMIN and exits 77 = skipped without). A sweep is
# accepted, then a filler file takes every free byte while jobs run:
#  - new submissions fail with RESOURCE_EXHAUSTED naming the full data dir, nothing half-stored;
#  - the server stays up and answers reads (list, results);
#  - once the filler is removed, the sweep finishes with every job succeeded exactly once, new
#    submissions work, and `PRAGMA integrity_check` is ok.
# Usage: disk_full_test.sh BIN_DIR
set -uo pipefail
bin="$1"
source "$(dirname "$0")/../e2e/lib.sh"
mkdir -p "$work/data"
if ! mount -t tmpfs -o size=8m tmpfs "$work/data" 2> "$work/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(cat "$work/mount.err")); needs root or CAP_SYS_ADMIN"
  exit 77
fi
trap 'cleanup_all' EXIT
cleanup_all() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  pkill -9 -f "$work/" 2> /dev/null
  sleep 0.2
  umount "$work/data" 2> /dev/null || umount -l "$work/data" 2> /dev/null
  rm -rf "$work"
}

# A stand-in trainer: a short run that writes its summary and a few metric lines.
cat > "$work/fake-train" <<'SH'
#!/usr/bin/env bash
out="$4"; mkdir -p "$out"
for i in 1 2 3; do echo "{\"step\": $i, \"loss\": 0.$i}" >> "$out/metrics.jsonl"; sleep 0.2; done
echo '{"test_accuracy": 0.9}' > "$out/summary.json"
SH
chmod +x "$work/fake-train"

port=$(free_port)
export LADLE_ADDR="127.0.0.1:$port"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
  --heartbeat_ms=500 --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
server_pid=$!; pids+=($server_pid); disown $server_pid
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=2 \
  --trainer="$work/fake-train" > "$work/worker.log" 2>&1 &
pids+=($!); disown $!
up() { "$bin/ladle" workers 2> /dev/null | grep -q alive; }
check "worker registered" wait_for 15 up

cat > "$work/sweep.yaml" <<'YAML'
name: disk-full
trial: {train: {epochs: 1}}
sweep: {grid: {train.seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}}
resources: {cpu_slots: 1}
max_retries: 5
YAML
exp=$("$bin/ladle" submit "$work/sweep.yaml" 2> /dev/null | head -1)
check "sweep accepted" test -n "$exp"
sleep 1
# Fill every free byte of the data dir.
dd if=/dev/zero of="$work/data/filler" bs=64k 2> /dev/null
echo "data dir: $(df -k --output=avail "$work/data" | tail -1) KiB free"
"$bin/ladle" submit "$work/sweep.yaml" > "$work/full-submit.out" 2> "$work/full-submit.err"
rc=$?
cat "$work/full-submit.err"
check "a submission on a full disk fails" test $rc -ne 0
check "with an error naming the full disk and --data_dir" \
  grep -q "disk is full.*--data_dir" "$work/full-submit.err"
sleep 3
check "the server is still up" kill -0 "$server_pid"
"$bin/ladle" list > "$work/list.txt" 2>&1
check "and answers reads; the refused experiment left nothing behind" \
  test "$(grep -c '^exp-' "$work/list.txt")" -eq 1
rm -f "$work/data/filler"
echo "space back: $(df -k --output=avail "$work/data" | tail -1) KiB free"
timeout 90 "$bin/ladle" watch "$exp" > /dev/null 2>&1
check "the sweep finished after space came back" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/r.json"
check "every job succeeded exactly once" python3 - "$work/r.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
states = [j["state"] for j in jobs]
# exactly once: one succeeded attempt per job in its attempt log
once = all(sum(a["outcome"] == "succeeded" for a in j["attempt_log"]) == 1 for j in jobs)
print(f"  {len(jobs)} jobs: {states.count('succeeded')} succeeded, {sum(j['attempts'] for j in jobs)} attempts")
sys.exit(0 if len(jobs) == 20 and states.count("succeeded") == 20 and once else 1)
PY
exp2=$("$bin/ladle" submit "$work/sweep.yaml" 2> /dev/null | head -1)
check "submissions work again" test -n "$exp2"
kill -TERM "$server_pid"; sleep 1
check "PRAGMA integrity_check is ok" bash -c \
  "python3 -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute('PRAGMA integrity_check').fetchone()[0]; print('  integrity:', r); sys.exit(r!='ok')\" '$work/data/ladle.db'"
if [ $fail -ne 0 ]; then
  echo "--- server log"; tail -30 "$work/server.log"; echo "--- worker log"; tail -30 "$work/worker.log"
fi
exit $fail
