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
    now = time.time() if now is None else now
    candidates = cluster.list_labelled(f"{managed_selector()},{EXPIRES_LABEL}")
    deleted = []
    for obj in expired(candidates, now):
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
