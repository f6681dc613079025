"""The benchmark is the workload: one Job that loads the model and runs every point (trtllm-bench)."""

from __future__ import annotations

from recipebench.shapes.base import WorkloadShape, condition


class Offline(WorkloadShape):
    name = "offline"
    template = "offline.yaml.j2"
    api_version, kind = "batch/v1", "Job"
    serves = False

    def extra_ready_minutes(self, recipe):
        # the Job completes only once every point ran, so their budgets count toward its wait
        return recipe.timeouts.point_minutes * len(recipe.benchmark.points)

    def ready(self, workload):
        return bool(condition((workload or {}).get("status"), "Complete"))

    def failed(self, workload):
        status = (workload or {}).get("status")
        if not condition(status, "Failed"):
            return None
        return next(c for c in status["conditions"] if c.get("type") == "Failed")

    def manifest_values(self, run, blocks):
        return blocks.offline_job(run)
