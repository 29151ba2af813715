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
echo "all tests passed"
