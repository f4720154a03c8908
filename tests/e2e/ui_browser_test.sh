#!/usr/bin/env bash
# The web UI in a real browser: a ladle-server with tokens and --http_listen, a worker with two
# slots, three experiments (one finished, one named with markup, one sweep running for the test
# to watch), then tests/e2e/ui_browser_test.py drives headless Chromium through the pages.
# Screenshots go to SCREENSHOT_DIR (default: the build's ui-screenshots/; README's images are
# copies of them: docs/screenshots/).
# Usage: ui_browser_test.sh BIN_DIR [SCREENSHOT_DIR]
set -uo pipefail
bin="$1"
shots="${2:-$1/../ui-screenshots}"
source "$(dirname "$0")/lib.sh"
if [ ! -x /usr/bin/chromedriver ] || ! /usr/bin/python3 -c "import selenium" 2> /dev/null; then
  echo "chromium-driver and python3-selenium are needed (scripts/install-deps.sh installs them)"
  exit 1
fi
cat > "$work/tokens" <<'T'
alice-token-0123456789abcdef user    alice
worker-token-0123456789abcde worker
T
export LADLE_ADDR="127.0.0.1:$(free_port)" LADLE_TOKEN=alice-token-0123456789abcdef
http_port=$(free_port)
# The test restarts the server (kill -9, then this script) while a page is open.
cat > "$work/start_server.sh" <<SH
"$bin/ladle-server" --listen="$LADLE_ADDR" --data_dir="$work/data" --token_file="$work/tokens" \\
  --http_listen="127.0.0.1:$http_port" --metrics_listen="127.0.0.1:$(free_port)" \\
  >> "$work/server.log" 2>&1 &
echo \$! > "$work/server.pid"
SH
bash "$work/start_server.sh"
"$bin/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w" --cpu_slots=2 --name=ui-worker \
  --token_file=<(echo worker-token-0123456789abcde) > "$work/worker.log" 2>&1 &
pids+=($!); disown $!
up() { "$bin/ladle" workers 2> /dev/null | grep -q alive; }
check "server and worker up" wait_for 20 up
cat > "$work/done.yaml" <<'YAML'
name: finished-sweep
trial: {model: {hidden: [32]}, data: {limit: 2000}, train: {epochs: 2, log_every: 5}}
sweep: {grid: {train.seed: [1, 2]}}
YAML
cat > "$work/xss.yaml" <<'YAML'
name: "<img src=x onerror=alert(1)>"
trial: {model: {hidden: [16]}, data: {limit: 500}, train: {epochs: 1}}
YAML
# Long enough to watch (all 54,000 training images, 100 epochs: ~20 s a job on this machine's
# class, two at a time); the test cancels it once it has seen it change.
cat > "$work/live.yaml" <<'YAML'
name: live-sweep
trial: {model: {hidden: [128]}, data: {limit: 0}, train: {epochs: 100, log_every: 25}}
sweep: {grid: {train.optimizer.lr: [0.001, 0.003], train.seed: [1, 2, 3]}}
YAML
done_id=$("$bin/ladle" submit "$work/done.yaml" --wait 2> /dev/null | head -1)
xss_id=$("$bin/ladle" submit "$work/xss.yaml" --wait 2> /dev/null | head -1)
live_id=$("$bin/ladle" submit "$work/live.yaml" 2> /dev/null)
check "experiments submitted" test -n "$done_id" -a -n "$xss_id" -a -n "$live_id"
check "the UI in headless Chromium" /usr/bin/python3 "$(dirname "$0")/ui_browser_test.py" \
  "$http_port" "$LADLE_TOKEN" "$shots" "$live_id" "$xss_id" "$done_id" "$work"
[ $fail -eq 0 ] || { tail -20 "$work/server.log"; exit 1; }
echo "ui browser e2e passed"
