"""Dynamo disaggregated serving: a DynamoGraphDeployment (Dynamo 0.7.0) of a frontend and prefill and
decode worker roles, across nodes joined by one ComputeDomain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recipebench.shapes.base import Blocks, WorkloadShape, condition

if TYPE_CHECKING:
    from recipebench.catalog.recipe import TopologySpec


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

    def ready(self, workload: dict | None) -> bool:
        # the operator's aggregate state (deploy/cloud/operator: DynamoGraphDeploymentStatus.State)
        status = (workload or {}).get("status") or {}
        return bool(workload) and (status.get("state") == "successful" or bool(condition(status, "Ready")))

    def endpoint(self, name: str, port: int) -> tuple[str, int]:
        # the operator names the frontend's Service <dgd>-frontend
        return f"{name}-frontend", port

    def manifest_values(self, run: Any, blocks: Blocks) -> dict[str, Any]:
        return blocks.graph(run)
