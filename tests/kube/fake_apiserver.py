#!/usr/bin/env python3
"""A small, generic fake of kube-apiserver v1.32 for herodo's tests.

It reproduces what ../shared/recordings/kubernetes/ shows a real server answering: discovery
documents (tests/fixtures/kube/discovery.json, plus groups of CRDs created at run time), bearer
tokens (admin; limited = only get/list configmaps in `default`; anything else 401), generic
object storage for any kind (namespaced or not), one cluster-wide resourceVersion counter, uid,
creationTimestamp, generation, generateName, label and field selectors, list paging, watches
(chunked, one JSON event per line), server-side apply with field ownership and conflicts,
dryRun=All, the status subresource, and the recorded Status bodies for 401/403/404/409/422.

Test hooks (no token needed): `GET /fake/fault?path=PREFIX&status=429&count=2&retry_after=1`
makes the next `count` requests whose path starts with PREFIX fail with that status;
`GET /fake/drop_watches` ends every open watch at once; `GET /fake/event_times?name=N` lists
when each watch event of an object was recorded (benchmarks); `GET /fake/requests?plural=P&
namespace=N` lists the list and watch requests made on a resource, in order, each with its
`verb`, `resourceVersion` and `fieldSelector` (how a wait resumed after a dropped watch);
`GET /fake/fault?...&delay_ms=1500` delays the matching requests instead of failing them.

A node runs the pods (tests/kube/fake_node.py): status transitions, containers as local
processes, logs, exec and port-forward over websocket, probes, Job and Deployment controllers.

Usage: fake_apiserver.py DIR DISCOVERY_JSON
Writes DIR/kubeconfig (contexts admin, limited, bad, wrong-ca, closed), prints `READY <port>`.
"""

import base64
import copy
import datetime
import json
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_node  # noqa: E402  (the node half: pods that run, exec, logs, port-forward)

TOKENS = {"admin-token": "fake-admin", "limited-token": "fake-limited"}
# Which kinds return the object (not a Status) from DELETE (recordings, README point 3).
DELETE_RETURNS_OBJECT = {"pods", "services", "namespaces"}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
NAMESPACE_GRACE = 0.3  # seconds a deleted namespace stays Terminating (5 s on the real server)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code, reason, message, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, details)


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                    res.details(name))


class Resource:
    """One resource of one group version, from discovery."""

    def __init__(self, group, version, entry):
        self.group = group
        self.version = version
        self.plural = entry["name"]
        self.kind = entry["kind"]
        self.namespaced = entry["namespaced"]
        self.status_sub = False

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def details(self, name=None):
        d = {}
        if name:
            d["name"] = name
        if self.group:
            d["group"] = self.group
        d["kind"] = self.plural
        return d


def flatten(value, prefix=()):
    """Leaf paths of an object: maps recurse, everything else (lists too) is one atomic leaf."""
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(flatten(v, prefix + (k,)))
        return out
    return {prefix: value}


def set_path(obj, path, value):
    for k in path[:-1]:
        if not isinstance(obj.get(k), dict):
            obj[k] = {}
        obj = obj[k]
    obj[path[-1]] = value


def del_path(obj, path):
    parents = []
    for k in path[:-1]:
        if not isinstance(obj, dict) or k not in obj:
            return
        parents.append((obj, k))
        obj = obj[k]
    if isinstance(obj, dict):
        obj.pop(path[-1], None)
    # Drop maps left empty by the removal.
    for parent, k in reversed(parents):
        if parent[k] == {}:
            del parent[k]


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


OWNED_SKIP = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}


def owned_paths(obj):
    flat = flatten({k: v for k, v in obj.items() if k != "status"})
    meta_skip = {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                 "deletionTimestamp"}
    return {p: v for p, v in flat.items()
            if p not in OWNED_SKIP and not (len(p) > 1 and p[0] == "metadata" and p[1] in meta_skip)}


def fields_v1(paths):
    root = {}
    for p in paths:
        node = root
        for k in p:
            node = node.setdefault(f"f:{k}", {})
    return root


def parse_selector(text):
    """Label selector terms: (key, op, values)."""
    terms = []
    if not text:
        return terms
    for part in re.split(r",(?![^()]*\))", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            terms.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            terms.append((k.strip(), "!=", [v.strip()]))
        elif "==" in part or "=" in part:
            k, v = re.split(r"==?", part, maxsplit=1)
            terms.append((k.strip(), "=", [v.strip()]))
        elif part.startswith("!"):
            terms.append((part[1:], "!", []))
        elif re.match(r"^[A-Za-z0-9./_-]+$", part):
            terms.append((part, "exists", []))
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part}")
    return terms


def matches(terms, values):
    for key, op, vals in terms:
        have = values.get(key)
        if op == "=" and have != vals[0]:
            return False
        if op == "!=" and have == vals[0]:
            return False
        if op == "in" and have not in vals:
            return False
        if op == "notin" and have in vals:
            return False
        if op == "exists" and have is None:
            return False
        if op == "!" and have is not None:
            return False
    return True


def field_values(obj, terms):
    out = {}
    for key, _, _ in terms:
        node = obj
        for k in key.split("."):
            node = node.get(k) if isinstance(node, dict) else None
        if node is not None:
            out[key] = str(node)
    return out


class Store:
    def __init__(self, discovery):
        self.lock = threading.Condition()
        self.discovery = discovery
        self.rv = 100
        self.objects = {}  # (group, plural, ns, name) -> object
        self.owners = {}  # same key -> {manager: {path: value}}
        self.events = []  # (rv, group, plural, ns, type, object)
        self.event_times = []  # (wall time, plural, ns, name, type, object): /fake/event_times
        self.faults = []  # [prefix, status, count, retry_after, delay_ms]
        self.requests = []  # list and watch requests: /fake/requests
        self.watch_epoch = 0
        self.node = None  # set by main: the fake node that runs pods
        self.ip = 10
        self.node_port = 30000
        self.resources = {}
        for path, doc in discovery.items():
            if doc.get("kind") == "APIResourceList":
                self.add_resource_list(doc)
        with self.lock:
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self.create(self.res("", "v1", "namespaces"), None,
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                            {})

    def add_resource_list(self, doc):
        gv = doc["groupVersion"]
        group, version = gv.split("/") if "/" in gv else ("", gv)
        for entry in doc["resources"]:
            if "/" in entry["name"]:
                base = self.resources.get((group, version, entry["name"].split("/")[0]))
                if base and entry["name"].endswith("/status"):
                    base.status_sub = True
                continue
            self.resources[(group, version, entry["name"])] = Resource(group, version, entry)

    def res(self, group, version, plural):
        return self.resources.get((group, version, plural))

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def record(self, res, ns, etype, obj):
        self.events.append((int(obj["metadata"]["resourceVersion"]), res.group, res.plural, ns,
                            etype, copy.deepcopy(obj)))
        self.event_times.append((time.time(), res.plural, ns, obj["metadata"].get("name"),
                                 etype, obj))
        self.lock.notify_all()

    # -- reads ---------------------------------------------------------------------------------

    def get(self, res, ns, name):
        obj = self.objects.get((res.group, res.plural, ns, name))
        if obj is None:
            raise not_found(res, name)
        return obj

    def list(self, res, ns, query):
        labels = parse_selector(query.get("labelSelector", ""))
        fields = parse_selector(query.get("fieldSelector", ""))
        items = []
        for (g, p, o_ns, name), obj in sorted(self.objects.items(), key=lambda kv: kv[0]):
            if g != res.group or p != res.plural or (ns is not None and o_ns != ns):
                continue
            if not matches(labels, obj["metadata"].get("labels") or {}):
                continue
            if not matches(fields, field_values(obj, fields)):
                continue
            items.append(obj)
        meta = {"resourceVersion": str(self.rv)}
        start = 0
        if query.get("continue"):
            try:
                token = json.loads(base64.b64decode(query["continue"]))
                start = int(token["start"])
            except Exception:
                raise ApiError(400, "BadRequest", "continue key is not valid: invalid continue token")
        limit = int(query.get("limit", "0") or 0)
        page = items[start:]
        if limit and len(page) > limit:
            page = page[:limit]
            token = {"v": "meta.k8s.io/v1", "rv": self.rv, "start": start + limit}
            meta["continue"] = base64.b64encode(json.dumps(token).encode()).decode()
            if not labels and not fields:
                meta["remainingItemCount"] = len(items) - start - limit
        out = []
        for obj in page:
            o = copy.deepcopy(obj)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            out.append(o)
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta,
                "items": out}

    # -- writes --------------------------------------------------------------------------------

    def check_namespace(self, res, ns, name):
        if not res.namespaced:
            return
        nso = self.objects.get(("", "namespaces", None, ns))
        if nso is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                           {"name": ns, "kind": "namespaces"})
        if nso.get("status", {}).get("phase") == "Terminating":
            raise ApiError(403, "Forbidden",
                           f'{res.plural} "{name}" is forbidden: unable to create new content in '
                           f'namespace {ns} because it is being terminated',
                           {"name": name, "kind": res.plural, "causes": [{
                               "reason": "NamespaceTerminating",
                               "message": f"namespace {ns} is being terminated",
                               "field": "metadata.namespace"}]})

    def validate(self, res, obj):
        name = obj["metadata"].get("name", "")
        causes = []
        if not name:
            causes.append({"reason": "FieldValueRequired",
                           "message": "Required value: name or generateName is required",
                           "field": "metadata.name"})
        elif not NAME_RE.match(name) or len(name) > 253:
            causes.append({"reason": "FieldValueInvalid",
                           "message": f'Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                                      "must consist of lower case alphanumeric characters, '-' or "
                                      "'.', and must start and end with an alphanumeric character "
                                      "(e.g. 'example.com', regex used for validation is "
                                      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                                      "[a-z0-9])?)*')",
                           "field": "metadata.name"})
        if res.kind == "Deployment":
            spec = obj.get("spec") or {}
            if not (spec.get("template") or {}).get("spec", {}).get("containers"):
                causes.append({"reason": "FieldValueRequired", "message": "Required value",
                               "field": "spec.template.spec.containers"})
        if res.kind == "Pod" and not (obj.get("spec") or {}).get("containers"):
            causes.append({"reason": "FieldValueRequired", "message": "Required value",
                           "field": "spec.containers"})
        if causes:
            text = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
            if len(causes) > 1:
                text = f"[{', '.join(c['field'] + ': ' + c['message'] for c in causes)}]"
            raise ApiError(422, "Invalid", f'{res.kind} "{name}" is invalid: {text}',
                           {"name": name, "group": res.group, "kind": res.kind,
                            "causes": causes} if res.group else
                           {"name": name, "kind": res.kind, "causes": causes})

    def defaults(self, res, obj):
        meta = obj["metadata"]
        if res.kind == "Namespace":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif res.kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec.get("clusterIP") != "None":
                self.ip += 1
                spec["clusterIP"] = f"10.0.0.{self.ip % 250 + 2}"
                spec["clusterIPs"] = [spec["clusterIP"]]
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
                if spec["type"] in ("NodePort", "LoadBalancer") and "nodePort" not in port:
                    self.node_port += 1
                    port["nodePort"] = self.node_port
            obj.setdefault("status", {"loadBalancer": {}})
        elif res.kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif res.kind == "Secret":
            string_data = obj.pop("stringData", None) or {}
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(v.encode()).decode()
            obj.setdefault("type", "Opaque")
        elif res.kind == "Deployment":
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
        elif res.kind == "CustomResourceDefinition":
            obj["status"] = {"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                "acceptedNames": obj.get("spec", {}).get("names", {}),
                "storedVersions": [v["name"] for v in obj.get("spec", {}).get("versions", [])
                                   if v.get("storage")]}

    def create(self, res, ns, obj, query, manager=None):
        obj = copy.deepcopy(obj)
        owned = owned_paths(obj)  # what the client sent, not the defaults added below
        meta = obj.setdefault("metadata", {})
        if ns is not None and meta.get("namespace") not in (None, "", ns):
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                                              "match the namespace sent on the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                random.choice(GENERATE_CHARS) for _ in range(5))
        self.validate(res, obj)
        name = meta["name"]
        self.check_namespace(res, ns, name)
        key = (res.group, res.plural, ns, name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                           res.details(name))
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        if ns is not None:
            meta["namespace"] = ns
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if "spec" in obj and res.kind not in ("Namespace", "Pod", "Service"):
            meta["generation"] = 1
        if res.status_sub and res.kind not in ("Pod", "Service", "Namespace",
                                              "CustomResourceDefinition"):
            obj.pop("status", None)
        self.defaults(res, obj)
        owners = {manager or "herodo-fake-client": owned}
        self.set_managed(obj, owners, "Apply" if manager else "Update")
        if query.get("dryRun") == "All":
            meta["resourceVersion"] = str(self.rv)
            return obj
        meta["resourceVersion"] = self.next_rv()
        self.objects[key] = obj
        self.owners[key] = owners
        self.record(res, ns, "ADDED", obj)
        if res.kind == "CustomResourceDefinition":
            self.add_crd(obj)
        if self.node is not None:
            self.node.created(res, ns, obj)
        return obj

    def set_managed(self, obj, owners, operation):
        obj["metadata"]["managedFields"] = [
            {"manager": m, "operation": operation, "apiVersion": obj["apiVersion"],
             "time": now(), "fieldsType": "FieldsV1", "fieldsV1": fields_v1(paths)}
            for m, paths in owners.items() if paths]

    def replace(self, res, ns, name, new, query, owners=None, subresource=None):
        key = (res.group, res.plural, ns, name)
        old = self.get(res, ns, name)
        new = copy.deepcopy(new)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object "
                           f"({meta.get('name')}) does not match the name on the URL ({name})")
        want_rv = meta.get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified} '
                           f'"{name}": the object has been modified; please apply your changes '
                           "to the latest version and try again", res.details(name))
        if subresource == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status")
            new = merged
            meta = new["metadata"]
        elif res.status_sub and res.kind != "Namespace":
            new["status"] = copy.deepcopy(old.get("status"))
            if new["status"] is None:
                new.pop("status")
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
            else:
                meta.pop(k, None)
        meta["name"] = name
        if ns is not None:
            meta["namespace"] = ns
        new["apiVersion"] = res.api_version
        new["kind"] = res.kind
        if res.kind == "Secret" and "stringData" in new:
            for k, v in new.pop("stringData").items():
                new.setdefault("data", {})[k] = base64.b64encode(v.encode()).decode()
        if res.kind == "Service":
            for k in ("clusterIP", "clusterIPs"):
                if k in old.get("spec", {}):
                    new.setdefault("spec", {}).setdefault(k, old["spec"][k])
        if "generation" in meta and new.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"]["generation"] + 1
        owners = owners if owners is not None else self.owners.get(key, {})
        comparable = lambda o: {k: v for k, v in o.items() if k != "metadata"} | {
            "m": {k: v for k, v in o["metadata"].items()
                  if k not in ("managedFields", "resourceVersion")}}
        if comparable(new) == comparable(old) and owners == self.owners.get(key):
            return old  # a no-op write keeps the resourceVersion
        self.set_managed(new, owners, "Apply")
        if query.get("dryRun") == "All":
            meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            return new
        meta["resourceVersion"] = self.next_rv()
        self.objects[key] = new
        self.owners[key] = owners
        self.record(res, ns, "MODIFIED", new)
        return new

    def apply(self, res, ns, name, body, query):
        manager = query.get("fieldManager")
        if not manager:
            raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager:"
                           " Required value: is required for apply patch",
                           {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{
                               "reason": "FieldValueRequired",
                               "message": "Required value: is required for apply patch",
                               "field": "fieldManager"}]})
        body.setdefault("metadata", {}).setdefault("name", name)
        key = (res.group, res.plural, ns, name)
        if key not in self.objects:
            return 201, self.create(res, ns, body, query, manager)
        old = self.objects[key]
        applied = owned_paths(body)
        owners = copy.deepcopy(self.owners.get(key, {}))
        force = query.get("force") == "true"
        conflicts = []
        for other, paths in owners.items():
            if other == manager:
                continue
            for p, v in paths.items():
                if p in applied and applied[p] != v:
                    conflicts.append((other, p))
        if conflicts and not force:
            causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}"',
                       "field": "." + ".".join(p)} for m, p in conflicts]
            text = "\n".join(f'conflict with "{m}": .{".".join(p)}' for m, p in conflicts)
            raise ApiError(409, "Conflict",
                           f"Apply failed with {len(conflicts)} conflict"
                           f"{'s' if len(conflicts) > 1 else ''}: {text}",
                           {"causes": causes})
        new = copy.deepcopy(old)
        previous = owners.get(manager, {})
        for p in previous:
            if p not in applied and not any(p in ps for m, ps in owners.items() if m != manager):
                del_path(new, p)
        for p, v in applied.items():
            set_path(new, p, copy.deepcopy(v))
        for other in list(owners):
            if other != manager:
                owners[other] = {p: v for p, v in owners[other].items() if p not in applied}
                if not owners[other]:
                    del owners[other]
        owners[manager] = applied
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return 200, self.replace(res, ns, name, new, query, owners)

    def delete(self, res, ns, name, query):
        key = (res.group, res.plural, ns, name)
        obj = self.get(res, ns, name)
        if query.get("dryRun") == "All":
            return obj if res.plural in DELETE_RETURNS_OBJECT else self.success(res, obj)
        if res.kind == "Namespace":
            if name in ("default", "kube-system", "kube-public"):
                raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this '
                               "namespace may not be deleted", {"name": name, "kind": "namespaces"})
            if obj["status"].get("phase") != "Terminating":
                obj = copy.deepcopy(obj)
                obj["status"]["phase"] = "Terminating"
                obj["metadata"]["deletionTimestamp"] = now()
                obj["metadata"]["resourceVersion"] = self.next_rv()
                self.objects[key] = obj
                self.record(res, None, "MODIFIED", obj)
                threading.Timer(NAMESPACE_GRACE, self.finish_namespace, (name,)).start()
            return obj
        self.remove(res, key)
        if res.kind == "CustomResourceDefinition":
            self.remove_crd(obj)
        return obj if res.plural in DELETE_RETURNS_OBJECT else self.success(res, obj)

    def success(self, res, obj):
        d = res.details(obj["metadata"]["name"])
        d["uid"] = obj["metadata"]["uid"]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": d}

    def remove(self, res, key):
        obj = self.objects.pop(key)
        self.owners.pop(key, None)
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self.next_rv()
        self.record(res, key[2], "DELETED", obj)
        if self.node is not None:
            self.node.deleted(res, key[2], obj)
        # The garbage collector: dependents (a Deployment's or Job's pods) go with their owner.
        uid = obj["metadata"].get("uid")
        for dkey in [k for k, o in self.objects.items()
                     if any(r.get("uid") == uid for r in
                            o["metadata"].get("ownerReferences") or [])]:
            dres = next((r for r in self.resources.values()
                         if r.group == dkey[0] and r.plural == dkey[1]), None)
            if dres is not None and dkey in self.objects:
                self.remove(dres, dkey)

    def finish_namespace(self, name):
        with self.lock:
            for key in [k for k in self.objects if k[2] == name]:
                if key not in self.objects:
                    continue  # went with its owner
                res = next(r for r in self.resources.values()
                           if r.group == key[0] and r.plural == key[1])
                self.remove(res, key)
            key = ("", "namespaces", None, name)
            if key in self.objects:
                self.remove(self.res("", "v1", "namespaces"), key)

    # -- custom resources ----------------------------------------------------------------------

    def crd_docs(self, crd):
        spec = crd["spec"]
        group = spec["group"]
        names = spec["names"]
        for v in spec.get("versions", []):
            gv = f"{group}/{v['name']}"
            entry = {"name": names["plural"], "singularName": names.get("singular", ""),
                     "namespaced": spec.get("scope") == "Namespaced", "kind": names["kind"],
                     "shortNames": names.get("shortNames", []),
                     "verbs": ["delete", "deletecollection", "get", "list", "patch", "create",
                               "update", "watch"]}
            resources = [entry]
            if (v.get("subresources") or {}).get("status") is not None:
                resources.append({"name": names["plural"] + "/status", "singularName": "",
                                  "namespaced": entry["namespaced"], "kind": names["kind"],
                                  "verbs": ["get", "patch", "update"]})
            yield gv, v["name"], resources

    def add_crd(self, crd):
        group = crd["spec"]["group"]
        for gv, version, resources in self.crd_docs(crd):
            doc = self.discovery.setdefault("/apis/" + gv, {
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": []})
            doc["resources"] = [r for r in doc["resources"]
                                if r["name"].split("/")[0] != resources[0]["name"]] + resources
            self.add_resource_list(doc)
            groups = self.discovery["/apis"]["groups"]
            g = next((x for x in groups if x["name"] == group), None)
            if g is None:
                g = {"name": group, "versions": [],
                     "preferredVersion": {"groupVersion": gv, "version": version}}
                groups.append(g)
            if not any(x["groupVersion"] == gv for x in g["versions"]):
                g["versions"].append({"groupVersion": gv, "version": version})

    def remove_crd(self, crd):
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        for gv, version, _ in self.crd_docs(crd):
            doc = self.discovery.get("/apis/" + gv)
            if doc:
                doc["resources"] = [r for r in doc["resources"]
                                    if r["name"].split("/")[0] != plural]
                if not doc["resources"]:
                    del self.discovery["/apis/" + gv]
            self.resources.pop((group, version, plural), None)
        for key in [k for k in self.objects if k[0] == group and k[1] == plural]:
            del self.objects[key]
        self.discovery["/apis"]["groups"] = [
            g for g in self.discovery["/apis"]["groups"]
            if g["name"] != group or any(("/apis/" + v["groupVersion"]) in self.discovery
                                         for v in g["versions"])]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY (Go's default, so the real
    # server's) the body waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    store = None  # set by main

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_KUBE_LOG"):
            sys.stderr.write("fake-kube: " + (fmt % args) + "\n")

    def send_json(self, code, body, content_type="application/json", headers=None):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def read_body(self):
        raw = self.raw_body
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            pass
        try:
            import yaml  # only when a client sends YAML, which herodo does not

            return yaml.safe_load(raw)
        except Exception:
            raise ApiError(400, "BadRequest", "the object provided is unrecognized: couldn't get "
                           f"version/kind; json parse error: {raw[:40]!r}")

    def handle_any(self, method):
        # Read every body, even one the method ignores (kube-rs sends DeleteOptions with a
        # DELETE): left unread it would be taken for the next request on the connection.
        n = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(n) if n else b""
        url = urlparse(self.path)
        self.multi_query = {k: (v if k == "command" else v[-1])
                            for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        store = self.store
        if url.path.startswith("/fake/"):
            return self.control(url.path, query)
        delay = 0
        with store.lock:
            for fault in store.faults:
                if url.path.startswith(fault[0]) and fault[2] > 0:
                    fault[2] -= 1
                    if fault[4]:
                        delay = fault[4]
                        break
                    headers = {"Retry-After": str(fault[3])} if fault[3] is not None else {}
                    code = fault[1]
                    reason = {429: "TooManyRequests", 500: "InternalError",
                              503: "ServiceUnavailable"}.get(code, "InternalError")
                    details = {"retryAfterSeconds": fault[3]} if fault[3] is not None else None
                    return self.send_json(code, status_body(code, reason, "injected fault",
                                                            details), headers=headers)
        if delay:
            time.sleep(delay / 1000)
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        user = TOKENS.get(token) if token else "system:anonymous"
        if user is None:
            return self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"))
        try:
            if url.path in ("/healthz", "/readyz", "/livez"):
                return self.send_text(200, "ok")
            if url.path == "/version":
                return self.send_json(200, store.discovery["/version"])
            if user == "system:anonymous":
                raise ApiError(403, "Forbidden", f'forbidden: User "system:anonymous" cannot get '
                               f'path "{url.path}"', {})
            with store.lock:
                doc = store.discovery.get(url.path.rstrip("/"))
                if doc is None and url.path.startswith("/apis/") and url.path.count("/") == 2:
                    doc = next(({"kind": "APIGroup", "apiVersion": "v1", **g}
                                for g in store.discovery["/apis"]["groups"]
                                if g["name"] == url.path[6:]), None)
                if doc is not None and method == "GET":
                    return self.send_json(200, copy.deepcopy(doc))
            return self.resource_request(method, url.path, query, user)
        except ApiError as e:
            return self.send_json(e.code, e.body)
        except (BrokenPipeError, ConnectionResetError):
            return None

    def control(self, path, query):
        store = self.store
        with store.lock:
            if path == "/fake/fault":
                ra = query.get("retry_after")
                store.faults.append([query.get("path", "/"), int(query.get("status", "500")),
                                     int(query.get("count", "1")),
                                     int(ra) if ra is not None else None,
                                     int(query.get("delay_ms", "0"))])
            elif path == "/fake/drop_watches":
                store.watch_epoch += 1
                store.lock.notify_all()
            elif path == "/fake/clear":
                store.faults.clear()
            elif path == "/fake/event_times":
                # When each watch event of one object was recorded (epoch seconds), and whether
                # the object was Ready then: for benchmarks of how fast a wait notices.
                out = []
                for t, plural, ns, name, etype, obj in store.event_times:
                    if plural == query.get("plural", "pods") and name == query.get("name") and \
                            ns == query.get("namespace", ns):
                        conds = (obj.get("status") or {}).get("conditions") or []
                        out.append({"time": t, "type": etype,
                                    "resourceVersion": obj["metadata"]["resourceVersion"],
                                    "ready": any(c.get("type") in ("Ready", "Available") and
                                                 c.get("status") == "True" for c in conds)})
                return self.send_json(200, out)
            elif path == "/fake/requests":
                return self.send_json(200, [
                    r for r in store.requests if r["plural"] == query.get("plural") and
                    r["namespace"] == query.get("namespace", r["namespace"])])
            else:
                return self.send_text(404, "404 page not found\n")
        return self.send_json(200, {"ok": True})

    def parse_path(self, path):
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest:
            return None
        res = self.store.res(group, version, rest[0])
        if res is None:
            if (group, version) == ("", "v1") or ("/apis/%s/%s" % (group, version)) in \
                    self.store.discovery:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource", {})
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3 or (sub and not (sub == "status" and res.status_sub) and
                             not (sub in ("log", "exec", "portforward") and
                                  res.plural == "pods")):
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {})
        if res.namespaced and ns is None and name is not None:
            return None
        return res, (ns if res.namespaced else None), name, sub

    def authorize(self, user, verb, res, ns, name):
        if user == "fake-admin":
            return
        if user == "fake-limited" and res.plural == "configmaps" and ns == "default" and \
                verb in ("get", "list"):
            return
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        if res.kind == "Namespace" and name:
            scope = f'in the namespace "{name}"'
        who = f'{res.qualified} "{name}"' if name else res.qualified
        details = res.details(name)
        u = "envtest-limited" if user == "fake-limited" else user
        raise ApiError(403, "Forbidden", f'{who} is forbidden: User "{u}" cannot {verb} resource '
                       f'"{res.plural}" in API group "{res.group}" {scope}', details)

    def resource_request(self, method, path, query, user):
        store = self.store
        parsed = self.parse_path(path)
        if parsed is None:
            return self.send_text(404, "404 page not found\n")
        res, ns, name, sub = parsed
        watch = query.get("watch") in ("1", "true")
        verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[method]
        self.authorize(user, verb, res, ns, name)
        if verb in ("list", "watch"):
            with store.lock:
                store.requests.append({"verb": verb, "plural": res.plural, "namespace": ns,
                                       "resourceVersion": query.get("resourceVersion", ""),
                                       "fieldSelector": query.get("fieldSelector", "")})
        if sub in ("exec", "portforward"):
            # The apiserver proxies these to the node (pods/exec needs `create`).
            self.authorize(user, "create", res, ns, name)
            handler = store.node.exec if sub == "exec" else store.node.portforward
            return handler(self, method, ns, name, self.multi_query)
        if (method == "POST" and name) or (method in ("PUT", "PATCH") and not name):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                           "requested resource", {})
        body = self.read_body()
        if method == "DELETE" and isinstance(body, dict) and "All" in (body.get("dryRun") or []):
            query["dryRun"] = "All"  # DeleteOptions in the body, as kube-rs sends it
        if watch:
            return self.watch(res, ns, query)
        with store.lock:
            if method == "GET" and sub == "log":
                # A pod the fake node runs: its containers' logs. Otherwise what the test put
                # in the pod's annotation; a pod that never ran (Pending, no node) answers 204
                # with no body, as the real server does.
                pod = store.get(res, ns, name)
                rt = store.node.runtime(ns, name) if store.node else None
                annotated = "herodo.test/log" in (pod["metadata"].get("annotations") or {})
                if rt is not None and not annotated and rt.running:
                    store.lock.release()
                    try:
                        return store.node.serve_log(self, rt, query)
                    finally:
                        store.lock.acquire()
                text = (pod["metadata"].get("annotations") or {}).get("herodo.test/log")
                if text is None:
                    self.send_response(204)
                    self.end_headers()
                    return None
                lines = text.splitlines(keepends=True)
                if query.get("tailLines"):
                    lines = lines[-int(query["tailLines"]):]
                return self.send_text(200, "".join(lines))
            if method == "GET" and name:
                return self.send_json(200, store.get(res, ns, name))
            if method == "GET":
                return self.send_json(200, store.list(res, ns, query))
            if method == "POST":
                if not isinstance(body, dict):
                    raise ApiError(400, "BadRequest", "the object provided is unrecognized")
                return self.send_json(201, store.create(res, ns, body, query,
                                                        query.get("fieldManager")))
            if method == "PUT":
                return self.send_json(200, store.replace(res, ns, name, body, query,
                                                         subresource=sub))
            if method == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0]
                if ctype == "application/apply-patch+yaml":
                    code, obj = store.apply(res, ns, name, body or {}, query)
                    return self.send_json(code, obj)
                if ctype in ("application/merge-patch+json",
                             "application/strategic-merge-patch+json"):
                    old = store.get(res, ns, name)
                    new = merge_patch(old, body or {})
                    if sub != "status":
                        new["metadata"]["resourceVersion"] = (body or {}).get(
                            "metadata", {}).get("resourceVersion") or \
                            old["metadata"]["resourceVersion"]
                    return self.send_json(200, store.replace(res, ns, name, new, query,
                                                             subresource=sub))
                raise ApiError(415, "UnsupportedMediaType",
                               f'the body of the request was in an unknown format - accepted '
                               f'media types include: application/json-patch+json, '
                               f'application/merge-patch+json, application/apply-patch+yaml', {})
            if method == "DELETE" and name:
                obj = store.delete(res, ns, name, query)
                return self.send_json(200, obj)
            listed = store.list(res, ns, query)
            if query.get("dryRun") != "All":
                for item in listed["items"]:
                    store.delete(res, ns if ns else None, item["metadata"]["name"], query)
            return self.send_json(200, listed)

    def watch(self, res, ns, query):
        store = self.store
        labels = parse_selector(query.get("labelSelector", ""))
        fields = parse_selector(query.get("fieldSelector", ""))
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(etype, obj):
            line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")) + "\n"
            data = line.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def wanted(obj):
            return matches(labels, obj["metadata"].get("labels") or {}) and \
                matches(fields, field_values(obj, fields))

        try:
            with store.lock:
                epoch = store.watch_epoch
                since = int(query.get("resourceVersion") or 0)
                if since == 0:
                    for (g, p, o_ns, _), obj in sorted(store.objects.items(), key=lambda kv: kv[0]):
                        if g == res.group and p == res.plural and (ns is None or o_ns == ns) \
                                and wanted(obj):
                            emit("ADDED", obj)
                    since = store.rv
                pos = 0
                while True:
                    while pos < len(store.events):
                        rv, g, p, o_ns, etype, obj = store.events[pos]
                        pos += 1
                        if rv <= since or g != res.group or p != res.plural or \
                                (ns is not None and o_ns != ns):
                            continue
                        if wanted(obj):
                            emit(etype, obj)
                        elif etype == "MODIFIED":
                            emit("DELETED", obj)
                    if store.watch_epoch != epoch:
                        # Dropped: close mid-stream, without the closing chunk.
                        self.close_connection = True
                        return
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    store.lock.wait(min(left, 1.0))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True


def make_certs(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        run("req", "-x509", *ec, "-keyout", f"{d}/{ca}.key", "-out", f"{d}/{ca}.crt", "-days",
            "2", "-subj", f"/CN=herodo-fake-{ca}", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("req", *ec, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj",
        "/CN=127.0.0.1")
    with open(f"{d}/server.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-out", f"{d}/server.crt", "-days", "2", "-extfile",
        f"{d}/server.ext")


def kubeconfig(d, port, closed_port):
    def ca(name):
        with open(f"{d}/{name}.crt", "rb") as f:
            return base64.b64encode(f.read()).decode()

    clusters = [("fake", port, ca("ca")), ("wrong-ca", port, ca("other-ca")),
                ("closed", closed_port, ca("ca"))]
    users = [("admin", "admin-token"), ("limited", "limited-token"), ("bad", "not-a-real-token")]
    contexts = [("admin", "fake", "admin"), ("limited", "fake", "limited"),
                ("bad", "fake", "bad"), ("wrong-ca", "wrong-ca", "admin"),
                ("closed", "closed", "admin")]
    lines = ["apiVersion: v1", "kind: Config", "current-context: admin", "clusters:"]
    for name, p, cert in clusters:
        lines += [f"- name: {name}", "  cluster:", f"    server: https://127.0.0.1:{p}",
                  f"    certificate-authority-data: {cert}"]
    lines.append("users:")
    for name, tok in users:
        lines += [f"- name: {name}", "  user:", f"    token: {tok}"]
    lines.append("contexts:")
    for name, cl, user in contexts:
        lines += [f"- name: {name}", "  context:", f"    cluster: {cl}", f"    user: {user}",
                  "    namespace: default"]
    with open(f"{d}/kubeconfig", "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    d, discovery_path = sys.argv[1], sys.argv[2]
    with open(discovery_path) as f:
        discovery = json.load(f)
    make_certs(d)
    Handler.store = Store(discovery)
    Handler.store.node = fake_node.Node(Handler.store, os.path.join(d, "node"))
    fake_node.ApiError = ApiError
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{d}/server.crt", f"{d}/server.key")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if not os.environ.get("FAKE_KUBE_LOG"):
        # Clients that reject the certificate (the wrong-ca test) are expected; stay quiet.
        server.handle_error = lambda request, address: None
    # The handshake happens in the request thread, so a stalled client blocks nobody else.
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)
    port = server.server_address[1]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    kubeconfig(d, port, closed_port)
    print(f"READY {port}", flush=True)
    # End with the test process: it holds our stdin open.
    threading.Thread(target=lambda: (sys.stdin.read(), Handler.store.node.stop_all(),
                                     os._exit(0)), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
