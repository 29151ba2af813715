"""Patch formats of the API-server stand-in: JSON merge patch (RFC 7386), JSON patch
(RFC 6902) and an approximation of strategic merge patch for built-in kinds."""
import copy


class PatchError(Exception):
    pass


def merge_patch(target, patch):
    """RFC 7386: objects merge, null deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(target, patch):
    """Strategic merge patch, approximated: like merge patch, except that lists of objects
    that all carry "name" (containers, env, volumes, ports with names...) merge by name, and
    {"$patch": "delete"} in such an item removes it. The real one uses per-field patch
    strategies from the Go types; with these keys it gives the same result."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and isinstance(out.get(key), list) and _named(value) \
                and _named(out[key]):
            merged = [copy.deepcopy(x) for x in out[key]]
            for item in value:
                idx = next((i for i, x in enumerate(merged) if x["name"] == item["name"]), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        merged.pop(idx)
                elif idx is None:
                    merged.append(strategic_merge_patch({}, item))
                else:
                    merged[idx] = strategic_merge_patch(merged[idx], item)
            out[key] = merged
        else:
            out[key] = strategic_merge_patch(out.get(key), value)
    return out


def _named(items):
    return bool(items) and all(isinstance(x, dict) and "name" in x for x in items)


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise PatchError(f"path /{'/'.join(parts)} does not exist")
    return cur


def _get(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise PatchError(f"path /{'/'.join(parts)} does not exist")
    return cur


def json_patch(doc, ops):
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch is a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind == "test":
                if _get(doc, parts) != op["value"]:
                    raise PatchError(f"test failed at {op['path']}")
                continue
            if kind in ("move", "copy"):
                value = copy.deepcopy(_get(doc, _pointer(op["from"])))
                if kind == "move":
                    doc = json_patch(doc, [{"op": "remove", "path": op["from"]}])
                doc = json_patch(doc, [{"op": "add", "path": op["path"], "value": value}])
                continue
            if not parts:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op["value"])
                    continue
                raise PatchError("cannot remove the whole document")
            parent, last = _parent(doc, parts), parts[-1]
            if kind == "add":
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last),
                                  copy.deepcopy(op["value"]))
                else:
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                elif last in parent:
                    del parent[last]
                else:
                    raise PatchError(f"path {op['path']} does not exist")
            elif kind == "replace":
                if isinstance(parent, list):
                    parent[int(last)] = copy.deepcopy(op["value"])
                elif last in parent:
                    parent[last] = copy.deepcopy(op["value"])
                else:
                    raise PatchError(f"path {op['path']} does not exist")
            else:
                raise PatchError(f"unknown operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise PatchError(f"invalid operation {op!r}: {e}") from e
    return doc
