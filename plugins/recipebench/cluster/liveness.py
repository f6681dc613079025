"""Is the run that owns these objects still alive? A heartbeat per run, read by the janitor.

Every run keeps a coordination.k8s.io/v1 Lease of its own (`<run>-alive`, in the recipe's
namespace, with the run's labels) and renews it whenever it touches the cluster: every stage body
that opens the cluster, every poll of its triggers. Teardown deletes it last, with the run's other
objects. So the janitor can tell, within minutes and without asking Airflow:

- an object of a run whose Lease is gone belongs to a run that ended: an apply still in flight when
  teardown ran (its task killed mid-call) lands after teardown and would otherwise hold its GPUs until
  its expiry label, hours later;
- a run whose Lease was not renewed for its duration (RECIPEBENCH_STALL_MINUTES, 60 by default) has
  stopped: its DAG was paused (Airflow then queues none of its tasks, so nothing renews), or its worker
  and triggerer are gone. Its workload is freed.

Only objects labelled recipebench.dev/liveness=lease are judged (those of runs that renew a Lease), so
the objects of a run started by an older release are left to their expiry.
A kept-alive server's Lease is given the rest of its keep-alive time at teardown.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass
from typing import Any

from recipebench.catalog.naming import LIVENESS_LABEL, RUN_LABEL

STALL_MINUTES = 60.0
GRACE_S = 120.0  # real seconds: an object younger than this is never judged (clocks, an apply racing its Lease)


def stall_seconds() -> float:
    return float(os.environ.get("RECIPEBENCH_STALL_MINUTES") or STALL_MINUTES) * 60


@dataclass(frozen=True)
class Heartbeat:
    """Which Lease a run renews; plain data for XCom and trigger kwargs."""

    name: str
    namespace: str
    labels: dict
    duration_s: float  # on the cluster's clock

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Heartbeat | None:
        return cls(**data) if data else None


def heartbeat_for(run: Any, time_scale: float) -> Heartbeat:
    return Heartbeat(run.child_name("alive"), run.recipe.cluster.namespace, dict(run.labels),
                     max(stall_seconds() / time_scale, 1.0))


def _stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(beat: Heartbeat, now: float, duration_s: float | None = None) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": beat.name, "namespace": beat.namespace, "labels": beat.labels},
            "spec": {"holderIdentity": beat.labels.get(RUN_LABEL), "renewTime": _stamp(now),
                     "leaseDurationSeconds": max(int(round(duration_s or beat.duration_s)), 1)}}


def renew(cluster: Any, beat: Heartbeat | None, now: float, duration_s: float | None = None) -> None:
    """The run is alive now (and, with duration_s, for that long without renewals)."""
    if beat is None:
        return
    from kubernetes.client.exceptions import ApiException

    try:
        cluster.apply([lease(beat, now, duration_s)])
    except ApiException as exc:
        if exc.status != 404:  # the namespace does not exist yet: made, then the Lease
            raise
        cluster.ensure_namespace(beat.namespace)
        cluster.apply([lease(beat, now, duration_s)])


def _time(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def stopped_runs(objects: list[dict], leases: list[dict], now: float, grace_s: float) -> dict[str, str]:
    """run key -> why it has stopped, for the runs of these objects (pure). `leases`: the runs'
    heartbeat Leases. A run is stopped when its Lease is gone (it ended, as its teardown deletes it)
    or has not been renewed within its duration (paused, or its workers are gone)."""
    beats = {(lz["metadata"].get("labels") or {}).get(RUN_LABEL): lz for lz in leases}
    stopped: dict[str, str] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        key = labels.get(RUN_LABEL)
        if not key or labels.get(LIVENESS_LABEL) != "lease" or meta.get("ownerReferences") or key in stopped:
            continue
        created = _time(meta.get("creationTimestamp"))
        if created is not None and now - created < grace_s:
            continue
        beat = beats.get(key)
        if beat is None:
            stopped[key] = "its run has ended (its heartbeat Lease is gone): an apply that outlived the run's teardown"
            continue
        renewed = _time((beat.get("spec") or {}).get("renewTime"))
        duration = float((beat.get("spec") or {}).get("leaseDurationSeconds") or 0)
        if renewed is None or now - renewed > duration:
            idle = (now - renewed) / 60 if renewed is not None else float("nan")
            stopped[key] = (f"its run has not renewed its heartbeat for {idle:.0f} min (more than {duration / 60:.0f} "
                            "min): its DAG is paused, or its worker and triggerer are gone")
    return stopped
