"""Cluster code over real HTTP against the simulated cluster, and the pure decisions around it:
readiness diagnosis, deferral of wait_ready, output collection, the janitor."""

import asyncio
import logging
import time

import pytest
from recipebench.catalog.recipe import load_recipe
from recipebench.cluster.access import Target, target_for
from recipebench.cluster.api import Cluster
from recipebench.cluster.janitor import expired, sweep
from recipebench.cluster.readiness import assess, observe
from recipebench.manifests.render import example_run, render_workload

log = logging.getLogger("test")


@pytest.fixture
def sim(own_sim):  # a fresh cluster per test here, not the module's shared one
    return own_sim


def deployed(sim, recipe_id="vllm-a4-deepseek-r1", key="rtest00001"):
    run = example_run(load_recipe(recipe_id), key)
    target = target_for(run.recipe)
    cluster = Cluster(target)
    cluster.apply(render_workload(run))
    return run, cluster


def test_kubeconfig_target_is_marked_simulated(sim):
    target = target_for(load_recipe("vllm-a4-deepseek-r1"))
    assert target.kind == "kubeconfig" and target.simulated and target.time_scale == sim.time_scale
    assert Target.from_dict(target.to_dict()) == target


def test_gke_target_from_the_recipe(monkeypatch):
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", "gke")
    target = target_for(load_recipe("vllm-a4-deepseek-r1"))
    assert (target.kind, target.name, target.location, target.simulated) == ("gke", "bench-a4", "us-central1", False)


def test_server_side_apply_twice_is_idempotent(sim):
    run, cluster = deployed(sim)
    cluster.apply(render_workload(run))  # a retried deploy
    deployments = cluster.list("apps/v1", "Deployment", "default", f"recipebench.dev/run={run.run_key}")
    assert len(deployments) == 1


def test_wait_ready_defers_and_its_trigger_reports_ready(sim):
    """The task raises TaskDeferred (the worker slot is released); the trigger, rebuilt from its
    serialized form as the triggerer does, reports ready once the server answers."""
    from airflow.sdk.exceptions import TaskDeferred
    from recipebench.catalog.naming import run_key
    from recipebench.pipeline import artifacts
    from recipebench.pipeline.dag_factory import build_recipe_dag
    from recipebench.pipeline.triggers import ReadyTrigger

    recipe = load_recipe("vllm-a4-deepseek-r1")
    key = run_key(recipe.id, "manual__deferral")
    run, cluster = deployed(sim, key=key)
    artifacts.record(recipe.id, key, target=cluster.target.to_dict())

    class TI:
        def xcom_pull(self, task_ids, key):
            return run.model_dump(mode="json")

    class DagRun:
        run_id, run_type = "manual__deferral", "manual"

    op = build_recipe_dag(recipe).get_task("wait_ready")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"dag_run": DagRun(), "ti": TI(), "params": {}})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ReadyTrigger) and deferred.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert classpath == "recipebench.pipeline.triggers.ReadyTrigger"
    rebuilt = ReadyTrigger(**kwargs)

    async def first_event():
        async for event in rebuilt.run():
            return event.payload

    payload = asyncio.run(asyncio.wait_for(first_event(), 30))
    assert payload["state"] == "ready", payload
    assert payload["reason"] == "deepseek-ai/DeepSeek-R1 is listed in /v1/models and answered a test completion"


def test_a_trigger_deferred_by_the_previous_release_still_resumes():
    """The triggerer rebuilds a stored trigger from its classpath and kwargs; rows written before the
    package was laid out by concern name recipebench.triggers.ReadyTrigger."""
    from airflow._shared.module_loading import import_string  # what the triggerer uses (triggerer_job_runner.py)
    from recipebench.pipeline.triggers import ReadyTrigger

    old_row = ("recipebench.triggers.ReadyTrigger", {
        "target": {"kind": "kubeconfig", "label": "k", "kubeconfig": "/tmp/k"}, "shape": "single-host",
        "namespace": "default", "name": "x", "run_key": "r1", "capacity_limit_s": 60.0, "ready_limit_s": 60.0,
        "poll_s": 1.0})
    trigger = import_string(old_row[0])(**old_row[1])
    assert isinstance(trigger, ReadyTrigger)
    assert trigger.serialize()[0] == "recipebench.pipeline.triggers.ReadyTrigger"


def test_finish_wait_logs_one_reason_line_then_evidence(caplog):
    from recipebench.cluster.readiness import WorkloadFailed
    from recipebench.pipeline.bodies import finish_wait

    with caplog.at_level(logging.INFO), pytest.raises(WorkloadFailed, match="^crash loop: x$"):
        finish_wait({"state": "failed", "reason": "crash loop: x", "evidence": ["line 1", "line 2"]}, log)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["wait_ready failed: crash loop: x", "  line 1", "  line 2"]


def _pod(name="p", waiting=None, last=None, restarts=0, scheduled=True, gates=None, reason=None, msg=None):
    status = {"phase": "Pending" if not scheduled else "Running", "conditions": [
        {"type": "PodScheduled", "status": str(scheduled), "reason": reason, "message": msg}]}
    if waiting or last or restarts:
        status["containerStatuses"] = [{"name": "server", "image": "img:1", "restartCount": restarts,
                                        "state": {"waiting": waiting} if waiting else {"running": {}},
                                        **({"lastState": {"terminated": last}} if last else {})}]
    return {"metadata": {"name": name, "labels": {"kueue.x-k8s.io/queue-name": "a4-high"}},
            "spec": {"schedulingGates": gates or []}, "status": status}


def _obs(pods, events=None, logs=None, workload=None):
    return {"shape": "single-host", "kind": "Deployment", "name": "d", "pods": pods, "events": events or {},
            "logs": logs or {}, "workload": workload if workload is not None else {"status": {}}}


@pytest.mark.parametrize("obs, state, reason", [
    (_obs([_pod(waiting={"reason": "ImagePullBackOff", "message": "Back-off"})],
          {"p": [{"reason": "Failed", "message": "Failed to pull image x: not found"}]}),
     "failed", "image pull failure: pod p cannot pull img:1 (ImagePullBackOff: the registry says 'not found')"),
    (_obs([_pod(waiting={"reason": "CrashLoopBackOff"}, last={"exitCode": 1, "reason": "Error"}, restarts=3)],
          logs={"p": "a\nRuntimeError: NCCL error"}), "failed", "crash loop: container server of pod p exits with code 1"),
    (_obs([_pod(last={"exitCode": 137, "reason": "OOMKilled"}, restarts=1)]), "failed", "OOM-killed"),
    (_obs([_pod(scheduled=False, reason="Unschedulable", msg="0/6 nodes")],
          {"p": [{"reason": "NotTriggerScaleUp", "message": "max node group size reached"}]}),
     "failed", "unschedulable: pod p: 0/6 nodes"),
    (_obs([_pod(scheduled=False, reason="SchedulingGated", gates=[{"name": "kueue.x-k8s.io/admission"}])]),
     "capacity", "waiting for Kueue admission (queue a4-high"),
    (_obs([_pod(scheduled=False, reason="Unschedulable", msg="Insufficient nvidia.com/gpu")],
          {"p": [{"reason": "TriggeredScaleUp", "message": "gpu-pool 0->1"}]}), "capacity", "waiting for node scale-up"),
    (_obs([_pod()]), "starting", "waiting for the server to answer"),
    (_obs([_pod()], workload={"status": {"availableReplicas": 1}}), "ready", "is ready"),
])
def test_assess(obs, state, reason):
    result = assess(obs, capacity_waited_s=10, ready_waited_s=10, capacity_limit_s=600, ready_limit_s=600)
    assert result.state == state and reason in result.reason, result
    if state == "failed" and "crash" in reason:
        assert "  RuntimeError: NCCL error" in result.evidence


def test_capacity_has_its_own_limit():
    obs = _obs([_pod(scheduled=False, reason="SchedulingGated", gates=[{"name": "kueue.x-k8s.io/admission"}])])
    assert assess(obs, 599, 0, 600, 60).state == "capacity"  # the ready limit does not apply yet
    late = assess(obs, 601, 0, 600, 60)
    assert late.state == "failed" and late.reason.startswith("no capacity after 10 min: waiting for Kueue admission")


def test_not_ready_in_time_is_a_failure_with_the_server_log():
    obs = _obs([_pod()], logs={"_server": "loading shard 3/163"})
    result = assess(obs, 0, 61, 600, 60)
    assert result.state == "failed" and result.reason.startswith("not ready after 1 min")
    assert "  loading shard 3/163" in result.evidence


def test_observe_reads_the_simulated_cluster(sim, monkeypatch):
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "image-pull-failure")
    run, cluster = deployed(sim, key="rpull00001")
    deadline = time.monotonic() + 10
    while True:
        result = assess(observe(cluster, "single-host", "default", run.name, run.run_key), 0, 0, 600, 600)
        if result.state == "failed" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert result.reason.startswith("image pull failure") and any("not found" in e for e in result.evidence)


def test_janitor_deletes_only_expired_labelled_objects(sim):
    cluster = Cluster(target_for(load_recipe("vllm-a4-deepseek-r1")))
    now = time.time()

    def cm(name, labels):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default",
                                                                      "labels": labels}, "data": {}}

    managed = {"app.kubernetes.io/managed-by": "recipebench", "recipebench.dev/run": "rjan"}
    cluster.apply([
        cm("expired", {**managed, "recipebench.dev/expires": str(int(now - 60))}),
        cm("fresh", {**managed, "recipebench.dev/expires": str(int(now + 3600))}),
        cm("unlabelled", {"recipebench.dev/expires": str(int(now - 60))}),  # not ours: never touched
        cm("no-expiry", {"app.kubernetes.io/managed-by": "recipebench"}),  # platform objects
    ])
    deleted = sweep(cluster, log, now=now)
    assert deleted == ["ConfigMap/default/expired"]
    left = {o["metadata"]["name"] for o in cluster.list("v1", "ConfigMap", "default")}
    assert {"fresh", "unlabelled", "no-expiry"} <= left and "expired" not in left


def test_expired_is_pure():
    objs = [{"metadata": {"labels": {"recipebench.dev/expires": "100"}}},
            {"metadata": {"labels": {"recipebench.dev/expires": "300"}}},
            {"metadata": {"labels": {"recipebench.dev/expires": "100"}, "ownerReferences": [{"uid": "x"}]}},
            {"metadata": {"labels": {"recipebench.dev/expires": "soon"}}}]
    assert expired(objs, 200) == [objs[0]]


def test_teardown_refuses_a_selector_without_our_label(sim):
    cluster = Cluster(target_for(load_recipe("vllm-a4-deepseek-r1")))
    with pytest.raises(ValueError, match="managed-by"):
        cluster.delete_labelled("app=anything")


def test_janitor_dag_parses():
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO

    bag = DagBag(dag_folder=str(REPO / "dags" / "janitor.py"))
    assert bag.import_errors == {} and "recipebench_janitor" in bag.dags


def test_janitor_targets(monkeypatch, sim):
    from recipebench.cluster.access import janitor_targets

    monkeypatch.setenv("RECIPEBENCH_JANITOR_CLUSTERS", f"gke:p/us-central1/bench-a4, conn:k8s, {sim.kubeconfig}")
    kinds = [(t.kind, t.name or t.conn_id or t.kubeconfig) for t in janitor_targets()]
    assert kinds == [("gke", "bench-a4"), ("connection", "k8s"), ("kubeconfig", sim.kubeconfig)]
    monkeypatch.delenv("RECIPEBENCH_JANITOR_CLUSTERS")
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", "gke")
    assert sorted(t.name for t in janitor_targets()) == ["bench-a3mega", "bench-a3ultra", "bench-a4", "bench-a4x"]
