"""The triggers: they run in the triggerer while a task is deferred (no worker slot held).

They live in plugins/ (on every component's sys.path, the triggerer's included) and poll the
cluster through the same sync client code as the workers, in a thread (every API call has its own
timeouts, cluster.access.call_timeouts), so the triggerer's event loop never waits on a call.
One polling loop (PollingTrigger.run) serves all three; each says what one look decides.

Each trigger's start time travels in its own serialized arguments, as the cncf.kubernetes
provider's KubernetesPodTrigger carries `trigger_start_time`: the triggerer rebuilds a trigger from
them after a restart (airflow/jobs/triggerer_job_runner.py), so its limits still count from the
first deferral instead of starting over. Each poll of a run's trigger also renews the run's GPU
Lease (cluster.capacity), if it holds one, and its heartbeat (cluster.liveness).

- CapacityTrigger (reserve_gpus): until the run holds its node pool's Lease, in the order runs asked.
- ReadyTrigger (wait_ready): ready takes two steps: the workload reports ready
  (cluster.readiness.assess), then the server serves the model (cluster.readiness.assess_serving:
  /v1/models lists it and one completion succeeds). The ready limit counts from when the pods were
  placed (their PodScheduled condition, read from the cluster, so it survives a restart); waiting
  for capacity has its own limit, from the first deferral.
- JobTrigger (each benchmark point): until the point's client Job is done, failed or stuck.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from recipebench.catalog.vocabulary import State


class PollingTrigger(BaseTrigger):
    """check(cluster) every poll_s in a thread until it returns a final payload; its reason is logged
    whenever it changes. The arguments in FIELDS (with started_at) are what serialize() returns."""

    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, target: dict, poll_s: float, started_at: float | None = None, heartbeat: dict | None = None):
        super().__init__()
        self.target, self.poll_s = target, poll_s
        self.heartbeat = heartbeat  # the run's heartbeat Lease, renewed at every poll (None: an older release)
        self.started_at = started_at if started_at is not None else time.time()  # wall clock: survives restarts
        # limits are in seconds of this cluster's clock; messages give them in real minutes
        self.time_scale = float((target or {}).get("time_scale") or 1.0)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        names = ("target", "poll_s", "started_at", "heartbeat", *self.FIELDS)
        return (f"{type(self).__module__}.{type(self).__name__}", {n: getattr(self, n) for n in names})

    def elapsed(self) -> float:
        return time.time() - self.started_at

    def renew(self, cluster, lock: dict | None) -> None:
        """The run is alive (its heartbeat) and keeps its node pool (its Lease, if it holds one); LockLost
        when another run took the pool."""
        from recipebench.cluster import capacity, liveness

        now = time.time()
        liveness.renew(cluster, liveness.Heartbeat.from_dict(self.heartbeat), now)
        capacity.renew(cluster, capacity.LockSpec.from_dict(lock), now)

    def check(self, cluster) -> tuple[bool, dict]:
        """One look: (final?, payload with state and reason). Runs in a thread."""
        raise NotImplementedError

    failure_state = "error"

    async def run(self):
        from recipebench.cluster.access import Target
        from recipebench.cluster.api import Cluster
        from recipebench.errors import reason

        cluster, last = None, None
        while True:
            try:
                if cluster is None:
                    cluster = await asyncio.to_thread(Cluster, Target.from_dict(self.target))
                final, payload = await asyncio.to_thread(self.check, cluster)
            except Exception as exc:  # an unreachable API server ends the wait (its calls were retried first)
                yield TriggerEvent({"state": str(self.failure_state), "evidence": [], "at": time.time(),
                                    "reason": f"cluster error while waiting: {reason(exc)}"})
                return
            if final:  # `at`: when it was seen, for the GPU idle time after it; the task logs the verdict once
                yield TriggerEvent({**payload, "at": time.time()})
                return
            if payload.get("reason") != last:  # what it is waiting for, as it changes
                self.log.info("%s: %s", payload.get("state"), payload.get("reason"))
                last = payload.get("reason")
            await asyncio.sleep(self.poll_s)


class ReadyTrigger(PollingTrigger):
    FIELDS = ("shape", "namespace", "name", "run_key", "capacity_limit_s", "ready_limit_s", "service", "port",
              "model", "lock")
    failure_state = State.FAILED

    def __init__(self, target: dict, shape: str, namespace: str, name: str, run_key: str,
                 capacity_limit_s: float, ready_limit_s: float, poll_s: float, service: str | None = None,
                 port: int | None = None, model: str | None = None, lock: dict | None = None,
                 started_at: float | None = None, heartbeat: dict | None = None):
        super().__init__(target, poll_s, started_at, heartbeat)
        self.shape, self.namespace, self.name, self.run_key = shape, namespace, name, run_key
        self.capacity_limit_s, self.ready_limit_s = capacity_limit_s, ready_limit_s
        # what serves requests, and the model it must serve (None: a trigger deferred by an older
        # release, which checked the workload only)
        self.service, self.port, self.model = service, port, model
        self.lock = lock  # the run's GPU Lease, renewed at every poll (None: no lock, or an older release)
        self.placed_at: float | None = None  # when all pods were first seen placed

    def check(self, cluster) -> tuple[bool, dict]:
        from recipebench.cluster.capacity import LockLost
        from recipebench.cluster.readiness import (
            Assessment,
            assess,
            assess_serving,
            minutes,
            observe,
            placed_at,
            probe_serving,
        )

        now = time.time()
        try:
            self.renew(cluster, self.lock)
        except LockLost as exc:
            return True, _payload(Assessment(State.FAILED, str(exc)))
        ready_waited = now - self.placed_at if self.placed_at else 0.0
        late = ready_waited > self.ready_limit_s
        obs = observe(cluster, self.shape, self.namespace, self.name, self.run_key, with_server_log=late)
        self.placed_at = self.placed_at or placed_at(obs.get("pods") or [])
        capacity_waited = (self.placed_at or now) - self.started_at
        ready_waited = now - self.placed_at if self.placed_at else 0.0
        result = assess(obs, capacity_waited, ready_waited, self.capacity_limit_s, self.ready_limit_s,
                        self.time_scale)
        if result.state == State.READY and self.service and self.model:
            serving = assess_serving(probe_serving(cluster, self.namespace, self.service, self.port or 0, self.model),
                                     self.model)
            if serving.state == State.READY:
                result = serving
            elif late:
                result = Assessment(State.FAILED, f"not serving after {minutes(self.ready_limit_s, self.time_scale)}: "
                                              f"{obs['kind']} {self.name} reports ready, but {serving.reason}",
                                    serving.evidence)
            else:
                result = Assessment(State.STARTING, f"{obs['kind']} {self.name} reports ready; {serving.reason}")
        return result.state in (State.READY, State.FAILED), _payload(result)


class CapacityTrigger(PollingTrigger):
    """Until this run holds its node pool's Lease (cluster.capacity.take_step), or limit_s passes."""

    FIELDS = ("lock", "limit_s")

    def __init__(self, target: dict, lock: dict, limit_s: float, poll_s: float, started_at: float | None = None,
                 heartbeat: dict | None = None):
        super().__init__(target, poll_s, started_at, heartbeat)
        self.lock, self.limit_s = lock, limit_s

    def check(self, cluster) -> tuple[bool, dict]:
        from recipebench.cluster.capacity import LockSpec, take_step
        from recipebench.cluster.readiness import minutes

        self.renew(cluster, None)  # the heartbeat only: the pool is what this run waits for
        spec = LockSpec.from_dict(self.lock)
        assert spec is not None, "a CapacityTrigger waits for a Lease"
        result = take_step(cluster, spec, time.time())
        if result.acquired:
            return True, {"state": str(State.ACQUIRED), "reason": result.status}
        if self.elapsed() > self.limit_s:
            # leave the queue, so the runs behind this one are not held up by it
            take_step(cluster, spec, time.time(), want=False)
            return True, {"state": str(State.FAILED), "reason": f"no GPUs after {minutes(self.limit_s, self.time_scale)} "
                                                       f"(timeouts.lock_minutes): {result.status}"}
        return False, {"state": str(State.WAITING), "reason": result.status}


class JobTrigger(PollingTrigger):
    """Until a benchmark point's client Job is done, failed or stuck (cluster.readiness.assess_job),
    or timeout_s passes; renews the run's Lease at every poll."""

    FIELDS = ("namespace", "name", "timeout_s", "lock")

    def __init__(self, target: dict, namespace: str, name: str, timeout_s: float, poll_s: float,
                 lock: dict | None = None, started_at: float | None = None, heartbeat: dict | None = None):
        super().__init__(target, poll_s, started_at, heartbeat)
        self.namespace, self.name, self.timeout_s, self.lock = namespace, name, timeout_s, lock

    def check(self, cluster) -> tuple[bool, dict]:
        from recipebench.cluster.capacity import LockLost
        from recipebench.cluster.readiness import assess_job, minutes, observe_job

        try:
            self.renew(cluster, self.lock)
        except LockLost as exc:
            return True, {"state": str(State.ABORTED), "reason": str(exc), "evidence": []}
        outcome = assess_job(*observe_job(cluster, self.namespace, self.name))
        if outcome.state == State.RUNNING and self.elapsed() > self.timeout_s:
            return True, {"state": str(State.ABORTED), "reason": f"Job {self.namespace}/{self.name} did not finish within "
                                                       f"{minutes(self.timeout_s, self.time_scale)}", "evidence": []}
        return outcome.state != State.RUNNING, _payload(outcome)


def _payload(assessment) -> dict:
    """A trigger event's payload: plain JSON (the enum member as its string)."""
    return {"state": str(assessment.state), "reason": assessment.reason, "evidence": assessment.evidence}
