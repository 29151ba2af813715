#!/usr/bin/env bash
# The Kubernetes checks that need no cluster (helm/slotkeeper/README.md, "What the tests prove"):
#   1. the CRD in helm/slotkeeper/crds/ is byte-identical to manifests/crd/ (the source); one
#      version in CMakeLists.txt, the chart's appVersion and docker/Dockerfile
#   2. helm lint --strict, with the defaults and with every ci/*-values.yaml
#   3. helm template of every ci/*-values.yaml equals its golden file ci/golden/<name>.yaml
#   4. every rendered object, and every manifest under manifests/kubernetes/, is valid against
#      the Kubernetes schemas (kubernetes-models); the defaults render a generated token
#   5. example and good RedisClusters pass the CRD's openAPIV3Schema and CEL rules; every bad one
#      (tests/k8s/cases/bad/) is refused with the error its file expects; every directive that
#      api/types/spec.cc owns is refused
#   6. bad values are refused by values.schema.json, each with its error
#   7. the API-server stand-in and the RBAC check (python unittest), then the real kubectl
#      against the stand-in (tests/k8s/kubectl_test.sh)
# Usage: scripts/k8s-check.sh [--update-golden]   (--update-golden rewrites the goldens and the
# chart's copy of the CRD, then checks as usual)
set -euo pipefail
cd "$(dirname "$0")/.."
update=false
[ "${1:-}" = "--update-golden" ] && update=true

start=$(date +%s)
eval "$(scripts/k8s-tools.sh)"
chart=helm/slotkeeper
crd=manifests/crd/redisclusters.slotkeeper.io.yaml
release=slotkeeper
namespace=slotkeeper-system
out="$(mktemp -d "${TMPDIR:-/tmp}/sk-k8s-check.XXXXXX")"
trap 'rm -rf "$out"' EXIT
step() { echo "k8s-check: $*"; }

step "1. CRD copy"
if $update; then cp "$crd" "$chart/crds/"; fi
if ! cmp -s "$crd" "$chart/crds/$(basename "$crd")"; then
  echo "FAIL: $chart/crds/$(basename "$crd") differs from $crd (run scripts/k8s-check.sh --update-golden)" >&2
  exit 1
fi

# One version everywhere: CMake's project(), the chart's appVersion, the image's default.
cmake_version="$(sed -n 's/^project(slotkeeper VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
app_version="$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' "$chart/Chart.yaml")"
image_version="$(sed -n 's/^ARG VERSION=//p' docker/Dockerfile)"
if [ -z "$cmake_version" ] || [ "$cmake_version" != "$app_version" ] || [ "$app_version" != "$image_version" ]; then
  echo "FAIL: versions differ: CMakeLists.txt '$cmake_version', Chart.yaml appVersion '$app_version', docker/Dockerfile '$image_version'" >&2
  exit 1
fi

# "# helm-args: ..." in a values file adds flags to its helm calls (e.g. --api-versions).
helm_args() { sed -n 's/^# helm-args: //p' "$1"; }

step "2. helm lint --strict"
"$SK_HELM" lint --strict "$chart" >"$out/lint.log" || { cat "$out/lint.log"; exit 1; }
for values in "$chart"/ci/*-values.yaml; do
  # helm lint takes no --api-versions: the ServiceMonitor branch is linted by the template step.
  "$SK_HELM" lint --strict "$chart" -f "$values" >"$out/lint.log" ||
    { cat "$out/lint.log"; exit 1; }
done

step "3. helm template vs goldens"
rendered=()
for values in "$chart"/ci/*-values.yaml; do
  name="$(basename "$values" -values.yaml)"
  golden="$chart/ci/golden/$name.yaml"
  # shellcheck disable=SC2046
  "$SK_HELM" template "$release" "$chart" --namespace "$namespace" --include-crds \
    -f "$values" $(helm_args "$values") >"$out/$name.yaml"
  if $update; then cp "$out/$name.yaml" "$golden"; fi
  if ! diff -u "$golden" "$out/$name.yaml" >"$out/$name.diff"; then
    cat "$out/$name.diff" >&2
    echo "FAIL: rendering of $values differs from $golden (if intended: scripts/k8s-check.sh --update-golden)" >&2
    exit 1
  fi
  rendered+=("$out/$name.yaml")
done
ls "$chart"/ci/golden/*.yaml | while read -r g; do
  [ -f "$chart/ci/$(basename "$g" .yaml)-values.yaml" ] || { echo "FAIL: $g has no values file" >&2; exit 1; }
done

step "4. Kubernetes schemas"
"$SK_HELM" template "$release" "$chart" --namespace "$namespace" >"$out/defaults.yaml"
# With no token given, the chart generates one (40 characters) into its Secret.
token_b64="$(sed -n 's/^  token: "\(.*\)"$/\1/p' "$out/defaults.yaml")"
if [ "$(printf %s "$token_b64" | base64 -d | tr -cd 'A-Za-z0-9' | wc -c)" != 40 ]; then
  echo "FAIL: the default rendering has no generated 40-character API token" >&2
  exit 1
fi
node tests/k8s/validate.mjs manifests "${rendered[@]}" "$out/defaults.yaml"

step "5. RedisClusters against the CRD"
node tests/k8s/validate.mjs crd "$crd" \
  --good manifests/kubernetes/*.yaml tests/k8s/cases/good/*.yaml \
  --bad tests/k8s/cases/bad/*.yaml \
  --owned-from api/types/spec.cc

step "6. bad values refused by values.schema.json"
bad_values=(
  "replicaCount=0|replicaCount: Must be greater than or equal to 1"
  "replicaCount=two|replicaCount: Invalid type. Expected: integer"
  "watchScope=galaxy|watchScope: watchScope must be one of the following"
  "image.pullPolicy=Sometimes|image.pullPolicy: image.pullPolicy must be one of the following"
  "replicas=3|Additional property replicas is not allowed"
  "api.port=70000|api.port: Must be less than or equal to 65535"
  "api.token=short|api.token: Does not match pattern"
  "api.token=0123456789abcdef0123,api.existingSecret=mine|api: Must not validate the schema (not)"
  "serviceMonitor.interval=30 seconds|serviceMonitor.interval: Does not match pattern"
  "service.type=Foo|service.type: service.type must be one of the following"
  "leaderElection.enabled=false|replicaCount: Must be less than or equal to 1"
  "fullnameOverride=Bad_Name|fullnameOverride: Does not match pattern"
  "nodeSelector.disk=null|nodeSelector.disk: Invalid type. Expected: string"
)
for case in "${bad_values[@]}"; do
  set_arg="${case%%|*}"
  expect="${case#*|}"
  if "$SK_HELM" template "$release" "$chart" --set "$set_arg" >"$out/bad.yaml" 2>"$out/bad.err"; then
    echo "FAIL: --set $set_arg was accepted" >&2
    exit 1
  fi
  if ! grep -qF -- "$expect" "$out/bad.err"; then
    echo "FAIL: --set $set_arg: expected \"$expect\" in:" >&2
    cat "$out/bad.err" >&2
    exit 1
  fi
done
echo "values: ${#bad_values[@]} bad values refused as expected"

step "7. API-server stand-in, RBAC check, real kubectl"
node tests/k8s/chart_rbac.mjs "$out/default.yaml" "$namespace" "$release" >"$out/rules.json"
export PYTHONDONTWRITEBYTECODE=1
if ! SK_CHART_RULES="$out/rules.json" python3 -m unittest discover -s tests/k8s -p '*_test.py' \
  >"$out/unittest.log" 2>&1; then
  cat "$out/unittest.log" >&2
  exit 1
fi
grep -E '^(Ran|OK)' "$out/unittest.log"
tests/k8s/kubectl_test.sh

step "all Kubernetes checks passed in $(($(date +%s) - start)) s"
