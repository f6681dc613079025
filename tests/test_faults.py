"""Fails safe, says why, loses nothing. The fault matrix runs every simulator scenario against one
recipe of each shape, end to end (dag.test, real HTTP, the kubernetes client unpatched), and asserts:
the stage that failed, a one-line reason that names the cause, a runs row saying the same, and no
object of the run left in the cluster, or a failed run naming what was left. Then each way a run
used to fail unsafely (issue 11, items 1-12) on its own."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from recipebench.catalog.naming import run_selector
from recipebench.cluster.access import Target
from recipebench.cluster.api import Cluster
from recipebench.pipeline import artifacts
from recipebench.sim import SimCluster

from tests.conftest import REPO, run, runs_row

SHAPES = {"single-host": "vllm-a4-deepseek-r1", "multi-host": "sglang-a3mega-deepseek-r1-lws",
          "offline": "trtllm-a4x-deepseek-r1-nvfp4", "disaggregated": "dynamo-a4x-deepseek-r1-1p1d"}
SERVED = ("single-host", "multi-host", "disaggregated")  # shapes with a server (offline: the Job is the benchmark)


def _expect(shape: str) -> dict:
    """scenario -> (failed stage or None for success, text the reason must contain) for one shape."""
    offline = shape == "offline"
    table = {
        "ready": (None, ""),
        "capacity-wait-then-ready": (None, ""),
        "api-flaky": (None, ""),  # 20% of API requests answer 500 or drop: retried, the run succeeds
        "image-pull-failure": ("wait_ready", "image pull failure: pod "),
        "crash-loop": ("wait_ready", "Job failed: container offline of pod" if offline else "crash loop: container "),
        "oom": ("wait_ready", "exited with code 137 (OOMKilled)" if offline else "OOM-killed: container "),
        "unschedulable": ("wait_ready", "unschedulable: pod "),
        "corrupt-output": ("benchmark", "ParseError: "),
        "log-rotated": ("benchmark", "OutputsIncomplete: "),
        "api-500-on-delete": ("teardown", "TeardownIncomplete: "),
        # only what include/rbac/ grants: enough for a whole run
        "rbac-shipped": (None, ""),
        # readiness goes through the service proxy; checked before anything is created
        "rbac-missing-proxy": (None, "") if offline else (
            "ensure_platform", "PermissionMissing: recipebench cannot get services/proxy in namespace "),
    }
    if not offline:  # a client Job, a server to ask
        table |= {"bench-job-failure": ("benchmark", "ClientConnectorError: Cannot connect to host"),
                  "health-before-load": (None, ""),
                  "model-never-served": ("wait_ready", "reports ready, but /v1/models does not list"),
                  "completion-fails": ("wait_ready", "a test completion failed (500: CUDA error")}
    if shape in ("multi-host", "disaggregated"):  # they install LeaderWorkerSet / Dynamo with helm
        table["helm-failure"] = ("ensure_platform", "helm install of ")
    return table


MATRIX = [(scenario, shape) for shape in SHAPES for scenario in _expect(shape)]


@pytest.fixture(scope="module")
def fast_sim():
    """Quicker than the default: the serving scenarios wait out a 2-hour ready limit."""
    cluster = SimCluster(time_scale=1200).start()
    yield cluster
    cluster.stop()


@pytest.mark.parametrize("scenario, shape", MATRIX)
def test_fault_matrix(cluster_env, fast_sim, monkeypatch, scenario, shape):
    stage, reason = _expect(shape)[scenario]
    cluster = SimCluster(time_scale=1200).start() if scenario == "helm-failure" else fast_sim  # helm runs on a bare one
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", cluster.kubeconfig)
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", scenario)
    try:
        result = run(SHAPES[shape])
        monkeypatch.delenv("RECIPEBENCH_SIM_SCENARIO")  # the API answers deletes again
        left_now = Cluster(Target.from_dict(artifacts.ledger(result["recipe"], result["run_id"])["target"])) \
            .list_labelled(run_selector(result["run_id"]))
    finally:
        if scenario == "helm-failure":
            cluster.stop()
    row = runs_row(result["run_id"])
    assert result["status"] == ("success" if stage is None else "failed"), result
    assert (result["failed_stage"], row["failed_stage"]) == (stage, stage), result
    assert row["status"] == result["status"]
    if stage:
        assert reason in result["reason"] and reason in row["reason"] and "\n" not in result["reason"], result
    if scenario == "api-500-on-delete":
        # the workload could not be deleted: the run says so and names it, here and in the warehouse
        kind = {"single-host": "Deployment", "multi-host": "LeaderWorkerSet", "offline": "Job",
                "disaggregated": "DynamoGraphDeployment"}[shape]
        assert any(o.startswith(f"{kind}/") for o in json.loads(row["leftover_objects"])), row
        assert f"{kind}/" in result["reason"] and result["leftover_objects"]
        Cluster(Target.from_dict(artifacts.ledger(result["recipe"], result["run_id"])["target"])).delete_labelled(
            run_selector(result["run_id"]))  # the API is back: clean up for the next test
    else:
        assert result["leftover_objects"] == [] and left_now == [] and row["leftover_objects"] is None, result


# -- 1. a failed teardown fails the run (covered by api-500-on-delete above) and is not hidden by a
# -- later retry's success -------------------------------------------------------------------------

def test_a_teardown_that_succeeds_on_retry_clears_its_failure(tmp_path, monkeypatch):
    from recipebench.pipeline.bodies import StageContext, run_stage

    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")
    ctx = StageContext("r", "a", "rk0000001", "manual", {}, log=None)
    tries = iter([RuntimeError("etcd timed out"), None])

    def body(_):
        error = next(tries)
        if error:
            raise error

    with pytest.raises(RuntimeError):
        run_stage("teardown", ctx, body)
    assert artifacts.ledger("r", "rk0000001")["failed_stage"] == "teardown"
    run_stage("teardown", ctx, body)
    assert not artifacts.ledger("r", "rk0000001")["failed_stage"]


# -- 2. an unreadable recipe file is one broken recipe, named ------------------------------------------

@pytest.mark.subprocess
def test_an_unreadable_recipe_file_breaks_only_itself(scratch_recipes):
    from recipebench.pipeline.dag_factory import build_all

    (scratch_recipes / "latin1.yaml").write_bytes("description: caf\xe9\n".encode("latin-1"))
    (scratch_recipes / "folder.yaml").mkdir()
    dags = build_all(scratch_recipes)
    assert len([d for d in dags.values() if "invalid-recipe" not in d.tags]) == 8
    assert "latin1.yaml: not UTF-8 text" in dags["latin1"].description
    assert "folder.yaml: cannot be read" in dags["folder"].description
    out = subprocess.run([sys.executable, "-m", "recipebench", "validate", "--recipes-only", "--dir",
                          str(scratch_recipes)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 1 and f"{scratch_recipes}/latin1.yaml: not UTF-8 text (byte 16" in out.stderr
    assert "Traceback" not in out.stderr


# -- 3. transient API errors are retried; what fails says what the API said ---------------------------

def test_transient_api_errors_are_retried_and_the_last_answer_kept():
    from kubernetes.client.exceptions import ApiException
    from recipebench.cluster.access import ClusterError
    from recipebench.cluster.api import ATTEMPTS, with_retries

    def busy():
        exc = ApiException(status=500, reason="Internal Server Error")
        exc.body = json.dumps({"kind": "Status", "message": "etcdserver: request timed out", "code": 500})
        raise exc

    slept = []
    with pytest.raises(ClusterError, match="delete Deployment/x: HTTP 500 Internal Server Error: etcdserver: request "
                                           f"timed out \\(still failing after {ATTEMPTS} tries\\)"):
        with_retries("delete Deployment/x", busy, slept.append)
    assert slept[:3] == [1.0, 2.0, 4.0] and max(slept) == 30.0 and len(slept) == ATTEMPTS - 1

    refused = ApiException(status=422, reason="Unprocessable Entity")
    with pytest.raises(ApiException):  # a refusal is not retried
        with_retries("apply", lambda: (_ for _ in ()).throw(refused), slept.append)


def test_secrets_are_all_or_nothing():
    """The second Secret fails: the first is removed again (no teardown runs when the first setup failed)."""
    import logging

    from recipebench.catalog.recipe import load_recipe
    from recipebench.cluster.secrets import create_secrets
    from recipebench.manifests.render import example_run

    class HalfWay:
        target = Target(kind="kubeconfig", label="test")
        applied, deleted = [], []

        def ensure_namespace(self, ns):
            pass

        def apply(self, objects):
            self.applied.append(objects[0]["metadata"]["name"])
            raise RuntimeError("HTTP 500 on the second Secret")

        def delete(self, obj):
            self.deleted.append(obj["metadata"]["name"])

    os.environ["AIRFLOW_CONN_HUGGINGFACE_DEFAULT"] = json.dumps({"conn_type": "generic", "password": "x"})
    os.environ["AIRFLOW_CONN_NGC_DEFAULT"] = json.dumps({"conn_type": "generic", "password": "y"})
    cluster = HalfWay()
    with pytest.raises(RuntimeError):
        create_secrets(example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d")), cluster, logging.getLogger("t"))
    assert cluster.applied and set(cluster.applied) <= set(cluster.deleted) and len(cluster.deleted) == 2


# -- 4. the CLI always ends with its JSON outcome; SIGTERM stops a run cleanly ----------------------------

def test_the_outcome_is_printed_when_the_cluster_is_gone_after_the_run(cluster_env, monkeypatch, capsys):
    import importlib

    from recipebench.cli import runner

    cli = importlib.import_module("recipebench.cli.main")

    def gone(*_):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(runner, "_leftover", gone)
    monkeypatch.setattr(runner, "_result_rows", gone)
    with runner.environment():
        result = cli.run_and_report("vllm-a4-deepseek-r1", {})
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == result and result["status"] == "success"
    assert result["after_run_errors"] == ["warehouse: ConnectionRefusedError: [Errno 111] Connection refused",
                                          "cluster: ConnectionRefusedError: [Errno 111] Connection refused"]


def test_demo_goes_on_after_a_recipe_that_crashes(monkeypatch, capsys):
    import importlib

    from recipebench.cli import runner

    cli = importlib.import_module("recipebench.cli.main")

    def fake(recipe_id, params):
        if recipe_id == "sglang-a3ultra-deepseek-r1":
            raise RuntimeError("the artifacts location is gone")
        return {"recipe": recipe_id, "status": "success", "leftover_objects": []}

    monkeypatch.setattr(runner, "run_recipe", fake)
    monkeypatch.setattr(runner, "environment", _nothing)
    monkeypatch.setattr(cli, "cmd_validate", lambda args: 0)
    monkeypatch.setattr(cli, "cmd_results", lambda args: 0)
    from recipebench.cli import report

    monkeypatch.setattr(report, "quiet", lambda log: contextlib.nullcontext(sys.stdout))  # the terminal, captured
    assert cli.cmd_demo(None) == 1
    out = capsys.readouterr().out
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert len(lines) == 8 and [x["status"] for x in lines].count("failed") == 1
    assert next(x for x in lines if x["status"] == "failed")["reason"] == "RuntimeError: the artifacts location is gone"
    # the terminal's lines: one per recipe, the summary table, the count
    assert "] sglang-a3ultra-deepseek-r1: failed: RuntimeError: the artifacts location is gone (" in out
    assert re.search(r"^recipe\s+status\s+results\s+best tok/s/GPU\s+failed stage: reason$", out, re.M)
    assert "7 of 8 recipes ran end to end; failed or left objects: sglang-a3ultra-deepseek-r1" in out


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.subprocess
def test_sigterm_stops_the_run_tears_down_and_reports(tmp_path):
    """Real time (the simulator at 1x): SIGTERM while the server comes up; the process ends within
    seconds, with its JSON outcome, nothing left in the cluster, and a runs row."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "RECIPEBENCH_ARTIFACTS": f"file://{tmp_path}/a",
           "RECIPEBENCH_WAREHOUSE": f"duckdb://{tmp_path}/w.duckdb", "RECIPEBENCH_SIM_TIME_SCALE": "1"}
    env.pop("RECIPEBENCH_CLUSTER", None)
    proc = subprocess.Popen([sys.executable, "-m", "recipebench", "run", "vllm-a4-deepseek-r1"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until the workload is applied
        ledgers = list((tmp_path / "a").rglob("ledger.json"))
        if ledgers and "deploy" in json.loads(ledgers[0].read_text()).get("stages", {}):
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the run never deployed")
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=90)
    assert time.monotonic() - sent < 60 and proc.returncode == 1
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["status"] == "failed" and outcome["reason"].startswith("interrupted: the process received SIGTERM")
    # the signal lands as deploy hands over to wait_ready (or just before): either is where it stopped
    assert outcome["failed_stage"] in ("deploy", "wait_ready") and outcome["leftover_objects"] == [], outcome
    import duckdb

    (stage,) = duckdb.connect(str(tmp_path / "w.duckdb")).execute(
        "SELECT failed_stage FROM runs WHERE run_id = ?", [outcome["run_id"]]).fetchone()
    assert stage == outcome["failed_stage"]


# -- 5. where results go is checked at resolve; every failure is recorded ------------------------------

def test_unwritable_artifacts_fail_resolve_in_seconds_and_still_get_a_runs_row(cluster_env, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # nothing can be created below a file, not even by root
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{blocker}/artifacts")
    started = time.monotonic()
    result = run("vllm-a4-deepseek-r1")
    assert time.monotonic() - started < 60
    assert result["failed_stage"] == "resolve" and "the artifacts location file://" in result["reason"]
    assert result["leftover_objects"] is None  # nothing was deployed (and no ledger to say where)
    row = runs_row(result["run_id"])
    assert (row["status"], row["failed_stage"]) == ("failed", "resolve") and "artifacts location" in row["reason"]


def test_an_unwritable_warehouse_fails_resolve_naming_it(cluster_env, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE", f"duckdb://{blocker}/w.duckdb")
    result = run("vllm-a4-deepseek-r1")
    assert result["failed_stage"] == "resolve" and f"the warehouse duckdb://{blocker}/w.duckdb cannot be used" \
        in result["reason"], result
    assert result["leftover_objects"] is None  # resolve failed before it named a cluster: nothing was deployed


@pytest.mark.subprocess
def test_a_destination_that_does_not_answer_fails_within_the_bound(monkeypatch):
    """gs:// without credentials: gcsfs would look for a metadata server for minutes."""
    from recipebench.pipeline.destinations import DestinationError, check_destinations

    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", "gs://recipebench-no-such-bucket/artifacts")
    monkeypatch.setenv("RECIPEBENCH_PROBE_TIMEOUT", "3")
    started = time.monotonic()
    with pytest.raises(DestinationError, match="gs://recipebench-no-such-bucket/artifacts"):
        check_destinations()
    assert time.monotonic() - started < 10


# -- 6. concurrent writers of the local warehouse; concurrent first runs --------------------------------

HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS hold (x INT)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


@pytest.mark.subprocess
def test_a_locked_warehouse_is_waited_for(tmp_path, monkeypatch):
    from recipebench.results.warehouse import WarehouseError, open_warehouse

    path = tmp_path / "w.duckdb"
    holder = _holder(path, 3)
    started = time.monotonic()
    open_warehouse(f"duckdb://{path}").ensure_tables()  # waits for the other process
    assert time.monotonic() - started > 1
    holder.wait()
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE_LOCK_WAIT", "1")
    holder = _holder(path, 6)
    try:
        with pytest.raises(WarehouseError, match="another process has held its lock for more than 1 s"):
            open_warehouse(f"duckdb://{path}").ensure_tables()
    finally:
        holder.kill()


@pytest.mark.subprocess
def test_two_first_runs_share_one_migration(tmp_path):
    """What `recipebench run` does first on a fresh AIRFLOW_HOME, twice at once."""
    code = "import sys; sys.path.insert(0, 'plugins'); from recipebench.cli.runner import _airflow_env; _airflow_env()"
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert (tmp_path / ".recipebench-migrated").exists()


# -- 7, 8. recipe validation ---------------------------------------------------------------------------

BAD = [
    ("schedule", "99 99 * * *", "schedule must be a valid 5-field cron expression"),
    ("benchmark.points.0.num_prompts", 10**12, "num_prompts: Input should be less than or equal to 100000"),
    ("benchmark.points.0.num_prompts", True, "num_prompts: Input should be a valid integer (got True)"),
    ("benchmark.points.0.concurrency", True, "concurrency: Input should be a valid integer (got True)"),
    ("serving.args.tensor-parallel-size", 16, "tensor x pipeline parallel = 16 ranks, but a server instance holds 1 "
                                              "node(s) x 8 GPUs = 8 (a4)"),
    ("serving.args.max_num_seqs", 8, "vllm does not spell its flags like 'max_num_seqs' (write 'max-num-seqs')"),
    ("id", "another-name", "field id: 'another-name' differs from the file name 'vllm-a4-deepseek-r1'"),
]


@pytest.mark.parametrize("path, value, message", BAD, ids=[b[0] + "=" + str(b[1]) for b in BAD])
def test_recipe_validation_refuses(scratch_recipes, path, value, message):
    import yaml
    from recipebench.catalog.recipe import RecipeError, load_recipe

    file = scratch_recipes / "vllm-a4-deepseek-r1.yaml"
    data = yaml.safe_load(file.read_text())
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    node[leaf] = value
    file.write_text(yaml.safe_dump(data))
    with pytest.raises(RecipeError) as err:
        load_recipe("vllm-a4-deepseek-r1", scratch_recipes)
    assert str(file) in str(err.value) and message in str(err.value), str(err.value)


def test_a_key_given_twice_is_refused_with_both_lines(scratch_recipes):
    from recipebench.catalog.recipe import RecipeError, load_recipe

    file = scratch_recipes / "vllm-a4-deepseek-r1.yaml"
    file.write_text(file.read_text() + "owner: someone-else\n")
    with pytest.raises(RecipeError, match=r"not valid YAML: line \d+, column 1: found key 'owner' twice \(first at "
                                          r"line 3\)"):
        load_recipe("vllm-a4-deepseek-r1", scratch_recipes)


def test_trtllm_flags_are_snake_case_and_its_parallelism_is_checked(scratch_recipes):
    from recipebench.catalog.recipe import RecipeError, load_recipe

    file = scratch_recipes / "trtllm-a4x-deepseek-r1-nvfp4.yaml"
    text = file.read_text()
    file.write_text(text.replace("    tp: 4\n", "    tp: 8\n"))
    with pytest.raises(RecipeError, match=r"tensor x pipeline parallel = 8 ranks, but a server instance holds 1 node"):
        load_recipe("trtllm-a4x-deepseek-r1-nvfp4", scratch_recipes)
    file.write_text(text.replace("kv_cache_free_gpu_mem_fraction", "kv-cache-free-gpu-mem-fraction"))
    with pytest.raises(RecipeError, match="write 'kv_cache_free_gpu_mem_fraction'"):
        load_recipe("trtllm-a4x-deepseek-r1-nvfp4", scratch_recipes)


# -- 9. GPU hours and the end of a run come from the run's own timestamps ------------------------------

def test_gpu_hours_do_not_grow_with_a_late_load():
    from recipebench.catalog.recipe import load_recipe
    from recipebench.manifests.render import example_run
    from recipebench.results.rows import run_row

    run_ = example_run(load_recipe("vllm-a4-deepseek-r1"))
    t0 = 1_800_000_000.0
    stages = {"resolve": {"start": t0 - 60, "end": t0 - 50}, "deploy": {"start": t0, "end": t0 + 5},
              "benchmark": {"start": t0 + 100, "end": t0 + 160, "state": "success"},
              "teardown": {"start": t0 + 170, "end": t0 + 180}, "load": {"start": t0 + 7200, "end": t0 + 7201}}
    timely = run_row(run_.recipe.id, run_.run_key, {"stages": stages}, run_, now=t0 + 200)
    late = run_row(run_.recipe.id, run_.run_key, {"stages": stages}, run_, now=t0 + 7300)
    assert timely["gpu_hours"] == late["gpu_hours"] == pytest.approx(8 * 180 / 3600)
    assert timely["finished_at"] == late["finished_at"] == t0 + 180


# -- 10. reasons in real minutes; an offline Job that overruns says so ---------------------------------

def test_limits_are_said_in_real_minutes_and_offline_overruns_say_what_is_late():
    from recipebench.catalog.recipe import load_recipe
    from recipebench.cluster.readiness import assess
    from recipebench.cluster.workload import readiness_limits
    from recipebench.manifests.render import example_run

    target = Target(kind="kubeconfig", label="sim", time_scale=300.0)
    run_ = example_run(load_recipe("trtllm-a4x-deepseek-r1-nvfp4"))
    _, ready_s, _ = readiness_limits(run_, target)
    # start-up and the one point's budget (its three trials): the Job is the benchmark
    assert ready_s * 300 / 60 == 90 + 120 * 3
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                                                   "containerStatuses": [{"name": "offline", "state": {"running": {}}}]}}
    obs = {"shape": "offline", "kind": "Job", "name": "j", "workload": {"status": {"active": 1}}, "pods": [pod]}
    verdict = assess(obs, 0, ready_s + 1, 1e9, ready_s, time_scale=300.0)
    assert verdict.state == "failed" and verdict.reason.startswith("Job j has not completed after 450 min")
    assert "pod(s) not ready" not in verdict.reason


# -- 11. the simulator answers previous=True with the previous container's log --------------------------

def test_the_previous_log_is_the_crashed_containers(cluster_env, sim, monkeypatch):
    from recipebench.catalog.recipe import load_recipe
    from recipebench.cluster.access import target_for
    from recipebench.manifests.render import example_run, render_workload

    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "crash-loop")
    run_ = example_run(load_recipe("vllm-a4-deepseek-r1"), "rprevious1")
    cluster = Cluster(target_for(run_.recipe))
    cluster.apply(render_workload(run_))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pods = [p for p in cluster.pods("default", run_selector(run_.run_key)) if any(
            s.get("restartCount") for s in p.get("status", {}).get("containerStatuses") or [])]
        if pods:
            break
        time.sleep(0.2)
    name = pods[0]["metadata"]["name"]
    previous, current = cluster.logs("default", name, "server", previous=True), cluster.logs("default", name, "server")
    cluster.delete_labelled(run_selector(run_.run_key))
    assert "Traceback" in previous and "Traceback" not in current


# -- 12. trigger params are parsed without constructing anything, and refused before anything starts ----

@pytest.mark.subprocess
def test_a_yaml_tag_in_a_param_is_refused_before_anything_starts():
    out = subprocess.run([sys.executable, "-m", "recipebench", "run", "vllm-a4-deepseek-r1", "--param",
                          "image_tag=!!python/object/apply:os.system [id]"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "trigger params: field image.tag" in out.stderr and "!!python/object/apply:os.system [id]" in out.stderr
    assert "simulated cluster" not in out.stderr


def test_params_are_json_or_plain_text():
    from recipebench.cli.main import parse_params

    assert parse_params(["concurrency=[1, 8]", "keep_alive=true", "image_tag=v0.9.1", "num_prompts=10",
                         "model=null"]) == {"concurrency": [1, 8], "keep_alive": True, "image_tag": "v0.9.1",
                                            "num_prompts": 10, "model": None}
