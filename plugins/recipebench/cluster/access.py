"""Cluster access, in one place: which cluster a run uses and an API client for it.

RECIPEBENCH_CLUSTER chooses:
  gke (default when the recipe names a cluster)  the recipe's GKE cluster, through the google
                                                provider's GKEHook + GKEKubernetesHook (no gcloud)
  conn:<conn_id>                                an Airflow Kubernetes connection (KubernetesHook)
  <path>                                        a kubeconfig file (the simulated cluster writes one)
A target is plain data, so it travels in XCom and trigger kwargs; clients are made where used.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from recipebench.catalog.recipe import Recipe
from recipebench.errors import RecipebenchError, reason


class ClusterError(RecipebenchError):
    """No usable cluster, or the cluster refused us; says which and why."""


@dataclass(frozen=True)
class Target:
    kind: str  # gke | connection | kubeconfig
    label: str  # for people and the runs row
    kubeconfig: str | None = None
    context: str | None = None
    conn_id: str | None = None
    project: str | None = None
    location: str | None = None
    name: str | None = None
    gcp_conn_id: str = "google_cloud_default"
    simulated: bool = False
    time_scale: float = 1.0  # the simulator runs faster than real time; waits scale with it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Target:
        return cls(**data)

    def seconds(self, real_seconds: float) -> float:
        """A real-world duration (timeout, poll interval) on this cluster's clock."""
        return real_seconds / self.time_scale


def _kubeconfig_target(path: str) -> Target:
    import yaml

    try:
        config = yaml.safe_load(open(path))
    except OSError as exc:
        raise ClusterError(f"RECIPEBENCH_CLUSTER={path}: cannot read the kubeconfig: {exc}") from None
    context = config.get("current-context")
    ctx: dict = next((c["context"] for c in config.get("contexts", []) if c["name"] == context), {})
    sim = next((e["extension"] for e in ctx.get("extensions", []) if e.get("name") == "recipebench.dev/sim"), None)
    return Target(kind="kubeconfig", label=f"kubeconfig {path} ({context})", kubeconfig=path, context=context,
                  simulated=sim is not None, time_scale=float(sim["timeScale"]) if sim else 1.0)


def parse_target(spec: str) -> Target:
    """`conn:<id>`, `gke:PROJECT/LOCATION/NAME` or a kubeconfig path."""
    if spec.startswith("conn:"):
        return Target(kind="connection", label=f"Airflow connection {spec[5:]}", conn_id=spec[5:])
    if spec.startswith("gke:"):
        project, location, name = spec[4:].split("/")
        return Target(kind="gke", label=f"GKE {spec[4:]}", project=project, location=location, name=name)
    return _kubeconfig_target(spec)


def target_for(recipe: Recipe) -> Target:
    choice = os.environ.get("RECIPEBENCH_CLUSTER", "gke")
    if choice != "gke":
        return parse_target(choice)
    c = recipe.cluster
    if not (c.name and c.location):
        raise ClusterError(f"recipe {recipe.id} names no GKE cluster (cluster.name, cluster.location) and "
                           "RECIPEBENCH_CLUSTER does not point at another one")
    return Target(kind="gke", label=f"GKE {c.project or '(connection project)'}/{c.location}/{c.name}",
                  project=c.project, location=c.location, name=c.name)


# Every call to the API server has a connect and a read timeout: the kubernetes client sets none
# unless asked per call (kubernetes/client/rest.py, RESTClientObject.request: no _request_timeout
# means urllib3 waits forever), so one connection that never answers would outlast every limit of
# the run. Real seconds; the simulator's clock makes them shorter, never below the floors.
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 10.0, 60.0
TIMEOUT_FLOORS_S = (2.0, 5.0)


def call_timeouts(target: Target) -> tuple[float, float]:
    """(connect, read) seconds for one API call: the defaults on this cluster's clock, above the floors;
    RECIPEBENCH_K8S_CONNECT_TIMEOUT / RECIPEBENCH_K8S_READ_TIMEOUT, when set, as given."""
    def one(variable: str, default: float, floor: float) -> float:
        given = os.environ.get(variable)
        return float(given) if given else max(target.seconds(default), floor)

    return (one("RECIPEBENCH_K8S_CONNECT_TIMEOUT", CONNECT_TIMEOUT_S, TIMEOUT_FLOORS_S[0]),
            one("RECIPEBENCH_K8S_READ_TIMEOUT", READ_TIMEOUT_S, TIMEOUT_FLOORS_S[1]))


def with_timeouts(client, timeouts: tuple[float, float]):
    """The ApiClient, every request of which gets `timeouts` unless its caller set its own, and is tried
    once by urllib3: cluster.api.with_retries decides what is repeated, with its own bound (urllib3's
    default of three more tries would make each of those four read timeouts)."""
    rest = client.rest_client
    rest.pool_manager.connection_pool_kw["retries"] = False
    rest.pool_manager.clear()  # pools made before (a hook's client) take the setting when made again
    request = rest.request

    def bounded(method, url, *args, _request_timeout=None, **kwargs):
        return request(method, url, *args, _request_timeout=_request_timeout or timeouts, **kwargs)

    rest.request = bounded
    return client


def api_client(target: Target):
    """A kubernetes.client.ApiClient for the target, every call bounded (call_timeouts)."""
    return with_timeouts(_api_client(target), call_timeouts(target))


def _api_client(target: Target):
    try:
        if target.kind == "kubeconfig":
            from kubernetes import config

            return config.new_client_from_config(config_file=target.kubeconfig, context=target.context)
        if target.kind == "connection":
            from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

            return KubernetesHook(conn_id=target.conn_id).api_client
        from airflow.providers.google.cloud.hooks.kubernetes_engine import GKEHook, GKEKubernetesHook

        cluster = GKEHook(gcp_conn_id=target.gcp_conn_id, location=target.location).get_cluster(
            name=target.name, project_id=target.project, timeout=call_timeouts(target)[1])
        return GKEKubernetesHook(cluster_url=f"https://{cluster.endpoint}",
                                 ssl_ca_cert=cluster.master_auth.cluster_ca_certificate,
                                 gcp_conn_id=target.gcp_conn_id).api_client
    except ClusterError:
        raise
    except Exception as exc:
        raise ClusterError(f"cannot reach {target.label}: {reason(exc, 360)}") \
            from exc


def janitor_targets() -> list[Target]:
    """The clusters the janitor sweeps: RECIPEBENCH_JANITOR_CLUSTERS (comma-separated, each as
    parse_target takes it), else RECIPEBENCH_CLUSTER when it names one, else every GKE cluster a
    recipe names."""
    spec = os.environ.get("RECIPEBENCH_JANITOR_CLUSTERS")
    if spec:
        return [parse_target(item.strip()) for item in spec.split(",") if item.strip()]
    choice = os.environ.get("RECIPEBENCH_CLUSTER", "gke")
    if choice != "gke":
        return [parse_target(choice)]
    from recipebench.catalog.recipe import load_catalog

    targets = {}
    for recipe in load_catalog()[0].values():
        if recipe.cluster.name and recipe.cluster.location:
            target = target_for(recipe)
            targets[(target.project, target.location, target.name)] = target
    return list(targets.values())
