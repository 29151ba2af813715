#!/usr/bin/env bash
# The full chaos run of issue 3: 50 seeded random faults with a write load running.
#   bench/chaos/run.sh [SEED] [FAULTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SEED=${1:-42}
FAULTS=${2:-50}
ninja -C build e2e_chaos_test slotkeeper >/dev/null
SK_CHAOS_SEED=$SEED SK_CHAOS_FAULTS=$FAULTS SK_BINARY_DIR=$PWD/build \
  ./build/tests/e2e/e2e_chaos_test --gtest_filter='ChaosTest.*' | grep -E '^chaos:|OK|FAILED'
