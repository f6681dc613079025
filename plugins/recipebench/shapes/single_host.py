"""One server pod on one node: a Deployment and its Service."""

from __future__ import annotations

from typing import Any

from recipebench.shapes.base import Blocks, WorkloadShape


class SingleHost(WorkloadShape):
    name = "single-host"
    template = "single-host.yaml.j2"
    api_version, kind = "apps/v1", "Deployment"
    server_component = "server"

    def ready(self, workload: dict | None) -> bool:
        return int(((workload or {}).get("status") or {}).get("availableReplicas") or 0) >= 1

    def manifest_values(self, run: Any, blocks: Blocks) -> dict[str, Any]:
        return blocks.server(run)
