"""Look at a run's GPU pods once its server is up: the environment they printed, their nodes, the
server's own version, and when each startup milestone happened (results.environment and
results.gpu_time decide what it means). Best effort: a look that fails is said in the environment's
notes and never fails the run."""

from __future__ import annotations

from typing import Any

from recipebench.catalog import environment as catalog_env
from recipebench.catalog.naming import run_selector
from recipebench.catalog.params import RunConfig
from recipebench.parsers import server_log
from recipebench.results import environment


def _gpus(pod: dict) -> int:
    return sum(int(((c.get("resources") or {}).get("requests") or {}).get("nvidia.com/gpu", 0) or 0)
               for c in (pod.get("spec") or {}).get("containers") or [])


def _latest(values: list[float | None]) -> float | None:
    """The last pod's milestone: the workload is up when its last pod is (None if any pod lacks it)."""
    return None if not values or any(v is None for v in values) else max(v for v in values if v is not None)


def _scheduled(pod: dict) -> float | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and str(cond.get("status")) == "True":
            return server_log.rfc3339(cond.get("lastTransitionTime"))
    return None


def _started(pod: dict) -> float | None:
    """When the current container started (image pulled, container created), else the last one that ran."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        for phase in ("running", "terminated"):
            if (state.get(phase) or {}).get("startedAt"):
                return server_log.rfc3339(state[phase]["startedAt"])
        if ((status.get("lastState") or {}).get("terminated") or {}).get("startedAt"):
            return server_log.rfc3339(status["lastState"]["terminated"]["startedAt"])
    return None


def _server_version(run: RunConfig, cluster, notes: list[str]) -> str | None:
    import json

    from recipebench.manifests.render import service_endpoint

    recipe = run.recipe
    path = catalog_env.SERVER_VERSION_PATH.get(recipe.framework)
    if not path or not recipe.topology.kind.serves:
        return None
    status, text = cluster.service_request(recipe.cluster.namespace, *service_endpoint(run), "GET", path)
    try:
        answer = json.loads(text) if status == 200 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        notes.append(f"the server's {path} did not answer with its version ({status})")
        return None
    return environment.server_version(recipe.framework, answer)


def observe(run: RunConfig, cluster, log) -> dict[str, Any]:
    """{"environment": results.environment.summarize(...), "startup": {scheduled, started, weights_loaded}}."""
    recipe = run.recipe
    ns = recipe.cluster.namespace
    pods = [p for p in cluster.pods(ns, run_selector(run.run_key)) if _gpus(p)]
    notes: list[str] = []
    blocks: dict[str, dict | None] = {}
    loaded: list[float | None] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        container = pod["spec"]["containers"][0]["name"]
        lines = server_log.timestamped(cluster.logs(ns, name, container, timestamps=True))
        blocks[name] = server_log.environment_block(lines)
        loaded.append(server_log.weights_loaded_at(recipe.framework, lines))
    nodes: dict[str, dict | None] = {}
    for node in sorted({p["spec"].get("nodeName") for p in pods if p["spec"].get("nodeName")}):
        try:
            found = cluster.get("v1", "Node", None, node)
        except Exception as exc:  # a grant without `get nodes` (include/rbac/clusterrole.yaml) loses only this
            notes.append(f"node {node} could not be read: {str(exc)[:160]}")
            found = None
        nodes[node] = environment.node_info(found) if found else None
    try:
        reported = _server_version(run, cluster, notes)
    except Exception as exc:
        notes.append(f"the server's version could not be asked: {str(exc)[:160]}")
        reported = None
    env = environment.summarize(recipe.framework, blocks, nodes, reported, notes)
    for note in env["notes"]:
        log.warning("environment: %s", note)
    log.info("environment: %s", ", ".join(f"{catalog_env.COLUMNS[k]} {env[k]}" for k in catalog_env.COLUMNS))
    startup = {"scheduled": _latest([_scheduled(p) for p in pods]), "started": _latest([_started(p) for p in pods]),
               "weights_loaded": _latest(loaded)}
    return {"environment": env, "startup": startup}
