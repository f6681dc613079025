"""Addresses people follow from a task, a results row or an alert: the Airflow run, the results
pages, the run's artifacts and its pods' logs. Pure functions of the run, except `airflow_base_url`."""

from __future__ import annotations

from urllib.parse import quote, urlencode

RESULTS_PREFIX = "/recipebench"  # where the results plugin's FastAPI app is mounted


def airflow_base_url() -> str:
    """The address people reach the Airflow UI at ([api] base_url), without a trailing slash."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def airflow_run_url(base: str, dag_id: str, airflow_run_id: str) -> str:
    # the Airflow 3 UI's route of a DAG run (airflow-core/src/airflow/ui/src/router.tsx: dags/:dagId/runs/:runId)
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(airflow_run_id, safe='')}"


def results_url(base: str, recipe_id: str | None = None, run_id: str | None = None) -> str:
    if recipe_id is None:
        return f"{base}{RESULTS_PREFIX}/"
    query = f"?{urlencode({'run': run_id})}" if run_id else ""
    return f"{base}{RESULTS_PREFIX}/recipes/{quote(recipe_id, safe='')}{query}"


def compare_url(base: str, run_a: str, run_b: str) -> str:
    return f"{base}{RESULTS_PREFIX}/compare?{urlencode({'a': run_a, 'b': run_b})}"


def artifacts_url(base: str, recipe_id: str, run_id: str) -> str:
    """The run's artifacts through the results plugin (it lists them from file:// or gs:// alike)."""
    return f"{base}{RESULTS_PREFIX}/runs/{quote(run_id, safe='')}/artifacts?{urlencode({'recipe': recipe_id})}"


def cloud_logging_url(project: str, cluster: str, location: str, namespace: str, run_key: str) -> str:
    """Cloud Logging's Logs Explorer for the containers of one run's pods on GKE.

    GKE writes container logs under the `k8s_container` monitored resource, labelled project_id,
    location, cluster_name, namespace_name (googleapis google/monitoring/v3/service.proto,
    Service.GkeNamespace: "the field names correspond to the resource metadata labels on monitored
    resources ... k8s_container or k8s_pod"), pod_name and container_name (Service.GkePod; the same
    mapping in census-ecosystem/opencensus-go-exporter-stackdriver RESOURCE.md). Every object of a
    run, so every pod, carries the run key in its name (catalog.naming.object_name); `:` is the
    Logging query language's "has" (substring) operator. Not opened against real GKE logs here.
    Without a project the console uses the current one."""
    query = "\n".join((
        'resource.type="k8s_container"',
        f'resource.labels.cluster_name="{cluster}"',
        f'resource.labels.location="{location}"',
        f'resource.labels.namespace_name="{namespace}"',
        f'resource.labels.pod_name:"{run_key}"',
    ))
    url = f"https://console.cloud.google.com/logs/query;query={quote(query, safe='')}"
    return f"{url}?project={quote(project, safe='')}" if project else url


def task_links(run) -> dict[str, str]:
    """The addresses a run's tasks link to: its pods' logs (GKE only: another cluster's logs are
    wherever its operators keep them), its artifacts and its results."""
    from recipebench.cluster.access import target_for

    base = airflow_base_url()
    recipe = run.recipe
    target = target_for(recipe)
    pod_logs = ""
    if target.kind == "gke":
        pod_logs = cloud_logging_url(target.project or "", target.name or "", target.location or "",
                                     recipe.cluster.namespace,
                                     run.run_key)
    return {"pod_logs": pod_logs, "artifacts": artifacts_url(base, recipe.id, run.run_key),
            "results": results_url(base, recipe.id, run.run_key)}
