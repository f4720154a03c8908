#!/usr/bin/env bash
# Training throughput: ladle-train vs PyTorch on the same data, same model, same thread count,
# measured in one run. Prints samples/s (MLP) and epoch time (GCN) for both, and the ratios.
#
#   ./bench/train_bench.sh [--repeats N] [--threads N]
#
# MLP 784-1024-1024-10, AdamW, fp32, 1 epoch of Fashion-MNIST at batch 128 and 512.
# GCN 2 layers, hidden 128, on a 20k-node CSBM graph (128 features), 50 full-graph epochs.
# PyTorch is Debian's python3-torch (installed here, for the bench only) with
# torch.set_num_threads(N) and OMP_WAIT_POLICY=passive. Its matmuls go to OpenBLAS, whose speed
# depends on OPENBLAS_CORETYPE: the bench runs it as the environment has it and with
# OPENBLAS_CORETYPE=SkylakeX (this CPU's AVX-512 kernels) and keeps PyTorch's best, so the
# baseline is its fair best here. Repeat r uses training seed r on both sides: throughput is the
# best repeat, accuracy the mean ± std over the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=5
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) repeats=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--repeats N] [--threads N]" >&2; exit 2 ;;
  esac
done

./scripts/install-deps.sh
if ! dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q 'install ok installed'; then
  echo "train_bench: installing python3-torch (baseline only)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch > /dev/null
fi
build=${LADLE_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target ladle-train ladle-export-data > /dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3  # Debian's interpreter, where python3-torch lives
results="$work/results.jsonl"

# Folds one run's result into the running best: the fastest run's timing, every run's accuracy.
fold() {  # fold CUR_JSON PREV_JSON
  $py - "$1" "$2" <<'PY'
import json, sys
cur = json.loads(sys.argv[1]); prev = json.loads(sys.argv[2]) if sys.argv[2] else None
accs = (prev["accuracies"] if prev else []) + [cur["test_accuracy"]]
if "epoch_seconds" in cur:
    better = prev is None or cur["epoch_seconds"] < prev["epoch_seconds"]
else:
    better = prev is None or cur["train_samples_per_second"] > prev["train_samples_per_second"]
best = dict(cur if better else prev)
best["accuracies"] = accs
print(json.dumps(best))
PY
}

best_ladle() {  # best_ladle SPEC -> best of $repeats runs, seeds 1..repeats
  local spec=$1 best=""
  for r in $(seq 1 "$repeats"); do
    sed "s/seed: 1}/seed: $r}/" "$spec" > "$work/seeded.yaml"
    "$build/bin/ladle-train" --spec "$work/seeded.yaml" --out "$work/run" --quiet > "$work/summary.json"
    cur=$($py -c "
import json; s = json.load(open('$work/summary.json'))
r = {'test_accuracy': s['test_accuracy'], 'gflops': s['train_gflops_per_second']}
if s['spec']['model']['type'] == 'gcn': r['epoch_seconds'] = s['train_seconds'] / s['steps']
else: r['train_samples_per_second'] = s['train_samples_per_second']
print(json.dumps(r))")
    best=$(fold "$cur" "$best")
  done
  echo "$best"
}

best_torch() {  # best_torch ARGS... -> fastest OpenBLAS kernel choice, best of seeds 1..repeats
  local pick="" best="" t
  for coretype in "${OPENBLAS_CORETYPE:-}" SkylakeX; do  # pick the faster kernel on seed 1
    out=$(env OMP_WAIT_POLICY=passive ${coretype:+OPENBLAS_CORETYPE=$coretype} \
          $py bench/pytorch_baseline.py "$@" --threads "$threads" --seed 1 2> /dev/null)
    out=$($py -c "import json,sys; d=json.loads(sys.argv[1]); d['openblas_coretype']=sys.argv[2] or 'default'; print(json.dumps(d))" "$out" "$coretype")
    t=$(fold "$out" "")
    if [ -z "$pick" ] || [ "$($py -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); k='epoch_seconds' if 'epoch_seconds' in a else 'train_samples_per_second'; print(int((a[k] < b[k]) == (k == 'epoch_seconds')))" "$t" "$pick")" = 1 ]; then
      pick=$t; best_core=$coretype
    fi
  done
  best=$pick
  for r in $(seq 2 "$repeats"); do
    out=$(env OMP_WAIT_POLICY=passive ${best_core:+OPENBLAS_CORETYPE=$best_core} \
          $py bench/pytorch_baseline.py "$@" --threads "$threads" --seed "$r" 2> /dev/null)
    out=$($py -c "import json,sys; d=json.loads(sys.argv[1]); d['openblas_coretype']=sys.argv[2] or 'default'; print(json.dumps(d))" "$out" "$best_core")
    best=$(fold "$out" "$best")
  done
  echo "$best"
}

for batch in 128 512; do
  cat > "$work/mlp.yaml" <<YAML
model: {type: mlp, hidden: [1024, 1024], activation: relu}
data: {dataset: fashion-mnist, val_fraction: 0.1}
train: {epochs: 1, batch_size: $batch, log_every: 100, optimizer: {name: adamw, lr: 0.001, weight_decay: 0.0}, seed: 1}
device: cpu
threads: $threads
YAML
  [ -f "$work/fmnist.safetensors" ] || "$build/bin/ladle-export-data" --spec "$work/mlp.yaml" --out "$work/fmnist.safetensors"
  l=$(best_ladle "$work/mlp.yaml")
  t=$(best_torch mlp "$work/fmnist.safetensors" --hidden 1024 1024 --batch "$batch" --epochs 1)
  echo "{\"case\": \"mlp_b$batch\", \"ladle\": $l, \"pytorch\": $t}" >> "$results"
done

cat > "$work/gcn.yaml" <<YAML
model: {type: gcn, hidden: [128], dropout: 0.5}
data: {dataset: csbm, nodes: 20000, classes: 5, avg_degree: 10, homophily: 0.8, feature_dim: 128, separation: 1.0}
train: {epochs: 50, log_every: 50, optimizer: {name: adamw, lr: 0.01, weight_decay: 0.0005}, seed: 1}
device: cpu
threads: $threads
YAML
"$build/bin/ladle-export-data" --spec "$work/gcn.yaml" --out "$work/csbm.safetensors"
l=$(best_ladle "$work/gcn.yaml")
t=$(best_torch gcn "$work/csbm.safetensors" --hidden 128 --epochs 50 --lr 0.01 --weight-decay 0.0005 --dropout 0.5)
echo "{\"case\": \"gcn_csbm20k\", \"ladle\": $l, \"pytorch\": $t}" >> "$results"

$py - "$results" "$threads" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"\nTraining throughput, ladle-train vs PyTorch {rows[0]['pytorch']['torch']}, "
      f"{sys.argv[2]} threads, fp32, same data (higher ratio = ladle faster)")
import statistics
def acc(r):
    a = r["accuracies"]
    return f"{statistics.mean(a):.4f}±{statistics.stdev(a) if len(a) > 1 else 0:.4f}"
print(f"{'case':12s} {'ladle':>13s} {'pytorch':>13s} {'ratio':>6s} {'target':>6s} "
      f"{'ladle test acc':>15s} {'torch test acc':>15s}  torch openblas")
# Issue 7 (performance): 2.0x PyTorch at batch 128, 1.5x at 512, GCN epoch time <= 0.5x (= 2.0x).
targets = {"mlp_b128": 2.0, "mlp_b512": 1.5, "gcn_csbm20k": 2.0}
for r in rows:
    l, t = r["ladle"], r["pytorch"]
    if "epoch_seconds" in l:
        ratio = t["epoch_seconds"] / l["epoch_seconds"]
        a, b = f"{l['epoch_seconds']*1e3:.1f} ms/ep", f"{t['epoch_seconds']*1e3:.1f} ms/ep"
    else:
        ratio = l["train_samples_per_second"] / t["train_samples_per_second"]
        a, b = f"{l['train_samples_per_second']:.0f} /s", f"{t['train_samples_per_second']:.0f} /s"
    tgt = targets[r["case"]]
    print(f"{r['case']:12s} {a:>13s} {b:>13s} {ratio:5.2f}x {tgt:5.1f}x "
          f"{acc(l):>15s} {acc(t):>15s}  {t['openblas_coretype']}"
          + ("" if ratio >= tgt else "   <- below target"))
print(f"(accuracy: mean ± std over seeds 1..{len(rows[0]['ladle']['accuracies'])}; "
      "throughput: best run)")
PY
