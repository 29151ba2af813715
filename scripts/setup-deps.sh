#!/usr/bin/env bash
# Installs slotkeeper's build and test dependencies from Debian's packages (nothing else is
# downloaded). Idempotent: does nothing when everything is present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev nlohmann-json3-dev libhiredis-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools clang-format
)
if [[ "${1:-}" == "--bench" ]]; then PACKAGES+=(wrk hyperfine); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; try without a refresh first.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# The redis-server package may start a system instance on 6379; slotkeeper never uses it,
# and tests pick their own ports, so it is left alone.
