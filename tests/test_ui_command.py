"""`make ui` (recipebench ui): from nothing but a checkout, Airflow's UI with the results pages against the
simulated cluster. Started as `make ui` starts it, on its own Airflow home: its one login line read,
a signed-in page fetched, the DAG list checked for example DAGs, then stopped with SIGTERM, leaving no
process behind."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.test_ui_live import _free_port, _get

pytestmark = pytest.mark.e2e


def test_make_ui_serves_the_results_pages_with_a_printed_login_and_no_example_dags(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECIPEBENCH_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO / "plugins"),
               RECIPEBENCH_WAREHOUSE=f"duckdb://{tmp_path / 'w.duckdb'}",
               RECIPEBENCH_ARTIFACTS=f"file://{tmp_path / 'artifacts'}")
    proc = subprocess.Popen([sys.executable, "-m", "recipebench", "ui", "--port", str(port)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = []
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "sign in as" in line:
                break
        said = "".join(out)
        found = re.search(r"Airflow is up at (\S+)/\s+sign in as admin / (\S+)", said)
        assert found, said[-3000:]
        base, password = found.groups()
        assert said.count(password) == 1  # the login, printed once
        status, _, body = _get(f"{base}/auth/token", {"Content-Type": "application/json"}, "POST",
                               {"username": "admin", "password": password})
        assert status in (200, 201), body
        bearer = {"Authorization": f"Bearer {json.loads(body)['access_token']}", "Accept": "text/html"}
        status, _, page = _get(f"{base}/recipebench/", bearer)
        assert status == 200 and "Benchmark recipes" in page and 'id="filters"' in page, page[:500]
        deadline = time.monotonic() + 120  # the dag-processor parses the folder after the api-server is up
        while time.monotonic() < deadline:
            status, _, body = _get(f"{base}/api/v2/dags?limit=100", bearer)
            dags = [d["dag_id"] for d in json.loads(body)["dags"]] if status == 200 else []
            if len(dags) >= 8:
                break
            time.sleep(3)
        catalog = {p.stem for p in (REPO / "include" / "recipes").glob("*.yaml")}
        assert dags and set(dags) <= catalog | {"recipebench_janitor"} and not [d for d in dags if "example" in d], dags
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("recipebench ui did not stop on SIGTERM") from None
    assert proc.returncode == 0
    # Airflow's process tree went with it: nothing answers on the port any more
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{port}/api/v2/version")
