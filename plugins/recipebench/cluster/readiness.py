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

WORKLOAD_KIND = {"single-host": ("apps/v1", "Deployment"), "multi-host": ("leaderworkerset.x-k8s.io/v1",
                                                                          "LeaderWorkerSet"),
                 "disaggregated": ("nvidia.com/v1alpha1", "DynamoGraphDeployment"), "offline": ("batch/v1", "Job")}
IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
LOG_LINES = 20


class WorkloadFailed(RuntimeError):
    """The workload cannot serve; the message is the one-line reason."""


@dataclass
class Assessment:
    state: str  # ready | starting | capacity | failed
    reason: str
    evidence: list[str] = field(default_factory=list)


def _true(conditions, type_) -> bool | None:
    for c in conditions or []:
        if c.get("type") == type_:
            return str(c.get("status")) == "True"
    return None


def workload_ready(shape: str, workload: dict | None) -> bool:
    if not workload:
        return False
    status = workload.get("status") or {}
    if shape == "single-host":
        return (status.get("availableReplicas") or 0) >= 1
    if shape == "multi-host":
        return bool(_true(status.get("conditions"), "Available")) or (status.get("readyReplicas") or 0) >= 1
    if shape == "disaggregated":
        return status.get("state") == "successful" or bool(_true(status.get("conditions"), "Ready"))
    return bool(_true(status.get("conditions"), "Complete"))


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
            return Assessment("failed", f"image pull failure: pod {name} cannot pull {cs.get('image')} "
                                        f"({waiting.get('reason')})",
                              [f"{waiting.get('reason')}: {waiting.get('message', '')}", *msgs[-3:]])
        if last.get("reason") == "OOMKilled":
            return Assessment("failed", f"OOM-killed: container {cs['name']} of pod {name} ran out of memory "
                                        f"(exit {last.get('exitCode', 137)}), restarted {restarts} time(s)",
                              ["last log lines before the kill:", *tail])
        if waiting.get("reason") == "CrashLoopBackOff" or (restarts >= 2 and last):
            return Assessment("failed", f"crash loop: container {cs['name']} of pod {name} exits with code "
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
        return Assessment("capacity", f"waiting for Kueue admission (queue {queue}, pod {name})",
                          [f"scheduling gates: {', '.join(gates)}"])
    scheduled = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
    if not scheduled or str(scheduled[0].get("status")) == "True":
        return None
    msg = scheduled[0].get("message") or scheduled[0].get("reason") or "not scheduled"
    reasons = {e.get("reason"): e.get("message", "") for e in events}
    if "NotTriggerScaleUp" in reasons:
        return Assessment("failed", f"unschedulable: pod {name}: {msg}",
                          [f"cluster autoscaler: {reasons['NotTriggerScaleUp']}"])
    if "TriggeredScaleUp" in reasons:
        return Assessment("capacity", f"waiting for node scale-up (pod {name})",
                          [f"cluster autoscaler: {reasons['TriggeredScaleUp']}", f"scheduler: {msg}"])
    return Assessment("capacity", f"waiting for a node (pod {name}): {msg}", [f"scheduler: {msg}"])


def assess(obs: dict[str, Any], capacity_waited_s: float, ready_waited_s: float, capacity_limit_s: float,
           ready_limit_s: float) -> Assessment:
    """The state of a deployment from one observation.

    capacity_waited_s: how long the workload has been waiting for capacity so far;
    ready_waited_s: how long since it got capacity (all pods placed).
    """
    shape, workload, pods = obs["shape"], obs.get("workload"), obs.get("pods") or []
    if shape == "offline" and workload and _true((workload.get("status") or {}).get("conditions"), "Failed"):
        failed = next(c for c in workload["status"]["conditions"] if c.get("type") == "Failed")
        tail = [f"  {ln}" for ln in (obs.get("logs", {}).get("job") or "").strip().splitlines()[-LOG_LINES:]]
        why = f"{failed.get('reason', '')}: {failed.get('message', '')}"
        for pod in pods:
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                term = (cs.get("state") or {}).get("terminated") or {}
                if term.get("exitCode"):
                    why = (f"container {cs['name']} of pod {pod['metadata']['name']} exited with code "
                           f"{term['exitCode']} ({term.get('reason', 'Error')})")
        return Assessment("failed", f"Job failed: {why}", ["last log lines:", *tail])
    if workload_ready(shape, workload):
        return Assessment("ready", f"{obs['kind']} {obs['name']} is ready")
    for pod in pods:
        failure = _pod_failure(pod, obs.get("events", {}).get(pod["metadata"]["name"], []),
                               obs.get("logs", {}).get(pod["metadata"]["name"]))
        if failure:
            return failure
    if workload is None:
        return Assessment("failed", f"{obs['kind']} {obs['name']} does not exist (deleted, or never applied)")
    waiting = [a for a in (_pending_reason(p, obs.get("events", {}).get(p["metadata"]["name"], [])) for p in pods) if a]
    hard = [a for a in waiting if a.state == "failed"]
    if hard:
        return hard[0]
    if waiting or not pods:
        why = waiting[0] if waiting else Assessment("capacity", f"waiting for pods of {obs['kind']} {obs['name']}")
        if capacity_waited_s > capacity_limit_s:
            return Assessment("failed", f"no capacity after {capacity_limit_s / 60:.0f} min: {why.reason}", why.evidence)
        return why
    if ready_waited_s > ready_limit_s:
        not_ready = [p["metadata"]["name"] for p in pods if not _true((p.get("status") or {}).get("conditions"), "Ready")]
        tail = [f"  {ln}" for ln in (obs.get("logs", {}).get("_server") or "").strip().splitlines()[-LOG_LINES:]]
        return Assessment("failed", f"not ready after {ready_limit_s / 60:.0f} min: {len(not_ready)} pod(s) not "
                                    f"ready ({', '.join(not_ready[:3])})", ["last server log lines:", *tail])
    return Assessment("starting", f"{len(pods)} pod(s) placed, waiting for the server to answer its readiness probe")


def observe(cluster, shape: str, namespace: str, name: str, run_key: str, with_server_log: bool = False) -> dict:
    """Everything `assess` needs, read from the cluster."""
    api_version, kind = WORKLOAD_KIND[shape]
    workload = cluster.get(api_version, kind, namespace, name)
    pods = cluster.pods(namespace, run_selector(run_key) + ",recipebench.dev/component!=bench")
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
    if shape == "offline" and workload and _true((workload.get("status") or {}).get("conditions"), "Failed") and pods:
        logs["job"] = cluster.logs(namespace, pods[0]["metadata"]["name"], tail=LOG_LINES)
    if with_server_log and pods:
        logs["_server"] = cluster.logs(namespace, pods[0]["metadata"]["name"], tail=LOG_LINES)
    return {"shape": shape, "kind": kind, "name": name, "workload": workload, "pods": pods, "events": events,
            "logs": logs}
