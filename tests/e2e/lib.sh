# Shared harness of the end-to-end scripts (sourced): a scratch dir removed at
# exit with every process started from it, `check NAME CMD...` that records
# failures in $fail, and `wait_for SECONDS CMD...` that polls with a deadline.
# Callers add the PIDs they start to `pids`.
work=$(mktemp -d)
pids=()
fail=0
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  pkill -9 -f "$work/" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
check() { local name="$1"; shift; if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi; }
wait_for() {  # wait_for SECONDS CMD... : polls until CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $deadline ]; do "$@" && return 0; sleep 0.2; done
  return 1
}
free_port() { python3 "$(dirname "${BASH_SOURCE[0]}")/free_port.py"; }
# start_workers BIN_DIR NAME...: a ladle-worker with 1 CPU slot per NAME on $LADLE_ADDR (work
# dir $work/w-NAME, log $work/worker-NAME.log), then checks they all registered within 20 s.
start_workers() {
  local bin_dir=$1; shift
  local n=$# w
  for w in "$@"; do
    "$bin_dir/ladle-worker" --coordinator="$LADLE_ADDR" --work_dir="$work/w-$w" --cpu_slots=1 \
      --name="worker-$w" > "$work/worker-$w.log" 2>&1 &
    pids+=($!); disown $!
  done
  all_up() { [ "$("$bin_dir/ladle" workers 2> /dev/null | grep -c alive)" -eq "$n" ]; }
  check "$n workers registered" wait_for 20 all_up
}
