#!/usr/bin/env bash
# Same-data A/B of the CLI's outputs, for refactors that must not change them: a stack of
# OLD_BIN_DIR's server and two workers runs reduced copies of the examples of every kind (and one
# fusion experiment cancelled part-way); then `ladle results` (table, csv, json), `ladle report`,
# `ladle plot` and `ladle validate` of both binary dirs are compared byte for byte. ~6 minutes.
set -u
old=${1:?usage: ab_cli_output.sh OLD_BIN_DIR NEW_BIN_DIR}; new=${2:?}; ex=$(cd "$(dirname "$0")/../examples" && pwd); w=$(mktemp -d)
port=$(python3 "$(dirname "$0")/../tests/e2e/free_port.py"); mport=$(python3 "$(dirname "$0")/../tests/e2e/free_port.py")
export LADLE_ADDR=127.0.0.1:$port
$old/ladle-server --listen=$LADLE_ADDR --data_dir=$w/data --metrics_listen=127.0.0.1:$mport > $w/server.log 2>&1 &
sp=$!
for n in w1 w2; do $old/ladle-worker --coordinator=$LADLE_ADDR --work_dir=$w/$n --cpu_slots=1 --name=$n > $w/$n.log 2>&1 & done
sleep 2
python3 - $ex $w <<'PY'
import re, sys
ex, w = sys.argv[1:]
t = open(f"{ex}/fusion.yaml").read()
t = t.replace("limit: 20000", "limit: 3000").replace("hidden: [128, 128]", "hidden: [32, 32]")
t = re.sub(r"epochs: \d+", "epochs: 2", t).replace("log_every: 50", "log_every: 10").replace("seeds: [1, 2, 3]", "seeds: [1, 2]")
open(f"{w}/fusion.yaml", "w").write(t)
t = open(f"{ex}/ladling.yaml").read()
t = t.replace("nodes: 10000", "nodes: 3000").replace("epochs: 30", "epochs: 15").replace("seeds: [1, 2]", "seeds: [1, 2]").replace("ingredients: 4", "ingredients: 3").replace("parts: 32, parts_per_step: 8", "parts: 12, parts_per_step: 4")
open(f"{w}/ladling.yaml", "w").write(t)
t = open(f"{ex}/dropcompute.yaml").read()
t = t.replace("val_fraction: 0.1}", "val_fraction: 0.1, limit: 6000}").replace("epochs: 3", "epochs: 2").replace("ranks: [4, 16, 64]", "ranks: [4, 16]").replace("thresholds: [none, auto, 11x, 9x]", "thresholds: [none, 9x]").replace("seeds: [1, 2, 3]", "seeds: [1, 2]").replace("calibration_steps: 10", "calibration_steps: 3")
open(f"{w}/dropcompute.yaml", "w").write(t)
t = open(f"{ex}/quickstart.yaml").read()
t = t.replace("epochs: 3", "epochs: 1").replace("val_fraction: 0.1}", "val_fraction: 0.1, limit: 5000}")
open(f"{w}/train.yaml", "w").write(t)
PY
ids=()
for k in train fusion ladling dropcompute; do
  id=$($old/ladle submit $w/$k.yaml); ids+=($id)
  timeout 900 $old/ladle watch $id > /dev/null 2>&1; echo "$k $id rc=$?"
done
# one more, cancelled mid-way (partial results)
id=$($old/ladle submit $w/fusion.yaml); sleep 4; $old/ladle cancel $id > /dev/null; ids+=($id)
sleep 2
diffs=0
for id in "${ids[@]}"; do
  for f in table csv json; do
    $old/ladle results $id --format $f > $w/$id.$f.old 2>&1
    $new/ladle results $id --format $f > $w/$id.$f.new 2>&1
    cmp -s $w/$id.$f.old $w/$id.$f.new && echo "same results $id $f ($(wc -c < $w/$id.$f.new) bytes)" || { echo "DIFF results $id $f"; diffs=$((diffs+1)); }
  done
  $old/ladle report $id -o $w/$id.old.html 2>/dev/null; $new/ladle report $id -o $w/$id.new.html 2>/dev/null
  cmp -s $w/$id.old.html $w/$id.new.html && echo "same report $id ($(wc -c < $w/$id.new.html) bytes)" || { echo "DIFF report $id"; diffs=$((diffs+1)); }
  $old/ladle plot $id --metric train_loss -o $w/$id.old.svg 2>/dev/null; $new/ladle plot $id --metric train_loss -o $w/$id.new.svg 2>/dev/null
  cmp -s $w/$id.old.svg $w/$id.new.svg && echo "same plot $id" || { echo "DIFF plot $id"; diffs=$((diffs+1)); }
done
for s in $ex/*.yaml $w/*.yaml; do
  if grep -q "^name:" $s; then
    $old/ladle validate $s > $w/v.old 2>&1; a=$?; $new/ladle validate $s > $w/v.new 2>&1; b=$?
    cmp -s $w/v.old $w/v.new && [ $a = $b ] && echo "same validate $(basename $s)" || { echo "DIFF validate $s"; diffs=$((diffs+1)); }
  fi
done
echo "DIFFS $diffs (outputs in $w)"
kill $sp; pkill -f "ladle-worker --coordinator=$LADLE_ADDR"
[ $diffs -eq 0 ]
