"""One Airflow DAG per recipe file in include/recipes (or $RECIPEBENCH_RECIPES_DIR)."""

from airflow.sdk import get_parsing_context
from recipebench.pipeline.dag_factory import build_all

globals().update(build_all(only=get_parsing_context().dag_id))
