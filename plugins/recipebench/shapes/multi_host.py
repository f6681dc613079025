"""One server spread over several nodes: a LeaderWorkerSet (LWS 0.9.0) of a leader and workers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recipebench.shapes.base import Blocks, WorkloadShape, condition

if TYPE_CHECKING:
    from recipebench.catalog.recipe import TopologySpec

# LeaderWorkerSet adds these to every container of a group (kubernetes-sigs/lws
# api/leaderworkerset/v1/leaderworkerset_types.go: LwsLeaderAddress, LwsGroupSize, LwsWorkerIndex, the
# leader's index being 0); Kubernetes expands $(VAR) in args
SGLANG_PEERS = ["--dist-init-addr", "$(LWS_LEADER_ADDRESS):6002", "--nnodes", "$(LWS_GROUP_SIZE)",
                "--node-rank", "$(LWS_WORKER_INDEX)"]


class MultiHost(WorkloadShape):
    name = "multi-host"
    template = "multi-host.yaml.j2"
    api_version, kind = "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"
    server_component = "leader"
    charts = ("lws",)

    def check(self, topology: TopologySpec) -> None:
        if topology.prefill is not None or topology.decode is not None:
            raise ValueError(f"prefill/decode only apply to the disaggregated shape, not {self.name}")
        if topology.nodes < 2:
            raise ValueError("a multi-host topology needs nodes >= 2")

    def server_nodes(self, topology: TopologySpec) -> int:
        return topology.nodes

    def ready(self, workload: dict | None) -> bool:
        status = (workload or {}).get("status") or {}
        return bool(workload) and (bool(condition(status, "Available")) or (status.get("readyReplicas") or 0) >= 1)

    def server_flags(self, framework: str) -> list[str]:
        return SGLANG_PEERS if framework == "sglang" else []

    def manifest_values(self, run: Any, blocks: Blocks) -> dict[str, Any]:
        return blocks.server(run)
