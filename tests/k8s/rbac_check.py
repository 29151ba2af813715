#!/usr/bin/env python3
"""RBAC for the API-server stand-in: request attributes, rule matching, and a log checker.

request_attributes() turns an HTTP request into the attributes a real API server authorizes
(verb, API group, resource, subresource, namespace, name), following
k8s.io/apiserver/pkg/endpoints/request RequestInfoFactory: GET on a collection is list (watch
with ?watch=true), GET on an object is get, POST create, PUT update, PATCH patch, DELETE on an
object delete and on a collection deletecollection. allowed() evaluates RBAC PolicyRules the
way rbac/v1 does (apiGroups, resources with "res/sub" for subresources, resourceNames, verbs,
"*" wildcards). Discovery and other non-resource URLs (/api, /apis, /version, /openapi) are
allowed: every authenticated user has them through system:discovery.

As a command:
  rbac_check.py --rules RULES.json --log REQUESTS.jsonl [--user USER] [--namespace NS]
checks that every request of the log (the stand-in's --request-log; only USER's when given) is
allowed by the rules, prints every request that is not, and the rules that no request used.
RULES.json is what chart_rbac.mjs prints for a rendered chart:
  {"cluster": [rule, ...], "namespaces": {"ns": [rule, ...]}}
Exit status: 0 when every request is allowed, 1 otherwise, 2 on bad input.
"""
import argparse
import json
import sys
from urllib.parse import parse_qs, urlsplit

NON_RESOURCE_PREFIXES = ("/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz")


def request_attributes(method, path, query=""):
    """The authorization attributes of one request, as a dict (resource "" = non-resource)."""
    if "?" in path and not query:
        path, query = path.split("?", 1)
    parts = [p for p in path.split("/") if p]
    attrs = {"verb": method.lower(), "apiGroup": "", "apiVersion": "", "resource": "",
             "subresource": "", "namespace": "", "name": "", "path": path}
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        attrs["nonResource"] = True
        return attrs
    if not rest:  # /api/v1, /apis/g/v: discovery
        attrs["nonResource"] = True
        return attrs
    attrs["apiGroup"], attrs["apiVersion"] = group, version
    # namespaces/NS/RESOURCE/... is a namespaced resource; namespaces[/NAME[/SUB]] the
    # namespace object itself (RequestInfoFactory does the same).
    if rest[0] == "namespaces" and len(rest) >= 3:
        attrs["namespace"] = rest[1]
        rest = rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        attrs["namespace"] = rest[1]
    attrs["resource"] = rest[0]
    if len(rest) >= 2:
        attrs["name"] = rest[1]
    if len(rest) >= 3:
        attrs["subresource"] = rest[2]
    q = parse_qs(query)
    method = method.upper()
    if method == "GET":
        if attrs["name"]:
            attrs["verb"] = "get"
        else:
            watch = q.get("watch", [""])[0]
            attrs["verb"] = "watch" if watch in ("true", "1") else "list"
    elif method == "POST":
        attrs["verb"] = "create"
    elif method == "PUT":
        attrs["verb"] = "update"
    elif method == "PATCH":
        attrs["verb"] = "patch"
    elif method == "DELETE":
        attrs["verb"] = "delete" if attrs["name"] else "deletecollection"
    elif method == "HEAD":
        attrs["verb"] = "get"
    # A list or watch of one object by name (fieldSelector=metadata.name=X) is authorized
    # with that name, as the real API server does.
    if attrs["verb"] in ("list", "watch") and not attrs["name"]:
        for sel in q.get("fieldSelector", []):
            for term in sel.split(","):
                if term.startswith("metadata.name="):
                    attrs["name"] = term.split("=", 1)[1].lstrip("=")
    return attrs


def _match(values, value):
    return "*" in values or value in values


def rule_allows(rule, attrs):
    """True when one rbac/v1 PolicyRule allows the (resource) request."""
    if attrs.get("nonResource"):
        return True
    if not _match(rule.get("verbs", []), attrs["verb"]):
        return False
    if not _match(rule.get("apiGroups", []), attrs["apiGroup"]):
        return False
    resource = attrs["resource"] + ("/" + attrs["subresource"] if attrs["subresource"] else "")
    resources = rule.get("resources", [])
    if not ("*" in resources or resource in resources or
            (attrs["subresource"] and "*/" + attrs["subresource"] in resources)):
        return False
    names = rule.get("resourceNames") or []
    if names:
        # create and collection verbs carry no name, so a resourceNames rule never allows them.
        return bool(attrs["name"]) and attrs["name"] in names
    return True


def allowed(rules, attrs):
    """Index of the first rule (in the form chart_rbac.mjs prints) allowing attrs, or None.

    Cluster rules apply everywhere; a namespace's rules only to requests in that namespace.
    """
    if attrs.get("nonResource"):
        return ("nonResource", -1)
    for i, rule in enumerate(rules.get("cluster", [])):
        if rule_allows(rule, attrs):
            return ("cluster", i)
    ns = attrs.get("namespace", "")
    for i, rule in enumerate(rules.get("namespaces", {}).get(ns, [])):
        if ns and rule_allows(rule, attrs):
            return (ns, i)
    return None


def describe(attrs):
    res = attrs["resource"] + ("/" + attrs["subresource"] if attrs["subresource"] else "")
    group = attrs["apiGroup"] or "core"
    where = f" in namespace {attrs['namespace']}" if attrs["namespace"] else " (all namespaces)"
    name = f" {attrs['name']!r}" if attrs["name"] else ""
    return f"{attrs['verb']} {res}{name} ({group}){where}"


def check_log(rules, entries, user=None):
    """Returns (denied requests as text, unused rules as text) for a request log."""
    denied, used = [], set()
    for entry in entries:
        if user and entry.get("user") != user:
            continue
        attrs = request_attributes(entry["method"], entry["path"], entry.get("query", ""))
        hit = allowed(rules, attrs)
        if hit is None:
            denied.append(f"{entry['method']} {entry['path']}: {describe(attrs)}")
        else:
            used.add(hit)
    unused = []
    for i, rule in enumerate(rules.get("cluster", [])):
        if ("cluster", i) not in used:
            unused.append(f"cluster rule {json.dumps(rule, sort_keys=True)}")
    for ns, ns_rules in rules.get("namespaces", {}).items():
        for i, rule in enumerate(ns_rules):
            if (ns, i) not in used:
                unused.append(f"namespace {ns} rule {json.dumps(rule, sort_keys=True)}")
    return denied, unused


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", required=True, help="JSON from chart_rbac.mjs")
    ap.add_argument("--log", required=True, help="the stand-in's --request-log (JSON lines)")
    ap.add_argument("--user", help="only this user's requests (e.g. system:serviceaccount:NS:SA)")
    args = ap.parse_args(argv)
    try:
        with open(args.rules) as f:
            rules = json.load(f)
        with open(args.log) as f:
            entries = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        print(f"rbac_check: {e}", file=sys.stderr)
        return 2
    denied, unused = check_log(rules, entries, args.user)
    checked = sum(1 for e in entries if not args.user or e.get("user") == args.user)
    for d in denied:
        print(f"DENIED {d}")
    for u in unused:
        print(f"unused {u}")
    print(f"rbac_check: {checked - len(denied)} of {checked} requests allowed, "
          f"{len(unused)} rules unused")
    return 1 if denied else 0


if __name__ == "__main__":
    sys.exit(main())
