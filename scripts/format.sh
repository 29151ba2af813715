#!/usr/bin/env bash
# clang-format (Google style, 100 columns; .clang-format) over our C++ sources.
# --check: fail and list the files that are not formatted, change nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
CF=$(command -v clang-format-14 || command -v clang-format || true)
if [[ -z "$CF" ]]; then echo "format.sh: clang-format not installed (apt-get install clang-format)" >&2; exit 1; fi
mapfile -t files < <(git ls-files -co --exclude-standard '*.h' '*.cc' | grep -vE '^build' | while read -r f; do [[ -f "$f" ]] && echo "$f"; done)
if [[ "${1:-}" == "--check" ]]; then
  bad=()
  for f in "${files[@]}"; do
    if ! "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
  done
  if [[ ${#bad[@]} -gt 0 ]]; then echo "format.sh: not formatted: ${bad[*]}" >&2; exit 1; fi
  exit 0
fi
"$CF" -i "${files[@]}"
