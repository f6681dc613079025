"""Registers recipebench with Airflow 3: the results app on the api-server and its entry in the
UI's navigation (AirflowPlugin.fastapi_apps / external_views, airflow/plugins_manager.py)."""

from airflow.plugins_manager import AirflowPlugin
from recipebench.pipeline import listener
from recipebench.ui.app import PREFIX, app


class RecipebenchPlugin(AirflowPlugin):
    name = "recipebench"
    # a run marked failed or successful from the UI or the API still gets its runs row
    listeners = [listener]
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "recipebench results"}]
    # an external view whose href is on the api-server itself: the UI embeds it in an iframe under
    # /plugin/recipebench-results, next to Airflow's own pages
    # and a Results tab on every DAG and DAG run page: the UI fills {DAG_ID}/{RUN_ID} in for views
    # whose destination is not "nav" (apache/airflow airflow-core/src/airflow/ui, the Iframe
    # component: src.replaceAll("{DAG_ID}", encodeURIComponent(dagId))). The view runs in an iframe
    # sandboxed without allow-top-navigation: links to Airflow's pages go through ui/static/links.js.
    external_views = [
        {"name": "Benchmark results", "href": f"{PREFIX}/", "url_route": "recipebench-results",
         "destination": "nav", "nav_top_level": True},
        {"name": "Results", "href": f"{PREFIX}/recipes/{{DAG_ID}}", "url_route": "recipebench-recipe",
         "destination": "dag"},
        {"name": "Results", "href": f"{PREFIX}/recipes/{{DAG_ID}}?airflow_run={{RUN_ID}}",
         "url_route": "recipebench-run", "destination": "dag_run"},
    ]
