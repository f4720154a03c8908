#!/usr/bin/env bash
# Installs the Debian packages Ladle needs, and only those that are missing.
# Idempotent: a second run installs nothing and takes about a second.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libabsl-dev libyaml-cpp-dev libyaml-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  libopenblas-dev libdnnl-dev libmetis-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libsqlite3-dev libssl-dev libarchive-dev prometheus-cpp-dev prometheus docker-compose libgoogle-perftools-dev
  libcpp-httplib-dev  # ladle-server --http_listen (the HTTP/JSON API)
  librsvg2-bin chromium clang libclang-rt-14-dev
  chromium-driver python3-selenium  # the web UI's browser tests (tests/e2e/ui_browser_test.py)
  slurmctld slurmd slurm-client munge  # a real single-node Slurm in tests/slurm/ (issue 21)
  dataset-fashion-mnist
  python3-grpcio python3-protobuf
  python3-torch  # examples/pytorch and its e2e test (users' programs)
  python3-optuna python3-yaml  # bench/tpe_vs_optuna.py, client/python/optuna_ladle.py (ask/tell)
)

# `kubectl kustomize` renders deploy/kubernetes in its test. Debian's kubernetes-client provides
# kubectl, but conflicts with another kubectl package (Google Cloud SDK's): only when none is there.
if ! command -v kubectl > /dev/null; then packages+=(kubernetes-client); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
