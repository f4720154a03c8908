#!/usr/bin/env bash
# The Slurm harness (slurm_lib.sh) on its own: a single-node Slurm comes up under a scratch dir,
# runs a 3-task array job to the end and goes away. Skipped (77) where Slurm cannot run.
set -uo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
slurm_usable
check "slurmctld and slurmd up, the node idle" start_slurm
id=$(sbatch --parsable --array=0-2 -o "$work/task-%a.out" --wrap 'echo task $SLURM_ARRAY_TASK_ID on $SLURMD_NODENAME')
all_done() { [ -z "$(squeue --noheader -j "$id" 2> /dev/null)" ]; }
check "an array job of 3 tasks runs to the end" wait_for 60 all_done
check "each task ran once with its index" bash -c "cat '$work'/task-*.out | sort | tr '\n' ' ' | grep -q 'task 0 on .* task 1 on .* task 2 on '"
stop_slurm
check "the daemons are gone" bash -c "! pgrep -f '$work/[s]lurm/slurm.conf' > /dev/null"
[ $fail -eq 0 ] || { for f in "$work"/slurm/log/*.log; do tail -n 20 "$f"; done; exit 1; }
echo "slurm harness passed"
