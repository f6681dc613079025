"""Test set-up: a private AIRFLOW_HOME, artifacts folder and warehouse; where the fixtures are; a
simulated cluster and placeholder credentials for end-to-end runs (`cluster_env`, `run`)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "bench-outputs"  # real outputs, copied in with their sources

_HOME = Path(tempfile.mkdtemp(prefix="recipebench-airflow-"))
os.environ.update(
    AIRFLOW_HOME=str(_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__UNIT_TEST_MODE="True",
    RECIPEBENCH_ARTIFACTS=f"file://{_HOME / 'artifacts'}",
    RECIPEBENCH_WAREHOUSE=f"duckdb://{_HOME / 'warehouse.duckdb'}",
)
os.environ.pop("RECIPEBENCH_RECIPES_DIR", None)
sys.path.insert(0, str(REPO / "plugins"))


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata database, once per test session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return _HOME


@pytest.fixture
def scratch_recipes(tmp_path, monkeypatch):
    """A copy of the catalog in a scratch folder that a test may break."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    for f in (REPO / "include" / "recipes").glob("*.yaml"):
        (folder / f.name).write_text(f.read_text())
    monkeypatch.setenv("RECIPEBENCH_RECIPES_DIR", str(folder))
    return folder


SECRET = "hf_SuperSecretValue9f8e7d6c5b4a3210"
NGC = "nvapi-SecretNgcKey0123456789abcdef"


@pytest.fixture(scope="module")
def sim():
    from recipebench.sim import SimCluster

    cluster = SimCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def own_sim(monkeypatch):
    """A simulated cluster for this test alone (default scenario), which RECIPEBENCH_CLUSTER names."""
    from recipebench.sim import SimCluster

    monkeypatch.delenv("RECIPEBENCH_SIM_SCENARIO", raising=False)
    cluster = SimCluster().start()
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", cluster.kubeconfig)
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_env(sim, airflow_db, monkeypatch):
    """What `recipebench run` sets up for the simulated cluster, with canary credentials; task
    retries wait a moment, not the production two minutes."""
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", sim.kubeconfig)
    monkeypatch.setenv("RECIPEBENCH_IMAGES", "assume-present")
    monkeypatch.setenv("RECIPEBENCH_RETRY_DELAY_SECONDS", "0.3")
    monkeypatch.setenv("RECIPEBENCH_POINT_RETRY_DELAY_SECONDS", "0.1")
    monkeypatch.setenv("AIRFLOW_CONN_HUGGINGFACE_DEFAULT", json.dumps({"conn_type": "generic", "password": SECRET}))
    monkeypatch.setenv("AIRFLOW_CONN_NGC_DEFAULT", json.dumps({"conn_type": "generic", "password": NGC}))
    monkeypatch.delenv("RECIPEBENCH_SIM_SCENARIO", raising=False)
    stage_accuracy_data()
    return sim


def stage_accuracy_data():
    """The accuracy gate's data set in the run's artifacts location: the project's generated problems
    (GSM8K's own text is not shipped), as the demo stages them on a machine without it."""
    from recipebench.cli.runner import ensure_accuracy_data

    ensure_accuracy_data(log=lambda message: None)


def run(recipe_id, params=None):
    """One DAG run through the CLI's runner: its outcome."""
    from recipebench.cli.runner import environment, run_recipe

    with environment():
        return run_recipe(recipe_id, params or {})


def runs_row(run_id):
    from recipebench.results.warehouse import open_warehouse

    (row,) = open_warehouse().run(f"SELECT status, failed_stage, reason, simulated, gpu_hours, finished_at, "
                                  f"leftover_objects FROM runs WHERE run_id = '{run_id}'")
    return row


# warehouses: DuckDB in a file, BigQuery through the official client against the emulator
@pytest.fixture
def duck(tmp_path):
    from recipebench.results.warehouse import DuckDBWarehouse

    return DuckDBWarehouse(str(tmp_path / "w.duckdb"))


@pytest.fixture(scope="module")
def emulator():
    from tests.bq_emulator import Emulator

    emu = Emulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def bq(emulator, request):
    from recipebench.results.warehouse import BigQueryWarehouse

    name = request.node.name[:20].replace("[", "_").replace("]", "")
    return BigQueryWarehouse(emulator.project, f"bench_{name}", client_factory=emulator.client)


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request):
    return request.getfixturevalue("duck" if request.param == "duckdb" else "bq")


# Two kinds of tests: unit tests (pure functions, one module, seconds in all) and end-to-end ones
# (the simulated cluster over HTTP, real Airflow runs, the BigQuery emulator, subprocesses, a
# browser). `make unit` runs the first kind; `make test` and CI run both.
E2E_FIXTURES = {"airflow_db", "cluster_env", "sim", "own_sim", "fast_sim", "emulator", "bq", "airflow", "browser",
                "behind_proxy"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        params = {str(v) for v in getattr(getattr(item, "callspec", None), "params", {}).values()}
        if (E2E_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("subprocess")
                or "bigquery" in params):
            item.add_marker(pytest.mark.e2e)
