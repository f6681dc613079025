"""The fault matrix, extended with a network and an API server that misbehave (tests/fault_proxy.py in
front of the simulated API server): a call that never answers, slow answers, 409, 410, 403, an
answer that is not JSON or not the object asked about, a dropped connection. Each case ends within
its stage's limit, with a runs row, a reason that names the cause and nothing of the run left in the
cluster."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from recipebench.catalog.naming import run_selector
from recipebench.cluster.access import Target
from recipebench.cluster.api import Cluster
from recipebench.sim import SimCluster

from tests.conftest import REPO, run, runs_row
from tests.fault_proxy import FaultProxy, Rule

pytestmark = pytest.mark.e2e  # whole runs behind the fault proxy

RECIPE = "vllm-a4-deepseek-r1"  # single host: Deployment, Service, ConfigMap, Secret, a client Job
WATCH = r"/pods\?.*component"  # the readiness trigger's list of the server's pods (teardown's has no component)
CASES = {
    # name: (rules, failed stage or None, what the reason must say)
    "hang-once-on-apply": ([Rule("PATCH", r"/deployments/", "hang", times=1)], None, ""),
    "hang-on-the-watch": ([Rule("GET", WATCH, "hang", times=8)], "wait_ready",
                          "list Pod on kubeconfig"),
    "slow-api": ([Rule("*", r".", "slow", delay=0.05)], None, ""),
    "409-on-apply": ([Rule("PATCH", r"/deployments/", "409")], "deploy", "HTTP 409 Conflict: conflict (injected"),
    "410-once-on-a-list": ([Rule("GET", WATCH, "410", times=1)], None, ""),
    "403-on-the-watch": ([Rule("GET", WATCH, "403")], "wait_ready", "HTTP 403 Forbidden: forbidden (injected"),
    "bad-json-twice-on-a-get": ([Rule("GET", r"/deployments/", "bad-json", times=2)], None, ""),
    "bad-json-on-every-apply": ([Rule("PATCH", r"/deployments/", "bad-json")], "deploy",
                                "is not a Kubernetes object"),
    "wrong-object-on-apply": ([Rule("PATCH", r"/deployments/", "wrong-object")], "deploy",
                              "answered with Status/None, not Deployment/"),
    "drop-once-on-delete": ([Rule("DELETE", r"/deployments/", "drop", times=1)], None, ""),
}


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory):
    cluster = SimCluster(time_scale=600).start()
    proxy = FaultProxy(cluster.url, cluster.kubeconfig, str(tmp_path_factory.mktemp("proxy") / "kubeconfig")).start()
    yield cluster, proxy
    proxy.stop()
    cluster.stop()


@pytest.mark.parametrize("case", CASES)
def test_a_misbehaving_api_ends_the_run_within_its_limit_with_nothing_left(cluster_env, behind_proxy, monkeypatch,
                                                                            case):
    cluster, proxy = behind_proxy
    rules, stage, reason = CASES[case]
    proxy.rules = [Rule(**{**r.__dict__, "hits": 0}) for r in rules]
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", proxy.kubeconfig)
    monkeypatch.setenv("RECIPEBENCH_K8S_READ_TIMEOUT", "1.5")  # a call that never answers: 8 tries of 1.5 s
    started = time.monotonic()
    try:
        result = run(RECIPE)
    finally:
        proxy.rules = []
    took = time.monotonic() - started
    row = runs_row(result["run_id"])
    assert (result["status"], result["failed_stage"]) == ("success" if stage is None else "failed", stage), result
    assert (row["status"], row["failed_stage"]) == (result["status"], stage)
    if stage:
        assert reason in result["reason"] and reason in row["reason"] and "\n" not in row["reason"], result
    assert any(what != "forward" for _, _, what in proxy.seen), "the fault was never injected"
    proxy.seen.clear()
    left = Cluster(Target(kind="kubeconfig", label="sim", kubeconfig=cluster.kubeconfig,
                          context="recipebench-sim", simulated=True, time_scale=600)).list_labelled(
        run_selector(result["run_id"]))
    assert left == [] and result["leftover_objects"] == [], (left, result)
    # within its stage's limit: every wait of this recipe is hours on the cluster's clock (seconds here)
    assert took < 90, took


def test_sigterm_ends_a_run_stuck_in_a_call_that_never_answers(tmp_path):
    """The workload's apply hangs (no read timeout would rescue it within the test); SIGTERM ends the
    run within seconds, with its outcome, a runs row and nothing left."""
    cluster = SimCluster(time_scale=300).start()
    proxy = FaultProxy(cluster.url, cluster.kubeconfig, str(tmp_path / "kubeconfig")).start()
    proxy.rules = [Rule("PATCH", r"/deployments/", "hang")]
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "RECIPEBENCH_ARTIFACTS": f"file://{tmp_path}/a",
           "RECIPEBENCH_WAREHOUSE": f"duckdb://{tmp_path}/w.duckdb", "RECIPEBENCH_CLUSTER": proxy.kubeconfig,
           "RECIPEBENCH_IMAGES": "assume-present", "RECIPEBENCH_K8S_READ_TIMEOUT": "3600000",
           "AIRFLOW_CONN_HUGGINGFACE_DEFAULT": json.dumps({"conn_type": "generic", "password": "hf-x"})}
    # a cluster of its own, as in production: the accuracy gate's data set is staged beforehand
    subprocess.run([sys.executable, "-m", "recipebench", "stage-data", "gsm8k", "--generated", "200"], cwd=REPO,
                   env=env, check=True, capture_output=True)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "recipebench", "run", RECIPE], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not any(m == "PATCH" and "/deployments/" in p and w == "hang"
                                                      for m, p, w in proxy.seen):
            time.sleep(0.3)
        time.sleep(1)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        took = time.monotonic() - sent
        left = Cluster(Target(kind="kubeconfig", label="sim", kubeconfig=cluster.kubeconfig,
                              context="recipebench-sim", simulated=True, time_scale=300)).list_labelled(
            "app.kubernetes.io/managed-by=recipebench")
    finally:
        proxy.stop()
        cluster.stop()
    assert took < 30, took
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["status"] == "failed" and outcome["failed_stage"] == "deploy", outcome
    assert outcome["reason"].startswith("interrupted") and left == [], (outcome, left)
    import duckdb

    (stage,) = duckdb.connect(str(tmp_path / "w.duckdb")).execute(
        "SELECT failed_stage FROM runs WHERE run_id = ?", [outcome["run_id"]]).fetchone()
    assert stage == "deploy"


def test_an_api_error_that_echoes_a_secret_shows_neither_form_of_it(cluster_env, behind_proxy, monkeypatch, capfd,
                                                                    caplog):
    """A refusal that quotes the Secret it refused carries its data base64-encoded: masked as well."""
    import base64
    import logging

    from tests.conftest import NGC, SECRET

    cluster, proxy = behind_proxy
    proxy.rules = [Rule("PATCH", r"/secrets/", "echo-422")]
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", proxy.kubeconfig)
    try:
        with caplog.at_level(logging.INFO):
            result = run("dynamo-a4x-deepseek-r1-1p1d")
    finally:
        proxy.rules = []
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    # the platform install (its NGC Secret) or create_secrets: both apply a Secret
    assert result["failed_stage"] in ("ensure_platform", "create_secrets") and "HTTP 422" in result["reason"], result
    assert "admission webhook denied the request" in text, "the echoed refusal was not logged at all"
    encoded = [base64.b64encode(v.encode()).decode() for v in (SECRET, NGC, f"$oauthtoken:{NGC}")]
    for value in (SECRET, NGC, *encoded):
        assert value not in text and value not in json.dumps(runs_row(result["run_id"]), default=str)
