"""Registers recipebench with Airflow 3: the results app on the api-server and its entry in the
UI's navigation (AirflowPlugin.fastapi_apps / external_views, airflow/plugins_manager.py)."""

from airflow.plugins_manager import AirflowPlugin
from recipebench.ui.app import PREFIX, app


class RecipebenchPlugin(AirflowPlugin):
    name = "recipebench"
    fastapi_apps = [{"app": app, "url_prefix": PREFIX, "name": "recipebench results"}]
    # an external view whose href is on the api-server itself: the UI embeds it in an iframe under
    # /plugin/recipebench-results, next to Airflow's own pages
    # and a Results tab on every DAG and DAG run page ({DAG_ID}/{RUN_ID} are filled in by the UI)
    external_views = [
        {"name": "Benchmark results", "href": f"{PREFIX}/", "url_route": "recipebench-results",
         "destination": "nav", "nav_top_level": True},
        {"name": "Results", "href": f"{PREFIX}/recipes/{{DAG_ID}}", "url_route": "recipebench-recipe",
         "destination": "dag"},
        {"name": "Results", "href": f"{PREFIX}/recipes/{{DAG_ID}}?airflow_run={{RUN_ID}}",
         "url_route": "recipebench-run", "destination": "dag_run"},
    ]
