"""Tests of the API-server stand-in over HTTP, and of the RBAC check.

Run: python3 -m unittest discover -s tests/k8s -p '*_test.py'
SK_CHART_RULES (a chart_rbac.mjs output, set by scripts/k8s-check.sh) adds the checks of
request logs against the chart's own Role; without it those tests are skipped.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rbac_check  # noqa: E402

RC = "/apis/slotkeeper.io/v1alpha1/namespaces/default/redisclusters"
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "redisclusters.slotkeeper.io"},
       "spec": {"group": "slotkeeper.io", "scope": "Namespaced",
                "names": {"plural": "redisclusters", "singular": "rediscluster",
                          "kind": "RedisCluster", "shortNames": ["skrc"]},
                "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                              "subresources": {"status": {}},
                              "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


def rc(name, **spec):
    return {"apiVersion": "slotkeeper.io/v1alpha1", "kind": "RedisCluster",
            "metadata": {"name": name}, "spec": {"masters": 3, **spec}}


class Server:
    def __init__(self, *extra):
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        self.log = os.path.join(self.dir.name, "requests.jsonl")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "apiserver_standin.py"), "--port-file", port_file,
             "--token", "admin-token=admin", "--token", "op-token=operator", "--history", "50",
             "--request-log", self.log, "--bookmark-interval", "0.2", *extra])
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.02)
        with open(port_file) as f:
            self.url = f"http://127.0.0.1:{f.read()}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.dir.cleanup()

    def call(self, method, path, body=None, token="admin-token", ctype="application/json",
             accept="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", ctype)
        req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def watch(self, path, until, timeout=5):
        """Events of a watch until until(events) is true (or the watch ends)."""
        req = urllib.request.Request(self.url + path)
        req.add_header("Authorization", "Bearer admin-token")
        events = []
        with urllib.request.urlopen(req, timeout=timeout) as r:
            for line in r:
                events.append(json.loads(line))
                if until(events):
                    break
        return events

    def wait_for(self, what, fn, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


class StandInTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        code, _ = cls.s.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
        assert code == 201

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_auth_and_discovery(self):
        self.assertEqual(self.s.call("GET", "/api/v1/pods", token=None)[0], 401)
        self.assertEqual(self.s.call("GET", "/api/v1/pods", token="nope")[0], 401)
        code, groups = self.s.call("GET", "/apis")
        names = {g["name"] for g in groups["groups"]}
        self.assertTrue({"apps", "policy", "coordination.k8s.io", "events.k8s.io",
                         "slotkeeper.io"} <= names, names)
        code, rl = self.s.call("GET", "/apis/slotkeeper.io/v1alpha1")
        self.assertEqual({r["name"] for r in rl["resources"]},
                         {"redisclusters", "redisclusters/status"})
        self.assertEqual(self.s.call("GET", "/apis/nope.io/v1")[0], 404)

    def test_create_get_conflicts_and_generation(self):
        s = self.s
        code, obj = s.call("POST", RC, rc("gen", replicasPerMaster=1))
        self.assertEqual(code, 201)
        self.assertEqual(obj["metadata"]["generation"], 1)
        self.assertEqual(s.call("POST", RC, rc("gen"))[0], 409)
        # Update without a resourceVersion: refused for a custom resource.
        code, err = s.call("PUT", RC + "/gen", rc("gen"))
        self.assertEqual((code, err["reason"]), (422, "Invalid"))
        stale = dict(obj)
        obj["spec"]["masters"] = 4
        code, new = s.call("PUT", RC + "/gen", obj)
        self.assertEqual((code, new["metadata"]["generation"]), (200, 2))
        code, err = s.call("PUT", RC + "/gen", stale)
        self.assertEqual((code, err["reason"]), (409, "Conflict"))
        # A stale resourceVersion inside a merge patch is a precondition too.
        code, _ = s.call("PATCH", RC + "/gen", {"metadata": {"resourceVersion": "1"}},
                         ctype="application/merge-patch+json")
        self.assertEqual(code, 409)
        # Metadata-only changes keep the generation; a no-op keeps the resourceVersion.
        code, lab = s.call("PATCH", RC + "/gen", {"metadata": {"labels": {"a": "b"}}},
                           ctype="application/merge-patch+json")
        self.assertEqual(lab["metadata"]["generation"], 2)
        code, same = s.call("PATCH", RC + "/gen", {"metadata": {"labels": {"a": "b"}}},
                            ctype="application/merge-patch+json")
        self.assertEqual(same["metadata"]["resourceVersion"], lab["metadata"]["resourceVersion"])
        code, err = s.call("PATCH", RC + "/gen", {"spec": {}},
                           ctype="application/strategic-merge-patch+json")
        self.assertEqual((code, err["reason"]), (415, "UnsupportedMediaType"))
        code, jp = s.call("PATCH", RC + "/gen", [{"op": "replace", "path": "/spec/masters",
                                                 "value": 5}], ctype="application/json-patch+json")
        self.assertEqual((code, jp["spec"]["masters"], jp["metadata"]["generation"]), (200, 5, 3))

    def test_status_subresource(self):
        s = self.s
        code, obj = s.call("POST", RC, {**rc("st"), "status": {"phase": "Ready"}})
        self.assertNotIn("status", obj)  # dropped on create
        code, obj = s.call("PATCH", RC + "/st/status", {"status": {"phase": "Creating"},
                                                       "spec": {"masters": 7}},
                           ctype="application/merge-patch+json")
        self.assertEqual((obj["status"]["phase"], obj["spec"]["masters"]), ("Creating", 3))
        self.assertEqual(obj["metadata"]["generation"], 1)
        obj["status"]["phase"] = "Ready"
        obj["spec"]["masters"] = 8
        code, put = s.call("PUT", RC + "/st/status", obj)
        self.assertEqual((put["status"]["phase"], put["spec"]["masters"]), ("Ready", 3))
        put["status"]["phase"] = "Failed"
        put["spec"]["masters"] = 4
        code, main = s.call("PUT", RC + "/st", put)
        self.assertEqual((main["status"]["phase"], main["spec"]["masters"]), ("Ready", 4))

    def test_list_paging_and_selectors(self):
        s = self.s
        for i in range(5):
            body = rc(f"page-{i}")
            body["metadata"]["labels"] = {"set": "paging", "odd": str(i % 2)}
            s.call("POST", RC, body)
        code, first = s.call("GET", RC + "?labelSelector=set%3Dpaging&limit=2")
        self.assertEqual([o["metadata"]["name"] for o in first["items"]], ["page-0", "page-1"])
        self.assertEqual(first["metadata"]["remainingItemCount"], 3)
        code, rest = s.call("GET", RC + f"?labelSelector=set%3Dpaging&limit=10"
                                        f"&continue={first['metadata']['continue']}")
        self.assertEqual([o["metadata"]["name"] for o in rest["items"]],
                         ["page-2", "page-3", "page-4"])
        code, odd = s.call("GET", RC + "?labelSelector=set%3Dpaging,odd+in+(1)")
        self.assertEqual(len(odd["items"]), 2)
        code, one = s.call("GET", RC + "?fieldSelector=metadata.name%3Dpage-3")
        self.assertEqual([o["metadata"]["name"] for o in one["items"]], ["page-3"])

    def test_watch_events_selectors_and_410(self):
        s = self.s
        code, lst = s.call("GET", RC + "?labelSelector=w%3D1")
        rv = lst["metadata"]["resourceVersion"]
        body = rc("watched")
        body["metadata"]["labels"] = {"w": "1"}
        s.call("POST", RC, body)
        s.call("PATCH", RC + "/watched", {"spec": {"masters": 4}}, ctype="application/merge-patch+json")
        # Leaving the selector is a DELETED for this watcher.
        s.call("PATCH", RC + "/watched", {"metadata": {"labels": {"w": "2"}}},
               ctype="application/merge-patch+json")
        events = s.watch(RC + f"?watch=true&labelSelector=w%3D1&resourceVersion={rv}"
                              "&allowWatchBookmarks=true",
                         lambda ev: ev[-1]["type"] == "BOOKMARK")
        self.assertEqual([e["type"] for e in events], ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"])
        self.assertEqual(int(events[-1]["object"]["metadata"]["resourceVersion"]) >=
                         int(events[-2]["object"]["metadata"]["resourceVersion"]), True)
        s.call("POST", "/standin/compact", {})
        events = s.watch(RC + f"?watch=true&resourceVersion={rv}", lambda ev: True)
        self.assertEqual(events[0]["type"], "ERROR")
        self.assertEqual(events[0]["object"]["code"], 410)
        code, err = s.call("GET", RC + f"?resourceVersion={rv}&resourceVersionMatch=Exact")
        self.assertEqual((code, err["reason"]), (410, "Expired"))
        # The controls are for admins only.
        self.assertEqual(s.call("POST", "/standin/compact", {}, token="op-token")[0], 403)

    def test_history_limit_expires_old_versions(self):
        s = self.s
        code, obj = s.call("POST", RC, rc("churn"))
        rv = obj["metadata"]["resourceVersion"]
        for i in range(60):  # more than --history 50
            s.call("PATCH", RC + "/churn", {"metadata": {"labels": {"i": str(i)}}},
                   ctype="application/merge-patch+json")
        events = s.watch(RC + f"?watch=true&resourceVersion={rv}", lambda ev: True)
        self.assertEqual((events[0]["type"], events[0]["object"]["code"]), ("ERROR", 410))

    def owned(self, name, owner, block=True, kind="services"):
        ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
               "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
               "controller": True, "blockOwnerDeletion": block}
        code, obj = self.s.call("POST", f"/api/v1/namespaces/default/{kind}", {
            "apiVersion": "v1", "kind": "Service" if kind == "services" else "ConfigMap",
            "metadata": {"name": name, "ownerReferences": [ref]}})
        self.assertEqual(code, 201, obj)
        return obj

    def exists(self, path):
        return self.s.call("GET", path)[0] == 200

    def test_garbage_collection(self):
        s = self.s
        svc = "/api/v1/namespaces/default/services/"
        # Background (the default): the owner goes at once, dependents soon after.
        _, owner = s.call("POST", RC, rc("gc-bg"))
        self.owned("gc-bg-client", owner)
        self.assertEqual(s.call("DELETE", RC + "/gc-bg")[0], 200)
        self.assertFalse(self.exists(RC + "/gc-bg"))
        s.wait_for("background GC", lambda: not self.exists(svc + "gc-bg-client"))
        # Foreground: the owner stays (deletionTimestamp) until its blocking dependents go.
        _, owner = s.call("POST", RC, rc("gc-fg"))
        dep = self.owned("gc-fg-client", owner)
        s.call("PATCH", svc + "gc-fg-client", {"metadata": {"finalizers": ["test/hold"]}},
               ctype="application/merge-patch+json")
        code, body = s.call("DELETE", RC + "/gc-fg", {"propagationPolicy": "Foreground"})
        self.assertEqual(code, 202)
        self.assertIn("foregroundDeletion", body["metadata"]["finalizers"])
        time.sleep(0.3)
        self.assertTrue(self.exists(RC + "/gc-fg"))
        self.assertTrue(s.call("GET", svc + "gc-fg-client")[1]["metadata"].get("deletionTimestamp"))
        s.call("PATCH", svc + "gc-fg-client", {"metadata": {"finalizers": None}},
               ctype="application/merge-patch+json")
        s.wait_for("foreground owner gone", lambda: not self.exists(RC + "/gc-fg"))
        self.assertFalse(self.exists(svc + "gc-fg-client"))
        del dep
        # Orphan: dependents stay, without the ownerReference.
        _, owner = s.call("POST", RC, rc("gc-or"))
        self.owned("gc-or-client", owner)
        s.call("DELETE", RC + "/gc-or?propagationPolicy=Orphan")
        s.wait_for("orphan owner gone", lambda: not self.exists(RC + "/gc-or"))
        _, kept = s.call("GET", svc + "gc-or-client")
        self.assertNotIn("ownerReferences", kept["metadata"])
        # Preconditions.
        code, _ = s.call("DELETE", svc + "gc-or-client", {"preconditions": {"uid": "other"}})
        self.assertEqual(code, 409)

    def test_strategic_merge_on_builtin_kinds(self):
        s = self.s
        path = "/apis/apps/v1/namespaces/default/statefulsets"
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "smp"},
               "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "smp"}},
                        "template": {"metadata": {"labels": {"a": "smp"}}, "spec": {"containers": [
                            {"name": "redis", "image": "r:1"}, {"name": "side", "image": "s:1"}]}}}}
        self.assertEqual(s.call("POST", path, sts)[0], 201)
        code, out = s.call("PATCH", path + "/smp", {"spec": {"template": {"spec": {"containers": [
            {"name": "redis", "image": "r:2"}]}}}}, ctype="application/strategic-merge-patch+json")
        self.assertEqual(code, 200)
        images = [c["image"] for c in out["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(images, ["r:2", "s:1"])
        self.assertEqual(out["metadata"]["generation"], 2)

    def test_leases_and_events(self):
        s = self.s
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}}
        path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        code, got = s.call("POST", path, lease)
        self.assertEqual(code, 201)
        got["spec"]["holderIdentity"] = "b"
        self.assertEqual(s.call("PUT", path + "/leader", got)[0], 200)
        self.assertEqual(s.call("PUT", path + "/leader", got)[0], 409)  # stale now
        for gv, kind in (("/api/v1", "Event"), ("/apis/events.k8s.io/v1", "Event")):
            ev = {"apiVersion": gv.split("/", 2)[-1] if "apis" in gv else "v1", "kind": kind,
                  "metadata": {"generateName": "demo."}, "reason": "Meet"}
            code, out = s.call("POST", f"{gv}/namespaces/default/events", ev)
            self.assertEqual(code, 201, out)
            self.assertTrue(out["metadata"]["name"].startswith("demo."))

    def test_statefulset_controller(self):
        s = self.s
        path = "/apis/apps/v1/namespaces/default/statefulsets"
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "shard"},
               "spec": {"replicas": 3, "serviceName": "shard-nodes",
                        "selector": {"matchLabels": {"a": "shard"}},
                        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"},
                        "template": {"metadata": {"labels": {"a": "shard"}},
                                     "spec": {"containers": [{"name": "redis", "image": "r:1"}]}},
                        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}
        s.call("POST", path, sts)
        pods = "/api/v1/namespaces/default/pods?labelSelector=a%3Dshard"
        s.wait_for("3 ready", lambda: s.call("GET", path + "/shard")[1].get("status", {})
                   .get("readyReplicas") == 3)
        items = s.call("GET", pods)[1]["items"]
        self.assertEqual(sorted(p["metadata"]["name"] for p in items), ["shard-0", "shard-1", "shard-2"])
        self.assertEqual(len({p["status"]["podIP"] for p in items}), 3)
        self.assertEqual(items[0]["spec"]["subdomain"], "shard-nodes")
        s.call("PATCH", path + "/shard", {"spec": {"replicas": 1}}, ctype="application/merge-patch+json")
        s.wait_for("scaled in", lambda: len(s.call("GET", pods)[1]["items"]) == 1)
        s.call("DELETE", path + "/shard")
        s.wait_for("pods and PVCs gone", lambda: not s.call("GET", pods)[1]["items"] and not [
            p for p in s.call("GET", "/api/v1/namespaces/default/persistentvolumeclaims")[1]["items"]
            if p["metadata"]["name"].startswith("data-shard-")])


class KubeletTest(unittest.TestCase):
    def test_kubelet_runs_a_command_per_pod(self):
        d = tempfile.mkdtemp()
        ipcmd = os.path.join(d, "ip.sh")
        with open(ipcmd, "w") as f:
            f.write('#!/bin/sh\necho "10.99.$(cat %s/n 2>/dev/null || echo 0).$1"\n' % d)
        os.chmod(ipcmd, 0o755)
        s = Server("--kubelet-cmd", f"sh -c 'echo $POD_IP > {d}/{{name}}.ip; exec sleep 300'",
                   "--pod-ip-cmd", f"{ipcmd} {{ordinal}}")
        try:
            path = "/apis/apps/v1/namespaces/default/statefulsets"
            s.call("POST", path, {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                  "metadata": {"name": "k"}, "spec": {
                                      "replicas": 2, "selector": {"matchLabels": {"a": "k"}},
                                      "template": {"metadata": {"labels": {"a": "k"}}, "spec": {
                                          "terminationGracePeriodSeconds": 5,
                                          "containers": [{"name": "c", "image": "x"}]}}}})
            pod = "/api/v1/namespaces/default/pods/k-1"
            s.wait_for("k-1 running", lambda: (lambda c, o: c == 200 and o.get("status", {}).get(
                "podIP"))(*s.call("GET", pod)))
            self.assertEqual(s.call("GET", pod)[1]["status"]["podIP"], "10.99.0.1")
            s.wait_for("ip file", lambda: os.path.exists(f"{d}/k-1.ip"))
            with open(f"{d}/k-1.ip") as f:
                self.assertEqual(f.read().strip(), "10.99.0.1")
            # A crash restarts the container.
            self.assertEqual(s.call("POST", "/standin/pods/default/k-1/kill", {})[0], 200)
            s.wait_for("restart", lambda: s.call("GET", pod)[1]["status"].get(
                "containerStatuses", [{}])[0].get("restartCount") == 1, timeout=10)
            # A deleted pod is stopped, then made again, here with a new IP from the callback.
            with open(f"{d}/n", "w") as f:
                f.write("7")
            uid = s.call("GET", pod)[1]["metadata"]["uid"]
            self.assertEqual(s.call("DELETE", pod)[0], 202)
            s.wait_for("new pod", lambda: (lambda o: o[0] == 200 and o[1]["metadata"]["uid"] != uid
                                           and o[1].get("status", {}).get("podIP"))(
                s.call("GET", pod)))
            self.assertEqual(s.call("GET", pod)[1]["status"]["podIP"], "10.99.7.1")
        finally:
            s.stop()


class RbacTest(unittest.TestCase):
    def test_request_attributes(self):
        cases = [
            ("GET", "/api/v1/namespaces/ns/pods", "", ("list", "", "pods", "", "ns", "")),
            ("GET", "/api/v1/namespaces/ns/pods", "watch=true", ("watch", "", "pods", "", "ns", "")),
            ("GET", "/api/v1/pods", "watch=1", ("watch", "", "pods", "", "", "")),
            ("GET", "/api/v1/namespaces/ns/pods/p", "", ("get", "", "pods", "", "ns", "p")),
            ("PATCH", RC + "/demo/status", "", ("patch", "slotkeeper.io", "redisclusters",
                                               "status", "default", "demo")),
            ("POST", "/apis/coordination.k8s.io/v1/namespaces/ns/leases", "",
             ("create", "coordination.k8s.io", "leases", "", "ns", "")),
            ("DELETE", "/api/v1/namespaces/ns/persistentvolumeclaims", "",
             ("deletecollection", "", "persistentvolumeclaims", "", "ns", "")),
            ("GET", "/api/v1/namespaces/ns", "", ("get", "", "namespaces", "", "ns", "ns")),
            ("GET", RC, "fieldSelector=metadata.name%3Ddemo&watch=true",
             ("watch", "slotkeeper.io", "redisclusters", "", "default", "demo")),
        ]
        for method, path, query, want in cases:
            a = rbac_check.request_attributes(method, path, query)
            got = (a["verb"], a["apiGroup"], a["resource"], a["subresource"], a["namespace"], a["name"])
            self.assertEqual(got, want, f"{method} {path}?{query}")
        self.assertTrue(rbac_check.request_attributes("GET", "/apis/apps/v1").get("nonResource"))

    def test_rules(self):
        rules = {"cluster": [], "namespaces": {"ns": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "resourceNames": ["leader"], "verbs": ["get", "update"]},
            {"apiGroups": ["slotkeeper.io"], "resources": ["redisclusters/status"],
             "verbs": ["patch"]}]}}
        allow = lambda m, p, q="": rbac_check.allowed(rules, rbac_check.request_attributes(m, p, q))
        self.assertIsNotNone(allow("GET", "/api/v1/namespaces/ns/pods", "watch=true"))
        self.assertIsNone(allow("GET", "/api/v1/pods"))  # another scope
        self.assertIsNone(allow("DELETE", "/api/v1/namespaces/ns/pods/p"))
        self.assertIsNone(allow("GET", "/api/v1/namespaces/other/pods"))
        leases = "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
        self.assertIsNotNone(allow("POST", leases))
        self.assertIsNotNone(allow("PUT", leases + "/leader"))
        self.assertIsNone(allow("PUT", leases + "/someone-else"))
        self.assertIsNone(allow("GET", leases))  # list is not get
        rcs = "/apis/slotkeeper.io/v1alpha1/namespaces/ns/redisclusters"
        self.assertIsNotNone(allow("PATCH", rcs + "/demo/status"))
        self.assertIsNone(allow("PATCH", rcs + "/demo"))
        self.assertIsNone(allow("PUT", rcs + "/demo/status"))
        self.assertIsNotNone(allow("GET", "/apis"))

    @unittest.skipUnless(os.environ.get("SK_CHART_RULES"), "SK_CHART_RULES not set")
    def test_request_logs_against_the_charts_role(self):
        with open(os.environ["SK_CHART_RULES"]) as f:
            rules = json.load(f)
        ns = next(iter(rules["namespaces"]))
        base = f"/namespaces/{ns}"
        rcs = f"/apis/slotkeeper.io/v1alpha1{base}/redisclusters"

        def entry(method, path, query=""):
            return {"user": "op", "method": method, "path": path, "query": query}
        # What the operator is expected to do (helm/slotkeeper/README.md, "RBAC").
        good = [
            entry("GET", "/apis"), entry("GET", "/apis/slotkeeper.io/v1alpha1"),
            entry("GET", rcs), entry("GET", rcs, "watch=true&allowWatchBookmarks=true"),
            entry("GET", rcs + "/demo"), entry("PATCH", rcs + "/demo/status"),
            entry("POST", f"/apis/apps/v1{base}/statefulsets"),
            entry("PATCH", f"/apis/apps/v1{base}/statefulsets/demo-shard-3"),
            entry("DELETE", f"/apis/apps/v1{base}/statefulsets/demo-shard-3"),
            entry("GET", f"/apis/apps/v1{base}/statefulsets", "watch=true"),
            entry("POST", f"/api/v1{base}/services"), entry("GET", f"/api/v1{base}/services/demo"),
            entry("POST", f"/apis/policy/v1{base}/poddisruptionbudgets"),
            entry("GET", f"/api/v1{base}/pods", "labelSelector=app%3Ddemo"),
            entry("GET", f"/api/v1{base}/pods", "watch=true&resourceVersion=7"),
            entry("GET", f"/api/v1{base}/persistentvolumeclaims", "labelSelector=x"),
            entry("DELETE", f"/api/v1{base}/persistentvolumeclaims/data-demo-shard-3-0"),
            entry("GET", f"/api/v1{base}/secrets/demo-redis-password"),
            entry("POST", f"/api/v1{base}/events"), entry("PATCH", f"/api/v1{base}/events/demo.1"),
            entry("POST", f"/apis/events.k8s.io/v1{base}/events"),
            entry("POST", f"/apis/coordination.k8s.io/v1{base}/leases"),
            entry("GET", f"/apis/coordination.k8s.io/v1{base}/leases/slotkeeper-leader"),
            entry("PUT", f"/apis/coordination.k8s.io/v1{base}/leases/slotkeeper-leader"),
        ]
        denied, unused = rbac_check.check_log(rules, good)
        self.assertEqual(denied, [])
        bad = good + [
            entry("DELETE", f"/api/v1{base}/pods/demo-shard-0-0"),
            entry("GET", f"/api/v1{base}/secrets"),  # list, not get
            entry("PUT", rcs + "/demo"),
            entry("PUT", f"/apis/coordination.k8s.io/v1{base}/leases/other-lease"),
            entry("GET", "/api/v1/pods"),  # all namespaces, with a namespace Role
            entry("POST", "/apis/apps/v1/namespaces/elsewhere/statefulsets"),
        ]
        denied, _ = rbac_check.check_log(rules, bad)
        self.assertEqual(len(denied), 6, denied)
        self.assertIn("delete pods 'demo-shard-0-0'", denied[0])
        self.assertIn("list secrets", denied[1])

    def test_command_line(self):
        d = tempfile.mkdtemp()
        rules = os.path.join(d, "rules.json")
        log = os.path.join(d, "log.jsonl")
        with open(rules, "w") as f:
            json.dump({"namespaces": {"ns": [{"apiGroups": [""], "resources": ["pods"],
                                              "verbs": ["list"]}]}}, f)
        with open(log, "w") as f:
            f.write(json.dumps({"user": "u", "method": "GET", "path": "/api/v1/namespaces/ns/pods"}) + "\n")
        run = lambda: subprocess.run([sys.executable, os.path.join(HERE, "rbac_check.py"), "--rules",
                                      rules, "--log", log], capture_output=True, text=True)
        self.assertEqual(run().returncode, 0)
        with open(log, "a") as f:
            f.write(json.dumps({"user": "u", "method": "DELETE",
                                "path": "/api/v1/namespaces/ns/pods/p"}) + "\n")
        out = run()
        self.assertEqual(out.returncode, 1)
        self.assertIn("DENIED DELETE /api/v1/namespaces/ns/pods/p", out.stdout)


if __name__ == "__main__":
    unittest.main()
