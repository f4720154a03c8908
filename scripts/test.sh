#!/usr/bin/env bash
# Builds Ladle and runs every test (unit, training, end-to-end) through ctest.
# Installs missing Debian packages first. Usage: ./scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

build_dir=${LADLE_BUILD_DIR:-build}
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${LADLE_CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"
cd "$build_dir"
ctest --output-on-failure -j "$jobs" --timeout 600 "$@"
