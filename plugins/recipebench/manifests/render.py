"""Turn a run config into the exact Kubernetes objects it runs, from the templates in
include/manifests (one per workload shape, network profiles as partials)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import yaml

from recipebench.catalog.params import RunConfig, build_run_config
from recipebench.catalog.paths import MANIFESTS
from recipebench.catalog.recipe import BenchmarkPoint, Recipe
from recipebench.manifests import command_lines
from recipebench.manifests.errors import ManifestError

SHAPE_TEMPLATES = {
    "single-host": "single-host.yaml.j2",
    "multi-host": "multi-host.yaml.j2",
    "offline": "offline.yaml.j2",
    "disaggregated": "disaggregated.yaml.j2",
}
HELM_IMAGE = "alpine/helm:3.19.0"


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


def _probes(recipe: Recipe) -> dict:
    http = {"httpGet": {"path": recipe.serving.health_path, "port": "http"}}
    return {
        # the weights download can take 30+ minutes: the startup probe allows ready_minutes
        "startupProbe": {**http, "periodSeconds": 10, "timeoutSeconds": 5,
                         "failureThreshold": recipe.timeouts.ready_minutes * 6},
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


def context(run: RunConfig, image_digest: str | None = None) -> dict[str, Any]:
    recipe = run.recipe
    selector, tolerations = _placement(recipe)
    ctx: dict[str, Any] = {
        "run": run,
        "recipe": recipe,
        "acc": recipe.acc,
        "name": run.name,
        "namespace": recipe.cluster.namespace,
        "cluster_name": recipe.cluster.name or "cluster",
        "labels": run.labels,
        "selector": {k: run.labels[k] for k in ("app.kubernetes.io/managed-by", "recipebench.dev/run")},
        "queue_label": {"kueue.x-k8s.io/queue-name": recipe.cluster.queue} if recipe.cluster.queue else {},
        "image": recipe.image_ref(image_digest),
        "secrets": secret_names(run),
        "config_map": run.child_name("config"),
        "config_dir": command_lines.CONFIG_DIR,
        "results_dir": command_lines.RESULTS_DIR,
        "node_selector": selector,
        "tolerations": tolerations,
        "probes": _probes(recipe),
    }
    files: dict[str, str] = {}
    shape = recipe.topology.shape
    if shape in ("single-host", "multi-host"):
        argv, files = command_lines.server_argv(recipe)
        ctx["server"] = {"argv": argv}
    elif shape == "offline":
        _, files = command_lines.to_flags(recipe.serving.args)
        ctx["offline_script"] = _offline_script(recipe)
        ctx["deadline_seconds"] = (recipe.timeouts.ready_minutes
                                   + recipe.timeouts.point_minutes * len(recipe.benchmark.points)) * 60
    else:
        ctx["workers"] = {}
        for role in ("prefill", "decode"):
            ctx["workers"][role], role_files = command_lines.worker_argv(recipe, role)
            files |= role_files
        ctx["compute_domain"] = run.child_name("domain")
        ctx["claim_template"] = run.child_name("channel")
        ctx["worker_preamble"] = "source /usr/local/gib/scripts/set_nccl_env.sh"
        ctx["worker_volumes"] = [
            {"name": "model", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True,
                                      "volumeAttributes": {"bucketName": recipe.cluster.bucket,
                                                           "mountOptions": "implicit-dirs"}}},
            {"name": "nvidia", "hostPath": {"path": "/home/kubernetes/bin/nvidia"}},
            {"name": "gib", "hostPath": {"path": "/home/kubernetes/bin/gib"}},
            {"name": "configs", "configMap": {"name": ctx["config_map"]}},
        ]
        ctx["worker_mounts"] = [
            {"name": "model", "mountPath": command_lines.MODEL_MOUNT, "readOnly": True},
            {"name": "nvidia", "mountPath": "/usr/local/nvidia"},
            {"name": "gib", "mountPath": "/usr/local/gib"},
            {"name": "configs", "mountPath": command_lines.CONFIG_DIR, "readOnly": True},
        ]
    ctx["config_files"] = files
    return ctx


def _offline_script(recipe: Recipe) -> str:
    model = recipe.model.name
    points = "".join(command_lines.trtllm_point_script(recipe, p) for p in recipe.benchmark.points)
    return (
        "set -euo pipefail\n"
        f"mkdir -p {command_lines.RESULTS_DIR}\n"
        f"huggingface-cli download {model} --exclude '*original*' --local-dir /ssd/{model}\n"
        "export TOKENIZERS_PARALLELISM=false\n"
        f"{points}"
        f"{command_lines.print_results_script()}"
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


def render_workload(run: RunConfig, image_digest: str | None = None) -> list[dict]:
    """The server (or offline Job) objects of a run."""
    return _load(SHAPE_TEMPLATES[run.recipe.topology.shape], context(run, image_digest))


def service_endpoint(run: RunConfig) -> tuple[str, int]:
    """Host and port the benchmark client talks to."""
    if run.recipe.topology.shape == "disaggregated":
        # the Dynamo operator names the frontend Service <dgd>-frontend
        return f"{run.name}-frontend", run.recipe.serving.port
    return run.name, run.recipe.serving.port


def bench_job_name(run: RunConfig, index: int) -> str:
    return run.child_name(f"bench-{index}", budget=57)  # Job controller appends -xxxxx to pods


def render_bench_job(run: RunConfig, point: BenchmarkPoint, index: int, image_digest: str | None = None) -> dict:
    recipe = run.recipe
    host, port = service_endpoint(run)
    ctx = context(run, image_digest)
    if recipe.benchmark.tool == "aiperf":
        client_image, client_arch = recipe.image.frontend or ctx["image"], recipe.acc.arch
    else:
        client_image, client_arch = ctx["image"], recipe.acc.arch
    ctx |= {
        "point": point,
        "job_name": bench_job_name(run, index),
        "client_image": client_image,
        "client_arch": client_arch,
        "client_script": command_lines.client_script(recipe, point, host, port),
    }
    (job,) = _load("bench-client.yaml.j2", ctx)
    return job


def render_helm_job(run: RunConfig, helm: dict[str, Any]) -> dict:
    ctx = {"labels": run.labels, "job_name": run.child_name(f"helm-{helm['release']}", budget=57),
           "helm": {"image": HELM_IMAGE, "env": [], "chart_version": "", **helm}}
    (job,) = _load("helm-runner.yaml.j2", ctx)
    return job


def example_run(recipe: Recipe, key: str = "r000000000") -> RunConfig:
    """A fixed run of a recipe, for validation and reviewed snapshots."""
    return build_run_config(recipe, {}, key, "manual__example", "manual", now=1_767_225_600)


def render_all(run: RunConfig) -> list[dict]:
    return render_workload(run) + ([] if run.recipe.topology.shape == "offline" else [
        render_bench_job(run, p, i) for i, p in enumerate(run.recipe.benchmark.points)])


def to_yaml_stream(objects: list[dict]) -> str:
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False, width=120) for o in objects)

