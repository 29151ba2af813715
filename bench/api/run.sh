#!/usr/bin/env bash
# bench/api: GET /api/v1/clusters/{name} under wrk (2 threads, 64 connections, 30 s) against
# `slotkeeper up` with a 3x1 cluster, while idle and while a rebalance runs (the cluster holds
# 600,000 keys of 100 bytes spread over every slot and is scaled 3 -> 4 -> 3 masters in a
# loop for the whole window); and the reconcile pass duration (from /metrics) with and without
# the API load. Prints a markdown table.
#   bench/api/run.sh [DURATION_S]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-30}
command -v wrk >/dev/null || { echo "wrk missing: scripts/setup-deps.sh --bench" >&2; exit 1; }
BIN=$PWD/build/slotkeeper
WORK=$(mktemp -d /tmp/slotkeeper-bench-api-XXXXXX)
API=12890
BASE=12800
cat > "$WORK/spec.yaml" <<YAML
apiVersion: slotkeeper.io/v1alpha1
kind: RedisCluster
metadata: {name: bench}
spec:
  masters: 3
  replicasPerMaster: 1
  local: {bind: 127.0.0.1, basePort: $BASE, dataDir: $WORK/data}
YAML
cleanup() {
  [[ -n "${UP:-}" ]] && kill "$UP" 2>/dev/null && wait "$UP" 2>/dev/null || true
  "$BIN" down -f "$WORK/spec.yaml" --purge --state-dir "$WORK/state" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
(cd "$WORK" && exec "$BIN" up -f spec.yaml --api 127.0.0.1:$API --state-dir "$WORK/state") \
  > "$WORK/up.log" 2>&1 &
UP=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$API/readyz" >/dev/null 2>&1 && break || sleep 0.1
done
URL="http://127.0.0.1:$API/api/v1/clusters/bench"
# Reconcile pass duration: mean of the histogram over a window (sum/count deltas).
pass_ms() {
  curl -s "http://127.0.0.1:$API/metrics" |
    awk '/^slotkeeper_reconcile_duration_seconds_sum/ {s=$2} /^slotkeeper_reconcile_duration_seconds_count/ {c=$2} END {print s, c}'
}
read -r s0 c0 < <(pass_ms); sleep "$DURATION"; read -r s1 c1 < <(pass_ms)
IDLE_PASS=$(awk -v a="$s0" -v b="$s1" -v c="$c0" -v d="$c1" 'BEGIN {printf "%.2f", (b-a)/(d-c)*1000}')
read -r s0 c0 < <(pass_ms)
wrk -t2 -c64 -d"${DURATION}s" --latency "$URL" > "$WORK/wrk.txt"
read -r s1 c1 < <(pass_ms)
LOAD_PASS=$(awk -v a="$s0" -v b="$s1" -v c="$c0" -v d="$c1" 'BEGIN {printf "%.2f", (b-a)/(d-c)*1000}')
row() {
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$1")
  p50=$(awk '$1=="50%" {print $2}' "$1")
  p99=$(awk '$1=="99%" {print $2}' "$1")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$1" | tr '\n' ' ')
  echo "| $2 | $rps | $p50 | $p99 | ${errs:-none} | $3 |"
}

# The same while slots move. Keys first, spread over every slot (redis-benchmark --cluster
# would put each node's keys in one hash-tagged slot): each master writes the keys
# key:1..key:N that hash into its own range, in a Lua loop.
N=600000
VALUE=$(printf 'v%.0s' $(seq 1 100))
FILL='local n=0 for i=1,tonumber(ARGV[1]) do local k="key:"..i
  local s=redis.call("CLUSTER","KEYSLOT",k)
  if s>=tonumber(ARGV[2]) and s<=tonumber(ARGV[3]) then redis.call("SET",k,ARGV[4]) n=n+1 end
end return n'
KEYS=0
for p in $BASE $((BASE + 1)) $((BASE + 2)) $((BASE + 3)) $((BASE + 4)) $((BASE + 5)); do
  range=$(redis-cli -p "$p" cluster nodes | awk '/myself,master/ {print $9}')
  [[ -z "$range" ]] && continue
  KEYS=$((KEYS + $(redis-cli -p "$p" eval "$FILL" 0 "$N" "${range%-*}" "${range#*-}" "$VALUE")))
done
SERVER="http://127.0.0.1:$API"
(
  end=$((SECONDS + DURATION))
  n=0
  while ((SECONDS < end)); do
    "$BIN" scale bench --masters 4 --wait --server "$SERVER" >> "$WORK/scale.log" 2>&1
    "$BIN" scale bench --masters 3 --wait --server "$SERVER" >> "$WORK/scale.log" 2>&1
    n=$((n + 2))
  done
  echo "$n" > "$WORK/ops"
) &
SCALER=$!
sleep 0.5
wrk -t2 -c64 -d"${DURATION}s" --latency "$URL" > "$WORK/wrk-move.txt"
wait "$SCALER"
OPS=$(cat "$WORK/ops")
OK=$(grep -c succeeded "$WORK/scale.log" || true)
echo
echo "| load | requests/s | p50 | p99 | errors | reconcile pass (observe + plan), mean |"
echo "|---|---|---|---|---|---|"
echo "| no API load, idle cluster | - | - | - | - | ${IDLE_PASS} ms |"
row "$WORK/wrk.txt" "wrk, idle cluster" "${LOAD_PASS} ms"
row "$WORK/wrk-move.txt" "wrk, during rebalances of $KEYS keys" "paused while slots move"
echo
echo "scale operations during the second window: $OPS started, $OK succeeded"
grep -h "succeeded in" "$WORK/scale.log" | sed 's/^/  /' || true
