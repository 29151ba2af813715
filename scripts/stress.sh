#!/usr/bin/env bash
# Runs the end-to-end tests that move data (scale, heal, chaos, safety) on a machine made busy
# on purpose, N times in a row, stopping at the first failure (issue 9: "a test that fails
# sometimes has found a bug").
#
#   scripts/stress.sh [--mode cpu|one-core|both] [--repeat N] [--filter GTEST_FILTER]
#
#   cpu       both cores saturated by `stress-ng --cpu 2` while the tests run
#   one-core  the tests, slotkeeper and every redis-server pinned to CPU 0 (taskset -c 0),
#             with `stress-ng --cpu 1` competing on that core
# Default: --mode both --repeat 20 --filter 'ScaleTest.MastersThreeFourSixThreeUnderLoad'.
# Needs a built tree (scripts/build.sh). Installs stress-ng when it is missing. Prints one line
# per run with its duration; keeps the logs of a failed run in $LOG_DIR (default /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=both
repeat=20
filter='ScaleTest.MastersThreeFourSixThreeUnderLoad'
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) mode=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    *) echo "stress.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if ! command -v stress-ng >/dev/null; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y -q --no-install-recommends stress-ng >/dev/null
fi
BUILD=${BUILD_DIR:-build}
LOG_DIR=${LOG_DIR:-/tmp}
export SK_BINARY_DIR=$PWD/$BUILD
tests=()
for t in e2e_scale_test e2e_heal_test e2e_chaos_test e2e_safety_test; do
  [[ -x "$BUILD/tests/e2e/$t" ]] && tests+=("$BUILD/tests/e2e/$t")
done

run_one() {  # run_one MODE INDEX
  local m=$1 i=$2 hog pin=() log rc=0 start
  log=$(mktemp "$LOG_DIR/slotkeeper-stress-$m-$i-XXXX.log")
  if [[ $m == cpu ]]; then
    stress-ng --cpu 2 --timeout 3600s >/dev/null 2>&1 &
  else
    taskset -c 0 stress-ng --cpu 1 --timeout 3600s >/dev/null 2>&1 &
    pin=(taskset -c 0)
  fi
  hog=$!
  start=$(date +%s.%N)
  for t in "${tests[@]}"; do
    if ! "${pin[@]}" "$t" --gtest_filter="$filter" >>"$log" 2>&1; then rc=1; break; fi
  done
  kill "$hog" 2>/dev/null || true
  wait "$hog" 2>/dev/null || true
  local took
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  if [[ $rc -ne 0 ]]; then
    echo "stress.sh: $m run $i FAILED after ${took} s; log: $log"
    return 1
  fi
  echo "stress.sh: $m run $i passed in ${took} s"
  rm -f "$log"
}

modes=("$mode")
[[ $mode == both ]] && modes=(cpu one-core)
for m in "${modes[@]}"; do
  for i in $(seq 1 "$repeat"); do run_one "$m" "$i" || exit 1; done
done
echo "stress.sh: ${#modes[@]} mode(s) x $repeat runs of '$filter': all passed"
