"""Is the workload serving, still coming up, waiting for capacity, or broken, and why?

`assess` is a pure function of an observation (the workload object, its pods, their events and,
for restarted containers, their last log lines) and how long we have waited. `observe` gathers
that observation from a cluster. Waiting for capacity (Kueue admission, node scale-up) has its
own time limit and is not a failure until it runs out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recipebench.catalog.naming import run_selector
from recipebench.catalog.vocabulary import State
from recipebench.errors import RecipebenchError
from recipebench.shapes import condition, shape

IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
LOG_LINES = 20


class WorkloadFailed(RecipebenchError):
    """The workload cannot serve; the message is the one-line reason."""


@dataclass
class Assessment:
    state: State  # workloads: ready | starting | loading | capacity | failed; Jobs: done | running | failed | stuck
    reason: str
    evidence: list[str] = field(default_factory=list)


def _true(conditions, type_) -> bool | None:
    return condition({"conditions": conditions}, type_)


def _pod_failure(pod: dict, events: list[dict], logs: str | None) -> Assessment | None:
    name = pod["metadata"]["name"]
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        last = (cs.get("lastState") or {}).get("terminated") or (cs.get("state") or {}).get("terminated") or {}
        restarts = cs.get("restartCount") or 0
        tail = [f"  {line}" for line in (logs or "").strip().splitlines()[-LOG_LINES:]]
        if waiting.get("reason") in IMAGE_ERRORS:
            msgs = [e["message"] for e in events if e.get("reason") in ("Failed", "BackOff") and "image" in e.get(
                "message", "")]
            return Assessment(State.FAILED, f"image pull failure: pod {name} cannot pull {cs.get('image')} "
                                        f"({waiting.get('reason')}{_registry_says(msgs)})",
                              [f"{waiting.get('reason')}: {waiting.get('message', '')}", *msgs[-3:]])
        if last.get("reason") == "OOMKilled":
            return Assessment(State.FAILED, f"OOM-killed: container {cs['name']} of pod {name} ran out of memory "
                                        f"(exit {last.get('exitCode', 137)}), restarted {restarts} time(s)",
                              ["last log lines before the kill:", *tail])
        if waiting.get("reason") == "CrashLoopBackOff" or (restarts >= 2 and last):
            return Assessment(State.FAILED, f"crash loop: container {cs['name']} of pod {name} exits with code "
                                        f"{last.get('exitCode', '?')} ({last.get('reason', 'Error')}), "
                                        f"restarted {restarts} time(s)",
                              ["last log lines of the crashed container:", *tail])
    return None


def _pending_reason(pod: dict, events: list[dict]) -> Assessment | None:
    """For an unscheduled pod: waiting for capacity, or impossible to place."""
    name = pod["metadata"]["name"]
    gates = [g.get("name") for g in (pod.get("spec") or {}).get("schedulingGates") or []]
    if any("kueue" in (g or "") for g in gates):
        queue = (pod["metadata"].get("labels") or {}).get("kueue.x-k8s.io/queue-name", "?")
        return Assessment(State.CAPACITY, f"waiting for Kueue admission (queue {queue}, pod {name})",
                          [f"scheduling gates: {', '.join(gates)}"])
    scheduled = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
    if not scheduled or str(scheduled[0].get("status")) == "True":
        return None
    msg = scheduled[0].get("message") or scheduled[0].get("reason") or "not scheduled"
    reasons = {e.get("reason"): e.get("message", "") for e in events}
    if "NotTriggerScaleUp" in reasons:
        return Assessment(State.FAILED, f"unschedulable: pod {name}: {msg}",
                          [f"cluster autoscaler: {reasons['NotTriggerScaleUp']}"])
    if "TriggeredScaleUp" in reasons:
        return Assessment(State.CAPACITY, f"waiting for node scale-up (pod {name})",
                          [f"cluster autoscaler: {reasons['TriggeredScaleUp']}", f"scheduler: {msg}"])
    return Assessment(State.CAPACITY, f"waiting for a node (pod {name}): {msg}", [f"scheduler: {msg}"])


def minutes(limit_s: float, time_scale: float = 1.0) -> str:
    """A limit in seconds of the cluster's clock, said in real minutes (the simulator runs faster)."""
    return f"{limit_s * time_scale / 60:.0f} min"


def assess(obs: dict[str, Any], capacity_waited_s: float, ready_waited_s: float, capacity_limit_s: float,
           ready_limit_s: float, time_scale: float = 1.0) -> Assessment:
    """The state of a deployment from one observation.

    capacity_waited_s: how long the workload has been waiting for capacity so far;
    ready_waited_s: how long since it got capacity (all pods placed). Both and the limits are in
    seconds of the cluster's clock; time_scale turns them into real time for the messages.
    """
    kind, workload, pods = shape(obs["shape"]), obs.get("workload"), obs.get("pods") or []
    failed = kind.failed(workload)
    if failed is not None:  # failed for good: a run-to-completion Job, or an object its controller cannot admit
        tail = [f"  {ln}" for ln in (obs.get("logs", {}).get("job") or "").strip().splitlines()[-LOG_LINES:]]
        why = f"{failed.get('reason', '')}: {failed.get('message', '')}"
        for pod in pods:
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                term = (cs.get("state") or {}).get("terminated") or {}
                if term.get("exitCode"):
                    why = (f"container {cs['name']} of pod {pod['metadata']['name']} exited with code "
                           f"{term['exitCode']} ({term.get('reason', 'Error')})")
        return Assessment(State.FAILED, f"{obs['kind']} failed: {why}", ["last log lines:", *tail] if tail else [])
    if kind.ready(workload):
        return Assessment(State.READY, f"{obs['kind']} {obs['name']} is ready")
    for pod in pods:
        failure = _pod_failure(pod, obs.get("events", {}).get(pod["metadata"]["name"], []),
                               obs.get("logs", {}).get(pod["metadata"]["name"]))
        if failure:
            return failure
    if workload is None:
        return Assessment(State.FAILED, f"{obs['kind']} {obs['name']} does not exist (deleted, or never applied)")
    waiting = [a for a in (_pending_reason(p, obs.get("events", {}).get(p["metadata"]["name"], [])) for p in pods) if a]
    hard = [a for a in waiting if a.state == State.FAILED]
    if hard:
        return hard[0]
    if waiting or not pods:
        pending = waiting[0] if waiting else Assessment(State.CAPACITY, f"waiting for pods of {obs['kind']} "
                                                                          f"{obs['name']}")
        if capacity_waited_s > capacity_limit_s:
            return Assessment(State.FAILED, f"no capacity after {minutes(capacity_limit_s, time_scale)}: "
                                            f"{pending.reason}", pending.evidence)
        return pending
    if ready_waited_s > ready_limit_s:
        tail = [f"  {ln}" for ln in (obs.get("logs", {}).get("_server") or "").strip().splitlines()[-LOG_LINES:]]
        if not kind.serves:  # its pod is Ready while it works: what is late is the Job's completion
            return Assessment(State.FAILED, f"Job {obs['name']} has not completed after {minutes(ready_limit_s, time_scale)} "
                                        "(start-up and every point's time budget): its benchmark is still running",
                              ["last log lines:", *tail])
        not_ready = [p["metadata"]["name"] for p in pods if not _true((p.get("status") or {}).get("conditions"), "Ready")]
        return Assessment(State.FAILED, f"not ready after {minutes(ready_limit_s, time_scale)}: {len(not_ready)} pod(s) not "
                                    f"ready ({', '.join(not_ready[:3])})", ["last server log lines:", *tail])
    return Assessment(State.STARTING, f"{len(pods)} pod(s) placed, waiting for the server to answer its readiness probe")


def _timestamp(value: str | None) -> float | None:
    import datetime as dt

    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def placed_at(pods: list[dict], now: float | None = None) -> float | None:
    """When the last of the pods was placed on a node (PodScheduled turned True: its lastTransitionTime,
    which the scheduler's binding sets, k8s.io/api core/v1 PodCondition), None while any pod waits.
    Read from the cluster, so a trigger rebuilt after a triggerer restart counts from the same moment;
    a condition without its time counts from `now`, the first time it is seen (pure)."""
    import time

    if not pods:
        return None
    times = []
    for pod in pods:
        cond = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"),
                    None)
        if cond is None or str(cond.get("status")) != "True":
            return None
        times.append(_timestamp(cond.get("lastTransitionTime")) or (time.time() if now is None else now))
    return max(times)


def observe(cluster, shape_name: str, namespace: str, name: str, run_key: str, with_server_log: bool = False) -> dict:
    """Everything `assess` needs, read from the cluster."""
    kind = shape(shape_name)
    workload = cluster.get(kind.api_version, kind.kind, namespace, name)
    # the workload's own pods: not the clients' (a point, the staging of their data)
    pods = cluster.pods(namespace, run_selector(run_key) + ",recipebench.dev/component notin (bench,stage-data)")
    events, logs = {}, {}
    for pod in pods:
        pname = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if phase == "Pending" or any((s.get("state") or {}).get("waiting") for s in statuses):
            events[pname] = cluster.events(namespace, pname)
        if any((s.get("restartCount") or 0) > 0 or s.get("lastState") for s in statuses):
            container = statuses[0].get("name")
            logs[pname] = cluster.logs(namespace, pname, container, tail=LOG_LINES, previous=True)
    if kind.failed(workload) is not None and pods:
        logs["job"] = cluster.logs(namespace, pods[0]["metadata"]["name"], tail=LOG_LINES)
    if with_server_log and pods:
        logs["_server"] = cluster.logs(namespace, pods[0]["metadata"]["name"], tail=LOG_LINES)
    return {"shape": shape_name, "kind": kind.kind, "name": name, "workload": workload, "pods": pods,
            "events": events, "logs": logs}


# ---- does the server answer? ------------------------------------------------------------------------
# A workload's own readiness is not enough: the Dynamo operator removes the probes of multi-node
# worker ranks (SGLangBackend.UpdateContainer) and the frontend's /health does not wait for a worker
# to have loaded the model (lib/llm/src/http/service/health.rs, health_handler), so "Ready" can come
# long before the model is served. Ready means: /v1/models lists the served model and one short
# completion succeeds.

PROBE_PROMPT = {"prompt": "Say hello.", "max_tokens": 4, "temperature": 0}


def probe_serving(cluster, namespace: str, service: str, port: int, model: str) -> dict[str, Any]:
    """What the server answers, through the API server's service proxy (no completion is sent before
    the model is listed)."""
    obs: dict[str, Any] = {"models": cluster.service_request(namespace, service, port, "GET", "/v1/models")}
    status, text = obs["models"]
    if status == 200 and model in listed_models(text):
        obs["completion"] = cluster.service_request(namespace, service, port, "POST", "/v1/completions",
                                                    {"model": model, **PROBE_PROMPT}, timeout_s=120)
    return obs


def listed_models(text: str) -> list[str]:
    import json

    try:
        return [str(m.get("id")) for m in json.loads(text).get("data") or [] if isinstance(m, dict)]
    except (ValueError, AttributeError):
        return []


def _short(status: int, text: str) -> str:
    import json

    message: object = text.strip()
    try:
        body = json.loads(text)
        message = (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else (
            body.get("message") or body.get("error") or message)
    except (ValueError, AttributeError):
        pass
    return f"{status or 'no answer'}: {str(message)[:200]}"


def assess_serving(obs: dict[str, Any], model: str) -> Assessment:
    """ready when the model is listed and the test completion succeeded, else loading with what is missing."""
    status, text = obs["models"]
    if status != 200:
        return Assessment(State.LOADING, f"the server does not answer /v1/models yet ({_short(status, text)})")
    listed = listed_models(text)
    if model not in listed:
        return Assessment(State.LOADING, f"/v1/models does not list {model} yet (it lists {', '.join(listed) or 'nothing'})")
    c_status, c_text = obs.get("completion") or (0, "not sent")
    if c_status != 200:
        return Assessment(State.LOADING, f"{model} is listed but a test completion failed ({_short(c_status, c_text)})")
    return Assessment(State.READY, f"{model} is listed in /v1/models and answered a test completion")


def assess_job(job: dict | None, pods: list[dict], events: dict[str, list[dict]]) -> Assessment:
    """A run-to-completion Job (a benchmark client, a helm install): done, failed (its container exited
    with an error), stuck (what waiting cannot fix: an image that cannot be pulled, or a pod no node of
    the cluster can take, as the scheduler says and the autoscaler will not add one), or running."""
    if job is None:
        return Assessment(State.FAILED, "the Job does not exist (deleted while running?)")
    conditions = (job.get("status") or {}).get("conditions") or []
    if _true(conditions, "Complete"):
        return Assessment(State.DONE, "the Job completed")
    if _true(conditions, "Failed"):
        failed = next(c for c in conditions if c.get("type") == "Failed")
        return Assessment(State.FAILED, f"the Job failed: {failed.get('reason', '')}: {failed.get('message', '')}")
    for pod in pods:
        name = pod["metadata"]["name"]
        failure = _pod_failure(pod, events.get(name, []), None)
        if failure and failure.reason.startswith("image pull failure"):
            return Assessment(State.STUCK, failure.reason, failure.evidence)
        pending = _pending_reason(pod, events.get(name, []))
        if pending and pending.state == State.FAILED:
            return Assessment(State.STUCK, pending.reason, pending.evidence)
    return Assessment(State.RUNNING, "the Job is running")


def _registry_says(messages: list[str]) -> str:
    """The registry's own words at the end of the kubelet's last pull event (`...: not found`, `...: manifest
    unknown`, `... 403 Forbidden`), kept in the one-line reason: they tell a missing tag from a missing grant."""
    if not messages:
        return ""
    tail = messages[-1].rsplit(": ", 1)[-1].strip()
    return f": the registry says {tail!r}" if tail and len(tail) <= 120 else ""


def observe_job(cluster, namespace: str, name: str) -> tuple[dict | None, list[dict], dict[str, list[dict]]]:
    job = cluster.get("batch/v1", "Job", namespace, name)
    pods = cluster.pods(namespace, f"job-name={name}")
    events = {p["metadata"]["name"]: cluster.events(namespace, p["metadata"]["name"]) for p in pods
              if (p.get("status") or {}).get("phase") == "Pending"}
    return job, pods, events


def wait_job(cluster, namespace: str, name: str, timeout_s: float, poll_s: float,
             time_scale: float = 1.0) -> Assessment:
    """Poll a Job until it is done, failed or stuck (assess_job); TimeoutError past timeout_s (seconds
    of the cluster's clock, said in real minutes)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        outcome = assess_job(*observe_job(cluster, namespace, name))
        if outcome.state != State.RUNNING:
            return outcome
        if time.monotonic() > deadline:
            raise TimeoutError(f"Job {namespace}/{name} did not finish within {minutes(timeout_s, time_scale)}")
        time.sleep(poll_s)
