"""The triggers across a triggerer restart: each serializes its start time, is rebuilt from its own
serialized form (as airflow/jobs/triggerer_job_runner.py does), and keeps counting its limits from
the first deferral; the triggerer's event loop never waits on an API call; a deferral that times out
names its stage."""

import asyncio
import time

import pytest
from recipebench.catalog.recipe import load_recipe
from recipebench.cluster.access import target_for
from recipebench.cluster.api import Cluster
from recipebench.manifests.render import bench_job_name, example_run, render_bench_job, render_workload
from recipebench.pipeline import triggers

from tests.conftest import REPO  # noqa: F401  (sets up AIRFLOW_HOME and the plugins path)
from tests.test_fidelity import variant

pytestmark = pytest.mark.e2e  # triggers against the simulated cluster

TARGET = {"kind": "kubeconfig", "label": "k", "kubeconfig": "/tmp/k", "time_scale": 1.0}
EXAMPLES = {
    "ReadyTrigger": dict(target=TARGET, shape="single-host", namespace="default", name="x", run_key="r1",
                         capacity_limit_s=60.0, ready_limit_s=90.0, poll_s=1.0, service="x", port=8000, model="m",
                         lock={"name": "gpu-pool-a4"}),
    "CapacityTrigger": dict(target=TARGET, lock={"name": "gpu-pool-a4"}, limit_s=60.0, poll_s=1.0),
    "JobTrigger": dict(target=TARGET, namespace="default", name="j", timeout_s=60.0, poll_s=1.0, lock=None),
}


@pytest.mark.parametrize("kind", EXAMPLES)
def test_every_trigger_round_trips_with_its_start_time(kind):
    from airflow._shared.module_loading import import_string  # what the triggerer uses

    first = getattr(triggers, kind)(**EXAMPLES[kind])
    classpath, kwargs = first.serialize()
    assert classpath == f"recipebench.pipeline.triggers.{kind}"
    time.sleep(0.01)
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.started_at == first.started_at and kwargs["started_at"] <= time.time()


def _first_event(trigger, timeout=60):
    async def first():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(asyncio.wait_for(first(), timeout))


def _run_for(trigger, seconds):
    """Run a trigger for a while and stop it, as a triggerer that goes down does."""
    async def some():
        async for event in trigger.run():
            return event.payload
    try:
        return asyncio.run(asyncio.wait_for(some(), seconds))
    except TimeoutError:
        return None


def test_a_job_limit_holds_across_a_restart(monkeypatch):
    """A point's Job runs longer than its limit; the trigger is rebuilt half way (triggerer restart):
    the limit still ends at the first deferral's deadline, not a full limit after the restart."""
    from recipebench.sim import SimCluster

    slow = SimCluster(time_scale=10).start()  # the client runs 120 simulated seconds: 12 s here
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", slow.kubeconfig)
    monkeypatch.delenv("RECIPEBENCH_SIM_SCENARIO", raising=False)
    recipe = load_recipe("vllm-a4-deepseek-r1")
    run = example_run(recipe, "rjobrst001")
    cluster = Cluster(target_for(run.recipe))
    cluster.ensure_namespace("default")
    job = render_bench_job(run, run.recipe.benchmark.points[0], 0)
    job["spec"]["template"]["spec"]["affinity"] = None  # no server to sit beside: it is scheduled, and runs
    cluster.apply([job])
    limit = 4.0
    first = triggers.JobTrigger(target=cluster.target.to_dict(), namespace="default", name=bench_job_name(run, 0),
                                timeout_s=limit, poll_s=0.2)
    started = time.time()
    assert _run_for(first, 2.0) is None  # the triggerer stops after 2 s
    rebuilt = triggers.JobTrigger(**first.serialize()[1])
    payload = _first_event(rebuilt)
    took = time.time() - started
    slow.stop()
    assert payload["state"] == "aborted" and "did not finish within" in payload["reason"], payload
    assert took < limit + 1.5, took


def test_a_ready_limit_counts_from_placement_across_a_restart(own_sim, monkeypatch):
    """The server never serves its model; the ready limit (6 s here) counts from when the pods were
    placed, read from the cluster, so a trigger rebuilt after 3 s fails at about 6 s, not 9."""
    from recipebench.pipeline.bodies import ready_trigger

    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "model-never-served")
    recipe = variant("vllm-a4-deepseek-r1", timeouts={"ready_minutes": 30}, model={"size_gb": None})
    run = example_run(recipe, "rreadyrst1")
    cluster = Cluster(target_for(run.recipe))
    cluster.ensure_namespace("default")
    cluster.apply(render_workload(run))
    trigger, _ = ready_trigger(run, cluster.target)
    limit = trigger.ready_limit_s  # 30 min at the simulator's 300x: 6 s
    assert _run_for(trigger, limit / 2) is None
    rebuilt = triggers.ReadyTrigger(**trigger.serialize()[1])
    payload = _first_event(rebuilt)
    from recipebench.cluster.readiness import placed_at

    placed = placed_at(cluster.pods("default", f"recipebench.dev/run={run.run_key}"))
    assert payload["state"] == "failed" and payload["reason"].startswith("not serving after 30 min")
    assert payload["at"] - placed < limit * 1.3, (payload["at"] - placed, limit)


def test_the_event_loop_never_waits_on_an_api_call(own_sim, tmp_path):
    """Every call of a check hangs (a proxy that never answers): the triggerer's loop goes on ticking."""
    from tests.fault_proxy import FaultProxy, Rule

    proxy = FaultProxy(own_sim.url, own_sim.kubeconfig, str(tmp_path / "kubeconfig")).start()
    proxy.rules = [Rule("GET", r"/apis/batch/v1/namespaces/default/jobs/", "hang")]
    from recipebench.cluster.access import parse_target

    target = parse_target(proxy.kubeconfig)
    trigger = triggers.JobTrigger(target=target.to_dict(), namespace="default", name="hung", timeout_s=600,
                                  poll_s=0.1)
    ticks = []

    async def main():
        async def tick():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.05)

        ticker = asyncio.create_task(tick())
        waiter = asyncio.create_task(_anext(trigger.run()))
        await asyncio.sleep(2.0)
        ticker.cancel()
        waiter.cancel()
        proxy.stop()  # the hung call ends, so its thread does too (asyncio.run waits for it)

    try:
        asyncio.run(main())
    finally:
        proxy.stop()
    assert any(w == "hang" for _, _, w in proxy.seen), "the call never went out"
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 20 and max(gaps) < 0.5, (len(ticks), max(gaps))


async def _anext(agen):
    return await agen.__anext__()


def test_a_deferral_that_times_out_names_its_stage(tmp_path, monkeypatch):
    """Airflow resumes a task whose deferral timed out only to fail it (next_method "__fail__"): the
    failure is the stage's, with a reason, in the ledger and XCom (a runs row says wait_ready, not
    `unknown`)."""
    from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason
    from recipebench.pipeline import artifacts
    from recipebench.pipeline.dag_factory import build_recipe_dag

    monkeypatch.setenv("RECIPEBENCH_ARTIFACTS", f"file://{tmp_path}")
    recipe = load_recipe("vllm-a4-deepseek-r1")
    run = example_run(recipe, "rtimeout01")
    pushed = {}

    class TI:
        def xcom_pull(self, task_ids, key):
            return run.model_dump(mode="json") if key in ("run_config", "return_value") else None

        def xcom_push(self, key, value):
            pushed[key] = value

    class DagRun:
        run_id, run_type = run.airflow_run_id, "manual"

    op = build_recipe_dag(recipe).get_task("wait_ready")
    from recipebench.catalog.naming import run_key

    key = run_key(recipe.id, run.airflow_run_id)
    with pytest.raises(Exception, match="wait_ready: no answer from its trigger within Airflow's deferral timeout"):
        op.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT},
                            {"dag_run": DagRun(), "ti": TI(), "params": {}})
    ledger = artifacts.ledger(recipe.id, key)
    assert ledger["failed_stage"] == "wait_ready" and "deferral timeout" in ledger["reason"]
    assert pushed["failure"]["failed_stage"] == "wait_ready"
