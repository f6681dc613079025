"""Dynamo disaggregated serving: a DynamoGraphDeployment (Dynamo 0.7.0) of a frontend and prefill and
decode worker roles, across nodes joined by one ComputeDomain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recipebench.shapes.base import Blocks, WorkloadShape, condition

if TYPE_CHECKING:
    from recipebench.catalog.recipe import TopologySpec

# Grove's PodCliqueSet admission webhook ("pcs.validating.webhooks.grove.io"; ai-dynamo/grove
# operator/internal/webhook/admission/pcs/validation/podcliqueset.go, validatePodNameConstraints,
# maxCombinedResourceNameLength = 45): the PodCliqueSet, PodCliqueScalingGroup and PodClique names of
# a pod together are at most 45 characters, since the pod name adds indices and a random suffix.
GROVE_NAME_LIMIT = 45


def grove_names(dgd_name: str, services: dict[str, int]) -> list[tuple[str, ...]]:
    """The Grove names each pod of a DynamoGraphDeployment (service -> nodes per replica) is named from.

    Dynamo 0.7.0 (ai-dynamo/dynamo deploy/cloud/operator/internal/dynamo/graph.go,
    GenerateGrovePodCliqueSet and expandRolesForService): the PodCliqueSet is named after the DGD; a
    single-node service is one PodClique named after the lower-cased service; a multi-node one is a
    PodCliqueScalingGroup of that name with the cliques `<service>-ldr` and `<service>-wkr`.
    """
    found: list[tuple[str, ...]] = []
    for service, nodes in services.items():
        svc = service.lower()
        found += [(dgd_name, svc, f"{svc}-ldr"), (dgd_name, svc, f"{svc}-wkr")] if nodes > 1 else [(dgd_name, svc)]
    return found


def grove_refusals(dgd_name: str, services: dict[str, int]) -> list[str]:
    """What Grove's webhook says of each name combination over its limit, in its words
    (validatePodNameConstraints); empty: it admits them."""
    refusals = []
    for names in grove_names(dgd_name, services):
        total = sum(map(len, names))
        if total <= GROVE_NAME_LIMIT:
            continue
        parts = (f"PodCliqueSet '{names[0]}', PodCliqueScalingGroup '{names[1]}', or PodClique '{names[2]}'"
                 if len(names) == 3 else f"PodCliqueSet '{names[0]}' or PodClique '{names[1]}'")
        refusals.append(f"combined resource name length {total} exceeds {GROVE_NAME_LIMIT}-character limit required "
                        f"for pod naming. Consider shortening: {parts}")
    return refusals


def graph_services(dgd: dict) -> dict[str, int]:
    """service -> nodes per replica, of a rendered DynamoGraphDeployment."""
    return {name: int((svc.get("multinode") or {}).get("nodeCount", 1))
            for name, svc in ((dgd.get("spec") or {}).get("services") or {}).items()}


class Disaggregated(WorkloadShape):
    name = "disaggregated"
    template = "disaggregated.yaml.j2"
    api_version, kind = "nvidia.com/v1alpha1", "DynamoGraphDeployment"
    charts = ("dynamo-crds", "dynamo-platform")
    needs_compute_domain = True

    def check(self, topology: TopologySpec) -> None:
        if topology.prefill is None or topology.decode is None:
            raise ValueError("a disaggregated topology needs both prefill and decode")

    def total_nodes(self, topology: TopologySpec) -> int:
        return sum(r.replicas * r.nodes for r in (topology.prefill, topology.decode) if r)

    def services(self, topology: TopologySpec) -> dict[str, int]:
        """The graph's services (the template's keys) -> nodes per replica."""
        return {"Frontend": 1, "Prefill": topology.prefill.nodes if topology.prefill else 1,
                "Decode": topology.decode.nodes if topology.decode else 1}

    def name_budget(self, topology: TopologySpec) -> int:
        # what Grove leaves for the PodCliqueSet (= DGD) name beside the longest service's names
        return GROVE_NAME_LIMIT - max(sum(map(len, names)) for names in grove_names("", self.services(topology)))

    def admission_errors(self, obj: dict) -> list[str]:
        return grove_refusals(obj["metadata"]["name"], graph_services(obj))

    def ready(self, workload: dict | None) -> bool:
        # the operator's aggregate state (deploy/cloud/operator: DynamoGraphDeploymentStatus.State)
        status = (workload or {}).get("status") or {}
        return bool(workload) and (status.get("state") == "successful" or bool(condition(status, "Ready")))

    def failed(self, workload: dict | None) -> dict | None:
        # The operator's Reconcile records any error as state "failed" with Ready False and the error
        # as its message (dynamographdeployment_controller.go, Reconcile's deferred status update) and
        # retries; only an admission webhook's refusal ("... denied the request: ...") is for good.
        status: dict[str, Any] = (workload or {}).get("status") or {}
        conditions: list[dict] = status.get("conditions") or []
        for c in conditions:
            if (status.get("state") == "failed" and c.get("type") == "Ready" and str(c.get("status")) == "False"
                    and "denied the request" in str(c.get("message") or "")):
                return c
        return None

    def endpoint(self, name: str, port: int) -> tuple[str, int]:
        # the operator names the frontend's Service <dgd>-frontend
        return f"{name}-frontend", port

    def manifest_values(self, run: Any, blocks: Blocks) -> dict[str, Any]:
        return blocks.graph(run)
