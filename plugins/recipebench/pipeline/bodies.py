"""The body of each stage. Operators call `run_stage`; each body is a plain function of a
StageContext, so the CLI and the tests can run the same code without an operator."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from recipebench.catalog.params import RunConfig, build_run_config
from recipebench.catalog.recipe import load_recipe
from recipebench.pipeline import artifacts
from recipebench.pipeline.stages import STAGE_NAMES


@dataclass
class StageContext:
    recipe_id: str
    airflow_run_id: str
    run_key: str
    trigger: str
    params: dict[str, Any]
    run_config_data: dict | None = None
    log: Any = None
    ti: Any = None
    operator: Any = None
    point_id: str | None = None  # the benchmark point of a mapped benchmark task
    _run: RunConfig | None = field(default=None, repr=False)

    @property
    def run(self) -> RunConfig:
        if self._run is None:
            if self.run_config_data is None:
                raise RuntimeError("no run config: the resolve stage did not succeed")
            self._run = RunConfig.model_validate(self.run_config_data)
        return self._run

    @property
    def ledger(self) -> dict:
        return artifacts.ledger(self.recipe_id, self.run_key)

    def cluster(self):
        from recipebench.cluster.access import Target
        from recipebench.cluster.api import Cluster

        return Cluster(Target.from_dict(self.ledger["target"]))

    def digests(self) -> dict:
        """role (server, client) -> the image digest build_image found or built (None: pin by tag)."""
        return self.ledger.get("digests") or {"server": self.ledger.get("image_digest")}

    def lock(self):
        """The node pool's Lease this run takes (cluster.capacity), None when Kueue arbitrates."""
        from recipebench.cluster.capacity import LockSpec

        return LockSpec.from_dict(self.ledger.get("lock"))


@dataclass(frozen=True)
class Deferral:
    """What a stage body returns to wait without a worker slot: the operator defers to the trigger."""

    trigger: Any
    timeout: timedelta


def resolve(ctx: StageContext) -> dict:
    from recipebench.catalog.recipe import load_catalog
    from recipebench.cluster.access import target_for
    from recipebench.cluster.capacity import lock_spec, needs_lock
    from recipebench.pipeline.destinations import check_destinations

    recipe = load_recipe(ctx.recipe_id)
    run = build_run_config(recipe, ctx.params, ctx.run_key, ctx.airflow_run_id, ctx.trigger)
    target = target_for(run.recipe)
    ctx.log.info("outputs go to %s", " and ".join(check_destinations()))
    lock = lock_spec(run.recipe, run.run_key, target.time_scale) if needs_lock(run.recipe, load_catalog()[0]) else None
    artifacts.write_json(recipe.id, ctx.run_key, "run.json", run.model_dump(mode="json"))  # for `recipebench load`
    artifacts.record(recipe.id, ctx.run_key, target=target.to_dict(), cluster=target.label,
                     simulated=target.simulated, image=run.recipe.image_ref(),
                     artifacts=str(artifacts.run_prefix(recipe.id, ctx.run_key)), lock=lock.to_dict() if lock else None)
    ctx.log.info("run %s of %s on %s%s: %d point(s), fingerprint %s, objects expire at %s", run.run_key, recipe.id,
                 target.label, " (SIMULATED)" if target.simulated else "", len(run.recipe.benchmark.points),
                 run.fingerprint, run.expires_at)
    return run.model_dump(mode="json")


def build_image(ctx: StageContext) -> dict | None:
    from recipebench.cluster.images import prepare_build

    decision = prepare_build(ctx.run.recipe, os.environ.get("RECIPEBENCH_IMAGES", "cloudbuild"), ctx.log)
    record_images(ctx.recipe_id, ctx.run_key, decision["images"], decision["digests"])
    return decision


def record_images(recipe_id: str, run_key: str, images: dict, digests: dict) -> None:
    """What the run pins: server (and client) image, with digest when known."""
    pinned = {role: f"{images[role].rsplit(':', 1)[0]}@{d}" if d else images[role] for role, d in digests.items()}
    artifacts.record(recipe_id, run_key, image=images["server"], image_digest=digests.get("server"),
                     client_image=pinned.get("client"), digests=digests)


def ensure_platform(ctx: StageContext) -> dict:
    from recipebench.cluster.platform import ensure_platform as ensure

    return ensure(ctx.run, ctx.cluster(), ctx.ledger["target"], ctx.log)


def create_secrets(ctx: StageContext) -> list[str]:
    from recipebench.cluster.secrets import create_secrets as create

    return create(ctx.run, ctx.cluster(), ctx.log)


def reserve_gpus(ctx: StageContext):
    """Take the node pool's Lease before anything lands on the GPUs, or defer until it is this run's
    turn (no worker slot held; its own limit, timeouts.lock_minutes)."""
    from recipebench.cluster.access import Target
    from recipebench.cluster.capacity import take_step
    from recipebench.pipeline.triggers import CapacityTrigger

    spec = ctx.lock()
    if spec is None:
        ctx.log.info("Kueue admits every recipe on this node pool: it decides when the pods get GPUs, no lock taken")
        return {"lock": None}
    step = take_step(ctx.cluster(), spec, time.time())
    ctx.log.info("%s", step.status)
    if step.acquired:
        return {"lock": spec.name}
    target = Target.from_dict(ctx.ledger["target"])
    limit = target.seconds(ctx.run.recipe.timeouts.lock_minutes * 60)
    trigger = CapacityTrigger(target=target.to_dict(), lock=spec.to_dict(), limit_s=limit, poll_s=target.seconds(20))
    return Deferral(trigger, timedelta(seconds=limit + target.seconds(600)))


def finish_reserve(ctx: StageContext, event: dict) -> dict:
    from recipebench.cluster.capacity import CapacityUnavailable

    if event.get("state") != "acquired":
        raise CapacityUnavailable(event.get("reason") or "the node pool's GPUs were not given to this run")
    ctx.log.info("%s", event.get("reason"))
    return {"lock": ctx.lock().name}


def deploy(ctx: StageContext) -> list[str]:
    from recipebench.cluster.capacity import renew
    from recipebench.cluster.workload import deploy as apply_workload

    cluster = ctx.cluster()
    renew(cluster, ctx.lock(), time.time())  # still this run's, right before the GPUs are taken
    return apply_workload(ctx.run, cluster, ctx.digests(), ctx.log)


def ready_trigger(run: RunConfig, target, lock: dict | None = None):
    from recipebench.cluster.workload import readiness_limits
    from recipebench.manifests.render import service_endpoint
    from recipebench.pipeline.triggers import ReadyTrigger

    capacity, ready, poll = readiness_limits(run, target)
    serves = run.recipe.topology.shape != "offline"  # an offline Job has no server to ask
    service, port = service_endpoint(run) if serves else (None, None)
    trigger = ReadyTrigger(target=target.to_dict(), shape=run.recipe.topology.shape,
                           namespace=run.recipe.cluster.namespace, name=run.name, run_key=run.run_key,
                           capacity_limit_s=capacity, ready_limit_s=ready, poll_s=poll, service=service, port=port,
                           model=run.recipe.served_model_name if serves else None, lock=lock)
    return trigger, timedelta(seconds=capacity + ready + target.seconds(600))


def wait_ready(ctx: StageContext) -> Deferral:
    """Defer to the readiness trigger: the worker slot is released while the cluster comes up."""
    from recipebench.cluster.access import Target

    trigger, timeout = ready_trigger(ctx.run, Target.from_dict(ctx.ledger["target"]), ctx.ledger.get("lock"))
    ctx.log.info("deferring until %s %s is ready (capacity limit %.0f s, ready limit %.0f s on this cluster's clock)",
                 ctx.run.recipe.topology.shape, ctx.run.name, trigger.capacity_limit_s, trigger.ready_limit_s)
    return Deferral(trigger, timeout)


def finish_ready(ctx: StageContext, event: dict) -> dict:
    if event.get("at"):  # when the server was seen serving: the GPUs are held idle from here
        artifacts.record(ctx.recipe_id, ctx.run_key, ready_at=event["at"])
    return finish_wait(event, ctx.log)


def finish_wait(event: dict, log) -> dict:
    """The trigger's verdict: one line with the reason, then the evidence; raise when it failed."""
    from recipebench.cluster.readiness import WorkloadFailed

    if event.get("state") == "ready":
        log.info("ready: %s", event.get("reason"))
        return {"state": "ready"}
    log.error("wait_ready failed: %s", event.get("reason"))
    for line in event.get("evidence") or []:
        log.error("  %s", line)
    raise WorkloadFailed(event.get("reason") or "the workload did not become ready")


def point_ids(run_config: dict) -> list[str]:
    """The ids of a run's benchmark points, in order: what the benchmark task is mapped over."""
    from recipebench.catalog.recipe import BenchmarkPoint

    return [BenchmarkPoint.model_validate(p).id for p in run_config["recipe"]["benchmark"]["points"]]


def _point(ctx: StageContext):
    points = ctx.run.recipe.benchmark.points
    index = next(i for i, p in enumerate(points) if p.id == ctx.point_id)
    return index, points[index]


def benchmark(ctx: StageContext):
    """One point (the mapped task's): start its client Job and defer until it ends. Offline recipes:
    the workload Job was the benchmark; its report of this point is collected. A point an earlier try
    collected is not run again."""
    from recipebench.cluster import workload
    from recipebench.cluster.access import Target
    from recipebench.cluster.capacity import renew
    from recipebench.pipeline.collect import ingest, log_point
    from recipebench.pipeline.triggers import JobTrigger

    run, cluster = ctx.run, ctx.cluster()
    recipe = run.recipe
    index, point = _point(ctx)
    if point.id in {artifacts.point_id(e) for e in artifacts.parsed_entries(recipe.id, run.run_key)}:
        ctx.log.info("point %s: already collected by an earlier try", point.id)
        return {"point": point.id, "collected": "earlier"}
    if recipe.topology.shape == "offline":
        out = workload.offline_output(run, cluster)
        log_point(ctx.log, point.id, ingest(recipe.id, run.run_key, recipe.benchmark.tool, point, out.log_text,
                                            out.pod))
        return {"point": point.id}
    renew(cluster, ctx.lock(), time.time())
    name = workload.start_point(run, cluster, point, index, ctx.digests(), ctx.log)
    artifacts.record(recipe.id, run.run_key, point_times={**ctx.ledger.get("point_times", {}),
                                                          point.id: [time.time(), None]})
    target = Target.from_dict(ctx.ledger["target"])
    limit, poll = workload.point_limits(run, target)
    trigger = JobTrigger(target=target.to_dict(), namespace=recipe.cluster.namespace, name=name, timeout_s=limit,
                         poll_s=poll, lock=ctx.ledger.get("lock"))
    return Deferral(trigger, timedelta(seconds=limit + target.seconds(600)))


def finish_point(ctx: StageContext, event: dict) -> dict:
    """The point's Job ended: archive and parse what the client printed, then delete the Job."""
    from recipebench.cluster import workload
    from recipebench.pipeline.collect import ingest, log_point

    run, cluster = ctx.run, ctx.cluster()
    recipe = run.recipe
    index, point = _point(ctx)
    times = ctx.ledger.get("point_times", {})
    applied = (times.get(point.id) or [None])[0]
    try:
        out = workload.collect_point(run, cluster, point, index, {**event, "applied_at": applied}, ctx.log)
    except workload.BenchmarkFailed as exc:
        if exc.pod:  # keep what the failed client printed
            artifacts.write_text(recipe.id, run.run_key, f"raw/{point.id}/{exc.pod}.log", exc.log_text)
        raise
    log_point(ctx.log, point.id, ingest(recipe.id, run.run_key, recipe.benchmark.tool, point, out.log_text, out.pod))
    artifacts.record(recipe.id, run.run_key, point_times={**times, point.id: [out.applied_at, out.done_at]})
    workload.delete_point_job(run, cluster, index, ctx.log)
    return {"point": point.id}


def load(ctx: StageContext) -> dict:
    from recipebench.pipeline.loading import load_run
    from recipebench.results.warehouse import open_warehouse

    run = ctx.run if ctx.run_config_data is not None else None
    return load_run(ctx.recipe_id, ctx.run_key, run, open_warehouse(), ctx.log, fallback=pushed_failure(ctx))


def pushed_failure(ctx: StageContext) -> dict | None:
    """The first failure an earlier stage pushed to XCom: the ledger's copy may be missing (the
    artifacts location was not writable when it failed)."""
    if ctx.ti is None:
        return None
    for stage in STAGE_NAMES[:STAGE_NAMES.index("load")]:
        failure = ctx.ti.xcom_pull(task_ids=stage, key=FAILURE_XCOM)
        if failure:
            return failure
    return None


def teardown(ctx: StageContext) -> dict:
    from recipebench.cluster.capacity import release
    from recipebench.cluster.workload import TeardownIncomplete
    from recipebench.cluster.workload import teardown as delete_run

    cluster = ctx.cluster()
    try:
        result = delete_run(ctx.run, cluster, ctx.log)
    except TeardownIncomplete as exc:
        artifacts.record(ctx.recipe_id, ctx.run_key, leftover=exc.left)
        raise  # the GPUs are not free: the Lease stays until it expires
    artifacts.record(ctx.recipe_id, ctx.run_key, leftover=result["left"], workload_deleted_at=result["deleted_at"])
    # a kept-alive server keeps its pool until its expiry label passes
    until = ctx.run.expires_at if ctx.run.keep_alive else None
    ctx.log.info("%s", release(cluster, ctx.lock(), time.time(), until))
    return result


def check_regressions(ctx: StageContext) -> list:
    """Verdicts for every point; then the run fails if teardown left objects behind. Teardown is not
    a leaf of the DAG (load follows it), so Airflow would not fail the run for it
    (DagRun._tis_for_dagrun_state counts effective leaves only): this last task does."""
    from recipebench.cluster.workload import TeardownIncomplete
    from recipebench.pipeline.loading import check_run
    from recipebench.results.warehouse import open_warehouse

    verdicts = check_run(ctx.run, open_warehouse(), ctx.log)
    left = ctx.ledger.get("leftover")
    if left:
        raise TeardownIncomplete(f"teardown left {len(left)} object(s) of the run in the cluster: "
                                 f"{', '.join(left[:6])}", left)
    return verdicts


BODIES: dict[str, Callable[[StageContext], Any]] = {
    "resolve": resolve,
    "build_image": build_image,
    "ensure_platform": ensure_platform,
    "create_secrets": create_secrets,
    "reserve_gpus": reserve_gpus,
    "deploy": deploy,
    "wait_ready": wait_ready,
    "benchmark": benchmark,
    "load": load,
    "teardown": teardown,
    "check_regressions": check_regressions,
}
# what a deferred stage does with its trigger's event
FINISH: dict[str, Callable[[StageContext, dict], Any]] = {
    "reserve_gpus": finish_reserve,
    "wait_ready": finish_ready,
    "benchmark": finish_point,
}
# Airflow signals these with exceptions; they are not failures of the stage
NOT_FAILURES = ("TaskDeferred", "AirflowSkipException", "DownstreamTasksSkipped")
FAILURE_XCOM = "failure"
INTERRUPTED = "interrupted: the process received SIGTERM or SIGINT"


def reason_of(exc: BaseException) -> str:
    """One line: the exception's type and first line; for API errors, what the API server said."""
    from recipebench.cluster.api import api_message

    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if getattr(exc, "status", None) is not None and getattr(exc, "body", None) is not None:
        return f"{type(exc).__name__}: {api_message(exc)}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def run_stage(stage: str, ctx: StageContext, body: Callable[[StageContext], Any] | None = None) -> Any:
    """Run one stage body, recording its timing and, on failure, the first failure of the run (in the
    ledger, and in XCom in case the ledger cannot be written). A retry that succeeds clears the
    failure its earlier try recorded."""
    started = time.time()
    key = f"{stage}:{ctx.point_id}" if ctx.point_id else stage  # a mapped task's entry is its point's
    try:
        result = (body or BODIES[stage])(ctx)
    except BaseException as exc:
        if type(exc).__name__ in NOT_FAILURES:
            raise
        _record_failure(stage, key, ctx, started, reason_of(exc))
        raise
    ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
    previous = ledger.get("stages", {}).get(key, {})
    now = time.time()
    # start: of the first call (a deferred stage is called again when its trigger fires); busy: the
    # seconds it held a worker slot, deferrals excluded
    entries: dict[str, Any] = {"stages": {**ledger.get("stages", {}), key: {
        "start": previous.get("start", started), "end": now, "busy": round(previous.get("busy", 0) + now - started, 3),
        "state": "deferred" if isinstance(result, Deferral) else "success"}}}
    if ledger.get("failed_stage") == stage and not isinstance(result, Deferral):
        entries |= {"failed_stage": None, "reason": None}
    artifacts.record(ctx.recipe_id, ctx.run_key, **entries)
    return result


def _record_failure(stage: str, key: str, ctx: StageContext, started: float, reason: str) -> None:
    if ctx.ti is not None:
        try:
            ctx.ti.xcom_push(key=FAILURE_XCOM, value={"failed_stage": stage, "reason": reason})
        except Exception as exc:  # the failure itself must surface, not this
            _log(ctx).error("could not push the failure of %s to XCom: %s", stage, exc)
    try:
        ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
        previous = ledger.get("stages", {}).get(key, {})
        entries: dict[str, Any] = {"stages": {**ledger.get("stages", {}), key: {
            "start": previous.get("start", started), "end": time.time(), "state": "failed",
            "busy": round(previous.get("busy", 0) + time.time() - started, 3)}}}
        if not ledger.get("failed_stage"):  # the first failure is the run's
            entries |= {"failed_stage": stage, "reason": reason}
        artifacts.record(ctx.recipe_id, ctx.run_key, **entries)
    except Exception as exc:
        _log(ctx).error("could not record the failure of %s in the ledger under %s: %s", stage,
                        artifacts.artifacts_root(), reason_of(exc))


def _log(ctx: StageContext):
    import logging

    return ctx.log or logging.getLogger("recipebench")
