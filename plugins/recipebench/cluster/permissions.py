"""What recipebench must be allowed to do on a cluster, as the operator grants it (include/rbac/), and
the check of it before a run holds any GPU: one SelfSubjectAccessReview per permission.

Pure: the permissions of a run or a platform install are data; `missing` asks the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from recipebench.errors import RecipebenchError

if TYPE_CHECKING:
    from recipebench.catalog.params import RunConfig

ROLE, CLUSTER_ROLE = "include/rbac/role.yaml", "include/rbac/clusterrole.yaml"
WRITE = ("get", "list", "create", "patch", "delete")  # what server-side apply, watch and teardown use


class PermissionMissing(RecipebenchError):
    """The identity recipebench runs as lacks a permission the run needs; names it and what grants it."""


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str  # plural, with its subresource: "services/proxy"
    group: str = ""
    namespace: str | None = None  # None: cluster-scoped (or across all namespaces)
    grant: str = ROLE
    name: str = ""  # a resourceNames rule (bind on one ClusterRole)

    def __str__(self) -> str:
        where = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {self.resource}{named} {where}"

    def attributes(self) -> dict[str, str]:
        """The resourceAttributes of its SelfSubjectAccessReview."""
        resource, _, sub = self.resource.partition("/")
        attrs = {"verb": self.verb, "group": self.group, "resource": resource}
        attrs |= {"subresource": sub} if sub else {}
        attrs |= {"namespace": self.namespace} if self.namespace else {}
        attrs |= {"name": self.name} if self.name else {}
        return attrs


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _plural(kind: str) -> str:
    """The resource of a kind the run makes (each a regular English plural: Lease -> leases)."""
    return kind.lower() + "s"


def _each(verbs, resource: str, group: str = "", namespace: str | None = None, grant: str = ROLE):
    return [Permission(v, resource, group, namespace, grant) for v in verbs]


def run_permissions(run: RunConfig) -> list[Permission]:
    """Every call a run makes, as (verb, resource, namespace): its namespace's objects, the locks' namespace,
    and the cluster-scoped reads of the prerequisite checks."""
    from recipebench.cluster.api import KINDS
    from recipebench.cluster.capacity import LOCK_NAMESPACE

    recipe = run.recipe
    ns, shape = recipe.cluster.namespace, recipe.topology.kind
    found = [
        *_each(WRITE, _plural(shape.kind), _group(shape.api_version), ns),
        # teardown finds the run's objects by label in every namespace
        *[Permission("list", _plural(kind), _group(v), None, CLUSTER_ROLE) for v, kind in KINDS],
        *_each(WRITE, "jobs", "batch", ns),
        *_each(WRITE, "secrets", "", ns), *_each(WRITE, "configmaps", "", ns),
        *_each(("get", "list", "delete"), "pods", "", ns),
        Permission("get", "pods/log", "", ns), Permission("list", "events", "", ns),
        *_each(("get", "create", "update", "delete"), "leases", "coordination.k8s.io", ns),
        *_each(("get", "create", "update"), "leases", "coordination.k8s.io", LOCK_NAMESPACE),
        *_each(("get", "create", "patch"), "namespaces", "", None, CLUSTER_ROLE),
        Permission("get", "customresourcedefinitions", "apiextensions.k8s.io", None, CLUSTER_ROLE),
    ]
    if shape.serves:  # readiness through the API server's service proxy
        found += [*_each(("get", "delete"), "services", "", ns), *_each(("get", "create"), "services/proxy", "", ns)]
    if shape.needs_compute_domain:
        found += _each(WRITE, "computedomains", "resource.nvidia.com", ns)
    if recipe.cluster.queue:
        found.append(Permission("get", "localqueues", "kueue.x-k8s.io", ns))
    if recipe.cluster.bucket:
        found.append(Permission("get", "csidrivers", "storage.k8s.io", None, CLUSTER_ROLE))
    if shape.charts:  # a controller installed without helm is found by its Deployment, in any namespace
        found.append(Permission("list", "deployments", "apps", None, CLUSTER_ROLE))
    return list(dict.fromkeys(found))


def install_permissions(namespace: str) -> list[Permission]:
    """What installing a chart with the helm-runner Job takes (cluster.platform.install)."""
    g = CLUSTER_ROLE
    return [*_each(("get", "list", "create", "patch"), "secrets", "", namespace, g),
            *_each(("get", "create", "patch"), "serviceaccounts", "", namespace, g),
            *_each(("get", "create", "patch", "delete"), "jobs", "batch", namespace, g),
            *_each(("get", "list"), "pods", "", namespace, g), Permission("get", "pods/log", "", namespace, g),
            *_each(("get", "create", "patch"), "clusterrolebindings", "rbac.authorization.k8s.io", None, g),
            Permission("bind", "clusterroles", "rbac.authorization.k8s.io", None, g, name="cluster-admin")]


def message(missing: list[Permission]) -> str:
    """`recipebench cannot get services/proxy in namespace default: grant include/rbac/role.yaml`, per grant."""
    by_grant: dict[str, list[str]] = {}
    for p in missing:
        by_grant.setdefault(p.grant, []).append(str(p))
    return "; ".join(f"recipebench cannot {', '.join(what)}: grant {grant}"
                     + (" in that namespace" if grant == ROLE else "") for grant, what in by_grant.items())


def check(cluster, permissions: list[Permission]) -> None:
    """PermissionMissing naming every permission the cluster denies (one review each)."""
    missing = [p for p in permissions if not cluster.allowed(p.attributes())]
    if missing:
        raise PermissionMissing(message(missing))
