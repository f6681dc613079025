"""ensure_platform: what a recipe needs installed on its cluster, made so idempotently.

Charts (LeaderWorkerSet 0.9.0 for multi-host recipes; Dynamo CRDs and platform 0.7.0 with Grove
and the KAI scheduler for disaggregated ones) are installed by the helm-runner Job inside the
cluster, so Airflow workers need no helm binary. What is installed is read first, from Helm's own
release records (Secrets owner=helm); a matching version is skipped. A controller installed without
helm (its CRD and controller Deployment) at the pinned version is used as it is, at another version it
is an error naming both: helm cannot adopt objects it did not create. Kueue and JobSet (when the
recipe names a queue), the GCS FUSE driver (when it uses a bucket), the ComputeDomain driver and
Dynamo's pre-staged model are checked, with a message naming what is missing and how to install it.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field

from recipebench.catalog.naming import MANAGED_BY, MANAGER
from recipebench.catalog.params import RunConfig
from recipebench.catalog.vocabulary import State
from recipebench.cluster import permissions
from recipebench.cluster.api import Cluster
from recipebench.cluster.readiness import wait_job
from recipebench.errors import RecipebenchError
from recipebench.manifests.render import render_helm_job

HELM_SA = "recipebench-helm"
PLATFORM_NGC_SECRET = "recipebench-platform-ngc"  # platform-level: no run label, no expiry
NGC_CHARTS = "https://helm.ngc.nvidia.com/nvidia/ai-dynamo/charts"


class PlatformError(RecipebenchError):
    """A prerequisite is missing or an install failed; names it and says how to fix it."""


@dataclass(frozen=True)
class Chart:
    release: str
    chart: str
    version: str
    namespace: str
    values: dict[str, str] = field(default_factory=dict)
    ngc: bool = False  # the chart is fetched from nvcr.io with the NGC key
    # how an install made without helm (kubectl apply of the release manifests) is recognised: the
    # CRD it serves and the repository of its controller's image, whose tag is the version
    crd: str = ""
    controller_image: str = ""


# LWS's release manifests (kubernetes-sigs/lws config/manager/manager.yaml: Deployment controller-manager,
# prefixed lws- in namespace lws-system by config/default) run the release image registry.k8s.io/lws/lws:v<version>
LWS = Chart("lws", "oci://registry.k8s.io/lws/charts/lws", "0.9.0", "lws-system",
            crd="leaderworkersets.leaderworkerset.x-k8s.io", controller_image="registry.k8s.io/lws/lws")
# the Dynamo operator's image is nvcr.io/nvidia/ai-dynamo/kubernetes-operator:<version> (ai-dynamo/dynamo
# deploy/cloud/helm/platform values: dynamo-operator.controllerManager.manager.image.repository); the CRDs
# chart has no controller of its own and goes with the operator's version
_DYNAMO_OPERATOR = "nvcr.io/nvidia/ai-dynamo/kubernetes-operator"
DYNAMO_CRDS = Chart("dynamo-crds", f"{NGC_CHARTS}/dynamo-crds-0.7.0.tgz", "0.7.0", "default", ngc=True,
                    crd="dynamographdeployments.nvidia.com", controller_image=_DYNAMO_OPERATOR)
DYNAMO_PLATFORM = Chart("dynamo-platform", f"{NGC_CHARTS}/dynamo-platform-0.7.0.tgz", "0.7.0", "dynamo-cloud",
                        {"grove.enabled": "true", "kai-scheduler.enabled": "true"}, ngc=True,
                        crd="dynamographdeployments.nvidia.com", controller_image=_DYNAMO_OPERATOR)


CHARTS = {c.release: c for c in (LWS, DYNAMO_CRDS, DYNAMO_PLATFORM)}


def required_charts(run: RunConfig) -> list[Chart]:
    """The platform the recipe's workload shape needs (its `charts`), in install order."""
    return [CHARTS[name] for name in run.recipe.topology.kind.charts]


def helm_script(chart: Chart) -> str:
    """helm upgrade --install: idempotent; --wait --atomic so a failed install rolls back."""
    values = "".join(f" --set {k}={v}" for k, v in chart.values.items())
    # NGC's user name is the literal string $oauthtoken: single quotes, or the shell expands it to nothing
    auth = " --username '$oauthtoken' --password \"$NGC_API_KEY\"" if chart.ngc else ""
    version = "" if chart.chart.endswith(".tgz") else f" --version {chart.version}"
    return (f"set -e; helm upgrade --install {chart.release} {chart.chart}{version} --namespace {chart.namespace} "
            f"--create-namespace --wait --atomic --timeout 10m{values}{auth}")


def release_version(secret: dict) -> str | None:
    """The chart version of a Helm release Secret (base64 of base64 of gzip of JSON)."""
    try:
        raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
        return json.loads(gzip.decompress(raw))["chart"]["metadata"]["version"]
    except (KeyError, ValueError, OSError):
        return None


def encode_release(name: str, version: str) -> str:
    """The inverse of release_version, for the simulated cluster's helm."""
    data = {"name": name, "chart": {"metadata": {"name": name, "version": version}}, "info": {"status": "deployed"}}
    return base64.b64encode(base64.b64encode(gzip.compress(json.dumps(data).encode()))).decode()


def installed_version(cluster: Cluster, chart: Chart) -> str | None:
    secrets = cluster.list("v1", "Secret", chart.namespace, f"owner=helm,name={chart.release},status=deployed")
    versions = [release_version(s) for s in secrets]
    return next((v for v in versions if v), None)


def image_version(image: str, repository: str) -> str | None:
    """The version of an image of this repository (its tag without a leading v), else None."""
    name, _, tag = image.split("@", 1)[0].rpartition(":")
    if "/" in tag or not name:  # a registry port, not a tag
        name, tag = image.split("@", 1)[0], ""
    return tag.removeprefix("v") or None if name == repository else None


def controller_found(cluster: Cluster, chart: Chart) -> tuple[str, str] | None:
    """(version, Deployment) of a controller of this chart installed without helm, else None: the CRD
    is served and a Deployment in any namespace runs the controller's image."""
    if not chart.crd or not _crd(cluster, chart.crd):
        return None
    for deployment in cluster.list("apps/v1", "Deployment"):
        for c in (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
            version = image_version(str(c.get("image") or ""), chart.controller_image)
            if version:
                meta = deployment["metadata"]
                return version, f"Deployment {meta.get('namespace')}/{meta['name']} ({c['image']})"
    return None


def helm_error(log: str) -> str:
    """Helm's own error line, for the task's one-line reason."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return next((ln for ln in reversed(lines) if ln.startswith("Error:")), lines[-1] if lines else "no log")


def _runner_objects(run: RunConfig, chart: Chart) -> list[dict]:
    labels = {MANAGED_BY: MANAGER}  # platform-level: kept across runs
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": HELM_SA, "namespace": chart.namespace, "labels": labels}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"{HELM_SA}-{chart.namespace}", "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": HELM_SA, "namespace": chart.namespace}]},
    ]


def install(run: RunConfig, cluster: Cluster, chart: Chart, log) -> None:
    permissions.check(cluster, permissions.install_permissions(chart.namespace))
    env = []
    cluster.ensure_namespace(chart.namespace)
    if chart.ngc:
        from recipebench.cluster.secrets import NGC_CONN, connection_password, mask_encoded

        key = connection_password(NGC_CONN, "NGC API key")
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {
            "name": PLATFORM_NGC_SECRET, "namespace": chart.namespace, "labels": {MANAGED_BY: MANAGER}},
            "data": {"NGC_API_KEY": base64.b64encode(key.encode()).decode()}}
        mask_encoded([secret])
        cluster.apply([secret])
        env = [{"name": "NGC_API_KEY", "valueFrom": {"secretKeyRef": {"name": PLATFORM_NGC_SECRET,
                                                                      "key": "NGC_API_KEY"}}}]
    cluster.apply(_runner_objects(run, chart))
    job = render_helm_job(run, {"release": chart.release, "namespace": chart.namespace, "service_account": HELM_SA,
                                "script": helm_script(chart), "env": env, "chart_version": chart.version})
    name = job["metadata"]["name"]
    cluster.apply([job])
    log.info("installing %s %s (chart %s) with helm-runner Job %s/%s", chart.release, chart.version, chart.chart,
             chart.namespace, name)
    try:  # this runs before any setup task, so no teardown would remove the Job when it fails: it goes here
        outcome = wait_job(cluster, chart.namespace, name, cluster.target.seconds(20 * 60), cluster.target.seconds(10),
                           cluster.target.time_scale)
        if outcome.state == State.STUCK:
            raise PlatformError(f"helm install of {chart.release} {chart.version} cannot run: {outcome.reason}")
        pods = cluster.pods(chart.namespace, f"job-name={name}")
        text = cluster.logs(chart.namespace, pods[0]["metadata"]["name"]) if pods else ""
    finally:
        cluster.delete_or_leave(job, log)
    if outcome.state == State.FAILED:
        for line in text.strip().splitlines()[-10:]:
            log.error("  helm: %s", line)
        raise PlatformError(f"helm install of {chart.release} {chart.version} failed: {helm_error(text)}")


def _crd(cluster: Cluster, name: str) -> bool:
    return cluster.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, name) is not None


def check_prerequisites(run: RunConfig, cluster: Cluster, simulated: bool, log) -> list[str]:
    """What the recipe needs that recipebench does not install. Returns notes; raises on what is missing."""
    recipe, missing, notes = run.recipe, [], []
    c = recipe.cluster
    if c.queue:
        if not _crd(cluster, "localqueues.kueue.x-k8s.io"):
            missing.append("Kueue is not installed (no LocalQueue CRD): install Kueue as the Cluster Toolkit "
                           "blueprint does, or set cluster.queue: null in the recipe")
        elif cluster.get("kueue.x-k8s.io/v1beta1", "LocalQueue", c.namespace, c.queue) is None:
            missing.append(f"Kueue LocalQueue {c.queue!r} not found in namespace {c.namespace}: create it (pointing "
                           "at the GPU ClusterQueue) or name another queue in cluster.queue")
        if not _crd(cluster, "jobsets.jobset.x-k8s.io"):
            missing.append("JobSet is not installed (no JobSet CRD): install it (kubectl apply --server-side -f "
                           "https://github.com/kubernetes-sigs/jobset/releases/download/<version>/manifests.yaml)")
    if c.bucket and cluster.get("storage.k8s.io/v1", "CSIDriver", None, "gcsfuse.csi.storage.gke.io") is None:
        missing.append(f"the GCS FUSE CSI driver is not enabled (bucket {c.bucket} is mounted): gcloud container "
                       "clusters update CLUSTER --update-addons GcsFuseCsiDriver=ENABLED")
    if recipe.topology.kind.needs_compute_domain and not _crd(cluster, "computedomains.resource.nvidia.com"):
        missing.append("NVIDIA's DRA driver for GPUs is not installed (no ComputeDomain CRD): it provides "
                       "the IMEX channels multi-node NVLink needs on A4X")
    if recipe.model.source == "gcs":
        notes.append(_model_bucket_note(recipe, simulated))
    if missing:
        raise PlatformError("; ".join(missing))
    for note in notes:
        log.info(note)
    return notes


def _model_bucket_note(recipe, simulated: bool) -> str:
    where = f"gs://{recipe.cluster.bucket}/{recipe.model.name}/config.json"
    if simulated:
        return f"pre-staged model {where}: NOT checked (the simulated cluster has no GCS)"
    from airflow.sdk import ObjectStoragePath

    if not ObjectStoragePath(where, conn_id="google_cloud_default").exists():
        raise PlatformError(f"Dynamo reads pre-staged weights and {where} does not exist: copy the model to "
                            f"gs://{recipe.cluster.bucket}/{recipe.model.name}/ first")
    return f"pre-staged model found at {where}"


def ensure_platform(run: RunConfig, cluster: Cluster, target: dict, log) -> dict:
    # what the identity may do, before anything is created or any GPU held (include/rbac/)
    permissions.check(cluster, permissions.run_permissions(run))
    done = {}
    for chart in required_charts(run):
        version = installed_version(cluster, chart)
        found = controller_found(cluster, chart) if version is None else None
        if found and found[0] == chart.version:
            log.info("%s %s is installed without helm (%s): skipped", chart.release, found[0], found[1])
            done[chart.release] = "present"
            continue
        if found:
            # helm would refuse to adopt objects it did not create (invalid ownership metadata)
            raise PlatformError(f"{chart.release} {found[0]} is installed without helm ({found[1]}) and recipebench "
                                f"pins {chart.version}: upgrade it to {chart.version} the way it was installed, or "
                                "remove it so recipebench installs it with helm")
        if version == chart.version:
            log.info("%s %s is installed in %s: skipped", chart.release, version, chart.namespace)
            done[chart.release] = "present"
            continue
        log.info("%s is %s in %s, %s is wanted", chart.release, f"at {version}" if version else "not installed",
                 chart.namespace, chart.version)
        install(run, cluster, chart, log)
        done[chart.release] = "installed"
    notes = check_prerequisites(run, cluster, bool(target.get("simulated")), log)
    return {"charts": done, "notes": notes}
