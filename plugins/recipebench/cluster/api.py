"""Kubernetes operations on one cluster, through the ordinary client (server-side apply included).

Kinds a cluster does not serve (a CRD that is not installed) are skipped when listing or
deleting, and reported when applying.
"""

from __future__ import annotations

from typing import Any

from recipebench.catalog.naming import MANAGED_BY, MANAGER
from recipebench.cluster.access import ClusterError, Target, api_client

FIELD_MANAGER = "recipebench"
# delete order: what runs on GPUs first, then what refers to them, then the rest
KINDS = (
    ("batch/v1", "Job"),
    ("nvidia.com/v1alpha1", "DynamoGraphDeployment"),
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
    ("apps/v1", "Deployment"),
    ("resource.nvidia.com/v1beta1", "ComputeDomain"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Pod"),
)


def oid(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace', '-')}/{meta.get('name')}"


class Cluster:
    def __init__(self, target: Target, client=None):
        from kubernetes.dynamic import DynamicClient

        self.target = target
        self.client = client or api_client(target)
        try:
            self.dyn = DynamicClient(self.client)
        except Exception as exc:
            raise ClusterError(f"cannot reach {target.label}: {type(exc).__name__}: {exc}") from exc

    def resource(self, api_version: str, kind: str):
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return None

    def apply(self, objects: list[dict]) -> list[str]:
        """Server-side apply: creates or updates, so a retried deploy succeeds."""
        applied = []
        for obj in objects:
            res = self.resource(obj["apiVersion"], obj["kind"])
            if res is None:
                raise ClusterError(f"{self.target.label} does not serve {obj['kind']} ({obj['apiVersion']}): "
                                   "is its CRD installed? (ensure_platform installs LeaderWorkerSet and Dynamo)")
            ns = obj["metadata"].get("namespace") if res.namespaced else None
            self.dyn.server_side_apply(res, body=obj, namespace=ns, field_manager=FIELD_MANAGER, force_conflicts=True)
            applied.append(oid(obj))
        return applied

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(api_version, kind)
        if res is None:
            return None
        try:
            return res.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict]:
        res = self.resource(api_version, kind)
        if res is None:
            return []
        kwargs: dict[str, Any] = {"label_selector": label_selector, "field_selector": field_selector}
        if namespace and res.namespaced:
            kwargs["namespace"] = namespace
        return [item.to_dict() for item in res.get(**{k: v for k, v in kwargs.items() if v}).items]

    def list_labelled(self, selector: str, namespace: str | None = None, kinds=KINDS) -> list[dict]:
        found = []
        for api_version, kind in kinds:
            for obj in self.list(api_version, kind, namespace, selector):
                obj.setdefault("kind", kind)
                obj.setdefault("apiVersion", api_version)
                found.append(obj)
        return found

    def delete(self, obj: dict) -> bool:
        """Delete one object and what it owns; False when it was already gone."""
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            return False
        meta = obj["metadata"]
        try:
            res.delete(name=meta["name"], namespace=meta.get("namespace") if res.namespaced else None,
                       body={"propagationPolicy": "Background"})
            return True
        except NotFoundError:
            return False

    def delete_labelled(self, selector: str, namespace: str | None = None, keep=lambda obj: False,
                        log=None) -> list[str]:
        """Delete every object matching the selector (all namespaces unless given), tolerating what is
        already gone. Pods owned by a deleted controller go with it."""
        if MANAGED_BY not in selector:
            raise ValueError("refusing to delete by a selector without our managed-by label")
        deleted = []
        for obj in self.list_labelled(selector, namespace):
            if keep(obj) or (obj["kind"] == "Pod" and obj["metadata"].get("ownerReferences")):
                continue
            if self.delete(obj):
                deleted.append(oid(obj))
                if log:
                    log.info("deleted %s", oid(obj))
        return deleted

    def pods(self, namespace: str, selector: str) -> list[dict]:
        return self.list("v1", "Pod", namespace, selector)

    def events(self, namespace: str, pod: str) -> list[dict]:
        return self.list("v1", "Event", namespace, field_selector=f"involvedObject.name={pod}")

    def logs(self, namespace: str, pod: str, container: str | None = None, tail: int | None = None,
             previous: bool = False) -> str:
        from kubernetes.client import CoreV1Api
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"previous": previous}
        if container:
            kwargs["container"] = container
        if tail:
            kwargs["tail_lines"] = tail
        try:
            # raw bytes: the generated client would otherwise turn them into a str repr
            response = CoreV1Api(self.client).read_namespaced_pod_log(pod, namespace, _preload_content=False,
                                                                     **kwargs)
        except ApiException as exc:
            return f"(no log: {exc.reason})"
        return response.data.decode("utf-8", errors="replace")

    def service_request(self, namespace: str, service: str, port: int, method: str, path: str,
                        body: dict | None = None, timeout_s: float = 30) -> tuple[int, str]:
        """(HTTP status, response text) of a request to a Service through the API server's service proxy
        (/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH): the same credentials as every other call,
        and no network route into the cluster needed. The path is put in the URL as is (the generated
        client's connect_*_service_proxy_with_path would percent-encode its slashes)."""
        from kubernetes.client.exceptions import ApiException

        resource = f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path.lstrip('/')}"
        try:
            response = self.client.call_api(
                resource, method, header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body, auth_settings=["BearerToken"], _preload_content=False, _request_timeout=timeout_s)
        except ApiException as exc:
            return exc.status or 0, exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else str(exc.body)
        except Exception as exc:  # a timeout or a reset connection: the server is not answering
            return 0, f"{type(exc).__name__}: {exc}"
        data = response[0].data if isinstance(response, tuple) else response.data
        return 200, data.decode(errors="replace")

    def ensure_namespace(self, namespace: str) -> None:
        if self.get("v1", "Namespace", None, namespace) is None:
            self.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])


def managed_selector() -> str:
    return f"{MANAGED_BY}={MANAGER}"
