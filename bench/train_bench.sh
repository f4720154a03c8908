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
# baseline is its fair best here. Repeat r uses training seed r on both sides, and the two sides
# alternate (ladle r, PyTorch r, ladle r+1, ...) so that both see the same minutes of this VM,
# whose speed drifts: throughput is the best repeat of each side and their ratio; the ratios of
# the pairs (ladle r / PyTorch r) and their median are printed beside it. Accuracy: mean ± std
# over the seeds.
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

# One run of either side, as a JSON line: {"value": samples/s or s/epoch, "test_accuracy": ...}.
run_ladle() {  # run_ladle SPEC SEED
  sed "s/seed: 1}/seed: $2}/" "$1" > "$work/seeded.yaml"
  "$build/bin/ladle-train" --spec "$work/seeded.yaml" --out "$work/run" --quiet > "$work/summary.json"
  $py -c "
import json; s = json.load(open('$work/summary.json'))
gcn = s['spec']['model']['type'] == 'gcn'
print(json.dumps({'test_accuracy': s['test_accuracy'], 'per_epoch': gcn,
                  'value': s['train_seconds'] / s['steps'] if gcn else s['train_samples_per_second']}))"
}

run_torch() {  # run_torch CORETYPE SEED ARGS...
  local coretype=$1 seed=$2
  shift 2
  env OMP_WAIT_POLICY=passive ${coretype:+OPENBLAS_CORETYPE=$coretype} \
    $py bench/pytorch_baseline.py "$@" --threads "$threads" --seed "$seed" 2> /dev/null |
    $py -c "
import json, sys; d = json.loads(sys.stdin.read()); gcn = 'epoch_seconds' in d
print(json.dumps({'test_accuracy': d['test_accuracy'], 'per_epoch': gcn, 'torch': d['torch'],
                  'openblas_coretype': sys.argv[1] or 'default',
                  'value': d['epoch_seconds'] if gcn else d['train_samples_per_second']}))" "$coretype"
}

faster() {  # faster JSON_A JSON_B -> 1 if A is faster
  $py -c "
import json, sys; a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(int(a['value'] < b['value'] if a['per_epoch'] else a['value'] > b['value']))" "$1" "$2"
}

# bench_case NAME SPEC TORCH_ARGS...: PyTorch's OpenBLAS kernel is picked on seed 1 (the faster
# of the environment's and SkylakeX); then seeds 1..repeats alternate between the two sides.
bench_case() {
  local name=$1 spec=$2 pick="" core="" out
  shift 2
  for coretype in "${OPENBLAS_CORETYPE:-}" SkylakeX; do
    out=$(run_torch "$coretype" 1 "$@")
    if [ -z "$pick" ] || [ "$(faster "$out" "$pick")" = 1 ]; then pick=$out; core=$coretype; fi
  done
  for r in $(seq 1 "$repeats"); do
    echo "{\"case\": \"$name\", \"side\": \"ladle\", \"seed\": $r, \"run\": $(run_ladle "$spec" "$r")}" >> "$results"
    if [ "$r" = 1 ]; then out=$pick; else out=$(run_torch "$core" "$r" "$@"); fi
    echo "{\"case\": \"$name\", \"side\": \"pytorch\", \"seed\": $r, \"run\": $out}" >> "$results"
  done
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
  bench_case "mlp_b$batch" "$work/mlp.yaml" mlp "$work/fmnist.safetensors" \
    --hidden 1024 1024 --batch "$batch" --epochs 1
done

cat > "$work/gcn.yaml" <<YAML
model: {type: gcn, hidden: [128], dropout: 0.5}
data: {dataset: csbm, nodes: 20000, classes: 5, avg_degree: 10, homophily: 0.8, feature_dim: 128, separation: 1.0}
train: {epochs: 50, log_every: 50, optimizer: {name: adamw, lr: 0.01, weight_decay: 0.0005}, seed: 1}
device: cpu
threads: $threads
YAML
"$build/bin/ladle-export-data" --spec "$work/gcn.yaml" --out "$work/csbm.safetensors"
bench_case gcn_csbm20k "$work/gcn.yaml" gcn "$work/csbm.safetensors" --hidden 128 --epochs 50 \
  --lr 0.01 --weight-decay 0.0005 --dropout 0.5

$py - "$results" "$threads" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
cases = list(dict.fromkeys(r["case"] for r in runs))
torch_version = next(r["run"]["torch"] for r in runs if r["side"] == "pytorch")
print(f"\nTraining throughput, ladle-train vs PyTorch {torch_version}, {sys.argv[2]} threads, fp32, "
      "same data, the sides alternating run by run (higher ratio = ladle faster)")
print(f"{'case':12s} {'ladle':>13s} {'pytorch':>13s} {'ratio':>6s} {'target':>6s} "
      f"{'ladle test acc':>15s} {'torch test acc':>15s}  torch openblas; ratios of the pairs")
# Issue 7 (performance): 2.0x PyTorch at batch 128, 1.5x at 512, GCN epoch time <= 0.5x (= 2.0x).
targets = {"mlp_b128": 2.0, "mlp_b512": 1.5, "gcn_csbm20k": 2.0}
def acc(rs):
    a = [r["test_accuracy"] for r in rs]
    return f"{statistics.mean(a):.4f}±{statistics.stdev(a) if len(a) > 1 else 0:.4f}"
for case in cases:
    side = {s: {r["seed"]: r["run"] for r in runs if r["case"] == case and r["side"] == s}
            for s in ("ladle", "pytorch")}
    per_epoch = side["ladle"][1]["per_epoch"]
    speed = (lambda v: 1 / v) if per_epoch else (lambda v: v)  # higher = faster
    best = {s: max(side[s].values(), key=lambda r: speed(r["value"])) for s in side}
    ratio = speed(best["ladle"]["value"]) / speed(best["pytorch"]["value"])
    pairs = [speed(side["ladle"][k]["value"]) / speed(side["pytorch"][k]["value"])
             for k in sorted(side["ladle"]) if k in side["pytorch"]]
    fmt = (lambda v: f"{v*1e3:.1f} ms/ep") if per_epoch else (lambda v: f"{v:.0f} /s")
    tgt = targets[case]
    print(f"{case:12s} {fmt(best['ladle']['value']):>13s} {fmt(best['pytorch']['value']):>13s} "
          f"{ratio:5.2f}x {tgt:5.1f}x {acc(side['ladle'].values()):>15s} "
          f"{acc(side['pytorch'].values()):>15s}  {best['pytorch']['openblas_coretype']}; "
          + ", ".join(f"{p:.2f}" for p in pairs) + f" (median {statistics.median(pairs):.2f})"
          + ("" if ratio >= tgt else "   <- below target"))
print(f"(accuracy: mean ± std over seeds 1..{len(pairs)}; throughput: best run of each side)")
PY
