#!/usr/bin/env bash
# ladle-slurm against a real single-node Slurm (slurm_lib.sh): a coordinator with no workers,
# ladle-slurm with a CPU pilot type; a submitted sweep makes it start pilots (workers labelled
# with their Slurm job), the sweep succeeds, and the idle pilots are cancelled after the grace.
# Skipped (77) where Slurm cannot run here.
# Usage: slurm_e2e.sh BIN_DIR
set -uo pipefail
bin="$(cd "$1" && pwd)"
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
slurm_usable
check "slurm up" start_slurm || exit 1
check "the coordinator (no workers) and ladle-slurm up" start_ladle_on_slurm "$bin" 2 4 1 || exit 1
export LADLE_TOKEN=alice-token-0123456789abcdef
cat > "$work/sweep.yaml" <<'YAML'
name: slurm-sweep
trial: {model: {hidden: [16]}, data: {limit: 1000}, train: {epochs: 1}}
sweep: {grid: {train.seed: [1, 2, 3, 4]}}
YAML
t0=$(date +%s.%N)
exp=$("$bin/ladle" submit "$work/sweep.yaml" 2> "$work/submit.err")
check "the sweep is accepted with no workers" test -n "$exp" || exit 1
pilots_up() { [ "$(squeue -h -n ladle-pilot-cpu -t RUNNING | wc -l)" -ge 1 ]; }
check "ladle-slurm starts pilots for the queued jobs" wait_for 60 pilots_up
labelled() { "$bin/ladle" workers 2> /dev/null | grep -q "node=.*slurm_job_id=[0-9]"; }
check "the pilots' workers register, labelled with their Slurm job and node" wait_for 60 labelled
state_of() { "$bin/ladle" list 2> /dev/null | awk -v e="$1" '$1 == e {print $3}'; }
done_ok() { [ "$(state_of "$exp")" = succeeded ]; }
check "the sweep succeeds on the pilots" wait_for 180 done_ok
t1=$(date +%s.%N)
echo "sweep of 4 jobs through pilots: $(echo "$t1 - $t0" | bc) s from submit to succeeded"
check "at most max_pilots (2) pilots for 4 one-slot jobs" bash -c "[ \$(grep -c 'submitted pilot' '$work/ladle-slurm.log') -eq 2 ]"
no_pilots() { [ -z "$(squeue -h -n ladle-pilot-cpu)" ]; }
check "idle pilots are cancelled after the grace" wait_for 60 no_pilots

# A pilot cancelled by Slurm mid-attempt: its worker drains, the attempt runs again on a new
# pilot and the job succeeds once.
cat > "$work/long.yaml" <<'YAML'
name: slurm-long
trial: {model: {hidden: [128]}, data: {limit: 0}, train: {epochs: 40, log_every: 50}}
YAML
long=$("$bin/ladle" submit "$work/long.yaml" 2>> "$work/submit.err")
job="$long-0000"
running() { "$bin/ladle" show "$long" 2> /dev/null | grep -q "1 running"; }
check "a long job runs on a pilot" wait_for 60 running
sleep 2
victim=$(squeue -h -n ladle-pilot-cpu -t RUNNING -o %i | head -1)
scancel "$victim"
echo "scancel $victim mid-attempt"
long_done() { [ "$(state_of "$long")" = succeeded ]; }
check "the job succeeds after its pilot was cancelled" wait_for 240 long_done
"$bin/ladle" results "$long" --format json > "$work/long.json" 2> /dev/null
check "its first attempt ended with the pilot, a later one succeeded, once" /usr/bin/python3 - "$work/long.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
attempts = r["jobs"][0]["attempt_log"]
outcomes = [a["outcome"] for a in attempts]
print("attempts:", outcomes)
assert len(attempts) >= 2 and outcomes.count("succeeded") == 1 and outcomes[-1] == "succeeded", outcomes
PY

# Slurm's controller away: ladle-slurm counts the errors, backs off, and carries on once it is back.
scontrol shutdown slurmctld > /dev/null 2>&1
down() { curl -sf "http://127.0.0.1:$slurm_metrics/metrics" | grep -q '^ladle_slurm_up 0'; }
check "Slurm down: ladle_slurm_up drops to 0" wait_for 30 down
check "and the squeue errors are counted" bash -c "curl -sf http://127.0.0.1:$slurm_metrics/metrics | grep -q '^ladle_slurm_errors_total{op=\"squeue\"} [1-9]'"
slurmctld -f "$SLURM_CONF"
late=$("$bin/ladle" submit "$work/sweep.yaml" 2>> "$work/submit.err")
late_done() { [ "$(state_of "$late")" = succeeded ]; }
check "Slurm back: ladle-slurm starts pilots again and a new sweep succeeds" wait_for 120 late_done

# The static pilot template (deploy/slurm/ladle-pilot.sbatch), its resources scaled to this node.
static=$(LADLE_COORDINATOR="$LADLE_ADDR" LADLE_BIN="$bin" LADLE_WORK="$work/static" \
  LADLE_WORKER_TOKEN_FILE="$work/worker_token" \
  sbatch --parsable --gres=none --mem=512M --cpus-per-task=1 --output="$work/static-%j.log" \
  "$(dirname "$0")/../../deploy/slurm/ladle-pilot.sbatch")
static_up() { "$bin/ladle" workers 2> /dev/null | grep -q "pilot-$static .*alive.*slurm_job_id=$static"; }
check "the static pilot template registers a worker labelled with its job" wait_for 60 static_up
scancel "$static"
curl -sf "http://127.0.0.1:$slurm_metrics/metrics" > "$work/metrics.txt"
check "promtool accepts ladle-slurm's /metrics" promtool check metrics < "$work/metrics.txt"
check "its metrics count the pilots" bash -c "grep -q '^ladle_slurm_pilots_total{action=\"submitted\"} [1-9]' '$work/metrics.txt' && grep -q '^ladle_slurm_pilots_total{action=\"cancelled\"} [1-9]' '$work/metrics.txt' && grep -q '^ladle_slurm_up 1' '$work/metrics.txt'"
if [ $fail -ne 0 ]; then
  tail -20 "$work/ladle-slurm.log"; tail -5 "$work/server.log"; squeue; ls "$work/pilots"
  for f in "$work"/pilots/*.log; do tail -5 "$f"; done
  exit 1
fi
echo "slurm e2e passed"
