#!/usr/bin/env bash
# Sets up everything and runs a local 3-master, 3-replica cluster in the foreground.
# Ctrl-C stops slotkeeper and leaves the redis nodes running; `./build/slotkeeper down -f
# manifests/examples/local.yaml` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
scripts/build.sh
exec ./build/slotkeeper up -f manifests/examples/local.yaml "$@"
