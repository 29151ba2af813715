#!/usr/bin/env bash
# Fails when an include points up the module graph (STYLE.md section 1): plan links only the
# model, rest never sees Redis, only redis_client.cc includes hiredis, cpprest stays in one TU.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() {  # check DIR PATTERN WHY
  local hits
  hits=$(grep -rlE "$2" "$1" --include='*.h' --include='*.cc' 2>/dev/null || true)
  if [[ -n "$hits" ]]; then echo "check-deps: $3:" $hits >&2; fail=1; fi
}
check controller/plan '#include "(controller/(redis|observe|act|reconcile)|agent|api/(codec|rest|cli))/' \
  "the planner is pure and links only controller/model"
check controller/model '#include "(controller/(redis|observe|act|plan|reconcile)|agent|api/(codec|rest|cli))/' \
  "the model is plain values"
check api/types '#include "(controller|agent|api/(codec|rest|cli))/' "api/types is std-only"
check api/rest '#include "(controller|agent)/|hiredis' "the REST layer never includes Redis"
check agent '#include "controller/(model|plan|observe|act|reconcile)/|#include "api/(rest|cli)/' \
  "the agent may use controller/redis only"
hiredis=$(grep -rl '#include <hiredis' --include='*.cc' --include='*.h' api controller agent | grep -v controller/redis/redis_client.cc || true)
if [[ -n "$hiredis" ]]; then echo "check-deps: only redis_client.cc includes hiredis:" $hiredis >&2; fail=1; fi
cpprest=$(grep -rl '#include <cpprest' --include='*.cc' --include='*.h' api controller agent | grep -v api/rest/rest_server.cc || true)
if [[ -n "$cpprest" ]]; then echo "check-deps: cpprest stays in api/rest/rest_server.cc:" $cpprest >&2; fail=1; fi
exit $fail
