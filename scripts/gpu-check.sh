#!/usr/bin/env bash
# GPU check in two halves, because the GPU machine has CUDA and PyTorch but none of Ladle's
# Debian libraries and no package registry:
#
#   ./scripts/gpu-check.sh prepare   # here: build with CUDA (sm_90 + PTX), bundle the binaries,
#                                    # their non-system libraries and Fashion-MNIST into .gpu/
#   ./scripts/gpu-check.sh run       # there (device run with carry [".gpu"]): CUDA-vs-CPU tests,
#                                    # ladle-train on cuda vs CPU, PyTorch on the same GPU; table
#
# `run` also works on a machine without a GPU: the CUDA cases then report as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
bundle_dir=.gpu

prepare() {
  ./scripts/install-deps.sh
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLADLE_CUDA=ON > /dev/null
  cmake --build build-gpu -j "$(nproc)" --target ladle-train ladle-export-data backend_test models_test
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/lib" "$stage/fashion-mnist"
  cp build-gpu/bin/ladle-train build-gpu/bin/ladle-export-data build-gpu/bin/backend_test \
     build-gpu/bin/models_test "$stage/bin/"
  cp bench/pytorch_baseline.py "$stage/bin/"
  cp /usr/share/datasets/fashion-mnist/*.gz "$stage/fashion-mnist/"
  # Every shared library the binaries need except glibc's own and CUDA's (the GPU machine has
  # its CUDA toolkit and driver).
  for b in "$stage"/bin/*; do
    [ -x "$b" ] && [ "${b##*.}" != py ] || continue
    ldd "$b" | awk '/=> \//{print $3}'
  done | sort -u | grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*)\.so|/usr/local/cuda' \
    | while read -r lib; do cp -L "$lib" "$stage/lib/"; done
  mkdir -p "$bundle_dir"
  tar -cJf "$bundle_dir/bundle.tar.xz" -C "$stage" .
  rm -rf "$stage"
  echo "gpu-check: bundle ready, $(du -h "$bundle_dir/bundle.tar.xz" | cut -f1) in $bundle_dir/"
}

run() {
  local root=/tmp/ladle-gpu out=${OUT:-/tmp/ladle-gpu-out}
  rm -rf "$root" && mkdir -p "$root" "$out"
  tar -xJf "$bundle_dir/bundle.tar.xz" -C "$root"
  export LD_LIBRARY_PATH="$root/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
  local bin=$root/bin data=$root/fashion-mnist
  nvidia-smi -L 2>/dev/null || echo "gpu-check: no nvidia-smi / GPU here"

  # 1. CUDA vs CPU reference on fresh random inputs.
  "$bin/backend_test" --gtest_brief=1 2>&1 | tee "$out/backend_test.txt" | tail -3 || true

  # 2. ladle-train on cuda and cpu, same spec.
  local dev
  for dev in cuda cpu; do
    for batch in 128 512; do
      cat > "$root/mlp.yaml" <<YAML
model: {type: mlp, hidden: [1024, 1024]}
data: {dataset: fashion-mnist, path: $data}
train: {epochs: 1, batch_size: $batch, log_every: 1000, seed: 1}
device: $dev
threads: 2
YAML
      "$bin/ladle-train" --spec "$root/mlp.yaml" --out "$root/run-$dev-$batch" --quiet \
        > "$out/ladle-mlp-$dev-$batch.json" 2> "$out/ladle-mlp-$dev-$batch.err" || true
    done
    cat > "$root/gcn.yaml" <<YAML
model: {type: gcn, hidden: [128], dropout: 0.5}
data: {dataset: csbm, nodes: 20000, classes: 5, avg_degree: 10, homophily: 0.8, feature_dim: 128}
train: {epochs: 50, log_every: 50, optimizer: {name: adamw, lr: 0.01, weight_decay: 0.0005}}
device: $dev
threads: 2
YAML
    "$bin/ladle-train" --spec "$root/gcn.yaml" --out "$root/gcn-$dev" --quiet \
      > "$out/ladle-gcn-$dev.json" 2> "$out/ladle-gcn-$dev.err" || true
  done

  # 3. PyTorch on the same GPU and the same data.
  "$bin/ladle-export-data" --spec "$root/mlp.yaml" --out "$root/fmnist.safetensors"
  "$bin/ladle-export-data" --spec "$root/gcn.yaml" --out "$root/csbm.safetensors"
  for batch in 128 512; do
    python3 "$bin/pytorch_baseline.py" mlp "$root/fmnist.safetensors" --batch "$batch" \
      --device cuda > "$out/torch-mlp-$batch.json" 2> "$out/torch-mlp-$batch.err" || true
  done
  python3 "$bin/pytorch_baseline.py" gcn "$root/csbm.safetensors" --hidden 128 --epochs 50 \
    --lr 0.01 --weight-decay 0.0005 --dropout 0.5 --device cuda \
    > "$out/torch-gcn.json" 2> "$out/torch-gcn.err" || true

  python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.loads(f.read() or "null")
    except (OSError, ValueError):
        return None
def err(name):
    try:
        return open(os.path.join(out, name)).read().strip().splitlines()[-1][:90]
    except (OSError, IndexError):
        return "no output"
print("\nGPU check")
import re
text = open(os.path.join(out, "backend_test.txt")).read()
counts = {k: int(m.group(1)) if (m := re.search(rf"\[\s+{k}\s+\] (\d+) test", text)) else 0
          for k in ("PASSED", "SKIPPED", "FAILED")}
print(f"CUDA vs CPU reference (backend_test): {counts['PASSED']} passed, {counts['FAILED']} failed, "
      f"{counts['SKIPPED']} skipped (skips = CUDA cases without a GPU)")
print(f"{'case':10s} {'ladle cuda':>16s} {'ladle cpu':>16s} {'torch cuda':>16s} {'acc cuda/torch':>15s}")
for batch in (128, 512):
    lc, lp, t = load(f"ladle-mlp-cuda-{batch}.json"), load(f"ladle-mlp-cpu-{batch}.json"), load(f"torch-mlp-{batch}.json")
    f = lambda r: f"{r['train_samples_per_second']:.0f} /s" if r else "-"
    acc = f"{lc['test_accuracy']:.4f}/{t['test_accuracy']:.4f}" if lc and t else "-"
    print(f"mlp b{batch:<6d} {f(lc):>16s} {f(lp):>16s} {f(t):>16s} {acc:>15s}")
    if not lc: print("   ladle cuda:", err(f"ladle-mlp-cuda-{batch}.err"))
    if not t: print("   torch cuda:", err(f"torch-mlp-{batch}.err"))
lc, lp, t = load("ladle-gcn-cuda.json"), load("ladle-gcn-cpu.json"), load("torch-gcn.json")
g = lambda r: f"{r['train_seconds'] / r['steps'] * 1e3:.2f} ms/ep" if r else "-"
tg = f"{t['epoch_seconds'] * 1e3:.2f} ms/ep" if t else "-"
acc = f"{lc['test_accuracy']:.4f}/{t['test_accuracy']:.4f}" if lc and t else "-"
print(f"{'gcn 20k':10s} {g(lc):>16s} {g(lp):>16s} {tg:>16s} {acc:>15s}")
if not lc: print("   ladle cuda:", err("ladle-gcn-cuda.err"))
PY
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
