#!/usr/bin/env bash
# End-to-end: a gang job (ranks: 2) — examples/pytorch-ddp — across two workers of one CPU
# slot each, a real ladle-server and two ladle-workers.
#  1. DistributedDataParallel over gloo: both ranks start together on different workers with
#     torchrun's environment (MASTER_PORT picked by rank 0's worker, passed on by the
#     coordinator), and end with identical weights — read from each worker's own copy of its
#     rank's log, not from the program's summary alone; the summary and model are rank 0's;
#  2. a rank that exits 1 before joining the group on the first attempt: its peer, blocked in
#     init_process_group until stopped, is stopped by Ladle (its attempt ends cancelled, naming
#     the failed rank), and the gang is retried as one and succeeds.
# Usage: command_gang_test.sh BIN_DIR EXAMPLES_DIR. Needs python3-torch (skips, exit 77,
# without it). Bounded; everything is killed at exit.
set -uo pipefail
bin="$1"; examples="$2"
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c "import torch.distributed" 2> /dev/null ||
  { echo "no python3-torch: skipped"; exit 77; }
export LADLE_ADDR="127.0.0.1:$(free_port)"
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --lease_ms=3000 \
  --heartbeat_ms=500 --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
for w in a b; do
  "$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w-$w" --cpu_slots=1 \
    --name="worker-$w" > "$work/worker-$w.log" 2>&1 &
  pids+=($!); disown $!
done
two_up() { [ "$("$bin/ladle" workers 2> /dev/null | grep -c alive)" -eq 2 ]; }
check "two workers registered" wait_for 20 two_up
[ $fail -eq 0 ] || exit 1
# field EXPR < results.json: a Python expression over d, the results.
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# 1. Two ranks, one per worker.
exp=$("$bin/ladle" submit "$examples/pytorch-ddp/experiment.yaml" 2> "$work/submit.txt")
timeout 240 "$bin/ladle" watch "$exp" > /dev/null 2> "$work/watch.txt"
check "the 2-rank DDP job succeeded" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/ddp.json"
attempts="d['jobs'][0]['attempt_log']"
check "one attempt of two ranks" test "$(field "sorted(a['rank'] for a in $attempts)" \
  < "$work/ddp.json")" = "[0, 1]"
check "its ranks ran on different workers" test "$(field "len({a['worker'] for a in $attempts})" \
  < "$work/ddp.json")" = 2
check "rank 0's summary: 2 ranks that agree" test "$(field \
  "(d['jobs'][0]['summary']['world_size'], d['jobs'][0]['summary']['ranks_agree'])" \
  < "$work/ddp.json")" = "(2, 1)"
digest() { grep -ho "rank $1 weights sha256 [0-9a-f]*" "$work"/w-"$2"/attempts/*/stdout.log | awk '{print $5}'; }
for w in a b; do for r in 0 1; do [ -n "$(digest $r $w)" ] && eval "rank${r}_on=$w"; done; done
d0=$(digest 0 "${rank0_on:-x}"); d1=$(digest 1 "${rank1_on:-x}")
check "each worker logged its rank's weights" test -n "$d0" -a -n "$d1" -a "${rank0_on:-x}" != "${rank1_on:-y}"
check "both ranks ended with identical weights ($d0)" test "$d0" = "$d1"
check "rank 1 saw rank 0's worker as MASTER_ADDR with a port" \
  grep -Eq "rank 1 of 2 joined \(local 0 of 1, master 127\.0\.0\.1:[0-9]+\)" \
  "$work"/w-"${rank1_on:-x}"/attempts/*/stdout.log
job=$(field "d['jobs'][0]['id']" < "$work/ddp.json")
"$bin/ladle" download "$job" out/model.pt -o "$work/model.pt" 2> /dev/null
check "the model is rank 0's" cmp -s "$work/model.pt" "$work"/w-"${rank0_on:-x}"/attempts/*/work/out/model.pt

# 2. Rank 1 fails on the first attempt; rank 0 waits for it in init_process_group.
cp -r "$examples/pytorch-ddp" "$work/ddp"
sed -i 's/train_samples: 10000}/train_samples: 4000, fail_rank: 1}/' "$work/ddp/experiment.yaml"
exp=$("$bin/ladle" submit "$work/ddp/experiment.yaml" 2> /dev/null)
timeout 240 "$bin/ladle" watch "$exp" > /dev/null 2> "$work/watch2.txt"
check "the gang succeeded on its retry" test $? -eq 0
"$bin/ladle" results "$exp" --format json > "$work/retry.json"
outcomes="sorted((a['number'], a['rank'], a['outcome']) for a in $attempts)"
check "attempt 1: rank 1 failed, rank 0 stopped; attempt 2: both succeeded" \
  test "$(field "$outcomes" < "$work/retry.json")" = \
  "[(1, 0, 'cancelled'), (1, 1, 'failed'), (2, 0, 'succeeded'), (2, 1, 'succeeded')]"
check "the stopped rank's reason names the failed one" test "$(field \
  "[a['reason'] for a in $attempts if a['number'] == 1 and a['rank'] == 0][0]" \
  < "$work/retry.json" | grep -c "gang stopped: rank 1")" = 1
[ $fail -eq 0 ] || { tail -30 "$work/server.log" "$work"/worker-*.log; cat "$work/watch2.txt"; }
exit $fail
