"""Thin Airflow operators around the stage bodies in recipebench.pipeline.bodies.

Every stage runs through `StageOperator`: it rebuilds the run's context from XCom, calls the
stage body and, when the body fails, records which stage failed and why in the run's ledger
(so the load stage can write a runs row for a failed run) before failing the task.
Heavy modules are imported inside `execute`, never at import time: DAG files import this.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, BaseOperatorLink

from recipebench.catalog.naming import run_key


class PushedLink(BaseOperatorLink):
    """A task link whose address the task works out while it runs and pushes to XCom under the
    link's key; Airflow reads it back through get_link when the task finishes."""

    kind = ""  # which address of pipeline.links.task_links

    def get_link(self, operator, *, ti_key):
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""


class CloudBuildLogLink(PushedLink):
    """The Cloud Build log of the image build, pushed as soon as the build is created."""

    name = "Cloud Build log"


class PodLogsLink(PushedLink):
    name = "Pod logs (Cloud Logging)"
    kind = "pod_logs"


class ArtifactsLink(PushedLink):
    name = "Run artifacts"
    kind = "artifacts"


class ResultsLink(PushedLink):
    name = "Results of this run"
    kind = "results"


# which links each stage's task shows (the benchmark point tasks: PointOperator's own)
STAGE_LINKS = {"deploy": (PodLogsLink(),), "wait_ready": (PodLogsLink(),), "load": (ArtifactsLink(),),
               "check_regressions": (ResultsLink(),)}


class StageOperator(BaseOperator):
    ui_color = "#e8f1fb"

    def __init__(self, *, stage: str, recipe_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.recipe_id = recipe_id
        if stage in STAGE_LINKS:
            self.operator_extra_links = STAGE_LINKS[stage]

    def push_links(self, context, ctx) -> None:
        """Push this task's link addresses before its body runs: the pod logs matter most when the
        stage fails. Never fails the task."""
        links = [link for link in self.operator_extra_links if isinstance(link, PushedLink) and link.kind]
        if not links or ctx.run_config_data is None:
            return
        try:
            from recipebench.pipeline.links import task_links

            values = task_links(ctx.run)
            for link in links:
                context["ti"].xcom_push(key=link.xcom_key, value=values[link.kind])
        except Exception as exc:
            self.log.warning("task links not available: %s: %s", type(exc).__name__, exc)

    def stage_context(self, context):
        from recipebench.pipeline.bodies import StageContext

        dag_run = context["dag_run"]
        ti = context["ti"]
        run_config = None
        if self.stage != "resolve":
            # a run resolved by the previous release has its config as resolve's return value
            run_config = ti.xcom_pull(task_ids="resolve", key=RUN_XCOM) or ti.xcom_pull(
                task_ids="resolve", key="return_value")
        return StageContext(
            recipe_id=self.recipe_id,
            airflow_run_id=dag_run.run_id,
            run_key=run_key(self.dag_id, dag_run.run_id),
            trigger="scheduled" if dag_run.run_type == "scheduled" else "manual",
            params=dict(context["params"]),
            run_config_data=run_config,
            log=self.log,
            ti=ti,
            operator=self,
            point_id=getattr(self, "point_id", None),
            stage=self.stage,
        )

    def execute(self, context):
        from recipebench.pipeline import bodies

        ctx = self.stage_context(context)
        if self.stage not in ("resolve", "load") and bodies.was_refused(ctx):
            from airflow.sdk.exceptions import AirflowSkipException

            # ensure_platform runs after a skipped build_image (none_failed), so it sees such a run too
            raise AirflowSkipException("nothing to do: resolve refused the run's trigger params, or skipped the run "
                                       "(nothing changed)")
        self.push_links(context, ctx)
        result = bodies.run_stage(self.stage, ctx)
        if isinstance(result, bodies.Deferral):  # wait in the triggerer, not in a worker slot
            self.defer(trigger=result.trigger, method_name="execute_complete", timeout=result.timeout)
        if self.stage == "resolve":
            # every stage reads the run config; the return value is what the benchmark task is mapped
            # over (Airflow maps over return values only)
            context["ti"].xcom_push(key=RUN_XCOM, value=result)
            return bodies.point_ids(result)
        return result

    def resume_execution(self, next_method: str, next_kwargs, context):
        """A deferred task resumes here. When Airflow resumes it only to fail it (its deferral timed out,
        or the trigger crashed: BaseOperator.resume_execution's "__fail__"), the failure goes through
        the stage like any other, so the runs row names the stage and why, not `unknown`."""
        from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

        if next_method != TRIGGER_FAIL_REPR:
            return super().resume_execution(next_method, next_kwargs, context)
        from recipebench.pipeline import bodies

        def fail(_ctx):
            raise bodies.deferral_failure(self.stage, next_kwargs or {})

        return bodies.run_stage(self.stage, self.stage_context(context), fail)

    def execute_complete(self, context, event=None):
        """A deferred stage resumes here with its trigger's event (its `finish` in the stage table)."""
        from recipebench.pipeline import bodies

        ctx = self.stage_context(context)
        self.push_links(context, ctx)  # a resumed task is a new try of the process: push again
        result = bodies.finish(self.stage, ctx, event or {})
        if isinstance(result, bodies.Deferral):  # a stage of several Jobs (the capacity search): the next one
            self.defer(trigger=result.trigger, method_name="execute_complete", timeout=result.timeout)
        return result


class WaitReadyOperator(StageOperator):
    """wait_ready: defers to recipebench.pipeline.triggers.ReadyTrigger (kept as its own class: tasks
    deferred by an earlier release resume through it)."""

    ui_color = "#fff3cd"


class PointOperator(StageOperator):
    """One benchmark point (the task is mapped over the run's points, labelled by the point's id)."""

    ui_color = "#e2f0d9"
    # a class attribute: a mapped task takes its links from its operator class
    operator_extra_links = (PodLogsLink(), ArtifactsLink())

    def __init__(self, *, point_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.point_id = point_id


RUN_XCOM = "run_config"


class BuildImageOperator(StageOperator):
    """build_image: skip (prebuilt, tag exists) or run the google provider's CloudBuildCreateBuildOperator,
    deferrable, by composition so DAG files import no Google module."""

    operator_extra_links = (CloudBuildLogLink(),)

    def _cloud_build(self, decision: dict):
        from airflow.providers.google.cloud.operators.cloud_build import CloudBuildCreateBuildOperator

        return CloudBuildCreateBuildOperator(task_id=f"{self.task_id}_cloud_build", build=decision.get("request") or {},
                                             project_id=decision["project"], location=decision["location"],
                                             deferrable=True, poll_interval=30.0)

    def execute(self, context):
        from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred

        from recipebench.pipeline import bodies

        ctx = self.stage_context(context)
        decision = bodies.run_stage(self.stage, ctx)
        if decision["action"] == "skip":
            context["ti"].xcom_push(key=CloudBuildLogLink().xcom_key, value="")  # no build, no log
            raise AirflowSkipException(decision["reason"])
        op = self._cloud_build(decision)
        try:
            return bodies.run_stage(self.stage, ctx, lambda c: op.execute(context))
        except TaskDeferred:
            url = (f"https://console.cloud.google.com/cloud-build/builds;region={decision['location']}/{op.id_}"
                   f"?project={decision['project']}")
            context["ti"].xcom_push(key=CloudBuildLogLink().xcom_key, value=url)
            self.log.info("Cloud Build %s started: %s", op.id_, url)
            raise

    def execute_complete(self, context, event=None):
        from recipebench.cluster import images
        from recipebench.pipeline import bodies

        ctx = self.stage_context(context)

        def finish(c):
            recipe = c.run.recipe
            parts = images.registry_parts(recipe)
            op = self._cloud_build({"project": parts["project"], "location": parts["location"]})
            result = op.execute_complete(context, event or {})
            needed = images.needed(recipe)
            digests = dict(c.ledger.get("digests") or {})
            for role, need in needed.items():
                if need["build"] and not digests.get(role):
                    digests[role] = images.digest_from_build(result, need["image"]) or images.registry_digest(
                        f"{recipe.cluster.artifact_registry}/{need['repository']}", need["tag"])
            bodies.record_images(c.recipe_id, c.run_key, {r: n["image"] for r, n in needed.items()}, digests)
            self.log.info("built %s", ", ".join(f"{n['image']} ({digests.get(r)})" for r, n in needed.items()))
            return {"images": {r: n["image"] for r, n in needed.items()}, "digests": digests,
                    "build_id": result.get("id")}

        return bodies.run_stage(self.stage, ctx, finish)


class InvalidRecipeOperator(BaseOperator):
    """The one task of a recipe whose file does not validate: it fails with the reason."""

    ui_color = "#f8d7da"

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def execute(self, context):
        from recipebench.catalog.recipe import RecipeError

        raise RecipeError(self.error)
