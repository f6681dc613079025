"""The plugin's Airflow listener: a recipe's DAG run whose state a person set from the UI or the REST
API still gets its runs row.

Marking a run failed or successful from the API (api_fastapi/core_api/services/public/dag_run.py,
patch_dag_run_state) skips its pending tasks, load among them, and calls no DAG callback, only the
listeners' on_dag_run_failed / on_dag_run_success with the message "Dag Run's state was manually set
to ...". Only those are handled here: the scheduler's own state changes reach the DAG's callbacks
(pipeline.notify.RecipeNotifier), and a listener must not slow the scheduler's loop with a warehouse
query.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl

MANUAL = "Dag Run's state was manually set"
log = logging.getLogger("recipebench")


def _record(dag_run, msg: str) -> None:
    if not str(msg or "").startswith(MANUAL):
        return
    try:
        from recipebench.catalog.recipe import recipe_files

        if dag_run.dag_id not in {p.stem for p in recipe_files()}:
            return
        from recipebench.pipeline.loading import record_ended_run

        record_ended_run(dag_run.dag_id, dag_run.run_id, f"{msg} (from the UI or the REST API)")
    except Exception as exc:  # a listener must never fail the API call that triggered it
        log.error("recipebench: the runs row of %s %s could not be written: %s: %s", dag_run.dag_id,
                  dag_run.run_id, type(exc).__name__, exc)


@hookimpl
def on_dag_run_failed(dag_run, msg: str):
    _record(dag_run, msg)


@hookimpl
def on_dag_run_success(dag_run, msg: str):
    _record(dag_run, msg)
