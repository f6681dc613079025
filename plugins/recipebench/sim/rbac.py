"""The simulated API server's authorizer: Kubernetes RBAC rule matching, for an identity granted what
the project ships (include/rbac/), so a run against it fails where a cluster granting only that would.

Identities (RECIPEBENCH_SIM_SCENARIO, read per request):
  (any other)         cluster-admin: everything is allowed;
  rbac-shipped        exactly the rules of include/rbac/role.yaml (bound in every namespace) and
                      include/rbac/clusterrole.yaml;
  rbac-missing-proxy  the same without services/proxy: readiness cannot reach the server.

Rule matching as kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows): the
apiGroup, the resource (with "/subresource"), the verb and resourceNames each match exactly or by "*".
A denial is a 403 with the API server's message (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
responsewriters/errors.go, ForbiddenStatusError).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import yaml

USER = "system:serviceaccount:recipebench:airflow-worker"  # how the simulated identity is named in denials


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str  # plural[/subresource]
    namespace: str | None
    name: str | None


@cache
def _shipped() -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """(namespaced rules, cluster rules) of the shipped Roles and ClusterRoles."""
    from recipebench.catalog.paths import RBAC

    namespaced: list[dict] = []
    cluster: list[dict] = []
    for doc in [d for f in sorted(RBAC.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]:
        if doc["kind"] == "Role":
            namespaced += doc["rules"]
        elif doc["kind"] == "ClusterRole":
            cluster += doc["rules"]
    return tuple(namespaced), tuple(cluster)


def _matches(rule: dict, req: Request) -> bool:
    def has(values, value) -> bool:
        return "*" in (values or []) or value in (values or [])

    return (has(rule.get("apiGroups"), req.group) and has(rule.get("resources"), req.resource)
            and has(rule.get("verbs"), req.verb)
            and (not rule.get("resourceNames") or (req.name or "") in rule["resourceNames"]))


def allowed(req: Request, scenario: str | None = None) -> bool:
    scenario = os.environ.get("RECIPEBENCH_SIM_SCENARIO", "") if scenario is None else scenario
    if scenario not in ("rbac-shipped", "rbac-missing-proxy"):
        return True
    namespaced, cluster = _shipped()
    if scenario == "rbac-missing-proxy" and req.resource == "services/proxy":
        return False
    # a ClusterRole's rules hold everywhere; a Role's only inside a namespace (it is bound in each)
    return any(_matches(r, req) for r in cluster) or (req.namespace is not None and any(_matches(r, req)
                                                                                        for r in namespaced))


def verb(method: str, name: str | None, query: dict[str, str]) -> str:
    """The RBAC verb of an HTTP request (apiserver request info: GET of a collection is list)."""
    if method == "GET":
        return "watch" if query.get("watch") in ("1", "true") else ("get" if name else "list")
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection"}[method]


def forbidden(req: Request) -> str:
    what = f'{req.resource.split("/")[0]} "{req.name}"' if req.name else req.resource.split("/")[0]
    where = f' in the namespace "{req.namespace}"' if req.namespace else " at the cluster scope"
    return (f'{what} is forbidden: User "{USER}" cannot {req.verb} resource "{req.resource}" in API group '
            f'"{req.group}"{where}')
