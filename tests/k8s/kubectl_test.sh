#!/usr/bin/env bash
# The real kubectl ($SK_KUBECTL, default the one on PATH) against the API-server stand-in, over HTTPS with bearer tokens
# (kubectl 1.32 sends no token over plain http). Each check holds the stand-in to what kubectl
# expects of a real API server. Needs: kubectl, python3, openssl; SK_K8S_NODE and SK_HELM for
# the chart's RBAC rules (scripts/k8s-tools.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sk-kubectl-test.XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $*" >&2; [ -f server.log ] && tail -n 20 server.log >&2; exit 1; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; ok; }
expect_in() { grep -qF -- "$2" "$3" || { cat "$3" >&2; fail "$1: '$2' not in $3"; }; ok; }

# A CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.crt -days 1 -subj /CN=standin-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls.key -out tls.csr \
  -subj /CN=standin 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 1 \
  -extfile ext.cnf 2>/dev/null

# The operator's RBAC as the chart renders it (namespace scope, release namespace "default").
op_user="system:serviceaccount:default:slotkeeper"
"$SK_HELM" template slotkeeper "$root/helm/slotkeeper" --namespace default \
  --set api.token=kubectl-test-token-0123 >chart.yaml
node "$here/chart_rbac.mjs" chart.yaml default slotkeeper >rules.json

python3 "$here/apiserver_standin.py" --listen 127.0.0.1:0 --port-file port \
  --token admin-token=admin --token operator-token="$op_user" \
  --rbac-rules rules.json --rbac-user "$op_user" --request-log requests.jsonl \
  --tls-cert tls.crt --tls-key tls.key --bookmark-interval 0.3 >server.log 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
[ -s port ] || fail "the stand-in did not start"
cat >kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: standin
    cluster: {server: "https://127.0.0.1:$(cat port)", certificate-authority: "$work/ca.crt"}
users:
  - {name: admin, user: {token: admin-token}}
  - {name: operator, user: {token: operator-token}}
  - {name: stranger, user: {token: wrong-token}}
contexts:
  - {name: admin, context: {cluster: standin, user: admin, namespace: default}}
  - {name: operator, context: {cluster: standin, user: operator, namespace: default}}
  - {name: stranger, context: {cluster: standin, user: stranger, namespace: default}}
current-context: admin
EOF
export KUBECONFIG="$work/kubeconfig"
k() { "${SK_KUBECTL:-kubectl}" --request-timeout=20s "$@"; }

# Authentication.
if k --context stranger get pods >out 2>&1; then fail "a wrong token was accepted"; fi
expect_in "401" "You must be logged in to the server" out

# The CRD, from the file the chart ships; its kind is then served (discovery).
k create -f "$root/manifests/crd/redisclusters.slotkeeper.io.yaml" >out
expect_in "create crd" "customresourcedefinition.apiextensions.k8s.io/redisclusters.slotkeeper.io created" out
expect_eq "crd established" \
  "$(k get crd redisclusters.slotkeeper.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" True
k api-resources --api-group=slotkeeper.io >out
expect_in "api-resources" "skrc" out

# Watch from the start, in the background: every change below must arrive as an event.
k get redisclusters --watch -o json --output-watch-events >watch.json 2>watch.err &
watch_pid=$!
sleep 0.5

# create, apply (create, unchanged, configured), get, jsonpath.
k create -f "$root/manifests/kubernetes/rediscluster.yaml" >out
expect_in "create" "rediscluster.slotkeeper.io/demo created" out
weights="$root/manifests/kubernetes/rediscluster-weights.yaml"
k apply -f "$weights" >out && expect_in "apply 1" "rediscluster.slotkeeper.io/cache created" out
k apply -f "$weights" >out && expect_in "apply 2" "rediscluster.slotkeeper.io/cache unchanged" out
sed 's/masters: 4/masters: 5/; s/1\.5\]/1.5, 1]/' "$weights" | k apply -f - >out
expect_in "apply 3" "rediscluster.slotkeeper.io/cache configured" out
expect_eq "apply changed the spec" "$(k get skrc cache -o jsonpath='{.spec.masters}/{.metadata.generation}')" 5/2
expect_eq "generation of a new object" "$(k get rediscluster demo -o jsonpath='{.metadata.generation}')" 1

# The status subresource: status changes, generation does not; the object's own endpoint
# ignores status, and the status endpoint ignores spec.
status='{"status":{"phase":"Ready","clusterState":"ok","masters":3,"replicas":3,"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"AllSlotsServed","message":"ok","lastTransitionTime":"2026-11-23T10:00:00Z"}]}}'
k patch rediscluster demo --subresource=status --type=merge -p "$status" >out
expect_in "patch status" "rediscluster.slotkeeper.io/demo patched" out
expect_eq "status written" "$(k get skrc demo -o jsonpath='{.status.phase}/{.metadata.generation}')" Ready/1
k patch rediscluster demo --type=merge -p '{"status":{"phase":"Failed"},"spec":{"masters":4}}' >/dev/null
expect_eq "main endpoint: spec only" "$(k get skrc demo -o jsonpath='{.status.phase}/{.spec.masters}/{.metadata.generation}')" Ready/4/2
k patch rediscluster demo --subresource=status --type=merge -p '{"spec":{"masters":9},"status":{"phase":"Scaling"}}' >/dev/null
expect_eq "status endpoint: status only" "$(k get skrc demo -o jsonpath='{.status.phase}/{.spec.masters}/{.metadata.generation}')" Scaling/4/2
k patch rediscluster demo --subresource=status --type=merge -p "$status" >/dev/null

# The printer columns, as kubectl prints the server's Table.
k get redisclusters -o wide >out
expect_in "columns" "PHASE   MASTERS   REPLICAS   READY   DESIRED-MASTERS   DESIRED-REPLICAS   AGE" out
grep -E '^demo +Ready +3 +3 +True +4 +1 ' out >/dev/null || { cat out; fail "demo's row"; }
ok

# 415: strategic merge patch (kubectl's default type) on a custom resource.
if k patch rediscluster demo -p '{"spec":{"masters":5}}' >out 2>&1; then fail "strategic merge patch accepted"; fi
expect_in "415" "error: application/strategic-merge-patch+json is not supported by slotkeeper.io/v1alpha1, Kind=RedisCluster: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml" out

# 409: replace with a stale resourceVersion.
k get rediscluster demo -o json >stale.json
k patch rediscluster demo --type=merge -p '{"metadata":{"labels":{"touched":"yes"}}}' >/dev/null
if k replace -f stale.json >out 2>&1; then fail "a stale replace was accepted"; fi
expect_in "409" 'Operation cannot be fulfilled on redisclusters.slotkeeper.io "demo": the object has been modified; please apply your changes to the latest version and try again' out

# Garbage collection: a StatefulSet owned by demo, its pods (made by the stand-in's
# StatefulSet controller, with IPs); deleting demo deletes them.
uid="$(k get rediscluster demo -o jsonpath='{.metadata.uid}')"
cat >sts.json <<EOF
{"apiVersion": "apps/v1", "kind": "StatefulSet",
 "metadata": {"name": "demo-shard-0", "labels": {"app": "demo"},
   "ownerReferences": [{"apiVersion": "slotkeeper.io/v1alpha1", "kind": "RedisCluster", "name": "demo",
     "uid": "$uid", "controller": true, "blockOwnerDeletion": true}]},
 "spec": {"replicas": 2, "serviceName": "demo-nodes", "podManagementPolicy": "Parallel",
   "selector": {"matchLabels": {"app": "demo"}},
   "template": {"metadata": {"labels": {"app": "demo"}},
     "spec": {"containers": [{"name": "redis", "image": "slotkeeper/slotkeeper:0.1.0"}]}},
   "volumeClaimTemplates": [{"metadata": {"name": "data"},
     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}
EOF
k create -f sts.json >/dev/null
for _ in $(seq 50); do
  [ "$(k get statefulset demo-shard-0 -o jsonpath='{.status.readyReplicas}')" = 2 ] && break
  sleep 0.1
done
expect_eq "sts ready" "$(k get statefulset demo-shard-0 -o jsonpath='{.status.readyReplicas}')" 2
k get pods -l app=demo -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP} {end}' >out
grep -Eq '^demo-shard-0-0=10\.[0-9.]+ demo-shard-0-1=10\.[0-9.]+ $' out || { cat out; fail "pods with IPs"; }
ok
expect_eq "pvcs" "$(k get pvc -o jsonpath='{.items[*].metadata.name}')" "data-demo-shard-0-0 data-demo-shard-0-1"

# RBAC, enforced for the operator's user with the chart's Role.
k --context operator get pods >/dev/null
k --context operator get rediscluster demo >/dev/null
k --context operator get statefulsets >/dev/null
if k --context operator delete pod demo-shard-0-0 >out 2>&1; then fail "the operator deleted a pod"; fi
expect_in "403" 'pods "demo-shard-0-0" is forbidden: User "system:serviceaccount:default:slotkeeper" cannot delete resource "pods" in API group "" in the namespace "default"' out
if python3 "$here/rbac_check.py" --rules rules.json --log requests.jsonl --user "$op_user" >out; then
  fail "rbac_check passed a log with a denied request"
fi
expect_in "rbac_check" "DENIED DELETE /api/v1/namespaces/default/pods/demo-shard-0-0: delete pods 'demo-shard-0-0' (core) in namespace default" out

# A pod deleted comes back (StatefulSet) with a new IP.
old_ip="$(k get pod demo-shard-0-1 -o jsonpath='{.status.podIP}')"
k delete pod demo-shard-0-1 >/dev/null
for _ in $(seq 50); do
  new_ip="$(k get pod demo-shard-0-1 -o jsonpath='{.status.podIP}' 2>/dev/null || true)"
  [ -n "$new_ip" ] && [ "$new_ip" != "$old_ip" ] && break
  sleep 0.1
done
[ -n "$new_ip" ] && [ "$new_ip" != "$old_ip" ] || fail "pod not recreated with a new IP ($old_ip -> $new_ip)"
ok

k delete rediscluster demo --cascade=foreground >/dev/null
for _ in $(seq 50); do
  k get statefulsets,pods -o name >out
  [ -s out ] || break
  sleep 0.1
done
[ -s out ] && { cat out; fail "foreground delete left dependents"; }
ok
if k get rediscluster demo >/dev/null 2>&1; then fail "demo still exists"; fi
ok
k delete rediscluster cache >out
expect_in "delete" 'rediscluster.slotkeeper.io "cache" deleted' out

# The watch saw every change of both objects, in order.
sleep 0.5
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
python3 - watch.json <<'EOF' || fail "watch events"
import json, sys
text = open(sys.argv[1]).read()
dec, i, events = json.JSONDecoder(), 0, []
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    obj, i = dec.raw_decode(text, i)
    events.append((obj["type"], obj["object"]["metadata"]["name"]))
want_cache = ["ADDED", "MODIFIED", "DELETED"]
got_cache = [t for t, n in events if n == "cache"]
got_demo = [t for t, n in events if n == "demo"]
assert got_cache == want_cache, f"cache: {got_cache}"
assert got_demo[0] == "ADDED" and got_demo[-1] == "DELETED" and got_demo.count("MODIFIED") >= 5, got_demo
print(f"watch: {len(events)} events")
EOF
ok

# Bookmarks when asked, and 410 Gone once the history is compacted.
k get --raw '/apis/slotkeeper.io/v1alpha1/namespaces/default/redisclusters?watch=true&allowWatchBookmarks=true&timeoutSeconds=1' >out
expect_in "bookmark" '"type": "BOOKMARK"' out
k get --raw '/apis/slotkeeper.io/v1alpha1/namespaces/default/redisclusters?watch=true&timeoutSeconds=1' >out
if grep -q BOOKMARK out; then fail "a bookmark without allowWatchBookmarks"; fi
ok
echo '{}' >empty.json
k create --raw /standin/compact -f empty.json >/dev/null
k get --raw '/apis/slotkeeper.io/v1alpha1/namespaces/default/redisclusters?watch=true&resourceVersion=2' >out
expect_in "410 event" '"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "too old resource version: 2' out
expect_in "410 code" '"reason": "Expired", "code": 410' out

# Leases as leader election uses them, with the operator's rights.
cat >lease.json <<'EOF'
{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "slotkeeper-leader"},
 "spec": {"holderIdentity": "slotkeeper-0", "leaseDurationSeconds": 15}}
EOF
k --context operator create -f lease.json >/dev/null
k --context operator get lease slotkeeper-leader -o json >lease-now.json
sed 's/"holderIdentity": "slotkeeper-0"/"holderIdentity": "slotkeeper-1"/' lease-now.json >lease-new.json
k --context operator replace -f lease-new.json >/dev/null
expect_eq "lease taken" "$(k get lease slotkeeper-leader -o jsonpath='{.spec.holderIdentity}')" slotkeeper-1
# The version read before that update is now stale.
if k --context operator replace -f lease-now.json >out 2>&1; then fail "a stale lease update was accepted"; fi
expect_in "lease 409" 'Operation cannot be fulfilled on leases.coordination.k8s.io "slotkeeper-leader"' out

echo "kubectl_test: $checks checks passed"
