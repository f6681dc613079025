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


def resolve(ctx: StageContext) -> dict:
    from recipebench.cluster.access import target_for

    recipe = load_recipe(ctx.recipe_id)
    run = build_run_config(recipe, ctx.params, ctx.run_key, ctx.airflow_run_id, ctx.trigger)
    target = target_for(run.recipe)
    artifacts.write_json(recipe.id, ctx.run_key, "run.json", run.model_dump(mode="json"))  # for `recipebench load`
    artifacts.record(recipe.id, ctx.run_key, target=target.to_dict(), cluster=target.label,
                     simulated=target.simulated, image=run.recipe.image_ref(),
                     artifacts=str(artifacts.run_prefix(recipe.id, ctx.run_key)))
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


def deploy(ctx: StageContext) -> list[str]:
    from recipebench.cluster.workload import deploy as apply_workload

    return apply_workload(ctx.run, ctx.cluster(), ctx.digests(), ctx.log)


def ready_trigger(run: RunConfig, target):
    from recipebench.cluster.workload import readiness_limits
    from recipebench.manifests.render import service_endpoint
    from recipebench.pipeline.triggers import ReadyTrigger

    capacity, ready, poll = readiness_limits(run, target)
    serves = run.recipe.topology.shape != "offline"  # an offline Job has no server to ask
    service, port = service_endpoint(run) if serves else (None, None)
    trigger = ReadyTrigger(target=target.to_dict(), shape=run.recipe.topology.shape,
                           namespace=run.recipe.cluster.namespace, name=run.name, run_key=run.run_key,
                           capacity_limit_s=capacity, ready_limit_s=ready, poll_s=poll, service=service, port=port,
                           model=run.recipe.served_model_name if serves else None)
    return trigger, timedelta(seconds=capacity + ready + target.seconds(600))


def wait_ready(ctx: StageContext) -> None:
    """Defer to the readiness trigger: the worker slot is released while the cluster comes up."""
    from recipebench.cluster.access import Target

    trigger, timeout = ready_trigger(ctx.run, Target.from_dict(ctx.ledger["target"]))
    ctx.log.info("deferring until %s %s is ready (capacity limit %.0f s, ready limit %.0f s on this cluster's clock)",
                 ctx.run.recipe.topology.shape, ctx.run.name, trigger.capacity_limit_s, trigger.ready_limit_s)
    ctx.operator.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)


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


def benchmark(ctx: StageContext) -> dict:
    """Each point's client Job (offline recipes: the workload Job's reports), archived and parsed. A
    retried stage skips the points an earlier try collected."""
    from recipebench.cluster import workload
    from recipebench.pipeline.collect import ingest, log_point

    run, cluster = ctx.run, ctx.cluster()
    recipe = run.recipe
    if recipe.topology.shape == "offline":
        out = workload.offline_output(run, cluster)
        for point in recipe.benchmark.points:
            log_point(ctx.log, point.id, ingest(recipe.id, run.run_key, recipe.benchmark.tool, point, out.log_text,
                                                out.pod))
        return {"points": len(recipe.benchmark.points)}
    done = {artifacts.point_id(e) for e in artifacts.parsed_entries(recipe.id, run.run_key)}
    for index, point in enumerate(recipe.benchmark.points):
        if point.id in done:
            ctx.log.info("point %s: already collected by an earlier try", point.id)
            continue
        try:
            out = workload.run_point(run, cluster, point, index, ctx.digests(), ctx.log)
        except workload.BenchmarkFailed as exc:
            if exc.pod:  # keep what the failed client printed
                artifacts.write_text(recipe.id, run.run_key, f"raw/{point.id}/{exc.pod}.log", exc.log_text)
            raise
        log_point(ctx.log, point.id, ingest(recipe.id, run.run_key, recipe.benchmark.tool, point, out.log_text,
                                            out.pod))
        workload.delete_point_job(run, cluster, index)
    return {"points": len(recipe.benchmark.points)}


def load(ctx: StageContext) -> dict:
    from recipebench.pipeline.loading import load_run
    from recipebench.results.warehouse import open_warehouse

    run = ctx.run if ctx.run_config_data is not None else None
    return load_run(ctx.recipe_id, ctx.run_key, run, open_warehouse(), ctx.log)


def teardown(ctx: StageContext) -> dict:
    from recipebench.cluster.workload import teardown as delete_run

    result = delete_run(ctx.run, ctx.cluster(), ctx.log)
    artifacts.record(ctx.recipe_id, ctx.run_key, leftover=result["left"])
    return result


def check_regressions(ctx: StageContext) -> list:
    from recipebench.pipeline.loading import check_run
    from recipebench.results.warehouse import open_warehouse

    return check_run(ctx.run, open_warehouse(), ctx.log)


BODIES: dict[str, Callable[[StageContext], Any]] = {
    "resolve": resolve,
    "build_image": build_image,
    "ensure_platform": ensure_platform,
    "create_secrets": create_secrets,
    "deploy": deploy,
    "wait_ready": wait_ready,
    "benchmark": benchmark,
    "load": load,
    "teardown": teardown,
    "check_regressions": check_regressions,
}
# Airflow signals these with exceptions; they are not failures of the stage
NOT_FAILURES = ("TaskDeferred", "AirflowSkipException", "DownstreamTasksSkipped")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def run_stage(stage: str, ctx: StageContext, body: Callable[[StageContext], Any] | None = None) -> Any:
    """Run one stage body, recording its timing and, on failure, the first failure of the run."""
    started = time.time()
    try:
        result = (body or BODIES[stage])(ctx)
    except BaseException as exc:
        if type(exc).__name__ in NOT_FAILURES:
            raise
        ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
        entries: dict[str, Any] = {"stages": {**ledger.get("stages", {}),
                                              stage: {"start": started, "end": time.time(), "state": "failed"}}}
        # teardown and check_regressions do not decide whether the run produced its numbers
        if "failed_stage" not in ledger and stage not in ("teardown", "check_regressions", "load"):
            entries |= {"failed_stage": stage, "reason": _reason(exc)}
        artifacts.record(ctx.recipe_id, ctx.run_key, **entries)
        raise
    ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
    previous = ledger.get("stages", {}).get(stage, {})
    artifacts.record(ctx.recipe_id, ctx.run_key, stages={
        **ledger.get("stages", {}), stage: {"start": previous.get("start", started), "end": time.time(),
                                            "state": "success"}})
    return result
