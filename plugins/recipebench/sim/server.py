"""The simulated cluster's API server: the part of the Kubernetes API recipebench uses, over HTTP.

Discovery (/version, /api, /apis, per group-version resource lists), create, get, list with label
and field selectors, server-side apply (application/apply-patch+yaml), merge patch, replace,
status, delete with cascading to owned objects, and pod logs. Objects live in memory; the
simulated kubelet (kubelet.py) creates pods and moves them through their lifecycle.
"""

from __future__ import annotations

import builtins
import copy
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES = (
    Resource("", "v1", "pods", "Pod"),
    Resource("", "v1", "services", "Service"),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "events", "Event"),
    Resource("", "v1", "serviceaccounts", "ServiceAccount"),
    Resource("", "v1", "namespaces", "Namespace", namespaced=False),
    Resource("", "v1", "nodes", "Node", namespaced=False),
    Resource("apps", "v1", "deployments", "Deployment"),
    Resource("batch", "v1", "jobs", "Job"),
    Resource("leaderworkerset.x-k8s.io", "v1", "leaderworkersets", "LeaderWorkerSet"),
    Resource("nvidia.com", "v1alpha1", "dynamographdeployments", "DynamoGraphDeployment"),
    Resource("resource.nvidia.com", "v1beta1", "computedomains", "ComputeDomain"),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False),
    Resource("storage.k8s.io", "v1", "csidrivers", "CSIDriver", namespaced=False),
    Resource("kueue.x-k8s.io", "v1beta1", "localqueues", "LocalQueue"),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", namespaced=False),
)
BY_PLURAL = {(r.group, r.plural): r for r in RESOURCES}


# ---- label and field selectors --------------------------------------------------------------

_SET = re.compile(r"^\s*(?P<key>[\w./-]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in [*parts, cur] if p.strip()]


def matches(labels: dict[str, str], selector: str | None) -> bool:
    """Kubernetes label-selector semantics: =, ==, !=, in, notin, exists, !exists."""
    for req in _split_selector(selector or ""):
        m = _SET.match(req)
        if m:
            values = {v.strip() for v in m["values"].split(",")}
            if (m["op"] == "in") != (labels.get(m["key"]) in values):
                return False
        elif "!=" in req:
            k, v = req.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in req:
            k, v = req.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif req.startswith("!"):
            if req[1:] in labels:
                return False
        elif req not in labels:
            return False
    return True


def _field(obj: dict, path: str):
    node: object = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def field_matches(obj: dict, selector: str | None) -> bool:
    for req in _split_selector(selector or ""):
        neg = "!=" in req
        k, v = req.split("!=" if neg else "=", 1)
        if (str(_field(obj, k.strip().lstrip("=")) or "") == v.strip()) == neg:
            return False
    return True


def merge(base: dict, patch: dict) -> dict:
    """JSON merge patch (RFC 7386), which is also how apply is approximated here."""
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool, which the API server uses for boolean query parameters: the Python client
    sends previous=True."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ApiError(400, "BadRequest", f'strconv.ParseBool: parsing "{text}": invalid syntax')


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> dict:
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code}


class Store:
    """Objects by (group, plural, namespace, name), with owner-based cascading delete."""

    def __init__(self):
        self.lock = threading.RLock()
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.logs: dict[tuple[str, str, str], list[str]] = {}  # (ns, pod, container) -> lines
        self.previous_logs: dict[tuple[str, str, str], list[str]] = {}
        self.log_times: dict[tuple[str, str, str], list[str]] = {}  # the kubelet's stamp of each line in logs
        self._rv = 0

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def get(self, res: Resource, ns: str, name: str) -> dict:
        with self.lock:
            obj = self.objects.get((res.group, res.plural, ns if res.namespaced else "", name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found')
            return copy.deepcopy(obj)

    def list(self, res: Resource, ns: str | None, label_selector=None, field_selector=None) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(o) for (g, p, n, _), o in sorted(self.objects.items())
                    if g == res.group and p == res.plural and (ns is None or n == ns)
                    and matches(o["metadata"].get("labels") or {}, label_selector) and field_matches(o, field_selector)]

    def put(self, res: Resource, obj: dict, create: bool = False) -> dict:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                else:
                    raise ApiError(422, "Invalid", "metadata.name: Required value")
            ns = meta.get("namespace", "default") if res.namespaced else ""
            if res.namespaced:
                meta["namespace"] = ns
            key = (res.group, res.plural, ns, meta["name"])
            old = self.objects.get(key)
            if create and old is not None:
                raise ApiError(409, "AlreadyExists", f'{res.plural} "{meta["name"]}" already exists')
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"] if old else
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            meta["resourceVersion"] = self._next_rv()
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            self.objects[key] = obj
            return copy.deepcopy(obj)

    def delete(self, res: Resource, ns: str, name: str) -> dict:
        with self.lock:
            key = (res.group, res.plural, ns if res.namespaced else "", name)
            obj = self.objects.pop(key, None)
            if obj is None:
                raise ApiError(404, "NotFound", f'{res.plural} "{name}" not found')
            self._cascade(obj["metadata"]["uid"])
            return obj

    def _cascade(self, uid: str) -> None:
        for key, obj in list(self.objects.items()):
            if any(o.get("uid") == uid for o in obj["metadata"].get("ownerReferences") or []):
                self.objects.pop(key, None)
                self._cascade(obj["metadata"]["uid"])

    def all(self) -> builtins.list[dict]:
        with self.lock:
            return [copy.deepcopy(o) for o in self.objects.values()]


def _discovery(path: str) -> dict | None:
    # the kube-apiserver serves /version and /version/ alike (the kubernetes client's VersionApi asks the
    # second: kubernetes/client/api/version_api.py, get_code_with_http_info)
    if path in ("/version", "/version/"):
        # every field of k8s.io/apimachinery pkg/version Info, as a kube-apiserver answers
        return {"major": "1", "minor": "33", "gitVersion": "v1.33.0-recipebench-sim", "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.24.9",
                "compiler": "gc", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups: dict[str, list[str]] = {}
        for r in RESOURCES:
            if r.group:
                groups.setdefault(r.group, [])
                if r.version not in groups[r.group]:
                    groups[r.group].append(r.version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in groups.items()]}
    m = re.match(r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))$", path)
    if m:
        group, version = (m["g"] or ""), (m["cv"] or m["v"])
        items = []
        for r in RESOURCES:
            if r.group == group and r.version == version:
                verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
                items.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": verbs})
                items.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": ["get", "patch", "update"]})
                if r.plural == "pods":
                    items.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                                  "verbs": ["get"]})
        if not items:
            return None
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": items}
    return None


PROXY = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<svc>[^/]+)/proxy(?P<path>/.*)?$")
PATH = re.compile(r"^/(?:api/v1|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
                  r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status|log))?$")


WORKLOAD_PLURALS = {"deployments", "leaderworkersets", "dynamographdeployments", "jobs"}


class Faults:
    """API-level faults (RECIPEBENCH_SIM_SCENARIO, read per request):
    api-500-on-delete  every DELETE of a workload (Deployment, LeaderWorkerSet, DynamoGraphDeployment,
                       Job) answers 500, as an API server whose etcd times out does;
    api-flaky          a fixed share of all requests (RECIPEBENCH_SIM_FAULT_RATE, default 0.2) answer
                       500 or lose their connection; seeded (RECIPEBENCH_SIM_SEED), so a run repeats."""

    def __init__(self):
        import random

        self.lock = threading.Lock()
        self.random = random.Random(int(os.environ.get("RECIPEBENCH_SIM_SEED", "0")))

    def decide(self, method: str, plural: str | None) -> str | None:
        """None, "500" or "drop" for this request."""
        scenario = os.environ.get("RECIPEBENCH_SIM_SCENARIO", "")
        if scenario == "api-500-on-delete" and method == "DELETE" and plural in WORKLOAD_PLURALS:
            return "500"
        if scenario == "api-flaky":
            with self.lock:
                draw = self.random.random()
            rate = float(os.environ.get("RECIPEBENCH_SIM_FAULT_RATE", "0.2"))
            if draw < rate:
                return "500" if draw < rate / 2 else "drop"
        return None


class Handler(BaseHTTPRequestHandler):
    server_version = "recipebench-sim"
    store: Store
    sim: Any  # the SimCluster: its describe, proxy and on_change hooks
    faults: Faults

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        return yaml.safe_load(raw) or {}

    def _route(self, method: str):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        m = PATH.match(url.path)
        fault = self.faults.decide(method, m["plural"] if m else None)
        if fault == "drop":  # the connection closes without an answer
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if fault == "500":
            return self._send(500, ApiError(500, "InternalError", "Internal error occurred: etcdserver: request "
                                                                  "timed out (simulated fault)").body())
        try:
            if method == "GET" and url.path == "/recipebench/sim":
                return self._send(200, self.sim.describe())
            if method == "GET":
                disc = _discovery(url.path)
                if disc is not None:
                    return self._send(200, disc)
            proxied = PROXY.match(url.path)
            self._authorize(method, url.path, q, proxied)
            if proxied:
                length = int(self.headers.get("Content-Length") or 0)
                status, body = self.sim.proxy(proxied["ns"], proxied["svc"], method, proxied["path"] or "/",
                                              self.rfile.read(length) if length else b"")
                return self._send(status, body)
            m = PATH.match(url.path)
            if not m:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource ({url.path})")
            group = m["g"] or ""
            res = BY_PLURAL.get((group, m["plural"]))
            if res is None:
                raise ApiError(404, "NotFound", f"the server could not find the requested resource ({m['plural']})")
            ns, name, sub = m["ns"], m["name"], m["sub"]
            if res.namespaced and name and ns is None:
                raise ApiError(404, "NotFound", "namespace required")
            handler = getattr(self, f"_{method.lower()}")
            return handler(res, ns, name, sub, q)
        except ApiError as exc:
            return self._send(exc.code, exc.body())

    def _authorize(self, method: str, path: str, q: dict[str, str], proxied) -> None:
        """403 for what the simulated identity may not do (sim.rbac); access reviews are open to all."""
        from recipebench.sim import rbac

        if proxied:
            req = rbac.Request(rbac.verb(method, proxied["svc"], q), "", "services/proxy", proxied["ns"],
                               proxied["svc"].split(":")[0])
        else:
            m = PATH.match(path)
            if not m or m["plural"] == "selfsubjectaccessreviews":
                return
            resource = m["plural"] + (f"/{m['sub']}" if m["sub"] else "")
            req = rbac.Request(rbac.verb(method, m["name"], q), m["g"] or "", resource, m["ns"], m["name"])
        if not rbac.allowed(req):
            raise ApiError(403, "Forbidden", rbac.forbidden(req))

    def _review(self, obj: dict) -> dict:
        """A SelfSubjectAccessReview, answered as the API server does (status.allowed)."""
        from recipebench.sim import rbac

        a = (obj.get("spec") or {}).get("resourceAttributes") or {}
        resource = a.get("resource", "") + (f"/{a['subresource']}" if a.get("subresource") else "")
        req = rbac.Request(a.get("verb", ""), a.get("group", ""), resource, a.get("namespace") or None,
                           a.get("name") or None)
        ok = rbac.allowed(req)
        return {**obj, "status": {"allowed": ok, **({} if ok else {"reason": rbac.forbidden(req)})}}

    def _get(self, res, ns, name, sub, q):
        if name is None:
            items = self.store.list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
            return self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                                    "metadata": {"resourceVersion": str(self.store._rv)}, "items": items})
        if sub == "log":
            pod = self.store.get(res, ns, name)
            container = q.get("container") or "main"
            previous = parse_bool(q.get("previous", "false"))
            logs = self.store.previous_logs if previous else self.store.logs
            key = (ns, name, container)
            if key not in logs and "container" not in q:  # no container named: the pod's first
                key = (ns, name, pod["spec"]["containers"][0]["name"])
            lines = logs.get(key, [])
            if parse_bool(q.get("timestamps", "false")):  # RFC 3339 with nanoseconds, a space, the line
                stamps = [] if previous else self.store.log_times.get(key, [])
                lines = [f"{stamps[i] if i < len(stamps) else '1970-01-01T00:00:00.000000000Z'} {line}"
                         for i, line in enumerate(lines)]
            if q.get("tailLines"):
                lines = lines[-int(q["tailLines"]):]
            return self._send(200, "".join(f"{ln}\n" for ln in lines), "text/plain; charset=utf-8")
        return self._send(200, self.store.get(res, ns, name))

    def _post(self, res, ns, name, sub, q):
        obj = self._body()
        if res.plural == "selfsubjectaccessreviews":
            return self._send(201, self._review(obj))
        if res.namespaced:
            obj.setdefault("metadata", {})["namespace"] = ns or "default"
        created = self.store.put(res, obj, create=True)
        self.sim.on_change(res, created)
        return self._send(201, created)

    def _put(self, res, ns, name, sub, q):
        obj = self._body()
        if sub == "status":
            cur = self.store.get(res, ns, name)
            cur["status"] = obj.get("status", {})
            return self._send(200, self.store.put(res, cur))
        with self.store.lock:  # checked and written at once, as etcd's compare-and-swap does
            self._precondition(res, ns, name, obj)
            saved = self.store.put(res, obj)
        self.sim.on_change(res, saved)
        return self._send(200, saved)

    def _precondition(self, res, ns, name, obj) -> None:
        """An update that names a resourceVersion applies only to that version (optimistic concurrency:
        k8s.io/apiserver registry/generic/registry/store.go, Update, a Conflict otherwise)."""
        given = (obj.get("metadata") or {}).get("resourceVersion")
        if given and given != self.store.get(res, ns, name)["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.plural}'
                                            f'{"." + res.group if res.group else ""} "{name}": the object has been '
                                            "modified; please apply your changes to the latest version and try again")

    def _patch(self, res, ns, name, sub, q):
        ctype = self.headers.get("Content-Type", "")
        patch = self._body()
        try:
            cur = self.store.get(res, ns, name)
        except ApiError:
            if "apply-patch" not in ctype:
                raise
            cur = None
        if cur is None:  # server-side apply creates what does not exist
            patch.setdefault("metadata", {})["name"] = name
            if res.namespaced:
                patch["metadata"]["namespace"] = ns
            saved = self.store.put(res, patch, create=True)
            self.sim.on_change(res, saved)
            return self._send(201, saved)
        if "apply-patch" in ctype:
            # the applied configuration owns spec, labels and annotations; status stays the server's
            merged = merge(cur, {k: v for k, v in patch.items() if k != "status"})
            for part in ("spec", "data", "stringData"):
                if part in patch:
                    merged[part] = patch[part]
        else:
            merged = merge(cur, patch)
        saved = self.store.put(res, merged)
        if sub != "status":
            self.sim.on_change(res, saved)
        return self._send(200, saved)

    def _delete(self, res, ns, name, sub, q):
        if name is None:  # deletecollection
            items = self.store.list(res, ns, q.get("labelSelector"), q.get("fieldSelector"))
            for o in items:
                self.store.delete(res, o["metadata"].get("namespace", ""), o["metadata"]["name"])
            return self._send(200, {"kind": f"{res.kind}List", "apiVersion": res.api_version, "items": items})
        obj = self.store.delete(res, ns, name)  # owned objects go with it (propagation)
        return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                "details": {"name": name, "kind": res.plural, "uid": obj["metadata"]["uid"]}})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def do_PATCH(self):
        self._route("PATCH")

    def do_DELETE(self):
        self._route("DELETE")


def make_server(store: Store, sim, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    handler = type("SimHandler", (Handler,), {"store": store, "sim": sim, "faults": Faults()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
