"""Security and faults, round two: each way a probe found a run to fail unsafely, on its own (the
network and API faults are in test_fault_proxy.py, the results pages' in test_ui.py)."""

import json
import shutil

import pytest
from recipebench.catalog.naming import run_selector
from recipebench.cluster.api import Cluster
from recipebench.pipeline import artifacts, bodies

from tests.conftest import run, runs_row

RECIPE = "vllm-a4-deepseek-r1"


def _remove_artifacts_before(monkeypatch, stage):
    """Removes the run's artifacts folder right before `stage` runs, as an operator cleaning a bucket would."""
    original = getattr(bodies, stage)

    def body(ctx):
        folder = artifacts.run_prefix(ctx.recipe_id, ctx.run_key)
        if folder.exists():
            shutil.rmtree(folder.path)
        return original(ctx)

    monkeypatch.setattr(bodies, stage, body)


def _left(sim, key):
    from recipebench.cluster.access import Target

    return Cluster(Target(kind="kubeconfig", label="sim", kubeconfig=sim.kubeconfig, context="recipebench-sim",
                          simulated=True, time_scale=sim.time_scale)).list_labelled(run_selector(key))


# -- 4. teardown does not depend on the artifacts ledger ------------------------------------------------

def test_artifacts_lost_before_a_point_fail_that_stage_clearly_and_teardown_still_runs(cluster_env, monkeypatch):
    _remove_artifacts_before(monkeypatch, "benchmark")
    result = run(RECIPE)
    row = runs_row(result["run_id"])
    assert (row["status"], row["failed_stage"]) == ("failed", "benchmark"), row
    assert row["reason"].startswith("ArtifactsLost: the run's ledger ") and "is gone" in row["reason"], row
    assert row["simulated"] is True  # known from resolve's XCom: never loaded as a real number
    assert _left(cluster_env, result["run_id"]) == []


def test_artifacts_lost_after_the_points_keep_the_numbers_and_tear_down(cluster_env, monkeypatch):
    _remove_artifacts_before(monkeypatch, "teardown")
    result = run(RECIPE)
    row = runs_row(result["run_id"])
    assert (row["status"], row["failed_stage"]) == ("failed", "artifacts"), row
    assert "ledger was lost" in row["reason"] and row["simulated"] is True
    from recipebench.results.warehouse import open_warehouse

    assert open_warehouse().count("results", result["run_id"]) == 1  # the point, from its task's XCom
    assert _left(cluster_env, result["run_id"]) == []


def test_a_stage_needing_the_ledger_says_it_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")
    ctx = bodies.StageContext("r", "a", "rgone00001", "manual", {}, stage="deploy")
    with pytest.raises(artifacts.ArtifactsLost, match=r"the run's ledger .*rgone00001/ledger.json is gone"):
        ctx.cluster()


def test_an_unwritable_artifacts_location_is_named(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{blocker}")
    with pytest.raises(artifacts.ArtifactsLost, match=r"cannot write .* \(the run's artifacts location file://"):
        artifacts.write_text("r", "k", "raw/x.log", "text")


def test_an_output_name_with_a_path_separator_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}/a")
    for name in ("../../escape.txt", "raw/../../x", "/etc/cron.d/x"):
        with pytest.raises(artifacts.NotInside):
            artifacts.write_text("r", "k", name, "text")
    assert not (tmp_path / "escape.txt").exists()
    assert json.loads(json.dumps(artifacts.write_text("r", "k", "raw/p/ok.log", "x"))).endswith("raw/p/ok.log")


def test_a_pod_cannot_choose_where_its_outputs_are_written():
    from recipebench.manifests.command_lines import OutputsIncomplete, frame_outputs, unframe_outputs

    log = "\n".join(frame_outputs({"../../../../etc/cron.d/x": "* * * * * root sh", "ok.json": "{}"}))
    with pytest.raises(OutputsIncomplete, match="a result file's name may not hold a path separator"):
        unframe_outputs(log)


# -- 10. a run is never "success" without its rows ------------------------------------------------------

def test_a_load_that_fails_halfway_leaves_no_runs_row(warehouse):
    from recipebench.results.warehouse import WarehouseError

    from tests.test_results import finish, make_run

    run_ = make_run("rhalf00001", 1_800_000_000, params={"concurrency": [1, 8]})
    finish(run_)
    from recipebench.pipeline.loading import load_run

    from tests.test_alerts import log

    real = warehouse.upsert

    def disk_full(table, rows):
        if table == "results" and rows:
            real(table, rows[:1])  # the first row made it, then the disk was full
            raise WarehouseError(f"{warehouse.label}: IOException: No space left on device")
        return real(table, rows)

    warehouse.upsert = disk_full
    with pytest.raises(WarehouseError, match="No space left"):
        load_run(run_.recipe.id, run_.run_key, run_, warehouse, log)
    warehouse.upsert = real
    assert warehouse.count("runs", run_.run_key) == 0  # never "success" without its results
    if warehouse.kind == "duckdb":  # one transaction: the half-written results went too
        assert warehouse.count("results", run_.run_key) == 0
    load_run(run_.recipe.id, run_.run_key, run_, warehouse, log)  # the retry writes both
    points = len(run_.recipe.benchmark.points)
    assert warehouse.count("runs", run_.run_key) == 1 and warehouse.count("results", run_.run_key) == points


# -- 12. bad input that stops the catalog or leaks ---------------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))


def test_a_yaml_alias_bomb_is_refused_and_the_other_dags_load(scratch_recipes):
    import resource

    from recipebench.pipeline.dag_factory import build_all

    (scratch_recipes / "bomb.yaml").write_text("description: x\n" + BOMB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dags = build_all(scratch_recipes)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: nothing expanded
    assert len([d for d in dags.values() if "invalid-recipe" not in d.tags]) == 8
    assert "aliases (*name) are not allowed in recipe files" in dags["bomb"].description


def test_an_oversize_recipe_file_is_not_read(scratch_recipes):
    from recipebench.catalog.recipe import RecipeError, load_recipe

    (scratch_recipes / "huge.yaml").write_text("description: x\n" + "#" * 400_000 + "\n")
    with pytest.raises(RecipeError, match=r"huge.yaml: \d+ bytes, more than a recipe file may hold"):
        load_recipe("huge", scratch_recipes)


def test_a_recipe_linked_out_of_the_folder_is_not_read_or_quoted(scratch_recipes, tmp_path):
    from recipebench.pipeline.dag_factory import build_all

    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASHVALUE:19000:0:99999:7:::\nuser:$6$OTHERHASH:19000::::::\n")
    (scratch_recipes / "shadow.yaml").symlink_to(secret)
    dags = build_all(scratch_recipes)
    dag = dags["shadow"]
    assert "a link out of the recipes folder" in dag.description
    assert "SECRETHASH" not in dag.description + dag.doc_md and "OTHERHASH" not in dag.description + dag.doc_md


def test_an_error_quotes_at_most_the_failing_line(scratch_recipes):
    from recipebench.catalog.recipe import RecipeError, load_recipe

    file = scratch_recipes / "vllm-a4-deepseek-r1.yaml"
    value = "a4" + " " * 100 + "\nSECOND LINE SECRET"
    file.write_text(file.read_text().replace("accelerator: a4", f"accelerator: {json.dumps(value)}"))
    with pytest.raises(RecipeError) as err:
        load_recipe("vllm-a4-deepseek-r1", scratch_recipes)
    assert "field accelerator" in str(err.value) and "SECRET" not in str(err.value), str(err.value)


@pytest.mark.parametrize("source", ["/dev/zero", "big"])
def test_parse_refuses_what_would_fill_the_memory(tmp_path, source):
    import subprocess
    import sys

    from tests.conftest import REPO

    path = source
    if source == "big":
        path = str(tmp_path / "big.log")
        with open(path, "wb") as fh:
            fh.truncate(3 << 20)  # sparse: 3 MiB of NULs, over the 2 MiB bound set below
    out = subprocess.run([sys.executable, "-m", "recipebench", "parse", path], cwd=REPO, capture_output=True,
                         text=True, timeout=120, env={**__import__("os").environ, "RECIPEBENCH_PARSE_MAX_BYTES": str(2 << 20)})
    assert out.returncode == 2 and "Traceback" not in out.stderr and "MemoryError" not in out.stderr
    assert f"{path}: more than 2 MiB" in out.stderr, out.stderr


def test_a_gzip_compressed_output_is_read(tmp_path):
    import gzip

    from recipebench.parsers.detect import parse_file

    from tests.conftest import FIXTURES

    plain = FIXTURES / "vllm" / "v0.8.4-benchmark_serving-stdout-skypilot-prefixed-deepseek-r1-1k2k.txt"
    packed = tmp_path / "out.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert parse_file(str(packed)).records == parse_file(str(plain)).records


def test_slack_gets_the_text_not_commands(monkeypatch):
    from recipebench.pipeline.notify import channels

    monkeypatch.setenv("RECIPEBENCH_ALERT_SLACK_CHANNEL", "#perf")
    ((name, make),) = channels()
    notifier = make("s", "reason: unknown param(s) '<!channel> <@U024BE7LH> <https://evil|click>' & more")
    assert name == "slack" and notifier.text == ("reason: unknown param(s) '&lt;!channel&gt; &lt;@U024BE7LH&gt; "
                                                 "&lt;https://evil|click&gt;' &amp; more")


# -- 5. every ended run gets its runs row, whatever ended it ---------------------------------------------

def _stopped_during_benchmark(airflow_run_id):
    """What a run marked failed from the UI during its benchmark leaves: a ledger without load."""
    import time

    from recipebench.catalog.naming import run_key
    from recipebench.catalog.params import build_run_config
    from recipebench.catalog.recipe import load_recipe

    recipe = load_recipe(RECIPE)
    key = run_key(recipe.id, airflow_run_id)
    run_ = build_run_config(recipe, {}, key, airflow_run_id, "manual", now=time.time())
    artifacts.write_json(recipe.id, key, "run.json", run_.model_dump(mode="json"))
    t = time.time()
    artifacts.record(recipe.id, key, simulated=True, stages={
        **{s: {"start": t, "end": t + 1, "state": "success"} for s in ("resolve", "build_image", "ensure_platform",
                                                                     "create_secrets", "reserve_gpus", "deploy",
                                                                     "wait_ready")},
        "benchmark:p": {"start": t + 2, "end": t + 3, "state": "deferred"},
        "teardown": {"start": t + 5, "end": t + 6, "state": "success"}})
    return key


def test_a_run_marked_failed_from_the_ui_gets_its_runs_row_from_the_callback(duck, monkeypatch):
    from recipebench.pipeline.notify import RecipeNotifier
    from recipebench.results import warehouse as wh

    monkeypatch.setattr(wh, "open_warehouse", lambda url=None: duck)
    key = _stopped_during_benchmark("manual__marked-failed")
    # the DAG processor's minimal context: no dag_run (processor.py, _execute_dag_callbacks)
    RecipeNotifier(RECIPE).notify({"run_id": "manual__marked-failed", "reason": "task_failure"})
    (row,) = duck.select("runs", {"run_id": key})
    assert (row["status"], row["failed_stage"]) == ("failed", "benchmark"), row
    assert row["reason"].startswith("the run ended during benchmark without its load stage") and row["simulated"]


def test_a_run_whose_state_is_set_through_the_api_gets_its_runs_row_from_the_listener(duck, monkeypatch):
    from types import SimpleNamespace

    from recipebench.pipeline import listener
    from recipebench.results import warehouse as wh

    monkeypatch.setattr(wh, "open_warehouse", lambda url=None: duck)
    key = _stopped_during_benchmark("manual__patched")
    dag_run = SimpleNamespace(dag_id=RECIPE, run_id="manual__patched")
    duck.ensure_tables()
    listener.on_dag_run_failed(dag_run, "Task failed")  # the scheduler's own change: the callbacks have it
    assert duck.select("runs", {"run_id": key}) == []
    listener.on_dag_run_failed(dag_run, "Dag Run's state was manually set to `failed`.")
    (row,) = duck.select("runs", {"run_id": key})
    assert row["status"] == "failed" and "manually set to `failed`" in row["reason"]
    listener.on_dag_run_success(dag_run, "Dag Run's state was manually set to `success`.")  # written once
    assert len(duck.select("runs", {"run_id": key})) == 1


# -- 6, 7. the janitor frees what outlived its run, and a paused run's GPUs, within a bound ------------------

def _cluster(sim):
    from recipebench.cluster.access import Target

    return Cluster(Target(kind="kubeconfig", label="sim", kubeconfig=sim.kubeconfig, context="recipebench-sim",
                          simulated=True, time_scale=sim.time_scale))


def test_the_run_keeps_a_heartbeat_while_it_runs_and_teardown_removes_it(cluster_env, monkeypatch):
    seen = []
    original = bodies.benchmark

    def body(ctx):
        seen.append(_cluster(cluster_env).list("coordination.k8s.io/v1", "Lease", ctx.run.recipe.cluster.namespace,
                                               run_selector(ctx.run_key)))
        return original(ctx)

    monkeypatch.setattr(bodies, "benchmark", body)
    result = run(RECIPE)
    assert result["status"] == "success" and seen and len(seen[0]) == 1, seen
    assert seen[0][0]["metadata"]["name"].endswith("-alive") and seen[0][0]["spec"]["renewTime"]
    assert _left(cluster_env, result["run_id"]) == []  # the heartbeat went with the rest


def test_an_apply_that_lands_after_teardown_is_removed_by_the_janitor(cluster_env):
    import logging
    import time

    from recipebench.catalog.params import RunConfig
    from recipebench.cluster.janitor import sweep
    from recipebench.manifests.render import render_workload

    result = run(RECIPE)
    config = RunConfig.model_validate(artifacts.read_json(RECIPE, result["run_id"], "run.json"))
    cluster = _cluster(cluster_env)
    late = [o for o in render_workload(config.deployed(time.time())) if o["kind"] == "Deployment"]
    cluster.apply(late)  # the deploy task's apply, still in flight when the run was torn down
    assert _left(cluster_env, result["run_id"]) != []
    sweep(cluster, logging.getLogger("test"), now=time.time() + 1)  # past the grace on the cluster's clock
    assert _left(cluster_env, result["run_id"]) == []


def test_a_run_that_stopped_renewing_is_freed_and_a_live_one_is_not(own_sim):
    import logging
    import time

    from recipebench.catalog.recipe import load_recipe
    from recipebench.cluster.janitor import sweep
    from recipebench.cluster.liveness import heartbeat_for, renew
    from recipebench.manifests.render import example_run, render_workload

    cluster = _cluster(own_sim)
    cluster.ensure_namespace("default")
    runs = {}
    for key in ("rpaused001", "rlive00001"):
        config = example_run(load_recipe(RECIPE), key).deployed(time.time())
        cluster.apply(render_workload(config))
        runs[key] = heartbeat_for(config, own_sim.time_scale)
    stall = runs["rpaused001"].duration_s  # RECIPEBENCH_STALL_MINUTES (60) on the cluster's clock
    renew(cluster, runs["rpaused001"], time.time() - stall - 5)  # its DAG was paused: no renewal since
    renew(cluster, runs["rlive00001"], time.time())
    sweep(cluster, logging.getLogger("test"), now=time.time() + 1)
    assert _left(own_sim, "rpaused001") == [] and _left(own_sim, "rlive00001") != []


def test_stopped_runs_is_pure_and_leaves_older_releases_alone():
    from recipebench.cluster.liveness import stopped_runs

    def obj(key, liveness="lease", created="2026-01-01T00:00:00Z"):
        labels = {"recipebench.dev/run": key, **({"recipebench.dev/liveness": liveness} if liveness else {})}
        return {"metadata": {"name": key, "labels": labels, "creationTimestamp": created}}

    lease = {"metadata": {"labels": {"recipebench.dev/run": "rlive"}},
             "spec": {"renewTime": "2026-01-01T01:00:00Z", "leaseDurationSeconds": 3600}}
    now = 1767229200.0 + 1800  # 01:30
    found = stopped_runs([obj("rgone"), obj("rlive"), obj("rold", liveness=None),
                          obj("rnew", created="2026-01-01T01:29:30Z")], [lease], now, grace_s=120)
    assert set(found) == {"rgone"} and "has ended" in found["rgone"]
    assert "not renewed" in stopped_runs([obj("rlive")], [lease], now + 7200, 120)["rlive"]


# -- 8. Airflow's stale-event retries cost seconds, not a point's budget ---------------------------------

class _TI:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, task_ids, key):
        return None


def _point_ctx(sim, config):
    import logging

    ledger = artifacts.ledger(config.recipe.id, config.run_key)
    if not ledger.get("target"):
        artifacts.record(config.recipe.id, config.run_key, target=_cluster(sim).target.to_dict())
    return bodies.StageContext(config.recipe.id, config.airflow_run_id, config.run_key, "manual", {},
                               run_config_data=config.model_dump(mode="json"), log=logging.getLogger("test"),
                               ti=_TI(), point_id=config.recipe.benchmark.points[0].id, stage="benchmark")


def _fire(trigger):
    import asyncio

    async def first():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(asyncio.wait_for(first(), 60))


def _deployed(sim, key):
    from recipebench.catalog.recipe import load_recipe
    from recipebench.manifests.render import example_run, render_stage_job, render_workload

    config = example_run(load_recipe(RECIPE), key)
    cluster = _cluster(sim)
    cluster.ensure_namespace("default")
    cluster.apply([*render_workload(config), render_stage_job(config)])  # as workload.deploy does
    return config, cluster


def test_a_race_retry_collects_the_finished_job_without_spending_the_budget(own_sim, monkeypatch, tmp_path):
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")
    config, cluster = _deployed(own_sim, "rrace00001")
    first = bodies.run_stage("benchmark", _point_ctx(own_sim, config))
    assert isinstance(first, bodies.Deferral)
    name = first.trigger.name
    uid = cluster.get("batch/v1", "Job", "default", name)["metadata"]["uid"]
    assert _fire(first.trigger)["state"] == "done"  # the trigger fired; Airflow's stale event retried the task
    again = bodies.run_stage("benchmark", _point_ctx(own_sim, config))  # the retry's execute()
    assert isinstance(again, bodies.Deferral) and again.trigger.name == name
    assert cluster.get("batch/v1", "Job", "default", name)["metadata"]["uid"] == uid  # the same Job, not run twice
    event = _fire(again.trigger)
    ctx = _point_ctx(own_sim, config)
    done = bodies.finish("benchmark", ctx, event)
    assert done["entry"]["record"]["completed"] > 0
    stage = artifacts.ledger(config.recipe.id, config.run_key)["stages"][f"benchmark:{ctx.point_id}"]
    assert stage["failures"] == 0 and stage["state"] == "success"


def test_a_point_that_fails_for_real_is_run_again_once_then_given_up(own_sim, monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException
    from recipebench.cluster.workload import BenchmarkFailed

    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "bench-job-failure")
    config, cluster = _deployed(own_sim, "rfails0001")
    uids = []
    for attempt in (1, 2):
        deferral = bodies.run_stage("benchmark", _point_ctx(own_sim, config))
        uids.append(cluster.get("batch/v1", "Job", "default", deferral.trigger.name)["metadata"]["uid"])
        event = _fire(deferral.trigger)
        expected = BenchmarkFailed if attempt == 1 else AirflowFailException
        with pytest.raises(expected):
            bodies.finish("benchmark", _point_ctx(own_sim, config), event)
    assert uids[0] != uids[1]  # the failed Job was deleted and the point ran again


def test_point_retries_come_within_seconds(monkeypatch):
    from recipebench.catalog.recipe import load_recipe
    from recipebench.pipeline.dag_factory import build_recipe_dag

    monkeypatch.delenv("RECIPEBENCH_POINT_RETRY_DELAY_SECONDS", raising=False)
    task = build_recipe_dag(load_recipe(RECIPE)).get_task("benchmark")
    assert task.retries == 3 and task.retry_delay.total_seconds() <= 10


def corrupt_duckdb(path, recipe="x"):
    """A DuckDB file whose catalog is intact and whose table data is not (runs of `recipe`): it opens and
    lists its columns, a read of the rows fails its block checksum."""
    from recipebench.results.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(str(path))
    warehouse.ensure_tables()
    warehouse.run("INSERT INTO runs (run_id, recipe, run_date, started_at, simulated, status) SELECT 'r' || i::VARCHAR, "
                  f"'{recipe}', DATE '2026-01-01', TIMESTAMPTZ '2026-01-01', true, 'success' FROM range(2000) t(i)")
    warehouse.run("CHECKPOINT")
    data = bytearray(path.read_bytes())
    block = 12288 + 262144  # after the three 4 kB headers, the second 256 kB block: the table's rows
    data[block + 8:block + 262144] = b"\xab" * (min(len(data), block + 262144) - block - 8)
    path.write_bytes(bytes(data))
    return warehouse


def test_a_corrupt_warehouse_fails_resolve_before_any_gpu(tmp_path, monkeypatch):
    from recipebench.pipeline.destinations import DestinationError, check_destinations

    warehouse = corrupt_duckdb(tmp_path / "w.duckdb")
    warehouse.ensure_tables()  # what the probe used to do: it passes
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE", f"duckdb://{tmp_path}/w.duckdb")
    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}/a")
    with pytest.raises(DestinationError, match=r"the warehouse duckdb://.*cannot be used: .*Corrupt database file"):
        check_destinations()


# -- one error base, one formatter ------------------------------------------------------------------------

def test_every_error_recipebench_raises_has_one_base_and_one_formatter():
    import ast

    from recipebench.errors import RecipebenchError, reason

    from tests.conftest import REPO

    ours = []
    for path in (REPO / "plugins" / "recipebench").rglob("*.py"):
        if "sim" in path.parts:
            continue  # the simulator's ApiError is the fake API server's, not ours
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception"))
                                                      for b in node.bases):
                ours.append((path, node.name))
    assert len(ours) > 15
    import importlib

    for path, name in ours:
        module = ".".join(path.relative_to(REPO / "plugins").with_suffix("").parts)
        assert issubclass(getattr(importlib.import_module(module), name), RecipebenchError), f"{module}.{name}"
    # safe on an empty message, one line, capped
    assert reason(RuntimeError()) == "RuntimeError" and reason(ValueError("")) == "ValueError"
    assert reason(KeyError("a")) == "KeyError: 'a'" and len(reason(OSError("x" * 9000))) <= 500
    assert reason(RecipebenchError("first line\nsecond")) == "RecipebenchError: first line"


def test_the_ledger_is_written_by_one_writer_at_a_time(tmp_path, monkeypatch):
    """Two processes recording into one run's ledger at once lose none of each other's entries."""
    import multiprocessing

    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_record_many, args=(w,)) for w in ("a", "b")]
    for p in writers:
        p.start()
    for p in writers:
        p.join(60)
    ledger = artifacts.ledger("r", "rlock00001")
    assert {f"{w}{i}" for w in "ab" for i in range(40)} <= set(ledger), sorted(ledger)


def _record_many(writer):
    for i in range(40):
        artifacts.record("r", "rlock00001", **{f"{writer}{i}": i})
