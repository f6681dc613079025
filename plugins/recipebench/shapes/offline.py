"""The benchmark is the workload: one Job that loads the model and runs every point (trtllm-bench)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recipebench.shapes.base import Blocks, WorkloadShape, condition

if TYPE_CHECKING:
    from recipebench.catalog.recipe import Recipe


class Offline(WorkloadShape):
    name = "offline"
    template = "offline.yaml.j2"
    api_version, kind = "batch/v1", "Job"
    serves = False

    def extra_ready_minutes(self, recipe: Recipe) -> int:
        # the Job completes only once every point ran, so their budgets count toward its wait
        return recipe.point_budget_minutes * len(recipe.benchmark.points)

    def ready(self, workload: dict | None) -> bool:
        return bool(condition((workload or {}).get("status"), "Complete"))

    def failed(self, workload: dict | None) -> dict | None:
        status = (workload or {}).get("status") or {}
        if not condition(status, "Failed"):
            return None
        failed: dict = next(c for c in status.get("conditions") or [] if c.get("type") == "Failed")
        return failed

    def manifest_values(self, run: Any, blocks: Blocks) -> dict[str, Any]:
        return blocks.offline_job(run)
