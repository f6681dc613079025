"""`recipebench run` / `demo`: a recipe's DAG run once, in-process (dag.test), against the configured
cluster, or the simulated one when none is configured, and its outcome as one JSON object."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from recipebench.catalog.paths import REPO_ROOT, VAR

# Placeholders for the simulated cluster only: it never pulls a model or an image.
SIM_CONNECTIONS = {
    "AIRFLOW_CONN_HUGGINGFACE_DEFAULT": {"conn_type": "generic", "password": "sim-placeholder-hf-token"},
    "AIRFLOW_CONN_NGC_DEFAULT": {"conn_type": "generic", "password": "sim-placeholder-ngc-key"},
}


def _airflow_env() -> None:
    home = Path(os.environ.setdefault("AIRFLOW_HOME", str(VAR / "airflow")))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO_ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".recipebench-migrated"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
        marker.write_text("ok\n")


@contextlib.contextmanager
def environment():
    """Airflow settings, and the simulated cluster when RECIPEBENCH_CLUSTER names none."""
    _airflow_env()
    sim = None
    saved = dict(os.environ)
    try:
        if not os.environ.get("RECIPEBENCH_CLUSTER"):
            from recipebench.sim import SimCluster

            sim = SimCluster().start()
            os.environ["RECIPEBENCH_CLUSTER"] = sim.kubeconfig
            os.environ.setdefault("RECIPEBENCH_IMAGES", "assume-present")  # the sim cannot reach Google
            for name, conn in SIM_CONNECTIONS.items():
                os.environ.setdefault(name, json.dumps(conn))
            print(f"recipebench: no cluster configured: using the simulated cluster at {sim.url} "
                  "(results are marked simulated; placeholder credentials)", file=sys.stderr)
        yield sim
    finally:
        if sim:
            sim.stop()
        os.environ.clear()
        os.environ.update(saved)


def run_recipe(recipe_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run the DAG once; the outcome, including objects of the run still in the cluster afterwards."""
    from airflow.dag_processing.dagbag import DagBag

    from recipebench.catalog.naming import run_key, run_selector
    from recipebench.cluster.access import ClusterError, Target
    from recipebench.cluster.api import Cluster
    from recipebench.pipeline import artifacts
    from recipebench.results.warehouse import WarehouseError, open_warehouse

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if recipe_id not in bag.dags:
        raise SystemExit(f"no DAG {recipe_id!r}; import errors: {bag.import_errors or 'none'}")
    dag = bag.dags[recipe_id]
    dag_run = dag.test(run_conf=params)
    key = run_key(recipe_id, dag_run.run_id)
    ledger = artifacts.ledger(recipe_id, key)
    rows = leftover = None
    try:
        rows = open_warehouse().count("results", key)
    except WarehouseError as exc:
        print(f"recipebench: {exc}", file=sys.stderr)
    if ledger.get("target"):
        try:
            leftover = [o["kind"] + "/" + o["metadata"]["name"] for o in
                        Cluster(Target.from_dict(ledger["target"])).list_labelled(run_selector(key))]
        except ClusterError as exc:
            print(f"recipebench: {exc}", file=sys.stderr)
    state = str(getattr(dag_run.state, "value", dag_run.state))
    return {"recipe": recipe_id, "run_id": key, "airflow_run_id": dag_run.run_id,
            "status": "success" if state == "success" else "failed",
            "failed_stage": ledger.get("failed_stage"), "reason": ledger.get("reason"), "result_rows": rows,
            "leftover_objects": leftover, "simulated": ledger.get("simulated")}
