"""The DAG files: they import, build one DAG per recipe with the stage chain, and survive a bad recipe."""

import subprocess
import sys

import pytest
from airflow.dag_processing.dagbag import DagBag
from recipebench.catalog.recipe import load_recipe
from recipebench.pipeline.stages import STAGE_NAMES

from tests.test_recipes import EXPECTED

ROOT = __import__("tests.conftest", fromlist=["REPO"]).REPO


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert set(EXPECTED) <= set(dagbag.dags)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_stage_chain(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert [t.task_id for t in dag.topological_sort()] == list(STAGE_NAMES)
    up = {t.task_id: {u.task_id for u in t.upstream_list} for t in dag.tasks}
    assert up["reserve_gpus"] == {"create_secrets"} and up["deploy"] == {"reserve_gpus"}
    assert up["accuracy"] == {"wait_ready"}  # the gate before any point
    assert up["benchmark"] == {"accuracy", "resolve"}  # resolve: the points it is mapped over
    teardown = dag.get_task("teardown")
    assert teardown.is_teardown and all(dag.get_task(s).is_setup for s in ("create_secrets", "reserve_gpus", "deploy"))
    assert up["search"] == {"benchmark"}  # the capacity search after every fixed point, on the same server
    assert up["teardown"] == {"deploy", "reserve_gpus", "create_secrets", "search"} and up["load"] == {"teardown"}
    points = dag.get_task("benchmark")  # mapped over resolve's points, one at a time, labelled by point
    assert points.max_active_tis_per_dagrun == 1 and points.map_index_template == "{{ task.point_id }}"
    assert dag.max_consecutive_failed_dag_runs == 3 and dag.dagrun_timeout.total_seconds() > 3600
    assert dag.get_task("load").trigger_rule == "all_done"
    assert up["check_regressions"] == {"benchmark", "search", "load"}
    assert dag.max_active_runs == 1 and dag.catchup is False and dag.start_date is None
    assert all(t.execution_timeout for t in dag.tasks)
    assert dag.owner == "inference-perf" and "fingerprint" in dag.doc_md


def test_schedule_tags_and_docs(dagbag):
    dag = dagbag.dags["sglang-a3ultra-deepseek-r1"]
    assert dag.timetable.expression == "0 1 * * *"
    assert {"a3ultra", "h200", "fp8", "sglang", "deepseek-r1"} <= set(dag.tags)
    assert dag.dag_display_name == "DeepSeek-R1 · sglang on H200 fp8 (sglang-a3ultra-deepseek-r1)"
    gpus = {t for d in dagbag.dags.values() for t in d.tags} & {"h100", "h200", "b200", "gb200", "nvfp4"}
    assert gpus == {"h100", "h200", "b200", "gb200", "nvfp4"}, gpus  # every GPU and precision is a tag somewhere
    assert "deepseek-ai/DeepSeek-R1" in dag.doc_md and "i1000-o1000-cmax-rinf-n1100" in dag.doc_md


def test_dags_serialize(dagbag):
    from airflow.serialization.serialized_objects import DagSerialization

    for dag in dagbag.dags.values():
        DagSerialization.serialize_dag(dag)


def test_broken_recipe_is_reported_and_the_others_load(scratch_recipes):
    bad = scratch_recipes / "vllm-a4-deepseek-r1.yaml"
    bad.write_text(bad.read_text().replace("accelerator: a4", "accelerator: a9"))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(EXPECTED) - {"vllm-a4-deepseek-r1"} <= set(bag.dags)
    broken = bag.dags["vllm-a4-deepseek-r1"]
    assert [t.task_id for t in broken.tasks] == ["invalid_recipe"] and set(broken.tags) == {"invalid-recipe"}
    assert str(bad) in broken.doc_md and "field accelerator" in broken.doc_md and broken.schedule is None


def test_dag_file_imports_no_heavy_modules():
    """Parsing must not pull in pandas, kubernetes, Google clients or DuckDB beyond what Airflow itself loads."""
    code = ("import sys; from airflow.sdk import DAG, Param, BaseOperator, CronTriggerTimetable;"
            "before = set(sys.modules); sys.path.insert(0, 'plugins'); import runpy;"
            "runpy.run_path('dags/recipe_dags.py');"
            "heavy = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
            "('pandas', 'kubernetes', 'kubernetes_asyncio', 'duckdb', 'jinja2', 'numpy') or m.startswith('google.'));"
            "print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_airflow_cli_lists_the_eight_dags(airflow_db):
    errors = subprocess.run([sys.executable, "-m", "airflow", "dags", "list-import-errors", "-l"],
                            capture_output=True, text=True)
    assert errors.returncode == 0, errors.stdout + errors.stderr
    listed = subprocess.run([sys.executable, "-m", "airflow", "dags", "list", "-l", "-o", "plain", "--columns", "dag_id"],
                            capture_output=True, text=True, check=True)
    assert set(EXPECTED) <= set(listed.stdout.split())


def test_tasks_link_to_pod_logs_artifacts_and_results():
    from recipebench.pipeline.dag_factory import build_recipe_dag

    dag = build_recipe_dag(load_recipe("vllm-a4-deepseek-r1"))
    names = {t.task_id: sorted(link.name for link in t.operator_extra_links) for t in dag.tasks}
    assert names["deploy"] == names["wait_ready"] == ["Pod logs (Cloud Logging)"]
    assert names["benchmark"] == ["Pod logs (Cloud Logging)", "Run artifacts"]
    assert names["load"] == ["Run artifacts"] and names["check_regressions"] == ["Results of this run"]
    assert names["build_image"] == ["Cloud Build log"]


def test_pod_logs_link_to_cloud_logging_on_gke_only(monkeypatch, tmp_path):
    from urllib.parse import unquote

    from recipebench.catalog.params import build_run_config
    from recipebench.pipeline.links import task_links

    run = build_run_config(load_recipe("vllm-a4-deepseek-r1"), {}, "rabc123456", "scheduled__x", "scheduled")
    monkeypatch.delenv("RECIPEBENCH_CLUSTER", raising=False)  # the recipe's GKE cluster
    links = task_links(run)
    query = unquote(links["pod_logs"])
    c = run.recipe.cluster
    assert query.startswith("https://console.cloud.google.com/logs/query;query=")
    for part in ('resource.type="k8s_container"', f'resource.labels.cluster_name="{c.name}"',
                 f'resource.labels.location="{c.location}"', f'resource.labels.namespace_name="{c.namespace}"',
                 'resource.labels.pod_name:"rabc123456"'):
        assert part in query
    assert links["results"].endswith("/recipebench/recipes/vllm-a4-deepseek-r1?run=rabc123456")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("current-context: lab\ncontexts: [{name: lab, context: {cluster: lab}}]\n")
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", str(kubeconfig))
    assert task_links(run)["pod_logs"] == ""  # another cluster's logs are wherever its operators keep them
