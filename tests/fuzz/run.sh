#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in BUILD_DIR and runs the spec fuzzer
# for RUNS executions from its seed corpus (the examples and a few edge cases) and the RPC fuzzer
# for RUNS/10 (or $RPC_RUNS). Exit 0 iff nothing crashed.
# Usage: tests/fuzz/run.sh [RUNS] [BUILD_DIR]      e.g. run.sh 2000000 for a long run
set -euo pipefail
runs="${1:-20000}"
src=$(cd "$(dirname "$0")/../.." && pwd)
build="${2:-$src/build-fuzz}"
if ! command -v clang++ > /dev/null; then
  echo "SKIP fuzzing: clang++ is not installed (apt-get install clang)"; exit 0
fi
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DLADLE_CUDA=OFF -DLADLE_FUZZ=ON > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" --target spec_fuzzer rpc_fuzzer > "$build.build.log" 2>&1 \
  || { tail -30 "$build.build.log"; exit 1; }
status=0
run_target() {  # run_target NAME RUNS CORPUS_DIR MAX_LEN
  local name=$1 n=$2 seeds=$3 max_len=$4 corpus
  corpus=$(mktemp -d)
  [ -d "$seeds" ] && cp "$seeds"/* "$corpus/"
  (cd "$build" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0 \
    ./bin/$name -runs="$n" -max_len="$max_len" -len_control=0 -timeout=10 -print_final_stats=1 \
    "$corpus" \
    > "$build/$name.log" 2>&1)
  local st=$?
  grep -E "^#[0-9]+.*DONE|^Done|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" \
    "$build/$name.log" || true
  [ $st -ne 0 ] && tail -40 "$build/$name.log"
  echo "$name: exit $st after $n runs (log: $build/$name.log)"
  rm -rf "$corpus"
  [ $st -eq 0 ] || status=1
}
run_target spec_fuzzer "$runs" "$src/tests/fuzz/corpus/spec" 4096
# The RPC target makes up to four real gRPC calls per input: a tenth of the runs.
run_target rpc_fuzzer "${RPC_RUNS:-$((runs / 10))}" "$src/tests/fuzz/corpus/rpc" 2048
exit "$status"
