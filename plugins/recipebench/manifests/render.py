"""Turn a run config into the exact Kubernetes objects it runs, from the templates in
include/manifests (one per workload shape, network profiles as partials)."""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from typing import Any

import yaml

from recipebench.catalog.environment import WEIGHTS_DOWNLOADED
from recipebench.catalog.naming import RUN_LABEL
from recipebench.catalog.params import RunConfig, build_run_config
from recipebench.catalog.paths import MANIFESTS
from recipebench.catalog.recipe import BenchmarkPoint, Recipe
from recipebench.clients.base import CLIENT_DATA, CLIENT_DATA_PREFIX
from recipebench.manifests import command_lines
from recipebench.manifests.errors import ManifestError

HELM_IMAGE = "alpine/helm:3.19.0"
Digests = dict  # {"server": sha256 digest or None, "client": ...}: what build_image found or built


@lru_cache(maxsize=1)
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(MANIFESTS)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    env.filters["merge"] = lambda a, b: {**a, **b}
    env.filters["env_list"] = lambda d: [{"name": k, "value": str(v)} for k, v in d.items()]
    env.filters["nic_annotation"] = lambda pairs: json.dumps(
        [{"interfaceName": i, "network": n} for i, n in pairs], separators=(",", ":"))
    return env


def secret_names(run: RunConfig) -> dict[str, str | None]:
    """Per-run Secret names (create_secrets makes them); manifests only refer to them."""
    r = run.recipe
    return {"hf": run.child_name("hf") if r.secrets.huggingface else None,
            "ngc": run.child_name("ngc") if r.secrets.ngc else None}


def startup_minutes(recipe: Recipe) -> int:
    """How long a startup probe lets a server come up: longer than wait_ready's own limit, so that the
    run fails with wait_ready's diagnosis instead of kubelet restarting the container (which, under
    LeaderWorkerSet's RecreateGroupOnPodRestart, recreates the whole group and downloads again)."""
    return recipe.timeouts.ready_minutes + 15


def _probes(recipe: Recipe) -> dict:
    http = {"httpGet": {"path": recipe.serving.health_path, "port": "http"}}
    return {
        "startupProbe": {**http, "periodSeconds": 10, "timeoutSeconds": 5,
                         "failureThreshold": startup_minutes(recipe) * 6},
        "readinessProbe": {**http, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**http, "periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 10},
    }


def _placement(recipe: Recipe) -> tuple[dict, list]:
    acc = recipe.acc
    selector = {"cloud.google.com/gke-accelerator": acc.gke_accelerator, "kubernetes.io/arch": acc.arch}
    tolerations = [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "cloud.google.com/impending-node-termination", "operator": "Exists"},
    ]
    if acc.arch == "arm64":
        tolerations.append({"key": "kubernetes.io/arch", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"})
    return selector, tolerations


def network(recipe: Recipe):
    """The accelerator's network profile partial as a module: its annotations, env, volumes, init
    containers, and what the container's shell must run first."""
    import jinja2

    template = f"network/{recipe.acc.network_profile}.j2"
    try:
        return _env().get_template(template).make_module({"acc": recipe.acc,
                                                           "cluster_name": recipe.cluster.name or "cluster"})
    except jinja2.TemplateError as exc:
        raise ManifestError(f"template {template}: {exc}") from None


def preamble(recipe: Recipe) -> str:
    net, serving = network(recipe), recipe.serving
    folders = [*(net.library_path if serving.network_library_path else []), *serving.library_path]
    script = command_lines.shell_preamble(folders, net.init_script if serving.nccl_init else None)
    # the profile's last step follows its init script (ldconfig: rewrites /etc/ld.so.cache) and needs root;
    # a non-root image reaches the same folders through the LD_LIBRARY_PATH set above
    post = net.post and serving.nccl_init and not recipe.image.user
    # the environment last: it then sees the library path and cache the server will load from
    return script + (f"{net.post}\n" if post else "") + command_lines.environment_probe(recipe.framework)


def security_context(recipe: Recipe) -> dict[str, Any] | None:
    """The framework container's securityContext: privileged where the network or the recipe needs the
    devices, and the image's own non-root uid stated, so validation can judge the script (privileged is
    not root: a privileged container still runs as the image's USER)."""
    sc: dict[str, Any] = {}
    if network(recipe).privileged or recipe.serving.privileged:
        sc["privileged"] = True
    if recipe.image.user:
        sc["runAsUser"] = recipe.image.user
    return sc or None


def context(run: RunConfig, digests: Digests | None = None) -> dict[str, Any]:
    recipe = run.recipe
    digests = digests or {}
    selector, tolerations = _placement(recipe)
    ctx: dict[str, Any] = {
        "run": run,
        "recipe": recipe,
        "acc": recipe.acc,
        "name": run.name,
        "namespace": recipe.cluster.namespace,
        "cluster_name": recipe.cluster.name or "cluster",
        "labels": run.labels,
        "accuracy_data": None,  # the accuracy Job's ConfigMap (render_accuracy_job)
        "selector": {k: run.labels[k] for k in ("app.kubernetes.io/managed-by", "recipebench.dev/run")},
        "queue_label": {"kueue.x-k8s.io/queue-name": recipe.cluster.queue} if recipe.cluster.queue else {},
        "image": recipe.image_ref(digests.get("server")),
        "secrets": secret_names(run),
        "config_map": run.child_name("config"),
        "config_dir": command_lines.CONFIG_DIR,
        "results_dir": command_lines.RESULTS_DIR,
        "model_mount": command_lines.MODEL_MOUNT,
        "node_selector": selector,
        "tolerations": tolerations,
        "probes": _probes(recipe),
        "startup_minutes": startup_minutes(recipe),
        "preamble": preamble(recipe),
        # the bucket a server reads its weights from (model.source gcs); no other server mounts one
        "weights_bucket": recipe.cluster.bucket if recipe.model.source == "gcs" else None,
        "security_context": security_context(recipe),
    }
    ctx |= recipe.topology.kind.manifest_values(run, Blocks(ctx))
    return ctx


class Blocks:
    """The building blocks of the workload templates; a shape says which it is made of
    (shapes.WorkloadShape.manifest_values). Each returns its template values and the ConfigMap's
    files (`config_files`)."""

    def __init__(self, ctx: dict[str, Any]):
        self.ctx = ctx

    def server(self, run: RunConfig) -> dict[str, Any]:
        """A server started by one command line (single- and multi-host)."""
        argv, files = command_lines.server_argv(run.recipe)
        return {"server": {"argv": argv}, "config_files": files}

    def offline_job(self, run: RunConfig) -> dict[str, Any]:
        """A Job that is the benchmark: the offline script, its deadline."""
        recipe = run.recipe
        _, files = command_lines.to_flags(recipe.serving.args)
        return {"offline_script": _offline_script(recipe), "config_files": files,
                "deadline_seconds": (recipe.timeouts.ready_minutes
                                     + recipe.point_budget_minutes * len(recipe.benchmark.points)) * 60}

    def graph(self, run: RunConfig) -> dict[str, Any]:
        """A Dynamo graph: one worker script per role, the run's ComputeDomain, the model bucket."""
        recipe, files, workers = run.recipe, dict[str, str](), dict[str, str]()
        for role in ("prefill", "decode"):
            workers[role], role_files = command_lines.worker_script(recipe, role, self.ctx["preamble"])
            files |= role_files
        model = {"name": "model", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True,
                                          "volumeAttributes": {"bucketName": recipe.cluster.bucket,
                                                               "mountOptions": _GCSFUSE_CACHED}}}
        return {
            "workers": workers, "config_files": files,
            "compute_domain": run.child_name("domain"), "claim_template": run.child_name("channel"),
            "frontend_volumes": [{"name": "gcs-cache", "emptyDir": {}}, model],
            "worker_volumes": [
                model,
                {"name": "nvidia", "hostPath": {"path": "/home/kubernetes/bin/nvidia"}},
                {"name": "gib", "hostPath": {"path": "/home/kubernetes/bin/gib"}},
                {"name": "configs", "configMap": {"name": self.ctx["config_map"]}},
            ],
            "worker_mounts": [
                {"name": "model", "mountPath": command_lines.MODEL_MOUNT, "readOnly": True},
                {"name": "nvidia", "mountPath": "/usr/local/nvidia"},
                {"name": "gib", "mountPath": "/usr/local/gib"},
                {"name": "configs", "mountPath": command_lines.CONFIG_DIR, "readOnly": True},
            ],
        }


# the upstream chart's GCS FUSE options for reading pre-staged weights: parallel downloads into the file cache
_GCSFUSE_CACHED = ("implicit-dirs,file-cache:enable-parallel-downloads:true,file-cache:parallel-downloads-per-file:100,"
                   "file-cache:max-parallel-downloads:-1,file-cache:download-chunk-size-mb:10,file-cache:max-size-mb:-1")


def _offline_script(recipe: Recipe) -> str:
    model = recipe.model.name
    client = recipe.benchmark.client
    points = "".join(client.point_script(recipe, p) for p in recipe.benchmark.points)
    names = client.files([p.id for p in recipe.benchmark.points], recipe.benchmark.repeats)
    return (
        "set -euo pipefail\n"
        f"mkdir -p {command_lines.RESULTS_DIR}\n"
        f"huggingface-cli download {model} --exclude '*original*' --local-dir /ssd/{model}\n"
        f"echo {shlex.quote(WEIGHTS_DOWNLOADED)}\n"
        "export TOKENIZERS_PARALLELISM=false\n"
        f"{points}"
        f"{command_lines.print_results_script(names)}"
    )


def _load(template: str, ctx: dict[str, Any]) -> list[dict]:
    import jinja2

    try:
        text = _env().get_template(template).render(**ctx)
    except jinja2.UndefinedError as exc:
        raise ManifestError(f"template {template}: {exc}") from None
    except jinja2.TemplateError as exc:
        raise ManifestError(f"template {template}: {exc}") from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as exc:
        raise ManifestError(f"template {template} does not render to YAML: {exc}") from None


def render_workload(run: RunConfig, digests: Digests | None = None) -> list[dict]:
    """The server (or offline Job) objects of a run."""
    return _load(run.recipe.topology.kind.template, context(run, digests))


def service_endpoint(run: RunConfig) -> tuple[str, int]:
    """Host and port the benchmark client talks to (the shape's Service)."""
    return run.recipe.topology.kind.endpoint(run.name, run.recipe.serving.port)


def bench_job_name(run: RunConfig, index: int) -> str:
    return run.child_name(f"bench-{index}", budget=57)  # Job controller appends -xxxxx to pods


def client_placement(run: RunConfig, digests: Digests) -> dict[str, Any]:
    """Where the benchmark client runs and from which image (recipebench.clients says why)."""
    recipe = run.recipe
    image = recipe.client_image_ref(digests.get("server"), digests.get("client"))
    own = recipe.benchmark.client.image
    if own is not None:  # the CPU pool: no GPU taint tolerated, the image's own architecture
        return {"image": image, "node_selector": {"kubernetes.io/arch": own.arch}, "tolerations": [], "affinity": None}
    selector, tolerations = _placement(recipe)
    beside_server = {"labelSelector": {"matchLabels": {RUN_LABEL: run.run_key, "recipebench.dev/component":
                                                       recipe.topology.kind.server_component}},
                     "topologyKey": "kubernetes.io/hostname"}
    return {"image": image, "node_selector": selector, "tolerations": tolerations,
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [beside_server]}}}


def render_bench_job(run: RunConfig, point: BenchmarkPoint, index: int, digests: Digests | None = None) -> dict:
    recipe = run.recipe
    host, port = service_endpoint(run)
    ctx = context(run, digests)
    ctx |= {
        "point": point, "component": "bench",
        "job_name": bench_job_name(run, index),
        "client": client_placement(run, digests or {}),
        "client_script": command_lines.client_script(recipe, point, host, port),
        "client_data": CLIENT_DATA, "client_data_prefix": CLIENT_DATA_PREFIX,
    }
    (job,) = _load("bench-client.yaml.j2", ctx)
    return job


def stage_job_name(run: RunConfig) -> str:
    return run.child_name("stage-data", budget=57)  # Job controller appends -xxxxx to pods


def render_stage_job(run: RunConfig, digests: Digests | None = None) -> dict:
    """The once-per-run Job that stages what the points' clients read (command_lines.stage_script)."""
    ctx = context(run, digests) | {
        "point": None, "component": "stage-data", "job_name": stage_job_name(run),
        "client": client_placement(run, digests or {}), "client_script": command_lines.stage_script(run.recipe),
        "client_data": CLIENT_DATA, "client_data_prefix": CLIENT_DATA_PREFIX,
    }
    (job,) = _load("bench-client.yaml.j2", ctx)
    return job


def accuracy_job_name(run: RunConfig) -> str:
    return run.child_name("accuracy", budget=57)  # Job controller appends -xxxxx to pods


def render_accuracy_job(run: RunConfig, files: dict[str, str], digests: Digests | None = None) -> list[dict]:
    """The accuracy check's ConfigMap (the client and the questions, `files` by name) and its Job, from
    the benchmark client's image and placement (command_lines.accuracy_script)."""
    host, port = service_endpoint(run)
    name = accuracy_job_name(run)
    # labelled as a client's: teardown with keep-alive removes them with the points' Jobs
    labels = {**run.labels, "recipebench.dev/component": "accuracy"}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": name, "namespace": run.recipe.cluster.namespace, "labels": labels},
                  "data": files}
    ctx = context(run, digests) | {"labels": labels} | {
        "point": None, "component": "accuracy", "job_name": name, "client": client_placement(run, digests or {}),
        "client_script": command_lines.accuracy_script(run.recipe, host, port),
        "accuracy_data": {"mount": command_lines.ACCURACY_DIR, "config_map": name},
    }
    (job,) = _load("bench-client.yaml.j2", ctx)
    return [config_map, job]


def render_helm_job(run: RunConfig, helm: dict[str, Any]) -> dict:
    ctx = {"labels": run.labels, "job_name": run.child_name(f"helm-{helm['release']}", budget=57),
           "helm": {"image": HELM_IMAGE, "env": [], "chart_version": "", **helm}}
    (job,) = _load("helm-runner.yaml.j2", ctx)
    return job


def example_run(recipe: Recipe, key: str = "r000000000") -> RunConfig:
    """A fixed run of a recipe, for validation and reviewed snapshots."""
    return build_run_config(recipe, {}, key, "manual__example", "manual", now=1_767_225_600)


def render_all(run: RunConfig) -> list[dict]:
    if not run.recipe.topology.kind.serves:
        return render_workload(run)
    return render_workload(run) + [render_bench_job(run, p, i) for i, p in enumerate(run.recipe.benchmark.points)] + [
        render_stage_job(run)]


def to_yaml_stream(objects: list[dict]) -> str:
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False, width=120) for o in objects)

