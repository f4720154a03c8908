#!/usr/bin/env bash
# The web UI's build (ui/CMakeLists.txt) on its own, three ways: uPlot from a good tarball (its
# SHA-256 checked: charts built in), from an unreachable registry and from a tarball with the
# wrong hash (both: built without charts, the page and its scripts still compiled in).
# Usage: ui_assets_test.sh SOURCE_DIR BUILD_DIR (BUILD_DIR/ui holds the tarball the build fetched)
set -uo pipefail
src="$1"
good="$2/ui/uplot-1.6.31.tgz"
source "$src/tests/e2e/lib.sh"
cat > "$work/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.18)
project(ui_only CXX)
set(CMAKE_CXX_STANDARD 17)
add_subdirectory($src/ui ui)
add_executable(probe probe.cc)
target_link_libraries(probe ladle_ui)
CMAKE
cat > "$work/probe.cc" <<'CC'
#include <cstdio>
#include "ui/ui_assets.h"
int main() {
  std::printf("charts=%d uplot=%d app=%d index=%d\n", ladle::ui::HasCharts(),
              ladle::ui::FindAsset("uPlot.iife.min.js") != nullptr,
              ladle::ui::FindAsset("app.js") != nullptr,
              ladle::ui::FindAsset("index.html") != nullptr);
}
CC
build() {  # build NAME URL: configures and builds the probe, prints its line
  cmake -S "$work" -B "$work/$1" -G Ninja -DLADLE_UPLOT_URL="$2" > "$work/$1.log" 2>&1 &&
    cmake --build "$work/$1" >> "$work/$1.log" 2>&1 && "$work/$1/probe"
}
if [ -f "$good" ]; then
  check "a good tarball: charts built in" bash -c "$(declare -f build); work=$work; build good file://$good | grep -qx 'charts=1 uplot=1 app=1 index=1'"
else
  echo "skip a good tarball: the main build fetched none (no registry): $good"
fi
check "an unreachable registry: built without charts" bash -c "$(declare -f build); work=$work; build offline http://127.0.0.1:9/uplot.tgz | grep -qx 'charts=0 uplot=0 app=1 index=1'"
check "and the build says so" grep -q "the web UI is built without charts" "$work/offline.log"
head -c 100000 /dev/urandom > "$work/tampered.tgz"
check "a tarball with the wrong hash: built without charts" bash -c "$(declare -f build); work=$work; build tampered file://$work/tampered.tgz | grep -qx 'charts=0 uplot=0 app=1 index=1'"
[ $fail -eq 0 ] || { for f in "$work"/*.log; do tail -n 20 "$f"; done; exit 1; }
echo "ui assets build test passed"
