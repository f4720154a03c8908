#!/usr/bin/env bash
# Latency of Ladle on Slurm, against Slurm alone, same run, same machine: a sweep of N
# ladle-train jobs (1 CPU each) submitted to a coordinator with no workers, served by pilots
# that ladle-slurm starts, vs the same N trials submitted straight to Slurm as an array job
# (each task runs ladle-train with the same trial spec). Measures submit -> first job running and
# submit -> all done, over --rounds alternating rounds. Needs root and Slurm (tests/slurm/).
# Usage: bench/slurm_bench.sh BIN_DIR [N=8] [ROUNDS=3] [MAX_PILOTS=2]
set -uo pipefail
bin="$(cd "$1" && pwd)"
n=${2:-8}
rounds=${3:-3}
max_pilots=${4:-2}
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../tests/e2e/lib.sh"
source "$here/../tests/slurm/slurm_lib.sh"
slurm_usable
start_slurm || { echo "slurm did not start"; exit 1; }
now() { date +%s.%N; }
start_ladle_on_slurm "$bin" "$max_pilots" 2 $(( $(nproc) / max_pilots > 0 ? $(nproc) / max_pilots : 1 )) || exit 1
export LADLE_TOKEN=admin-token-0123456789abcdef
trial='{model: {hidden: [64]}, data: {limit: 5000}, train: {epochs: 2}}'
seeds=$(seq -s, 1 "$n")
printf 'name: slurm-bench\ntrial: %s\nsweep: {grid: {train.seed: [%s]}}\n' "$trial" "$seeds" \
  > "$work/sweep.yaml"
printf '%s\n' "$trial" > "$work/trial.yaml"
state_of() { "$bin/ladle" list 2> /dev/null | awk -v e="$1" '$1 == e {print $3}'; }
no_pilots() { [ -z "$(squeue -h -n ladle-pilot-cpu)" ]; }
ladle_round() {
  wait_for 60 no_pilots
  local t0 t1 t2 exp
  t0=$(now)
  exp=$("$bin/ladle" submit "$work/sweep.yaml" 2> /dev/null)
  started() { "$bin/ladle" show "$1" 2> /dev/null | grep -q "[1-9][0-9]* running\|[1-9][0-9]* succeeded"; }
  wait_for 300 started "$exp" || { echo "ladle: no job started"; return 1; }
  t1=$(now)
  finished() { [ "$(state_of "$1")" = succeeded ]; }
  wait_for 600 finished "$exp" || { echo "ladle: not done"; return 1; }
  t2=$(now)
  echo "ladle $(echo "$t1 - $t0" | bc) $(echo "$t2 - $t0" | bc)"
}
array_round() {
  wait_for 60 no_pilots
  local t0 t1 t2 id
  t0=$(now)
  id=$(sbatch --parsable --array=1-"$n" --cpus-per-task=1 -o "$work/array-%a.out" \
    --wrap "exec '$bin/ladle-train' --spec '$work/trial.yaml' --out '$work/array/'\$SLURM_ARRAY_TASK_ID --quiet")
  task_running() { squeue -h -j "$1" -t RUNNING 2> /dev/null | grep -q .; }
  wait_for 300 task_running "$id" || { echo "array: no task started"; return 1; }
  t1=$(now)
  array_gone() { [ -z "$(squeue -h -j "$1" 2> /dev/null)" ]; }
  wait_for 600 array_gone "$id" || { echo "array: not done"; return 1; }
  t2=$(now)
  echo "array $(echo "$t1 - $t0" | bc) $(echo "$t2 - $t0" | bc)"
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then ladle_round; array_round; else array_round; ladle_round; fi
done | tee "$work/times.txt"
/usr/bin/python3 - "$work/times.txt" "$n" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for kind in ("ladle", "array"):
    first = [float(r[1]) for r in rows if r[0] == kind]
    done = [float(r[2]) for r in rows if r[0] == kind]
    print("%-6s submit->first running: median %.2f s (%s); submit->all %s done: median %.2f s (%s)" % (
        kind, statistics.median(first), ", ".join("%.2f" % x for x in first), sys.argv[2],
        statistics.median(done), ", ".join("%.2f" % x for x in done)))
PY
