"""Thin Airflow operators around the stage bodies in recipebench.tasks.

Every stage runs through `StageOperator`: it rebuilds the run's context from XCom, calls the
stage body and, when the body fails, records which stage failed and why in the run's ledger
(so the load stage can write a runs row for a failed run) before failing the task.
Heavy modules are imported inside `execute`, never at import time: DAG files import this.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from recipebench.naming import run_key


class StageOperator(BaseOperator):
    ui_color = "#e8f1fb"

    def __init__(self, *, stage: str, recipe_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stage = stage
        self.recipe_id = recipe_id

    def stage_context(self, context):
        from recipebench.tasks import StageContext

        dag_run = context["dag_run"]
        ti = context["ti"]
        run_config = None
        if self.stage != "resolve":
            run_config = ti.xcom_pull(task_ids="resolve", key="return_value")
        return StageContext(
            recipe_id=self.recipe_id,
            airflow_run_id=dag_run.run_id,
            run_key=run_key(self.dag_id, dag_run.run_id),
            trigger="scheduled" if dag_run.run_type == "scheduled" else "manual",
            params=dict(context["params"]),
            run_config_data=run_config,
            log=self.log,
            ti=ti,
        )

    def execute(self, context):
        from recipebench import tasks

        ctx = self.stage_context(context)
        return tasks.run_stage(self.stage, ctx)


class InvalidRecipeOperator(BaseOperator):
    """The one task of a recipe whose file does not validate: it fails with the reason."""

    ui_color = "#f8d7da"

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def execute(self, context):
        from recipebench.recipe import RecipeError

        raise RecipeError(self.error)
