"""The janitor: deletes what recipebench created and whose expiry label has passed.

Only objects labelled app.kubernetes.io/managed-by=recipebench with a recipebench.dev/expires
label are ever considered, so an unlabelled object is never touched; a killed worker or a
kept-alive server is cleaned up once its expiry passes.
"""

from __future__ import annotations

import time

from recipebench.catalog.naming import EXPIRES_LABEL
from recipebench.cluster.api import Cluster, managed_selector, oid


def expired(objects: list[dict], now: float) -> list[dict]:
    """The objects whose expiry has passed (pure). Pods owned by a controller go with it."""
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        value = (meta.get("labels") or {}).get(EXPIRES_LABEL)
        if value is None or not value.isdigit() or meta.get("ownerReferences"):
            continue
        if int(value) < now:
            out.append(obj)
    return out


def sweep(cluster: Cluster, log, now: float | None = None) -> list[str]:
    """Delete the objects of runs that have stopped (cluster.liveness: ended, paused or gone), then
    every object whose expiry has passed."""
    now = time.time() if now is None else now
    candidates = cluster.list_labelled(f"{managed_selector()},{EXPIRES_LABEL}")
    deleted = free_stopped_runs(cluster, candidates, log, now)
    for obj in expired([o for o in candidates if oid(o) not in deleted], now):
        if cluster.delete(obj):
            age = now - int(obj["metadata"]["labels"][EXPIRES_LABEL])
            log.info("janitor: deleted %s on %s (expired %.0f s ago, run %s)", oid(obj), cluster.target.label, age,
                     obj["metadata"]["labels"].get("recipebench.dev/run", "?"))
            deleted.append(oid(obj))
    log.info("janitor: %s: %d object(s) labelled, %d expired and deleted", cluster.target.label, len(candidates),
             len(deleted))
    return deleted


def sweep_all(log) -> dict[str, list[str]]:
    from recipebench.cluster.access import ClusterError, janitor_targets

    results, errors = {}, []
    for target in janitor_targets():
        try:
            results[target.label] = sweep(Cluster(target), log)
        except ClusterError as exc:  # one unreachable cluster must not stop the others
            log.error("janitor: %s", exc)
            errors.append(str(exc))
    if errors and not results:
        raise ClusterError("; ".join(errors))
    return results


def free_stopped_runs(cluster: Cluster, objects: list[dict], log, now: float) -> list[str]:
    """Every object of each run whose heartbeat says it stopped, deleted; what was deleted."""
    from recipebench.catalog.naming import LIVENESS_LABEL, run_selector
    from recipebench.cluster.liveness import GRACE_S, stopped_runs

    leases = cluster.list("coordination.k8s.io/v1", "Lease", label_selector=f"{managed_selector()},{LIVENESS_LABEL}")
    deleted: list[str] = []
    for key, why in stopped_runs(objects, leases, now, cluster.target.seconds(GRACE_S)).items():
        gone = cluster.delete_labelled(run_selector(key), log=log, failed={})
        log.warning("janitor: run %s on %s: %s; deleted %d object(s): %s", key, cluster.target.label, why, len(gone),
                    ", ".join(gone[:6]))
        deleted += gone
    return deleted
