"""The stand-in's store: resources, objects, resourceVersions, watch history, garbage
collection, CRDs, selectors and Table output (apiserver_standin.py serves it over HTTP)."""
import copy
import json
import threading
import time



class ApiError(Exception):
    """A failure answered as a metav1 Status."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Resource:
    """One served resource (a kind in a group/version)."""

    def __init__(self, group, version, plural, kind, namespaced=True, status=False,
                 short=(), generation=False, custom=False, columns=None, categories=()):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.status, self.short = namespaced, status, list(short)
        self.generation, self.custom = generation, custom
        self.columns = columns or []  # CRD additionalPrinterColumns
        self.categories = list(categories)
        self.singular = kind.lower()

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self):
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        out = [{"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": verbs}]
        if self.short:
            out[0]["shortNames"] = self.short
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status:
            out.append({"name": f"{self.plural}/status", "singularName": "",
                        "namespaced": self.namespaced, "kind": self.kind,
                        "verbs": ["get", "patch", "update"]})
        return out


BUILTIN = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, status=True, short=["ns"]),
    Resource("", "v1", "pods", "Pod", status=True, short=["po"], categories=["all"]),
    Resource("", "v1", "services", "Service", status=True, short=["svc"], categories=["all"]),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", status=True,
             short=["pvc"]),
    Resource("", "v1", "events", "Event", short=["ev"]),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", short=["sa"]),
    Resource("apps", "v1", "statefulsets", "StatefulSet", status=True, short=["sts"],
             generation=True, categories=["all"]),
    Resource("apps", "v1", "deployments", "Deployment", status=True, short=["deploy"],
             generation=True, categories=["all"]),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", status=True,
             short=["pdb"], generation=True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("events.k8s.io", "v1", "events", "Event", short=["ev"]),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
             namespaced=False),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions",
             "CustomResourceDefinition", namespaced=False, status=True, short=["crd", "crds"],
             generation=True),
]


# ---------- selectors ----------

def parse_label_selector(text):
    """Parses a label selector into (key, op, values) terms: =, ==, !=, in, notin, exists, !."""
    terms, i, text = [], 0, text or ""
    parts, depth, cur = [], 0, ""
    for ch in text:  # split on commas outside parentheses
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    for part in parts:
        p = part.strip()
        if not p:
            continue
        for word in (" notin ", " in "):
            if word in p:
                key, vals = p.split(word, 1)
                vals = vals.strip()
                if not (vals.startswith("(") and vals.endswith(")")):
                    raise ApiError(400, "BadRequest", f"unable to parse requirement: {p!r}")
                terms.append((key.strip(), word.strip(),
                              {v.strip() for v in vals[1:-1].split(",") if v.strip()}))
                break
        else:
            if "!=" in p:
                k, v = p.split("!=", 1)
                terms.append((k.strip(), "!=", {v.strip()}))
            elif "==" in p or "=" in p:
                k, v = p.split("==", 1) if "==" in p else p.split("=", 1)
                terms.append((k.strip(), "=", {v.strip()}))
            elif p.startswith("!"):
                terms.append((p[1:].strip(), "!", set()))
            else:
                terms.append((p, "exists", set()))
        i += 1
    return terms


def labels_match(terms, labels):
    labels = labels or {}
    for key, op, vals in terms:
        has = key in labels
        if op == "=" and not (has and labels[key] in vals):
            return False
        if op == "!=" and has and labels[key] in vals:
            return False
        if op == "in" and not (has and labels[key] in vals):
            return False
        if op == "notin" and has and labels[key] in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


def parse_field_selector(text):
    terms = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "!=" in part:
            k, v = part.split("!=", 1)
            terms.append((k.strip(), False, v.strip()))
        else:
            k, v = part.split("==", 1) if "==" in part else part.split("=", 1)
            terms.append((k.strip(), True, v.strip()))
    return terms


def field_value(obj, path):
    cur = obj
    for key in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(key, "")
    return "" if cur is None else str(cur)


def fields_match(terms, obj):
    return all((field_value(obj, k) == v) == eq for k, eq, v in terms)


# ---------- printer columns ----------

def jsonpath(obj, expr):
    """A subset of kubectl JSONPath for printer columns: .a.b, [n], [?(@.k=="v")]."""
    values = [obj]
    i, expr = 0, expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    while i < len(expr):
        if expr[i] == ".":
            j = i + 1
            while j < len(expr) and expr[j] not in ".[":
                j += 1
            key = expr[i + 1:j]
            values = [v[key] for v in values if isinstance(v, dict) and key in v]
            i = j
        elif expr.startswith("[?(", i):
            j = expr.index(")]", i)
            cond = expr[i + 3:j]  # @.type=="Ready"
            left, right = cond.split("==", 1)
            key = left.strip()[2:]
            want = right.strip().strip("'\"")
            values = [item for v in values if isinstance(v, list) for item in v
                      if isinstance(item, dict) and str(item.get(key)) == want]
            i = j + 2
        elif expr[i] == "[":
            j = expr.index("]", i)
            idx = expr[i + 1:j]
            if idx == "*":
                values = [item for v in values if isinstance(v, list) for item in v]
            else:
                n = int(idx)
                values = [v[n] for v in values if isinstance(v, list) and -len(v) <= n < len(v)]
            i = j + 1
        else:
            raise ValueError(f"unsupported JSONPath {expr!r}")
    return values


def human_age(timestamp):
    try:
        t = time.mktime(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(0, int(time.time() - t))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def table_for(res, objects, include="Metadata", list_meta=None):
    cols = [{"name": "Name", "type": "string", "format": "name", "description": "name",
             "priority": 0}]
    specs = res.columns or [{"name": "Age", "type": "date",
                             "jsonPath": ".metadata.creationTimestamp"}]
    for c in specs:
        cols.append({"name": c["name"], "type": "string" if c.get("type") == "date"
                     else c.get("type", "string"), "format": c.get("format", ""),
                     "description": c.get("description", ""), "priority": c.get("priority", 0)})
    rows = []
    for obj in objects:
        cells = [obj["metadata"]["name"]]
        for c in specs:
            vals = jsonpath(obj, c["jsonPath"])
            if not vals:
                cells.append(None)
            elif c.get("type") == "date":
                cells.append(human_age(vals[0]))
            elif isinstance(vals[0], (dict, list)):
                cells.append(json.dumps(vals[0]))
            else:
                cells.append(vals[0])
        row = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {},
            "columnDefinitions": cols, "rows": rows}


# ---------- the store ----------

class Store:
    """Objects, resourceVersions, the watch history and garbage collection, under one lock."""

    def __init__(self, history_limit=10000):
        self.cv = threading.Condition()
        self.rv = 1
        self.objects = {}  # (group, plural) -> {(ns, name): obj}
        self.history = []  # (rv, (group, plural), type, obj, old)
        self.history_limit = history_limit
        self.compacted_rv = 1  # events after this RV are all in history
        self.resources = {}  # (group, version, plural) -> Resource
        self.hooks = []  # fn(res, type, obj, old), called under the lock after each change
        for r in BUILTIN:
            self.register(r)

    def register(self, res):
        self.resources[(res.group, res.version, res.plural)] = res
        self.objects.setdefault((res.group, res.plural), {})

    def unregister(self, group, plural):
        for key in [k for k, r in self.resources.items() if (r.group, r.plural) == (group, plural)]:
            del self.resources[key]

    def find(self, group, version, plural):
        return self.resources.get((group, version, plural))

    def by_kind(self, api_version, kind):
        for r in self.resources.values():
            if r.api_version == api_version and r.kind == kind:
                return r
        return None

    def bucket(self, res):
        return self.objects.setdefault((res.group, res.plural), {})

    def record(self, res, kind, obj, old=None):
        """Bumps the RV into obj (unless DELETED), appends the event and wakes watchers."""
        self.rv += 1
        if kind != "DELETED":
            obj["metadata"]["resourceVersion"] = str(self.rv)
        else:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, (res.group, res.plural), kind, copy.deepcopy(obj),
                             copy.deepcopy(old) if old else None))
        if len(self.history) > self.history_limit:
            drop = len(self.history) - self.history_limit
            self.compacted_rv = self.history[drop - 1][0]
            del self.history[:drop]
        for hook in self.hooks:
            hook(res, kind, obj, old)
        self.cv.notify_all()

    def compact(self):
        with self.cv:
            self.history.clear()
            self.compacted_rv = self.rv

    def all_objects(self):
        for (group, plural), bucket in self.objects.items():
            res = next((r for r in self.resources.values()
                        if (r.group, r.plural) == (group, plural)), None)
            if res:
                for obj in bucket.values():
                    yield res, obj

    # Garbage collection (k8s.io/kubernetes/pkg/controller/garbagecollector, in small).

    def dependents(self, uid):
        return [(r, o) for r, o in self.all_objects()
                if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences", []))]

    def remove(self, res, obj):
        """Deletes obj for good (its finalizers are done) and cascades to its dependents."""
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        bucket = self.bucket(res)
        if key not in bucket:
            return
        del bucket[key]
        self.record(res, "DELETED", obj)
        if res.group == "apiextensions.k8s.io" and res.plural == "customresourcedefinitions":
            self.drop_crd(obj)

    def collect(self):
        """One garbage-collection pass; returns True when it changed something."""
        changed = False
        live = {o["metadata"]["uid"] for _, o in self.all_objects()}
        for res, obj in list(self.all_objects()):
            meta = obj["metadata"]
            refs = meta.get("ownerReferences", [])
            # Foreground deletion: dependents go first; the owner when no blocker is left.
            if meta.get("deletionTimestamp") and "foregroundDeletion" in meta.get("finalizers", []):
                deps = self.dependents(meta["uid"])
                for dres, dep in deps:
                    if not dep["metadata"].get("deletionTimestamp"):
                        self.begin_delete(dres, dep, "Foreground")
                        changed = True
                blocking = [d for _, d in deps if any(
                    r.get("uid") == meta["uid"] and r.get("blockOwnerDeletion")
                    for r in d["metadata"].get("ownerReferences", []))]
                if not blocking:
                    self.drop_finalizer(res, obj, "foregroundDeletion")
                    changed = True
                continue
            if meta.get("deletionTimestamp") and "orphan" in meta.get("finalizers", []):
                for dres, dep in self.dependents(meta["uid"]):
                    old = copy.deepcopy(dep)
                    dep["metadata"]["ownerReferences"] = [
                        r for r in dep["metadata"]["ownerReferences"] if r.get("uid") != meta["uid"]]
                    if not dep["metadata"]["ownerReferences"]:
                        del dep["metadata"]["ownerReferences"]
                    self.record(dres, "MODIFIED", dep, old)
                self.drop_finalizer(res, obj, "orphan")
                changed = True
                continue
            # Background: a dependent whose owners are all gone is deleted.
            if refs and not meta.get("deletionTimestamp") and \
                    not any(r.get("uid") in live for r in refs):
                self.begin_delete(res, obj, "Background")
                changed = True
        return changed

    def drop_finalizer(self, res, obj, name):
        meta = obj["metadata"]
        old = copy.deepcopy(obj)
        meta["finalizers"] = [f for f in meta.get("finalizers", []) if f != name]
        if not meta["finalizers"]:
            del meta["finalizers"]
            self.remove(res, obj)
        else:
            self.record(res, "MODIFIED", obj, old)

    def begin_delete(self, res, obj, policy, grace=None):
        """Deletes obj now, or marks it deleting while finalizers or a kubelet hold it.

        Returns True when the object is gone.
        """
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers", []))
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        held = self.pod_held(res, obj, grace)
        if not finalizers and not held:
            self.remove(res, obj)
            return True
        if not meta.get("deletionTimestamp"):
            old = copy.deepcopy(obj)
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0 if grace is None else grace
            if finalizers:
                meta["finalizers"] = finalizers
            self.record(res, "MODIFIED", obj, old)
        return False

    # A kubelet (standin_workloads.Kubelet) holds the pods it runs until they stopped.
    pod_holder = None

    def pod_held(self, res, obj, grace):
        if res.plural != "pods" or res.group != "" or self.pod_holder is None:
            return False
        return self.pod_holder(obj, grace)

    # CustomResourceDefinitions

    def serve_crd(self, crd):
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for v in spec.get("versions", []):
            if not v.get("served", True):
                continue
            self.register(Resource(
                spec.get("group", ""), v["name"], names.get("plural", ""), names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                status="status" in (v.get("subresources") or {}),
                short=names.get("shortNames", []), generation=True, custom=True,
                columns=v.get("additionalPrinterColumns", []) +
                ([] if any(c.get("name") == "Age" for c in v.get("additionalPrinterColumns", []))
                 else [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]),
                categories=names.get("categories", [])))

    def drop_crd(self, crd):
        spec = crd.get("spec", {})
        group, plural = spec.get("group", ""), spec.get("names", {}).get("plural", "")
        res = next((r for r in self.resources.values()
                    if (r.group, r.plural) == (group, plural)), None)
        if res:
            for obj in list(self.bucket(res).values()):
                self.remove(res, obj)
        self.unregister(group, plural)
