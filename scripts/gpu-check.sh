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
  cmake --build build-gpu -j "$(nproc)" --target ladle-train ladle-export-data ladle-stepbench backend_test models_test \
    trainer_test ladle-server ladle-worker ladle
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/lib" "$stage/fashion-mnist"
  cp build-gpu/bin/ladle-train build-gpu/bin/ladle-export-data build-gpu/bin/ladle-stepbench \
     build-gpu/bin/backend_test build-gpu/bin/models_test build-gpu/bin/trainer_test \
     build-gpu/bin/ladle-server build-gpu/bin/ladle-worker build-gpu/bin/ladle "$stage/bin/"
  cp bench/pytorch_baseline.py bench/torch_step.py "$stage/bin/"
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

cluster() {
  local bin=$1 root=$2 out=$3 addr=127.0.0.1:7391 wm=127.0.0.1:7392
  export LADLE_ADDR=$addr
  "$bin/ladle-server" --listen=$addr --data_dir="$root/data" > "$root/server.log" 2>&1 &
  local server=$!
  "$bin/ladle-worker" --coordinator=$addr --work_dir="$root/w1" --cpu_slots=4 --gpus=auto \
    --trainer="$bin/ladle-train" --metrics_listen=$wm > "$root/worker.log" 2>&1 &
  local worker=$!
  local i
  for i in $(seq 1 100); do "$bin/ladle" workers 2>/dev/null | grep -q alive && break; sleep 0.1; done
  "$bin/ladle" workers
  cat > "$root/gpu-sweep.yaml" <<YAML
name: gpu-sweep
trial:
  model: {type: mlp, hidden: [1024, 1024]}
  data: {dataset: fashion-mnist}
  train: {epochs: 2, batch_size: 256}
  device: cuda
sweep: {grid: {train.optimizer.lr: [0.001, 0.003], train.seed: [1, 2]}}
resources: {gpus: 1, cpu_slots: 1}
YAML
  local exp
  exp=$("$bin/ladle" submit "$root/gpu-sweep.yaml" | head -1)
  timeout 180 "$bin/ladle" watch "$exp" > /dev/null 2>&1; echo "cluster: watch exit $?"
  "$bin/ladle" results "$exp"
  "$bin/ladle" results "$exp" --format json > "$out/cluster-results.json"
  python3 - "$out/cluster-results.json" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
ok = [j for j in jobs if j["state"] == "succeeded" and j["summary"]["device"].startswith("cuda")]
print(f"cluster: {len(ok)}/{len(jobs)} GPU jobs succeeded on cuda; backends:",
      sorted({j["summary"]["backend"] for j in ok}))
PY
  curl -s "http://$wm/metrics" 2>/dev/null | grep -E '^ladle_worker_gpu' \
    || python3 -c "import urllib.request; print(''.join(l for l in urllib.request.urlopen('http://$wm/metrics').read().decode().splitlines(True) if l.startswith('ladle_worker_gpu')))"
  kill "$worker" "$server" 2>/dev/null
  wait 2>/dev/null
  tail -3 "$root/worker.log"
}

run() {
  local root=/tmp/ladle-gpu out=${OUT:-/tmp/ladle-gpu-out}
  rm -rf "$root" && mkdir -p "$root" "$out"
  tar -xJf "$bundle_dir/bundle.tar.xz" -C "$root"
  export LD_LIBRARY_PATH="$root/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
  local bin=$root/bin data=$root/fashion-mnist
  nvidia-smi -L 2>/dev/null || echo "gpu-check: no nvidia-smi / GPU here"
  # The trainer's default Fashion-MNIST location (we run as root there).
  mkdir -p /usr/share/datasets/fashion-mnist
  cp -n "$data"/*.gz /usr/share/datasets/fashion-mnist/ 2>/dev/null || true
  # NCCL is loaded at run time: use the machine's own (PyTorch's wheel or the toolkit).
  local nccl
  nccl=$(find /usr /opt -name 'libnccl.so.2' 2>/dev/null | head -1 || true)
  [ -n "$nccl" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$nccl")"
  echo "gpu-check: NCCL at ${nccl:-none found}"

  # 1. CUDA vs CPU reference on fresh random inputs; NCCL all-reduce; GPU ranks.
  "$bin/backend_test" --gtest_brief=1 2>&1 | tee "$out/backend_test.txt" | tail -3 || true
  "$bin/models_test" --gtest_brief=1 2>&1 | tee "$out/models_test.txt" | tail -3 || true
  "$bin/trainer_test" --gtest_brief=1 --gtest_filter='*DropCompute*:*Cuda*' 2>&1 \
    | tee "$out/trainer_test.txt" | tail -3 || true

  # 2. One training step against the cuBLAS ceiling of its own GEMMs.
  : > "$out/stepbench.jsonl"
  local args
  for args in "--batch=128" "--batch=512" "--hidden=4096,4096 --batch=4096" \
              "--hidden=8192,8192 --batch=8192 --steps=20"; do
    # shellcheck disable=SC2086
    "$bin/ladle-stepbench" --device=cuda $args >> "$out/stepbench.jsonl" \
      2>> "$out/stepbench.err" || true
    # shellcheck disable=SC2086
    python3 "$bin/torch_step.py" --device=cuda $args >> "$out/torchstep.jsonl" \
      2>> "$out/torchstep.err" || true
  done

  # 3. The product on a GPU host: server, a worker that finds its GPU through NVML, a 4-job
  #    sweep that asks for a GPU per job, and the worker's GPU gauges.
  cluster "$bin" "$root" "$out" 2>&1 | tee "$out/cluster.txt" || true

  # 4. ladle-train on cuda and cpu, same spec.
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

  # 5. PyTorch on the same GPU and the same data.
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
for name in ("models_test", "trainer_test"):
    try:
        t = open(os.path.join(out, name + ".txt")).read()
    except OSError:
        continue
    c = {k: int(m.group(1)) if (m := re.search(rf"\[\s+{k}\s+\] (\d+) test", t)) else 0
         for k in ("PASSED", "SKIPPED", "FAILED")}
    print(f"{name}: {c['PASSED']} passed, {c['FAILED']} failed, {c['SKIPPED']} skipped")
    for line in t.splitlines():
        if "FAILED" in line or "NCCL:" in line:
            print("   ", line[:150])
for line in text.splitlines():
    if "NCCL:" in line or ("FAILED" in line and "[" in line):
        print("   ", line[:150])
print("\nTraining step vs the cuBLAS ceiling of its GEMMs (ladle-stepbench)")
print(f"{'model':28s} {'batch':>6s} {'step ms':>9s} {'GEMM GFLOP/s':>13s} {'ceiling':>9s} {'ratio':>6s}")
try:
    for line in open(os.path.join(out, "stepbench.jsonl")):
        r = json.loads(line)
        print(f"{r['model']:28s} {r['batch']:6d} {r['step_seconds']*1e3:9.3f} "
              f"{r['step_gemm_gflops']:13.0f} {r['gemm_ceiling_gflops']:9.0f} {r['ratio_of_ceiling']:6.2f}")
except OSError:
    pass
try:
    print("PyTorch, same shapes, same GPU (bench/torch_step.py):")
    lad = [json.loads(l) for l in open(os.path.join(out, "stepbench.jsonl"))]
    for line in open(os.path.join(out, "torchstep.jsonl")):
        t = json.loads(line)
        mine = [r for r in lad if r["model"] == t["model"] and r["batch"] == t["batch"]]
        ratio = f"ladle {t['step_seconds'] / mine[0]['step_seconds']:.2f}x torch" if mine else ""
        print(f"{t['model']:28s} {t['batch']:6d} {t['step_seconds']*1e3:9.3f} ms  {ratio}  (torch {t['torch']})")
except (OSError, ValueError) as e:
    print("torch step:", e, err("torchstep.err"))
print(err("stepbench.err") if os.path.exists(os.path.join(out, "stepbench.err")) and os.path.getsize(os.path.join(out, "stepbench.err")) else "")
print()
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
try:
    print("\n" + [l for l in open(os.path.join(out, "cluster.txt")) if l.startswith("cluster: ") and "GPU jobs" in l][0].strip())
except (OSError, IndexError):
    print("cluster: no result (see cluster.txt)")
print(f"{'gcn 20k':10s} {g(lc):>16s} {g(lp):>16s} {tg:>16s} {acc:>15s}")
if not lc: print("   ladle cuda:", err("ladle-gcn-cuda.err"))
PY
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
