"""Kubernetes operations on one cluster, through the ordinary client (server-side apply included).

Kinds a cluster does not serve (a CRD that is not installed) are skipped when listing or
deleting, and reported when applying. Every call here is idempotent (get, list, server-side
apply, delete, discovery), so a transient failure of the API server (429, 5xx, a dropped
connection) is retried with backoff, within a bound; what finally fails says what the API said.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import Any, TypeVar

from recipebench.catalog.naming import MANAGED_BY, MANAGER
from recipebench.cluster.access import ClusterError, Target, api_client
from recipebench.errors import api_message, redacted

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
    ("coordination.k8s.io/v1", "Lease"),  # the run's heartbeat (cluster.liveness): last, once all else is gone
)


T = TypeVar("T")
# What the Kubernetes API documents as worth repeating (k8s.io/apimachinery/pkg/api/errors/errors.go:
# IsTooManyRequests, IsServerTimeout, IsInternalError, IsServiceUnavailable, IsTimeout; and
# IsResourceExpired/IsGone, 410, which tells a client to list again): 429 (priority and fairness
# throttling), 500 (etcd timeouts), 502-504 (a control plane being upgraded), 410. A refusal (400,
# 403, 404, 409, 422) is not repeated: it would be refused again.
TRANSIENT_STATUS = {410, 429, 500, 502, 503, 504}
ATTEMPTS = 8
FIRST_BACKOFF_S, MAX_BACKOFF_S = 1.0, 30.0  # real seconds: 1, 2, 4 ... 30, about 90 s in all


def scrub(exc: BaseException) -> BaseException:
    """The exception with its response body redacted, so that its traceback in the task log does not
    carry what the secrets masker knows either; returned for `raise scrub(exc)`."""
    body = getattr(exc, "body", None)
    if isinstance(body, (bytes, str)):
        exc.body = redacted(body.decode(errors="replace") if isinstance(body, bytes) else body)  # type: ignore[attr-defined]
    return exc


class MalformedAnswer(ClusterError):
    """The API server (or something between us and it) answered with what is not the Kubernetes
    object the call returns: cut off, garbled, or another kind. Repeated like a dropped connection."""


def transient(exc: BaseException) -> bool:
    """Worth retrying: the server was busy or briefly away (a read timeout included), or its answer was
    garbled on the way, not a refusal of what we asked."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        return exc.status in TRANSIENT_STATUS
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, MalformedAnswer))


def decoded(call: Callable[[], Any], expect: dict | None = None) -> dict:
    """call()'s answer (a ResourceInstance) as a dict; MalformedAnswer when the body was not JSON, not
    an object, or (with `expect`: kind and name) not the object asked about."""
    try:
        answer = call()
        data = answer.to_dict() if hasattr(answer, "to_dict") else answer
    except (ValueError, AttributeError, TypeError) as exc:  # json.loads, or ResourceInstance over a non-object
        raise MalformedAnswer(f"the API server's answer is not a Kubernetes object ({type(exc).__name__}: "
                              f"{str(exc)[:120]})") from exc
    if not isinstance(data, dict):
        raise MalformedAnswer(f"the API server's answer is not a Kubernetes object (a {type(data).__name__}: "
                              f"{str(data)[:60]!r})")
    if expect:
        got = {"kind": data.get("kind"), "name": (data.get("metadata") or {}).get("name")}
        if any(expect.get(k) and got[k] != expect[k] for k in got):
            raise MalformedAnswer(f"the API server answered with {got['kind']}/{got['name']}, not "
                                  f"{expect.get('kind')}/{expect.get('name')}")
    if "items" in data and not isinstance(data["items"], list):
        raise MalformedAnswer("the API server's list has no list of items")
    return data


def with_retries(what: str, call: Callable[[], T], sleep: Callable[[float], None],
                 attempts: int = ATTEMPTS) -> T:
    """call(), again after a transient failure (backoff FIRST_BACKOFF_S doubling up to MAX_BACKOFF_S,
    slept through `sleep`); ClusterError naming `what` and the API's answer once the tries run out."""
    delay = FIRST_BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if not transient(exc):
                raise scrub(exc) from exc.__cause__
            if attempt == attempts:
                raise ClusterError(f"{what}: {api_message(exc)} (still failing after {attempts} tries)") from exc
            sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
    raise AssertionError("unreachable")


def _expected(obj: dict) -> dict:
    return {"kind": obj.get("kind"), "name": (obj.get("metadata") or {}).get("name")}


def oid(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace', '-')}/{meta.get('name')}"


class Cluster:
    def __init__(self, target: Target, client=None):
        from kubernetes.dynamic import DynamicClient

        self.target = target
        self.client = client or api_client(target)
        try:
            self.dyn = self.retry("API discovery", lambda: DynamicClient(self.client))
        except ClusterError as exc:
            raise ClusterError(f"cannot reach {target.label}: {exc}") from exc
        except Exception as exc:
            raise ClusterError(f"cannot reach {target.label}: {api_message(exc)}") from exc

    def retry(self, what: str, call: Callable[[], T]) -> T:
        """with_retries, the backoff slept on this cluster's clock (the simulator runs faster)."""
        return with_retries(f"{what} on {self.target.label}", call, lambda s: time.sleep(self.target.seconds(s)))

    def resource(self, api_version: str, kind: str):
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.retry(f"discovery of {kind}", lambda: self.dyn.resources.get(api_version=api_version, kind=kind))
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
            what = f"apply {oid(obj)}"
            # an apply is only done when the server answers with the object (a garbled 200 is not success)
            self.retry(what, lambda: decoded(lambda: self.dyn.server_side_apply(  # noqa: B023
                res, body=obj, namespace=ns, field_manager=FIELD_MANAGER, force_conflicts=True),  # noqa: B023
                {"kind": obj["kind"], "name": obj["metadata"]["name"]}))  # noqa: B023
            applied.append(oid(obj))
        return applied

    def create(self, obj: dict) -> dict:
        """Create; a 409 (it exists already) is the caller's to handle."""
        res = self._served(obj)
        ns = obj["metadata"].get("namespace") if res.namespaced else None
        what = f"create {oid(obj)}"
        return self.retry(what, lambda: decoded(lambda: res.create(body=obj, namespace=ns), _expected(obj)))

    def replace(self, obj: dict) -> dict:
        """Update with the object's resourceVersion as precondition: a 409 Conflict means another
        writer came first (the caller reads again)."""
        res = self._served(obj)
        ns = obj["metadata"].get("namespace") if res.namespaced else None
        what = f"replace {oid(obj)}"
        return self.retry(what, lambda: decoded(lambda: res.replace(body=obj, namespace=ns), _expected(obj)))

    def _served(self, obj: dict):
        res = self.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            raise ClusterError(f"{self.target.label} does not serve {obj['kind']} ({obj['apiVersion']})")
        return res

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        res = self.resource(api_version, kind)
        if res is None:
            return None
        what = f"get {kind}/{namespace or '-'}/{name}"
        try:
            return self.retry(what, lambda: decoded(lambda: res.get(name=name, namespace=namespace),
                                                    {"kind": kind, "name": name}))
        except NotFoundError:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> builtins.list[dict]:
        res = self.resource(api_version, kind)
        if res is None:
            return []
        kwargs: dict[str, Any] = {"label_selector": label_selector, "field_selector": field_selector}
        if namespace and res.namespaced:
            kwargs["namespace"] = namespace
        what = f"list {kind}"
        found = self.retry(what, lambda: decoded(lambda: res.get(**{k: v for k, v in kwargs.items() if v})))
        return [item for item in found.get("items") or [] if isinstance(item, dict)]

    def list_labelled(self, selector: str, namespace: str | None = None, kinds=KINDS) -> builtins.list[dict]:
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
            self.retry(f"delete {oid(obj)}", lambda: res.delete(
                name=meta["name"], namespace=meta.get("namespace") if res.namespaced else None,
                body={"propagationPolicy": "Background"}))
            return True
        except NotFoundError:
            return False

    def delete_or_leave(self, obj: dict, log) -> None:
        """Delete an object whose removal can wait: a failure is logged, not raised, as the run's
        teardown (or, past its expiry, the janitor) deletes what still carries the run's labels."""
        try:
            self.delete(obj)
        except Exception as exc:
            log.warning("could not delete %s now, teardown will try again: %s", oid(obj),
                        exc if isinstance(exc, ClusterError) else api_message(exc))

    def delete_labelled(self, selector: str, namespace: str | None = None, keep=lambda obj: False,
                        log=None, failed: dict[str, str] | None = None) -> builtins.list[str]:
        """Delete every object matching the selector (all namespaces unless given), tolerating what is
        already gone. Pods owned by a deleted controller go with it. An object whose delete fails
        does not stop the others: its error goes into `failed` (object -> reason), or is raised at
        the end when no `failed` is given."""
        if MANAGED_BY not in selector:
            raise ValueError("refusing to delete by a selector without our managed-by label")
        deleted, errors = [], {} if failed is None else failed
        for obj in self.list_labelled(selector, namespace):
            if keep(obj) or (obj["kind"] == "Pod" and obj["metadata"].get("ownerReferences")):
                continue
            try:
                gone = self.delete(obj)
            except Exception as exc:  # the next object may still go; the caller decides what this means
                errors[oid(obj)] = str(exc) if isinstance(exc, ClusterError) else api_message(exc)
                if log:
                    log.error("could not delete %s: %s", oid(obj), errors[oid(obj)])
                continue
            if gone:
                deleted.append(oid(obj))
                if log:
                    log.info("deleted %s", oid(obj))
        if errors and failed is None:
            raise ClusterError(f"could not delete {len(errors)} object(s): "
                               + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        return deleted

    def remaining(self, selector: str, keep=lambda obj: False) -> builtins.list[str]:
        """Objects matching the selector that are not on their way out: neither marked for deletion
        (deletionTimestamp: finalizers and graceful termination take their time) nor pods owned by
        a controller (the garbage collector takes them after their owner)."""
        return [oid(o) for o in self.list_labelled(selector)
                if not keep(o) and not o["metadata"].get("deletionTimestamp")
                and not (o["kind"] == "Pod" and o["metadata"].get("ownerReferences"))]

    def pods(self, namespace: str, selector: str) -> builtins.list[dict]:
        return self.list("v1", "Pod", namespace, selector)

    def events(self, namespace: str, pod: str) -> builtins.list[dict]:
        return self.list("v1", "Event", namespace, field_selector=f"involvedObject.name={pod}")

    def logs(self, namespace: str, pod: str, container: str | None = None, tail: int | None = None,
             previous: bool = False, timestamps: bool = False) -> str:
        from kubernetes.client import CoreV1Api
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"previous": previous}
        if timestamps:  # the kubelet's RFC 3339 time before each line (parsers.server_log.timestamped)
            kwargs["timestamps"] = True
        if container:
            kwargs["container"] = container
        if tail:
            kwargs["tail_lines"] = tail
        try:
            # raw bytes: the generated client would otherwise turn them into a str repr
            response = self.retry(f"log of pod {namespace}/{pod}", lambda: CoreV1Api(
                self.client).read_namespaced_pod_log(pod, namespace, _preload_content=False, **kwargs))
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

    def version(self) -> str:
        """The API server's Kubernetes version. Every identity may read it: the default ClusterRole
        system:public-info-viewer grants get on /version and /version/ (kubernetes/kubernetes
        plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, ClusterRoles)."""
        from kubernetes import client as k8s

        return self.retry("version", lambda: k8s.VersionApi(self.client).get_code().git_version)

    def allowed(self, attributes: dict[str, str]) -> bool:
        """Whether this identity may do it: a SelfSubjectAccessReview (authorization.k8s.io/v1)."""
        res = self.resource("authorization.k8s.io/v1", "SelfSubjectAccessReview")
        if res is None:
            raise ClusterError(f"{self.target.label} does not serve SelfSubjectAccessReview (authorization.k8s.io/v1)")
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes}}
        review = self.retry(f"access review of {attributes.get('verb')} {attributes.get('resource')}",
                            lambda: decoded(lambda: res.create(body=body)))
        return bool((review.get("status") or {}).get("allowed"))

    def ensure_namespace(self, namespace: str) -> None:
        if self.get("v1", "Namespace", None, namespace) is None:
            self.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])


def managed_selector() -> str:
    return f"{MANAGED_BY}={MANAGER}"
