#!/usr/bin/env bash
# Quick start: builds ladle-train and trains the example MLP on Fashion-MNIST (one epoch on the
# CPU, or the first GPU when there is one), then prints the run's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

build_dir=${LADLE_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build_dir" -j "$(nproc)" --target ladle-train

out=${1:-runs/quickstart}
rm -rf "$out"
"$build_dir/bin/ladle-train" --spec examples/mlp-fashion-mnist.yaml --out "$out" > /dev/null
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/summary.json"))
print(f"\nLadle quick start: MLP 784-256-10 on Fashion-MNIST, {s['epochs']} epoch, {s['backend']}")
for key in ["test_accuracy", "val_accuracy", "final_train_loss", "steps",
            "train_samples_per_second", "train_gflops_per_second", "wall_seconds"]:
    print(f"  {key:26s} {s[key]}")
print(f"\nOutputs in {out}/: metrics.jsonl, summary.json, model.safetensors")
PY
