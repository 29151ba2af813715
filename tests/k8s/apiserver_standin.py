#!/usr/bin/env python3
"""A Kubernetes API-server stand-in for tests (Python 3 standard library only).

It speaks the real wire protocol for what slotkeeper's operator uses, so that the operator and
the real kubectl can be tested against it; tests/k8s/kubectl_test.sh holds it to kubectl 1.32.
  - discovery: /api, /api/v1, /apis, /apis/G, /apis/G/V, /version (legacy, not aggregated)
  - list (resourceVersion, limit/continue, labelSelector, fieldSelector), get, create (also
    generateName), update (PUT; 409 on a stale resourceVersion; custom resources need one),
    patch (merge-patch, json-patch; strategic-merge on built-in kinds, 415 on custom ones;
    a resourceVersion in the patch is a precondition), delete (preconditions, finalizers,
    propagationPolicy Background/Foreground/Orphan), deletecollection
  - watch: chunked, one JSON event per line, ADDED/MODIFIED/DELETED, BOOKMARK when
    allowWatchBookmarks=true, an ERROR event with a 410 Status for a resourceVersion older than
    the kept history (HTTP 410 for such a list with resourceVersionMatch=Exact or continue)
  - the status subresource: PUT/PATCH on .../status change only status; on the object they
    leave status alone; metadata.generation goes up when anything but metadata/status changes
  - garbage collection by ownerReferences (background, foreground with blockOwnerDeletion,
    orphan; objects whose owners are all gone)
  - CustomResourceDefinitions: creating one serves its kind (printer columns, status
    subresource, short names); Table output (as=Table) for kubectl get
  - bearer tokens (--token TOKEN=USER), optional RBAC enforcement of one user's requests
    against rules (--rbac-rules, from chart_rbac.mjs), and a request log (--request-log,
    JSON lines: user, method, path, query, verb, apiGroup, resource, subresource, namespace,
    name, code) for rbac_check.py
  - workloads (standin_workloads.py): a StatefulSet controller that makes the pods and PVCs,
    and a kubelet that runs a command per pod (--kubelet-cmd) with its IP from --pod-ip-cmd.

What it is not: no admission, no schema validation, defaulting or pruning of custom resources,
no server-side apply, no scheduling, no real RBAC engine (only the rules given), one store for
everything (events of core/v1 and events.k8s.io/v1 are separate here), no namespaces lifecycle.

Run: apiserver_standin.py --listen 127.0.0.1:0 --token admin-token=admin --port-file F
(the chosen port is written to F once it listens). Test controls live under /standin/ (admin
user only): POST /standin/compact (drops the watch history), GET /standin/requests.
"""
import argparse
import base64
import bisect
import copy
import json
import os
import random
import ssl
import string
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbac_check  # noqa: E402
import standin_jsonpatch as patches  # noqa: E402
from standin_store import (ApiError, Store, fields_match, labels_match, now_rfc3339,  # noqa: E402
                           parse_field_selector, parse_label_selector, status_body, table_for)

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
UNAUTHENTICATED_PATHS = ("/healthz", "/livez", "/readyz")


def object_key(obj):
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def content_of(obj):
    """Everything but metadata and status: a change here bumps metadata.generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


class StandIn:
    """The server's state beyond the store: tokens, RBAC enforcement, the request log."""

    def __init__(self, args):
        self.store = Store(history_limit=args.history)
        self.tokens = dict(t.split("=", 1) if "=" in t else (t, "admin") for t in args.token)
        self.admin_users = set(args.admin_user)
        self.bookmark_interval = args.bookmark_interval
        self.watch_timeout = args.watch_timeout
        self.rbac_user = args.rbac_user
        self.rbac_rules = None
        if args.rbac_rules:
            with open(args.rbac_rules) as f:
                self.rbac_rules = json.load(f)
        self.log_lock = threading.Lock()
        self.requests = []
        self.log_file = open(args.request_log, "a", buffering=1) if args.request_log else None
        self.stopping = threading.Event()
        self.workloads = None

    def log(self, entry):
        with self.log_lock:
            self.requests.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry, sort_keys=True) + "\n")

    def controllers(self):
        """Garbage collector and workload controllers, level-based, every 50 ms."""
        while not self.stopping.wait(0.05):
            actions = []
            with self.store.cv:
                for _ in range(100):
                    if not self.store.collect():
                        break
                if self.workloads:
                    actions = self.workloads.sync()
            for action in actions:  # process starts and callbacks run outside the lock
                action()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "slotkeeper-apiserver-standin"
    standin: StandIn = None  # set by main()

    def log_message(self, fmt, *args):  # the request log replaces the default stderr lines
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # ---- plumbing ----

    def read_body(self):
        self._body_read = True
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        return self.rfile.read(length) if length else b""

    def json_body(self):
        raw = self.read_body()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"the request body is not JSON: {e}") from e

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.code = code
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def wants_table(self):
        return "as=Table" in self.headers.get("Accept", "")

    def dispatch(self, method):
        st = self.standin
        url = urlsplit(self.path)
        self.code = 0
        self._body_read = False
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        attrs = rbac_check.request_attributes(method, url.path, url.query)
        user = None
        try:
            if url.path not in UNAUTHENTICATED_PATHS:
                auth = self.headers.get("Authorization", "")
                token = auth[7:].strip() if auth.startswith("Bearer ") else None
                user = st.tokens.get(token) if token else None
                if user is None:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
            if st.rbac_rules is not None and user == st.rbac_user and \
                    rbac_check.allowed(st.rbac_rules, attrs) is None:
                raise ApiError(403, "Forbidden", forbidden_message(user, attrs))
            self.route(method, url.path, query, user)
        except ApiError as e:
            self.read_rest()
            self.send_json(e.code, status_body(e.code, e.reason, e.message, e.details))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a stand-in bug: answer 500 and say where
            import traceback
            traceback.print_exc()
            self.close_connection = True
            if not self.code:
                self.send_json(500, status_body(500, "InternalError", f"stand-in error: {e!r}"))
        finally:
            st.log({"time": now_rfc3339(), "user": user, "method": method, "path": url.path,
                    "query": url.query, "code": self.code,
                    **{k: attrs.get(k, "") for k in ("verb", "apiGroup", "apiVersion", "resource",
                                                     "subresource", "namespace", "name")}})

    def read_rest(self):
        # A refused request may still carry a body; read it so the connection stays usable.
        if not getattr(self, "_body_read", False):
            try:
                self.read_body()
            except (OSError, ValueError):
                self.close_connection = True

    # ---- routing ----

    def route(self, method, path, query, user):
        st = self.standin
        store = st.store
        parts = [p for p in path.split("/") if p]
        if path in UNAUTHENTICATED_PATHS:
            return self.send_json(200, "ok")
        if parts and parts[0] == "standin":
            if user not in st.admin_users:
                raise ApiError(403, "Forbidden", "the stand-in's controls are for admin users")
            return self.control(method, parts[1:])
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-standin",
                                        "platform": "linux/amd64"})
        with store.cv:
            if parts[:2] == ["openapi", "v3"]:
                return self.send_json(200, self.openapi_v3("/".join(parts[2:])))
            if parts and parts[0] == "openapi":
                raise ApiError(404, "NotFound", "the stand-in serves no OpenAPI v2 document")
            if parts == ["api"]:
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": []})
            if parts == ["apis"]:
                return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                            "groups": self.groups()})
            if len(parts) == 2 and parts[0] == "apis":
                group = next((g for g in self.groups() if g["name"] == parts[1]), None)
                if not group:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", **group})
            if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
                group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
                resources = [d for r in store.resources.values()
                             if r.group == group and r.version == version for d in r.discovery()]
                if not resources:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                gv = f"{group}/{version}" if group else version
                return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                            "groupVersion": gv, "resources": resources})
        self.resource_request(method, parts, query)

    def openapi_v3(self, gv_path):
        """Just enough OpenAPI v3 for kubectl to see that every kind takes fieldValidation
        (so it sends fieldValidation=Strict instead of validating on the client); no schemas."""
        store = self.standin.store
        gvs = sorted({("api/" + r.version) if not r.group else f"apis/{r.group}/{r.version}"
                      for r in store.resources.values()})
        if not gv_path:
            return {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash=standin"}
                              for gv in gvs}}
        if gv_path not in gvs:
            raise ApiError(404, "NotFound", f"no OpenAPI document for {gv_path}")
        paths = {}
        for r in store.resources.values():
            if ("api/" + r.version if not r.group else f"apis/{r.group}/{r.version}") != gv_path:
                continue
            ns = "/namespaces/{namespace}" if r.namespaced else ""
            gvk = {"group": r.group, "version": r.version, "kind": r.kind}
            params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]
            op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {}}
            paths[f"/{gv_path}{ns}/{r.plural}/{{name}}"] = {"patch": op, "put": op}
            paths[f"/{gv_path}{ns}/{r.plural}"] = {"post": op}
        return {"openapi": "3.0.0", "info": {"title": "standin", "version": "v1.32.0"},
                "paths": paths, "components": {"schemas": {}}}

    def groups(self):
        seen = {}
        for r in self.standin.store.resources.values():
            if r.group:
                seen.setdefault(r.group, []).append(r.version)
        out = []
        for g, versions in sorted(seen.items()):
            vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in sorted(set(versions))]
            out.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
        return out

    def resource_request(self, method, parts, query):
        store = self.standin.store
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and \
                store.find(group, version, rest[2]) is not None:
            ns, rest = rest[1], rest[2:]
        res = store.find(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if ns and not res.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else ""
        sub = rest[2] if len(rest) == 3 else ""
        if sub and (sub != "status" or not res.status):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method in ("GET", "HEAD") and not name:
            if query.get("watch") in ("true", "1"):
                return self.watch(res, ns, query)
            return self.list(res, ns, query)
        if method in ("GET", "HEAD"):
            return self.get(res, ns, name)
        if method == "POST" and not name:
            return self.create(res, ns, query)
        if method == "PUT" and name:
            return self.update(res, ns, name, sub, query)
        if method == "PATCH" and name:
            return self.patch(res, ns, name, sub, query)
        if method == "DELETE" and name and not sub:
            return self.delete(res, ns, name, query)
        if method == "DELETE" and not name:
            return self.delete_collection(res, ns, query)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    # ---- verbs ----

    def not_found(self, res, name):
        return ApiError(404, "NotFound", f'{res.group_resource} "{name}" not found',
                        {"name": name, "group": res.group, "kind": res.plural})

    def lookup(self, res, ns, name):
        obj = self.standin.store.bucket(res).get((ns, name))
        if obj is None:
            raise self.not_found(res, name)
        return obj

    def get(self, res, ns, name):
        with self.standin.store.cv:
            obj = copy.deepcopy(self.lookup(res, ns, name))
        if self.wants_table():
            return self.send_json(200, table_for(res, [obj], self.include_object()))
        self.send_json(200, obj)

    def include_object(self):
        q = parse_qs(urlsplit(self.path).query)
        return q.get("includeObject", ["Metadata"])[-1]

    def selected(self, res, ns, query):
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""))

        def match(obj):
            if ns and obj["metadata"].get("namespace", "") != ns:
                return False
            return labels_match(labels, obj["metadata"].get("labels")) and fields_match(fields, obj)
        return match

    def list(self, res, ns, query):
        store = self.standin.store
        match = self.selected(res, ns, query)
        limit = int(query.get("limit") or 0)
        cont = query.get("continue", "")
        with store.cv:
            rv = query.get("resourceVersion", "")
            if rv and rv != "0" and query.get("resourceVersionMatch") == "Exact" and \
                    int(rv) != store.rv and int(rv) <= store.compacted_rv:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({store.compacted_rv})")
            list_rv, start = store.rv, None
            if cont:
                try:
                    token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                    list_rv, start = token["rv"], tuple(token["start"])
                except (ValueError, KeyError, TypeError) as e:
                    raise ApiError(400, "BadRequest", "invalid continue token") from e
                if list_rv < store.compacted_rv:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to "
                                   "display a consistent list result. You can start a new list "
                                   "without the continue parameter.")
            items = sorted((o for o in store.bucket(res).values() if match(o)), key=object_key)
            if start is not None:
                items = [o for o in items if object_key(o) > start]
            meta = {"resourceVersion": str(list_rv)}
            if limit and len(items) > limit:
                meta["remainingItemCount"] = len(items) - limit
                items = items[:limit]
                meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"rv": list_rv, "start": list(object_key(items[-1]))}).encode()).decode()
            items = copy.deepcopy(items)
        if self.wants_table():
            return self.send_json(200, table_for(res, items, self.include_object(), meta))
        self.send_json(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                             "metadata": meta, "items": items})

    def watch(self, res, ns, query):
        st = self.standin
        store = st.store
        match = self.selected(res, ns, query)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        timeout = min(float(query.get("timeoutSeconds") or st.watch_timeout), st.watch_timeout)
        table = self.wants_table()
        include = self.include_object()
        rv = query.get("resourceVersion", "")
        expired, initial = None, []
        with store.cv:
            if rv in ("", "0"):
                initial = [("ADDED", copy.deepcopy(o)) for o in
                           sorted(store.bucket(res).values(), key=object_key) if match(o)]
                last = store.rv
            else:
                try:
                    last = int(rv)
                except ValueError as e:
                    raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv!r}") from e
                if last < store.compacted_rv:
                    expired = f"too old resource version: {last} ({store.compacted_rv})"
        self.code = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

        def send(kind, obj):
            if table and kind in ("ADDED", "MODIFIED", "DELETED"):
                obj = table_for(res, [obj], include)
            self.chunk({"type": kind, "object": obj})

        try:
            if expired:
                self.chunk({"type": "ERROR", "object": status_body(410, "Expired", expired)})
                return
            for kind, obj in initial:
                send(kind, obj)
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + st.bookmark_interval
            while not st.stopping.is_set():
                now = time.monotonic()
                if now >= deadline:
                    return
                events, gone = [], None
                with store.cv:
                    if last < store.compacted_rv:
                        gone = f"too old resource version: {last} ({store.compacted_rv})"
                    else:
                        i = bisect.bisect_right(store.history, last, key=lambda e: e[0])
                        if i == len(store.history):
                            store.cv.wait(min(deadline, next_bookmark) - now)
                            i = bisect.bisect_right(store.history, last, key=lambda e: e[0])
                        for erv, gr, kind, obj, old in store.history[i:]:
                            last = erv
                            if gr != (res.group, res.plural):
                                continue
                            events.extend(selector_events(kind, obj, old, match))
                        head = store.rv
                if gone:
                    self.chunk({"type": "ERROR", "object": status_body(410, "Expired", gone)})
                    return
                for kind, obj in events:
                    send(kind, obj)
                if bookmarks and time.monotonic() >= next_bookmark:
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(max(last, head))}}})
                    last = max(last, head)
                    next_bookmark = time.monotonic() + st.bookmark_interval
        finally:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True

    def check_envelope(self, res, ns, body):
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        if body.get("apiVersion", res.api_version) != res.api_version or \
                body.get("kind", res.kind) != res.kind:
            raise ApiError(400, "BadRequest", f"the API version in the data ({body.get('apiVersion')})"
                           f" does not match the expected API version ({res.api_version})"
                           if body.get("apiVersion") != res.api_version else
                           f"the kind in the data ({body.get('kind')}) does not match {res.kind}")
        body["apiVersion"], body["kind"] = res.api_version, res.kind
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if res.namespaced:
            if meta.get("namespace") not in (None, "", ns):
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                               "match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        return meta

    def create(self, res, ns, query):
        store = self.standin.store
        body = self.json_body()
        self._body_read = True
        if res.namespaced and not ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        meta = self.check_envelope(res, ns, body)
        with store.cv:
            if not meta.get("name") and meta.get("generateName"):
                alphabet = "bcdfghjklmnpqrstvwxz2456789"
                meta["name"] = meta["generateName"] + "".join(random.choice(alphabet) for _ in range(5))
            name = meta.get("name", "")
            if not name:
                raise ApiError(422, "Invalid", f"{res.kind} \"\" is invalid: metadata.name: "
                               "Required value: name or generateName is required")
            if len(name) > 253 or not all(c.isalnum() or c in "-." for c in name) or \
                    name != name.lower() or not name[0].isalnum() or not name[-1].isalnum():
                raise ApiError(422, "Invalid", f'{res.kind} "{name}" is invalid: metadata.name: '
                               f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                               "consist of lower case alphanumeric characters, '-' or '.'")
            if (ns, name) in store.bucket(res):
                raise ApiError(409, "AlreadyExists", f'{res.group_resource} "{name}" already exists',
                               {"name": name, "group": res.group, "kind": res.plural})
            for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(k, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if res.generation:
                meta["generation"] = 1
            if res.status:
                body.pop("status", None)
            if res.plural == "customresourcedefinitions":
                body["status"] = crd_status(body)
            if query.get("dryRun") == "All":
                return self.send_json(201, body)
            store.bucket(res)[(ns, name)] = body
            store.record(res, "ADDED", body)
            if res.plural == "customresourcedefinitions":
                store.serve_crd(body)
            out = copy.deepcopy(body)
        self.send_json(201, out)

    def store_update(self, res, current, new, sub, dry_run):
        """Applies a new version of an object (update or patch result); returns the stored one."""
        store = self.standin.store
        meta, old_meta = new.setdefault("metadata", {}), current["metadata"]
        want_rv = meta.get("resourceVersion")
        if want_rv and want_rv != old_meta["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} '
                           f'"{old_meta["name"]}": the object has been modified; please apply your '
                           "changes to the latest version and try again",
                           {"name": old_meta["name"], "group": res.group, "kind": res.plural})
        if sub == "status":
            result = copy.deepcopy(current)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            if res.status:  # the object's endpoint leaves status alone
                if "status" in current:
                    result["status"] = copy.deepcopy(current["status"])
                else:
                    result.pop("status", None)
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "name", "namespace"):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            result["apiVersion"], result["kind"] = res.api_version, res.kind
            if res.generation and content_of(result) != content_of(current):
                meta["generation"] = old_meta.get("generation", 1) + 1
        result["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if result == current or dry_run:
            return copy.deepcopy(result)  # a no-op keeps the resourceVersion, as the real one does
        store.bucket(res)[object_key(current)] = result
        store.record(res, "MODIFIED", result, current)
        if result["metadata"].get("deletionTimestamp") and not result["metadata"].get("finalizers") \
                and not store.pod_held(res, result, None):
            store.remove(res, result)
        return copy.deepcopy(result)

    def update(self, res, ns, name, sub, query):
        store = self.standin.store
        body = self.json_body()
        self._body_read = True
        meta = self.check_envelope(res, ns, body)
        if meta.get("name") not in (None, name):
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        meta["name"] = name
        with store.cv:
            current = self.lookup(res, ns, name)
            if res.custom and not meta.get("resourceVersion"):
                raise ApiError(422, "Invalid", f'{res.kind}.{res.group} "{name}" is invalid: '
                               "metadata.resourceVersion: Invalid value: 0x0: must be specified "
                               "for an update")
            out = self.store_update(res, current, body, sub, query.get("dryRun") == "All")
        self.send_json(200, out)

    def patch(self, res, ns, name, sub, query):
        store = self.standin.store
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        raw = self.read_body()
        self._body_read = True
        if ctype == STRATEGIC and res.custom or ctype not in (MERGE, JSON_PATCH, STRATEGIC, APPLY):
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                           "format - accepted media types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml")
        if ctype == APPLY:
            raise ApiError(415, "UnsupportedMediaType", "the stand-in does not implement server-side"
                           " apply (application/apply-patch+yaml); send a merge patch")
        try:
            patch = json.loads(raw or b"null")
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"the patch is not JSON: {e}") from e
        with store.cv:
            current = self.lookup(res, ns, name)
            try:
                if ctype == MERGE:
                    new = patches.merge_patch(current, patch)
                elif ctype == JSON_PATCH:
                    new = patches.json_patch(current, patch)
                else:
                    new = patches.strategic_merge_patch(current, patch)
            except patches.PatchError as e:
                raise ApiError(422, "Invalid", str(e)) from e
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patched object is not an object")
            new.setdefault("metadata", {})
            # A resourceVersion in the patch is a precondition; none means "the current one".
            if not (isinstance(patch, dict) and (patch.get("metadata") or {}).get("resourceVersion")):
                new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            out = self.store_update(res, current, new, sub, query.get("dryRun") == "All")
        self.send_json(200, out)

    def delete_options(self, query):
        try:
            body = self.json_body() or {}
        except ApiError:
            body = {}
        self._body_read = True
        policy = query.get("propagationPolicy") or body.get("propagationPolicy") or "Background"
        if body.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise ApiError(400, "BadRequest", f"unknown propagationPolicy {policy!r}")
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        return policy, (int(grace) if grace is not None else None), body.get("preconditions") or {}

    def delete(self, res, ns, name, query):
        store = self.standin.store
        policy, grace, pre = self.delete_options(query)
        with store.cv:
            obj = self.lookup(res, ns, name)
            meta = obj["metadata"]
            for field in ("uid", "resourceVersion"):
                if pre.get(field) and pre[field] != meta.get(field):
                    raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                                   f'{res.group_resource} "{name}": Precondition failed: '
                                   f'{field}: {pre[field]}, ObjectMeta.{field}: {meta.get(field)}')
            snapshot = copy.deepcopy(obj)
            if query.get("dryRun") == "All":
                return self.send_json(200, snapshot)
            gone = store.begin_delete(res, obj, policy, grace)
            out = snapshot if gone else copy.deepcopy(obj)
        if gone and res.custom:
            return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                        "status": "Success", "details": {
                                            "name": name, "group": res.group, "kind": res.plural,
                                            "uid": snapshot["metadata"]["uid"]}})
        self.send_json(200 if gone else 202, out)

    def delete_collection(self, res, ns, query):
        store = self.standin.store
        policy, grace, _ = self.delete_options(query)
        match = self.selected(res, ns, query)
        with store.cv:
            items = [o for o in store.bucket(res).values() if match(o)]
            out = copy.deepcopy(items)
            for obj in items:
                store.begin_delete(res, obj, policy, grace)
        self.send_json(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                             "metadata": {"resourceVersion": str(store.rv)}, "items": out})

    # ---- test controls ----

    def control(self, method, parts):
        st = self.standin
        body = self.json_body() if method in ("POST", "PUT") else None
        self._body_read = True
        if parts == ["compact"] and method == "POST":
            st.store.compact()
            return self.send_json(200, {"compactedResourceVersion": st.store.compacted_rv})
        if parts == ["requests"] and method == "GET":
            with st.log_lock:
                return self.send_json(200, list(st.requests))
        if parts == ["tokens"] and method == "POST":  # {"token": T, "user": U}; user null revokes
            if body.get("user") is None:
                st.tokens.pop(body["token"], None)
            else:
                st.tokens[body["token"]] = body["user"]
            return self.send_json(200, {"tokens": len(st.tokens)})
        if st.workloads and parts and parts[0] == "pods":
            return self.send_json(*st.workloads.control(method, parts[1:], body))
        raise ApiError(404, "NotFound", f"no stand-in control {'/'.join(parts)!r}")


def selector_events(kind, obj, old, match):
    """A change as a selecting watcher sees it: an object that starts matching is ADDED, one
    that stops matching is DELETED (as the real watch cache reports)."""
    now = match(obj)
    before = match(old) if old is not None else False
    if kind == "DELETED":
        return [("DELETED", obj)] if now else []
    if kind == "ADDED":
        return [("ADDED", obj)] if now else []
    if now and before:
        return [("MODIFIED", obj)]
    if now:
        return [("ADDED", obj)]
    if before:
        return [("DELETED", obj)]
    return []


def crd_status(crd):
    t = now_rfc3339()
    names = crd.get("spec", {}).get("names", {})
    return {"acceptedNames": names, "storedVersions": [
        v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("storage")],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": t},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": t}]}


def forbidden_message(user, a):
    res = a["resource"] + ("/" + a["subresource"] if a["subresource"] else "")
    gr = f"{a['resource']}.{a['apiGroup']}" if a["apiGroup"] else a["resource"]
    what = f'{gr} "{a["name"]}"' if a["name"] else gr
    scope = f'in the namespace "{a["namespace"]}"' if a["namespace"] else "at the cluster scope"
    return (f'{what} is forbidden: User "{user}" cannot {a["verb"]} resource "{res}" in API group '
            f'"{a["apiGroup"]}" {scope}')


def main(argv=None):
    ap = argparse.ArgumentParser(description="Kubernetes API-server stand-in for tests")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--token", action="append", default=[], help="TOKEN=USER (repeatable)")
    ap.add_argument("--admin-user", action="append", default=["admin"],
                    help="users allowed the /standin/ controls (default: admin)")
    ap.add_argument("--request-log", help="append one JSON line per request here")
    ap.add_argument("--rbac-rules", help="JSON rules (chart_rbac.mjs) enforced for --rbac-user")
    ap.add_argument("--rbac-user", default="", help="the user whose requests RBAC checks")
    ap.add_argument("--history", type=int, default=10000, help="watch events kept")
    ap.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds")
    ap.add_argument("--watch-timeout", type=float, default=1800.0, help="seconds, at most")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="and this key (PEM)")
    ap.add_argument("--kubelet-cmd", help="play the kubelet: run this per pod (see standin_workloads)")
    ap.add_argument("--pod-ip-cmd", help="command printing the IP of a new pod (see standin_workloads)")
    ap.add_argument("--pod-stop-cmd", help="command run after a pod's process stopped")
    ap.add_argument("--no-workloads", action="store_true",
                    help="no StatefulSet controller (pods and PVCs are only what clients create)")
    args = ap.parse_args(argv)
    if not args.token:
        ap.error("give at least one --token TOKEN=USER")

    st = StandIn(args)
    if not args.no_workloads:
        import standin_workloads
        st.workloads = standin_workloads.Workloads(st.store, args)
    Handler.standin = st
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.server_address[1]))
        os.replace(tmp, args.port_file)
    threading.Thread(target=st.controllers, daemon=True).start()
    import signal
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        st.stopping.set()
        if st.workloads:
            st.workloads.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
