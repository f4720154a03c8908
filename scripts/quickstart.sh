#!/usr/bin/env bash
# Quick start: builds Ladle, starts a coordinator and one worker on loopback (embedded SQLite
# under ./ladle-data), submits examples/quickstart.yaml (a small sweep), watches it live, prints
# the results table, and shuts everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

build_dir=${LADLE_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build_dir" -j "$(nproc)" --target ladle-server ladle-worker ladle ladle-train
bin="$build_dir/bin"

data=${LADLE_DATA_DIR:-./ladle-data}
port=$(python3 tests/e2e/free_port.py)
metrics_port=$(python3 tests/e2e/free_port.py)
# The web UI on 127.0.0.1:8080 (LADLE_HTTP_LISTEN), or a free port when 8080 is taken.
http_listen=${LADLE_HTTP_LISTEN:-127.0.0.1:8080}
if ! python3 -c "import socket, sys; h, p = sys.argv[1].rsplit(':', 1); socket.socket().bind((h, int(p)))" \
    "$http_listen" 2> /dev/null; then
  http_listen="127.0.0.1:$(python3 tests/e2e/free_port.py)"
fi
export LADLE_ADDR="127.0.0.1:$port"
mkdir -p "$data"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; }
trap cleanup EXIT

"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$data/server" \
  --metrics_listen="127.0.0.1:$metrics_port" --http_listen="$http_listen" > "$data/server.log" 2>&1 &
pids+=($!)
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$data/worker" --cpu_slots=2 \
  > "$data/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do "$bin/ladle" workers 2> /dev/null | grep -q . && break; sleep 0.1; done
echo "Ladle quick start: coordinator on $LADLE_ADDR, one worker (2 CPU slots), data in $data"
echo "Web UI: http://$http_listen/ (open it now to watch the sweep live)"
echo

exp=$("$bin/ladle" submit examples/quickstart.yaml | head -1)
"$bin/ladle" watch "$exp" || true
echo
"$bin/ladle" results "$exp"
echo
echo "More: $bin/ladle results $exp --format json | csv; logs in $data/*.log"
