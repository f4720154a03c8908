#!/usr/bin/env bash
# Runs bad_input_test.py against a real ladle-server. Usage: bad_input_test.sh BIN_DIR STUBS_DIR
set -uo pipefail
bin="$1"; stubs="$2"
source "$(dirname "$0")/lib.sh"
port=$(free_port)
"$bin/ladle-server" --listen="127.0.0.1:$port" --data_dir="$work/data" \
  --metrics_listen="127.0.0.1:$(free_port)" > "$work/server.log" 2>&1 &
pids+=($!); disown $!
for _ in $(seq 1 100); do "$bin/ladle" --addr="127.0.0.1:$port" list > /dev/null 2>&1 && break; sleep 0.05; done
timeout 120 /usr/bin/python3 "$(dirname "$0")/bad_input_test.py" --stubs "$stubs" \
  --addr "127.0.0.1:$port" --data_dir "$work/data"
rc=$?
[ $rc -ne 0 ] && tail -20 "$work/server.log"
exit $rc
