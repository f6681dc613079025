"""The triggers: they run in the triggerer while a task is deferred (no worker slot held).

They live in plugins/ (on every component's sys.path, the triggerer's included) and poll the
cluster through the same sync client code as the workers, in a thread, every poll interval.
Each poll of a run's trigger also renews the run's GPU Lease (cluster.capacity), if it holds one.

- CapacityTrigger (reserve_gpus): until the run holds its node pool's Lease, in the order runs asked.
- ReadyTrigger (wait_ready): ready takes two steps: the workload reports ready
  (cluster.readiness.assess), then the server serves the model (cluster.readiness.assess_serving:
  /v1/models lists it and one completion succeeds). Both count against the same ready limit;
  waiting for capacity has its own.
- JobTrigger (each benchmark point): until the point's client Job is done, failed or stuck.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ReadyTrigger(BaseTrigger):
    def __init__(self, target: dict, shape: str, namespace: str, name: str, run_key: str,
                 capacity_limit_s: float, ready_limit_s: float, poll_s: float, service: str | None = None,
                 port: int | None = None, model: str | None = None, lock: dict | None = None):
        super().__init__()
        self.target, self.shape, self.namespace, self.name, self.run_key = target, shape, namespace, name, run_key
        self.capacity_limit_s, self.ready_limit_s, self.poll_s = capacity_limit_s, ready_limit_s, poll_s
        # what serves requests, and the model it must serve (None: a trigger deferred by the previous
        # release, which checked the workload only)
        self.service, self.port, self.model = service, port, model
        self.lock = lock  # the run's GPU Lease, renewed at every poll (None: no lock, or an older release)
        # limits are in seconds of this cluster's clock; messages give them in real minutes
        self.time_scale = float((target or {}).get("time_scale") or 1.0)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("recipebench.pipeline.triggers.ReadyTrigger", {
            "target": self.target, "shape": self.shape, "namespace": self.namespace, "name": self.name,
            "run_key": self.run_key, "capacity_limit_s": self.capacity_limit_s, "ready_limit_s": self.ready_limit_s,
            "poll_s": self.poll_s, "service": self.service, "port": self.port, "model": self.model,
            "lock": self.lock})

    def _check(self, cluster, capacity_waited: float, ready_waited: float):
        from recipebench.cluster.capacity import LockLost, LockSpec, renew
        from recipebench.cluster.readiness import Assessment, assess, assess_serving, minutes, observe, probe_serving

        try:
            renew(cluster, LockSpec.from_dict(self.lock), time.time())
        except LockLost as exc:
            return Assessment("failed", str(exc))
        late = ready_waited > self.ready_limit_s
        obs = observe(cluster, self.shape, self.namespace, self.name, self.run_key, with_server_log=late)
        result = assess(obs, capacity_waited, ready_waited, self.capacity_limit_s, self.ready_limit_s,
                        self.time_scale)
        if result.state != "ready" or not self.service or not self.model:
            return result
        serving = assess_serving(probe_serving(cluster, self.namespace, self.service, self.port, self.model), self.model)
        if serving.state == "ready":
            return serving
        if late:
            return Assessment("failed", f"not serving after {minutes(self.ready_limit_s, self.time_scale)}: "
                                        f"{obs['kind']} {self.name} reports ready, but {serving.reason}",
                              serving.evidence)
        return Assessment("starting", f"{obs['kind']} {self.name} reports ready; {serving.reason}")

    async def run(self):
        from recipebench.cluster.access import Target
        from recipebench.cluster.api import Cluster

        cluster = None
        capacity_waited, ready_since, last_tick, last_reason = 0.0, None, time.monotonic(), None
        while True:
            try:
                if cluster is None:
                    cluster = await asyncio.to_thread(Cluster, Target.from_dict(self.target))
                now = time.monotonic()
                ready_waited = now - ready_since if ready_since else 0.0
                result = await asyncio.to_thread(self._check, cluster, capacity_waited, ready_waited)
            except Exception as exc:  # an unreachable API server is reported, not retried forever
                yield TriggerEvent({"state": "failed", "reason": f"cluster error while waiting: {exc}",
                                    "evidence": []})
                return
            now = time.monotonic()
            if result.state == "capacity":
                capacity_waited += now - last_tick
            elif ready_since is None:  # placed: the ready limit runs from here, serving included
                ready_since = now
            last_tick = now
            if result.reason != last_reason:
                self.log.info("%s: %s", result.state, result.reason)
                last_reason = result.reason
            if result.state in ("ready", "failed"):  # `at`: when it was seen, for the GPU idle time after it
                yield TriggerEvent({"state": result.state, "reason": result.reason, "evidence": result.evidence,
                                    "at": time.time()})
                return
            await asyncio.sleep(self.poll_s)


async def _poll(trigger: BaseTrigger, target: dict, check, poll_s: float):
    """Run check(cluster) in a thread every poll_s until it returns a final payload; its reason is
    logged whenever it changes. An unreachable API server ends the wait (its calls retried first)."""
    from recipebench.cluster.access import Target
    from recipebench.cluster.api import Cluster

    cluster, last = None, None
    while True:
        try:
            if cluster is None:
                cluster = await asyncio.to_thread(Cluster, Target.from_dict(target))
            final, payload = await asyncio.to_thread(check, cluster)
        except Exception as exc:
            yield TriggerEvent({"state": "error", "reason": f"cluster error while waiting: {exc}", "evidence": [],
                                "at": time.time()})
            return
        if payload.get("reason") != last:
            trigger.log.info("%s: %s", payload.get("state"), payload.get("reason"))
            last = payload.get("reason")
        if final:
            yield TriggerEvent({**payload, "at": time.time()})
            return
        await asyncio.sleep(poll_s)


class CapacityTrigger(BaseTrigger):
    """Until this run holds its node pool's Lease (cluster.capacity.take_step), or limit_s passes."""

    def __init__(self, target: dict, lock: dict, limit_s: float, poll_s: float):
        super().__init__()
        self.target, self.lock, self.limit_s, self.poll_s = target, lock, limit_s, poll_s
        self.time_scale = float((target or {}).get("time_scale") or 1.0)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("recipebench.pipeline.triggers.CapacityTrigger", {
            "target": self.target, "lock": self.lock, "limit_s": self.limit_s, "poll_s": self.poll_s})

    async def run(self):
        from recipebench.cluster.capacity import LockSpec, take_step
        from recipebench.cluster.readiness import minutes

        spec, started = LockSpec.from_dict(self.lock), time.monotonic()

        def check(cluster):
            result = take_step(cluster, spec, time.time())
            if result.acquired:
                return True, {"state": "acquired", "reason": result.status}
            if time.monotonic() - started > self.limit_s:
                # leave the queue, so the runs behind this one are not held up by it
                take_step(cluster, spec, time.time(), want=False)
                return True, {"state": "failed", "reason": f"no GPUs after {minutes(self.limit_s, self.time_scale)} "
                                                           f"(timeouts.lock_minutes): {result.status}"}
            return False, {"state": "waiting", "reason": result.status}

        async for event in _poll(self, self.target, check, self.poll_s):
            yield event


class JobTrigger(BaseTrigger):
    """Until a benchmark point's client Job is done, failed or stuck (cluster.readiness.assess_job),
    or timeout_s passes; renews the run's Lease at every poll."""

    def __init__(self, target: dict, namespace: str, name: str, timeout_s: float, poll_s: float,
                 lock: dict | None = None):
        super().__init__()
        self.target, self.namespace, self.name = target, namespace, name
        self.timeout_s, self.poll_s, self.lock = timeout_s, poll_s, lock
        self.time_scale = float((target or {}).get("time_scale") or 1.0)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("recipebench.pipeline.triggers.JobTrigger", {
            "target": self.target, "namespace": self.namespace, "name": self.name, "timeout_s": self.timeout_s,
            "poll_s": self.poll_s, "lock": self.lock})

    async def run(self):
        from recipebench.cluster.capacity import LockLost, LockSpec, renew
        from recipebench.cluster.readiness import assess_job, minutes, observe_job

        started = time.monotonic()

        def check(cluster):
            try:
                renew(cluster, LockSpec.from_dict(self.lock), time.time())
            except LockLost as exc:
                return True, {"state": "aborted", "reason": str(exc), "evidence": []}
            outcome = assess_job(*observe_job(cluster, self.namespace, self.name))
            if outcome.state == "running" and time.monotonic() - started > self.timeout_s:
                return True, {"state": "aborted", "reason": f"Job {self.namespace}/{self.name} did not finish within "
                                                           f"{minutes(self.timeout_s, self.time_scale)}", "evidence": []}
            return outcome.state != "running", {"state": outcome.state, "reason": outcome.reason,
                                                "evidence": outcome.evidence}

        async for event in _poll(self, self.target, check, self.poll_s):
            yield event
