"""Every few minutes, across the configured clusters, delete recipebench objects whose expiry has passed."""

from datetime import timedelta

from airflow.sdk import DAG, task

with DAG(
    dag_id="recipebench_janitor",
    description="delete expired recipebench objects (managed-by label + expiry) on every configured cluster",
    schedule=timedelta(minutes=10),
    catchup=False,
    max_active_runs=1,
    tags=["recipebench", "janitor"],
    default_args={"owner": "inference-perf", "retries": 1, "retry_delay": timedelta(minutes=1)},
    doc_md=__doc__,
):

    @task(execution_timeout=timedelta(minutes=8))
    def sweep():
        import logging

        from recipebench.cluster.janitor import sweep_all

        return sweep_all(logging.getLogger("recipebench.cluster.janitor"))

    sweep()
