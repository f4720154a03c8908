#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in BUILD_DIR and runs each for RUNS
# executions from the seed corpus (examples and a few edge cases). Exit 0 iff nothing crashed.
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
cmake --build "$build" --target spec_fuzzer > "$build.build.log" 2>&1 || { tail -30 "$build.build.log"; exit 1; }
corpus=$(mktemp -d)
cp "$src"/tests/fuzz/corpus/spec/* "$corpus/"
cd "$build"
set +e
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  ./bin/spec_fuzzer -runs="$runs" -max_len=4096 -timeout=10 -print_final_stats=1 "$corpus" \
  > "$build/spec_fuzzer.log" 2>&1
status=$?
set -e
grep -E "^#[0-9]+.*DONE|^Done|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" \
  "$build/spec_fuzzer.log" || true
rm -rf "$corpus"
[ $status -ne 0 ] && tail -40 "$build/spec_fuzzer.log"
echo "spec_fuzzer: exit $status after $runs runs (log: $build/spec_fuzzer.log)"
exit "$status"
