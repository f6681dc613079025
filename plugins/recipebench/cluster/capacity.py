"""GPU capacity shared between runs, across recipes and DAGs: one run at a time on a node pool.

Kueue admits the pods of recipes that name a LocalQueue; when every recipe on a node pool does,
Kueue is the arbiter and no lock is taken. Otherwise (Dynamo through Grove, LeaderWorkerSets, or a
pool shared by both kinds) a run holds a coordination.k8s.io/v1 Lease named after the node pool
from before it deploys until its teardown. The holder renews it whenever the run touches the
cluster (every poll of its triggers), so a killed run's Lease expires after LEASE_SECONDS and the
next run proceeds. Waiting runs queue on the Lease itself (an annotation), so the GPUs go to runs
in the order they asked; a waiter that stops asking drops out of the queue after the same time.

`step` is the whole decision, a pure function of the Lease's state; the rest reads and writes the
Lease with its resourceVersion (a concurrent writer makes the update fail with a Conflict; the
step is then taken again on the fresh state).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

from recipebench.catalog.naming import MANAGED_BY, MANAGER
from recipebench.errors import RecipebenchError

LOCK_NAMESPACE = "recipebench"  # one namespace for every recipe's locks on a cluster
LEASE_SECONDS = 600  # real seconds without a renewal after which a holder or a waiter is gone
WAITING = "recipebench.dev/waiting"
HOLDER_RECIPE = "recipebench.dev/holder-recipe"


@dataclass(frozen=True)
class LockSpec:
    """Which Lease a run takes and as whom; plain data for XCom and trigger kwargs."""

    name: str  # the Lease: one per node pool
    pool: str  # for people: accelerator profile and cluster
    holder: str  # the run key
    recipe: str
    duration_s: float  # LEASE_SECONDS on the cluster's clock
    namespace: str = LOCK_NAMESPACE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> LockSpec | None:
        return cls(**data) if data else None


def _same_pool(a, b) -> bool:
    return (a.accelerator, a.cluster.name, a.cluster.location, a.cluster.project) == (
        b.accelerator, b.cluster.name, b.cluster.location, b.cluster.project)


def needs_lock(recipe, catalog: dict) -> bool:
    """Whether the run must take its pool's Lease: unless Kueue admits every recipe on the pool (a
    pod outside Kueue would take GPUs Kueue thinks are free)."""
    pool = [r for r in catalog.values() if _same_pool(r, recipe)] or [recipe]
    return not (recipe.cluster.queue and all(r.cluster.queue for r in pool))


def lock_spec(recipe, run_key: str, time_scale: float) -> LockSpec:
    where = recipe.cluster.name or "the configured cluster"
    return LockSpec(name=f"gpu-pool-{recipe.accelerator}", pool=f"{recipe.accelerator} node pool of {where}",
                    holder=run_key, recipe=recipe.id, duration_s=max(LEASE_SECONDS / time_scale, 1.0))


# ---- the decision ---------------------------------------------------------------------------------

def _time(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def micro_time(ts: float) -> str:
    """metav1.MicroTime as the API server writes it."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Step:
    lease: dict  # the Lease as it should be after this step
    changed: bool  # whether it must be written
    acquired: bool
    status: str  # one line for the log: who holds it, how many wait before this run


def step(lease: dict, spec: LockSpec, now: float, want: bool = True) -> Step:
    """One look at the Lease by `spec.holder`: renew it if held, take it if it is free (or its
    holder's time ran out) and this run is first in the queue, else queue up. want=False releases
    it and leaves the queue."""
    lease = json.loads(json.dumps(lease))  # a copy to change
    meta, lspec = lease.setdefault("metadata", {}), lease.setdefault("spec", {})
    notes = meta.setdefault("annotations", {})
    before = json.dumps(lease, sort_keys=True)
    holder = lspec.get("holderIdentity") or None
    renewed = _time(lspec.get("renewTime"))
    duration = float(lspec.get("leaseDurationSeconds") or spec.duration_s)
    alive = holder is not None and renewed is not None and now - renewed <= duration
    queue = [w for w in json.loads(notes.get(WAITING) or "[]")
             if now - w.get("seen", 0) <= spec.duration_s and w.get("run") not in (holder if alive else None,)]
    mine = next((w for w in queue if w["run"] == spec.holder), None)

    def write(acquired: bool, status: str) -> Step:
        notes[WAITING] = json.dumps(queue, sort_keys=True)
        after = json.dumps(lease, sort_keys=True)
        return Step(lease, after != before, acquired, status)

    if not want:
        queue = [w for w in queue if w["run"] != spec.holder]
        if holder == spec.holder:
            lspec.update(holderIdentity=None, renewTime=None)
            notes.pop(HOLDER_RECIPE, None)
        return write(False, f"released the GPUs of the {spec.pool}")
    if alive and holder == spec.holder:
        lspec.update(renewTime=micro_time(now), leaseDurationSeconds=int(round(spec.duration_s)))
        return write(True, f"holding the GPUs of the {spec.pool}")
    if not alive and (not queue or queue[0]["run"] == spec.holder):  # free, and no run asked before this one
        queue = [w for w in queue if w["run"] != spec.holder]
        lspec.update(holderIdentity=spec.holder, acquireTime=micro_time(now), renewTime=micro_time(now),
                     leaseDurationSeconds=int(round(spec.duration_s)),
                     leaseTransitions=int(lspec.get("leaseTransitions") or 0) + (1 if holder else 0))
        notes[HOLDER_RECIPE] = spec.recipe
        expired = f" (run {holder} stopped renewing it)" if holder and holder != spec.holder else ""
        return write(True, f"took the GPUs of the {spec.pool}{expired}")
    if mine is None:
        mine = {"run": spec.holder, "recipe": spec.recipe, "since": now, "seen": now}
        queue.append(mine)
    elif now - mine["seen"] > spec.duration_s / 4:  # stay in the queue without writing on every poll
        mine["seen"] = now
    ahead = queue[:queue.index(mine)]
    if alive:
        since = micro_time(_time(lspec.get("acquireTime")) or renewed or now)[:19].replace("T", " ")
        status = (f"waiting for the GPUs of the {spec.pool}: held by run {holder} "
                  f"({notes.get(HOLDER_RECIPE, '?')}) since {since} UTC")
    else:
        status = f"waiting for the GPUs of the {spec.pool}: free, but other runs asked first"
    if ahead:
        status += f"; {len(ahead)} run(s) ahead of this one ({', '.join(w['recipe'] for w in ahead[:3])})"
    return write(False, status)


# ---- reading and writing the Lease ---------------------------------------------------------------

def _empty(spec: LockSpec) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": {MANAGED_BY: MANAGER},
                         "annotations": {}}, "spec": {}}


def take_step(cluster, spec: LockSpec, now: float, want: bool = True, tries: int = 5) -> Step:
    """`step` against the cluster's Lease, written with its resourceVersion; a Conflict (someone
    wrote between our read and our write) means reading again."""
    from kubernetes.client.exceptions import ApiException

    for _ in range(tries):
        current = cluster.get("coordination.k8s.io/v1", "Lease", spec.namespace, spec.name)
        result = step(current or _empty(spec), spec, now, want)
        if not result.changed:
            return result
        try:
            if current is None:
                cluster.ensure_namespace(spec.namespace)
                cluster.create(result.lease)
            else:
                cluster.replace(result.lease)
            return result
        except ApiException as exc:
            if exc.status not in (409,):  # 409: changed (replace) or created (create) by another run meanwhile
                raise
    raise RuntimeError(f"the Lease {spec.namespace}/{spec.name} kept changing under {tries} tries")


class CapacityUnavailable(RecipebenchError):
    """The node pool was not given to this run within its limit; says who held it."""


class LockLost(RecipebenchError):
    """The run's Lease expired and another run took the node pool."""


def renew(cluster, spec: LockSpec | None, now: float) -> None:
    """Keep holding the pool (every poll of a run's triggers and its tasks); LockLost if another run
    took it after this run's time ran out."""
    if spec is None:
        return
    result = take_step(cluster, spec, now)
    if not result.acquired:
        raise LockLost(f"this run lost the GPUs of the {spec.pool} (no renewal for over "
                       f"{spec.duration_s:.0f} s of the cluster's clock): {result.status}")


def release(cluster, spec: LockSpec | None, now: float, until: float | None = None) -> str:
    """Give the pool back; with `until` (a kept-alive server) hold it until then without renewals."""
    if spec is None:
        return "no lock held"
    if until is not None:
        kept = LockSpec(**{**spec.to_dict(), "duration_s": max(until - now, spec.duration_s)})
        return take_step(cluster, kept, now).status + f" until {micro_time(until)[:19]} (kept alive)"
    return take_step(cluster, spec, now, want=False).status
