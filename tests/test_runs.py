"""Every recipe DAG end to end against the simulated cluster (dag.test on SQLite, real HTTP, the
kubernetes client unpatched): results in the warehouse, nothing left behind, secrets kept secret.
Failure scenarios are in test_faults."""

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from recipebench.catalog.recipe import load_catalog
from recipebench.results.warehouse import open_warehouse
from recipebench.sim import SimCluster

from tests.conftest import NGC, SECRET, run, runs_row

pytestmark = pytest.mark.e2e  # whole runs


@pytest.mark.parametrize("recipe_id", sorted(load_catalog()[0]))
def test_every_recipe_runs_end_to_end(cluster_env, recipe_id):
    result = run(recipe_id)
    assert result["status"] == "success", result
    recipe = load_catalog()[0][recipe_id]
    row = runs_row(result["run_id"])
    assert (row["status"], row["failed_stage"], row["reason"], row["simulated"]) == ("success", None, None, True)
    rows = open_warehouse().run(f"SELECT completed, output_throughput, ttft_median_ms, search_step, slo_met FROM "
                                f"results WHERE run_id = '{result['run_id']}'")
    fixed = [r for r in rows if r["search_step"] is None]
    assert result["leftover_objects"] == [] and len(fixed) == len(recipe.benchmark.points)
    assert len(rows) == result["result_rows"] and all(r["completed"] > 0 and r["output_throughput"] > 0 for r in rows)
    capacity = open_warehouse().run(f"SELECT steps, capacity_load FROM capacity WHERE run_id = '{result['run_id']}'")
    if recipe.benchmark.search is None or not recipe.topology.kind.serves:
        assert capacity == [] and len(rows) == len(fixed)
    else:  # every step a results row, the outcome a capacity row
        (found,) = capacity
        assert found["steps"] == len(rows) - len(fixed) and found["capacity_load"] > 0


def test_keep_alive_leaves_the_server_until_it_expires(cluster_env):
    from recipebench.catalog.naming import run_selector
    from recipebench.cluster.access import Target
    from recipebench.cluster.api import Cluster
    from recipebench.cluster.janitor import sweep

    result = run("vllm-a4-deepseek-r1", {"keep_alive": True})
    assert result["status"] == "success"
    kinds = sorted(o.split("/")[0] for o in result["leftover_objects"])
    # the server stays (with its heartbeat, given the rest of its keep-alive time); benchmark Jobs go
    assert kinds == ["ConfigMap", "Deployment", "Lease", "Pod", "Secret", "Service"], kinds
    cluster = Cluster(Target.from_dict(json.loads(Path(_ledger(result)).read_text())["target"]))
    import logging

    objects = cluster.list_labelled(run_selector(result["run_id"]))
    # the workload's expiry counts from deploy; the Secret, made before the wait for the GPUs, lasts longer
    expiry = {o["kind"]: int(o["metadata"]["labels"]["recipebench.dev/expires"]) for o in objects}
    assert expiry["Secret"] >= expiry["Deployment"]
    assert sweep(cluster, logging.getLogger("t"), now=expiry["Deployment"] - 60) == []
    assert cluster.list_labelled(run_selector(result["run_id"]))
    deleted = sweep(cluster, logging.getLogger("t"), now=expiry["Deployment"] + 1)
    assert sorted(o.split("/")[0] for o in deleted) == ["ConfigMap", "Deployment", "Service"]
    sweep(cluster, logging.getLogger("t"), now=expiry["Secret"] + 1)
    assert cluster.list_labelled(run_selector(result["run_id"])) == []


def _ledger(result):
    from recipebench.pipeline import artifacts

    return str(artifacts.run_prefix(result["recipe"], result["run_id"]) / "ledger.json").removeprefix("file://")


def test_secret_values_appear_nowhere_but_in_cluster_secrets(cluster_env, capfd, caplog):
    """A run that needs both credentials: their values are in no log, XCom, artifact or row, and the
    run's Secrets are gone after teardown (test_secret_objects_carry_the_token checks their content)."""
    import logging

    from recipebench.pipeline import artifacts
    from recipebench.sim.server import BY_PLURAL

    with caplog.at_level(logging.INFO):
        result = run("dynamo-a4x-deepseek-r1-1p1d")
    assert result["status"] == "success"
    out, err = capfd.readouterr()
    out += caplog.text  # task logs reach either the terminal or pytest's log capture, depending on set-up
    secrets = cluster_env.store.list(BY_PLURAL[("", "secrets")], None, f"recipebench.dev/run={result['run_id']}")
    assert not secrets, "teardown deletes the run's secrets"
    assert "created secret(s) dynamo-a4x-deepseek-r1-1p1d-" in out + err, "the logs were not captured"
    assert SECRET not in out + err and NGC not in out + err
    db = sqlite3.connect(str(Path(__import__("os").environ["AIRFLOW_HOME"]) / "airflow.db"))
    xcoms = " ".join(str(v) for (v,) in db.execute("SELECT value FROM xcom"))
    assert xcoms and SECRET not in xcoms and NGC not in xcoms
    root = Path(str(artifacts.run_prefix(result["recipe"], result["run_id"])).removeprefix("file://"))
    # the reproduction files are among what is checked: the manifests name the Secrets, never their data
    repro = root / "repro"
    assert (repro / "recipe.yaml").is_file() and "kind: Secret" not in (repro / "manifests.yaml").read_text()
    assert "secretKeyRef" in (repro / "manifests.yaml").read_text()
    (point,) = [p for p in repro.iterdir() if p.is_dir()]
    assert "aiperf profile" in (point / "client.sh").read_text()
    assert json.loads((point / "rerun.json").read_text())["cli"].startswith("recipebench run dynamo-a4x-deepseek-r1-1p1d")
    for f in root.rglob("*"):
        if f.is_file():
            assert SECRET not in f.read_text() and NGC not in f.read_text(), f
    logs = Path(__import__("os").environ["AIRFLOW_HOME"]) / "logs"
    for f in logs.rglob("*") if logs.exists() else []:
        if f.is_file():
            assert SECRET not in f.read_text(errors="ignore"), f
    rows = open_warehouse().run("SELECT * FROM runs")
    assert SECRET not in json.dumps(rows, default=str)


def test_secret_objects_carry_the_token(cluster_env):
    from recipebench.catalog.recipe import load_recipe
    from recipebench.cluster.secrets import secret_objects
    from recipebench.manifests.render import example_run, secret_names

    run_ = example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d"))
    hf, ngc = secret_objects(run_, secret_names(run_), SECRET, NGC)
    assert base64.b64decode(hf["data"]["HF_TOKEN"]).decode() == SECRET
    config = json.loads(base64.b64decode(ngc["data"][".dockerconfigjson"]))
    assert config["auths"]["nvcr.io"]["password"] == NGC and ngc["type"] == "kubernetes.io/dockerconfigjson"


def test_a_missing_connection_fails_create_secrets_naming_it(cluster_env, monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_HUGGINGFACE_DEFAULT")
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE", f"duckdb://{tmp_path / 'w.duckdb'}")  # this run is the first
    result = run("vllm-a4-deepseek-r1")
    assert result["failed_stage"] == "create_secrets"
    assert "Airflow connection 'huggingface_default' is missing" in result["reason"]
    assert result["leftover_objects"] == []
    # the DAG's on_failure_callback (RecipeNotifier) told the start of the failure streak, once
    (alert,) = open_warehouse().select("alerts", {"run_id": result["run_id"]})
    assert alert["kind"] == "failing" and "run failed at create_secrets" in alert["subject"]
    assert "huggingface_default" in alert["message"]
    # load's task link to the run's artifacts (pushed to XCom, read back by Airflow at the task's end)
    db = sqlite3.connect(str(Path(__import__("os").environ["AIRFLOW_HOME"]) / "airflow.db"))
    (link,) = db.execute("SELECT value FROM xcom WHERE task_id = 'load' AND key = '_link_ArtifactsLink' "
                         "AND run_id = ?", (result["airflow_run_id"],)).fetchone()
    assert f"/recipebench/runs/{result['run_id']}/artifacts?recipe=vllm-a4-deepseek-r1" in link


def test_bad_trigger_params_are_refused_before_a_run_starts(cluster_env):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="input_len: 0 is less than the minimum of 1"):
        run("vllm-a4-deepseek-r1", {"input_len": 0})


def test_a_failure_before_the_setups_is_still_recorded(cluster_env, monkeypatch):
    """A cluster without the recipe's Kueue queue: ensure_platform fails, before any setup ran."""
    from recipebench.sim.server import BY_PLURAL

    bare = SimCluster().start()
    queues = BY_PLURAL[("kueue.x-k8s.io", "localqueues")]
    for q in bare.store.list(queues, None):
        bare.store.delete(queues, q["metadata"]["namespace"], q["metadata"]["name"])
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", bare.kubeconfig)
    try:
        result = run("vllm-a4-deepseek-r1")
    finally:
        bare.stop()
    assert result["failed_stage"] == "ensure_platform" and result["leftover_objects"] == []
    assert "Kueue LocalQueue 'a4-high' not found in namespace default" in result["reason"]
    assert runs_row(result["run_id"])["failed_stage"] == "ensure_platform"


def test_a_warehouse_that_is_down_loses_nothing(cluster_env, monkeypatch, tmp_path):
    """load fails (and the run with it) when the warehouse went down after resolve checked it; the
    parsed results stay in the run's artifacts and `recipebench load` puts them in once it is back,
    exactly once, as a successful run."""
    import subprocess
    import sys

    from recipebench.pipeline import destinations

    from tests.conftest import REPO

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # the database cannot be created below a file, not even by root
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE", f"duckdb://{blocker}/w.duckdb")
    monkeypatch.setenv("RECIPEBENCH_RETRY_DELAY_SECONDS", "0.5")
    monkeypatch.setattr(destinations, "check_destinations", lambda *a: ["(the warehouse was up at resolve)"])
    result = run("sglang-a3ultra-llama4-scout")
    assert result["status"] == "failed" and result["leftover_objects"] == []
    assert result["failed_stage"] == "load" and "WarehouseError" in result["reason"] and str(blocker) in result["reason"]
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE", f"duckdb://{tmp_path}/back.duckdb")
    for _ in range(2):
        out = subprocess.run([sys.executable, "-m", "recipebench", "load", result["recipe"], result["run_id"]],
                             cwd=REPO, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    wh = open_warehouse()
    assert wh.count("results", result["run_id"]) == 1 and wh.count("runs", result["run_id"]) == 1
    assert runs_row(result["run_id"])["status"] == "success"  # the run's own stages all succeeded


def test_a_conf_key_that_is_no_param_is_refused_naming_it(cluster_env):
    """As a run from the UI or the REST API would carry it: the run itself refuses it (resolve); three
    such runs in a row (max_consecutive_failed_dag_runs) do not pause the recipe: only failures count."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    results = [run("vllm-a4-deepseek-r1", {"concurency": ["8", "64"], "k" * 100_000: 1}) for _ in range(3)]
    for result in results:
        assert result["status"] == "refused" and result["failed_stage"] == "resolve", result
        assert "unknown param(s) 'concurency'" in result["reason"] and result["leftover_objects"] is None
        row = runs_row(result["run_id"])
        assert row["status"] == "refused" and len(row["reason"]) <= 500, len(row["reason"])
    with create_session() as session:
        assert not session.get(DagModel, "vllm-a4-deepseek-r1").is_paused


def test_the_form_defaults_are_the_plan_and_change_nothing(cluster_env):
    from recipebench.catalog.params import form_schema
    from recipebench.catalog.recipe import load_recipe

    recipe = load_recipe("vllm-a4-deepseek-r1")
    defaults = {k: v["default"] for k, v in form_schema(recipe).items()}
    assert defaults["input_len"] == 1000 and defaults["concurrency"] == ["unbounded"]
    result = run("vllm-a4-deepseek-r1", defaults)  # what the form submits untouched
    assert result["status"] == "success" and result["result_rows"] == 1
    row = open_warehouse().run(f"SELECT params FROM runs WHERE run_id = '{result['run_id']}'")[0]
    assert json.loads(row["params"] or "{}") == {}, "nothing changed from the plan"
