"""Test set-up: a private AIRFLOW_HOME, artifacts folder and warehouse; where the fixtures are."""

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
