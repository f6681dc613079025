"""The readiness trigger: runs in the triggerer while wait_ready is deferred (no worker slot held).

It lives in plugins/ (on every component's sys.path, the triggerer's included) and polls the
cluster through the same sync client code as the workers, in a thread, every poll interval.
Ready takes two steps: the workload reports ready (cluster.readiness.assess), then the server
serves the model (cluster.readiness.assess_serving: /v1/models lists it and one completion
succeeds). Both count against the same ready limit; waiting for capacity has its own.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ReadyTrigger(BaseTrigger):
    def __init__(self, target: dict, shape: str, namespace: str, name: str, run_key: str,
                 capacity_limit_s: float, ready_limit_s: float, poll_s: float, service: str | None = None,
                 port: int | None = None, model: str | None = None):
        super().__init__()
        self.target, self.shape, self.namespace, self.name, self.run_key = target, shape, namespace, name, run_key
        self.capacity_limit_s, self.ready_limit_s, self.poll_s = capacity_limit_s, ready_limit_s, poll_s
        # what serves requests, and the model it must serve (None: a trigger deferred by the previous
        # release, which checked the workload only)
        self.service, self.port, self.model = service, port, model
        # limits are in seconds of this cluster's clock; messages give them in real minutes
        self.time_scale = float((target or {}).get("time_scale") or 1.0)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("recipebench.pipeline.triggers.ReadyTrigger", {
            "target": self.target, "shape": self.shape, "namespace": self.namespace, "name": self.name,
            "run_key": self.run_key, "capacity_limit_s": self.capacity_limit_s, "ready_limit_s": self.ready_limit_s,
            "poll_s": self.poll_s, "service": self.service, "port": self.port, "model": self.model})

    def _check(self, cluster, capacity_waited: float, ready_waited: float):
        from recipebench.cluster.readiness import Assessment, assess, assess_serving, minutes, observe, probe_serving

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
