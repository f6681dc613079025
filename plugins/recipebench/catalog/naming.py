"""Names and labels of everything a run creates: DNS-1123 safe, derived from recipe and run."""

from __future__ import annotations

import hashlib
import re

LABEL_PREFIX = "recipebench.dev"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "recipebench"
RECIPE_LABEL = f"{LABEL_PREFIX}/recipe"
RUN_LABEL = f"{LABEL_PREFIX}/run"
OWNER_LABEL = f"{LABEL_PREFIX}/owner"
EXPIRES_LABEL = f"{LABEL_PREFIX}/expires"  # unix seconds: when the janitor may delete it
# "lease": the run renews a heartbeat Lease (cluster.liveness), so the janitor may judge its objects by it
LIVENESS_LABEL = f"{LABEL_PREFIX}/liveness"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def run_key(dag_id: str, airflow_run_id: str) -> str:
    """A short stable id for one DAG run: the same on every retry of its tasks."""
    return "r" + hashlib.sha256(f"{dag_id}/{airflow_run_id}".encode()).hexdigest()[:9]


def is_dns_label(name: str) -> bool:
    return bool(_DNS_LABEL.match(name))


def object_name(recipe_id: str, key: str, suffix: str = "", budget: int = 63) -> str:
    """`<recipe>-<run>[-suffix]`, shortening the recipe part so the whole fits `budget`.

    `budget` is below 63 where a controller appends its own suffix (LeaderWorkerSet pods,
    Dynamo services, Job pods).
    """
    tail = f"-{key}" + (f"-{suffix}" if suffix else "")
    room = budget - len(tail)
    if room < 1:
        raise ValueError(f"suffix {suffix!r} leaves no room for a name within {budget} characters")
    head = recipe_id
    if len(head) > room:  # cut at a word boundary: a fragment ("...-1p1") would name another recipe
        head = recipe_id[:room + 1].rsplit("-", 1)[0] if "-" in recipe_id[:room + 1] else recipe_id[:room]
    head = head.rstrip("-")
    name = f"{head}{tail}"
    if not is_dns_label(name):
        raise ValueError(f"{name!r} is not a valid DNS-1123 label")
    return name


def label_value(text: str) -> str:
    """Coerce free text (an owner, say) into a valid label value."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("-_.")
    assert _LABEL_VALUE.match(value), value
    return value


def run_labels(recipe_id: str, key: str, owner: str, expires_at: int) -> dict[str, str]:
    return {
        MANAGED_BY: MANAGER,
        RECIPE_LABEL: label_value(recipe_id),
        RUN_LABEL: key,
        OWNER_LABEL: label_value(owner),
        EXPIRES_LABEL: str(int(expires_at)),
        LIVENESS_LABEL: "lease",
    }


def run_selector(key: str) -> str:
    return f"{MANAGED_BY}={MANAGER},{RUN_LABEL}={key}"
