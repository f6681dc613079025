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
from recipebench.catalog.recipe import RecipeError, load_recipe
from recipebench.catalog.vocabulary import State
from recipebench.errors import RecipebenchError, reason
from recipebench.pipeline import artifacts, repro
from recipebench.pipeline.stages import STAGE, STAGE_NAMES


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
    stage: str = ""
    _run: RunConfig | None = field(default=None, repr=False)
    _ledger: dict | None = field(default=None, repr=False)

    @property
    def run(self) -> RunConfig:
        if self._run is None:
            if self.run_config_data is None:
                raise RuntimeError("no run config: the resolve stage did not succeed")
            self._run = RunConfig.model_validate(self.run_config_data)
        return self._run

    def refresh_ledger(self) -> None:
        """Read the ledger again at next use (a stage that wrote to it and goes on deciding from it)."""
        self._ledger = None

    @property
    def ledger(self) -> dict:
        """The run's ledger as this stage found it: read once (artifacts.record writes through)."""
        if self._ledger is None:
            self._ledger = artifacts.ledger(self.recipe_id, self.run_key)
        return self._ledger

    def cluster_state(self) -> dict:
        """What the run acts on the cluster with (its target and GPU Lease): the ledger's copy, else the
        one resolve pushed to XCom, so a run whose artifacts vanished still tears down."""
        if self.ledger.get("target"):
            return {"target": self.ledger["target"], "lock": self.ledger.get("lock")}
        pushed = self.ti.xcom_pull(task_ids="resolve", key=CLUSTER_XCOM) if self.ti is not None else None
        if pushed and self.stage in AFTER_THE_RUN:
            _log(self).warning("the run's ledger under %s is gone (was the artifacts location removed?): acting on "
                               "the cluster resolve named", artifacts.run_prefix(self.recipe_id, self.run_key))
            return pushed
        raise artifacts.ArtifactsLost(f"the run's ledger {artifacts.run_prefix(self.recipe_id, self.run_key)}/"
                                      f"{artifacts.LEDGER} is gone: the artifacts location was removed or changed "
                                      "mid-run")

    def target(self):
        from recipebench.cluster.access import Target

        return Target.from_dict(self.cluster_state()["target"])

    def cluster(self):
        """The run's cluster; opening it renews the run's heartbeat (cluster.liveness) in the stages
        that hold the run's objects (create_secrets makes the heartbeat with the run's first objects)."""
        from recipebench.cluster.api import Cluster
        from recipebench.cluster.liveness import renew

        cluster = Cluster(self.target())
        if self.stage in HEARTBEAT_STAGES:
            renew(cluster, self.heartbeat(), time.time())
        return cluster

    def heartbeat(self):
        from recipebench.cluster.liveness import heartbeat_for

        if self.run_config_data is None:
            return None
        return heartbeat_for(self.run, self.target().time_scale)

    def digests(self) -> dict:
        """role (server, client) -> the image digest build_image found or built (None: pin by tag)."""
        return self.ledger.get("digests") or {"server": self.ledger.get("image_digest")}

    def lock(self):
        """The node pool's Lease this run takes (cluster.capacity), None when Kueue arbitrates."""
        from recipebench.cluster.capacity import LockSpec

        return LockSpec.from_dict(self.cluster_state().get("lock"))


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
    try:
        run = build_run_config(recipe, ctx.params, ctx.run_key, ctx.airflow_run_id, ctx.trigger)
    except RecipeError as exc:
        if str(exc).startswith(PARAMS_SOURCE):  # the trigger's input, not the recipe: refused, not failed
            raise InputRefused(str(exc)) from None
        raise
    target = target_for(run.recipe)
    ctx.log.info("outputs go to %s", " and ".join(check_destinations()))
    if run.recipe.accuracy is not None:  # its data set is there now, not an hour later on held GPUs
        from recipebench.accuracy import gsm8k

        spec = run.recipe.accuracy
        gsm8k.read(artifacts.artifacts_root(), spec.questions, spec.shots)
        ctx.log.info("accuracy gate: %s, %d questions, %d-shot, pass at %.2f", spec.task, spec.questions, spec.shots,
                     spec.min_score)
    lock = lock_spec(run.recipe, run.run_key, target.time_scale) if needs_lock(run.recipe, load_catalog()[0]) else None
    artifacts.write_json(recipe.id, ctx.run_key, "run.json", run.model_dump(mode="json"))  # for `recipebench load`
    if run.recipe.schedule_policy == "when-changed":
        skip_if_unchanged(ctx, run, target)
    state = {"target": target.to_dict(), "lock": lock.to_dict() if lock else None}
    if ctx.ti is not None:  # the cluster the run acts on, also where a lost ledger cannot take it
        ctx.ti.xcom_push(key=CLUSTER_XCOM, value=state)
    artifacts.record(recipe.id, ctx.run_key, cluster=target.label, simulated=target.simulated,
                     image=run.recipe.image_ref(), artifacts=str(artifacts.run_prefix(recipe.id, ctx.run_key)), **state)
    ctx.log.info("run %s of %s on %s%s: %d point(s), fingerprint %s, objects expire at %s", run.run_key, recipe.id,
                 target.label, " (SIMULATED)" if target.simulated else "", len(run.recipe.benchmark.points),
                 run.fingerprint, run.expires_at)
    return run.model_dump(mode="json")


def skip_if_unchanged(ctx: StageContext, run: RunConfig, target) -> None:
    """schedule_policy when-changed: end the run as skipped (RunSkipped) when its image, fingerprint and
    cluster version are those of the last valid run (results.skipping), before any GPU is held."""
    from recipebench.cluster.api import Cluster
    from recipebench.cluster.images import known_digest
    from recipebench.results import skipping
    from recipebench.results.warehouse import open_warehouse

    cluster = Cluster(target)
    version = f"{cluster.version()}{_node_pool_versions(cluster, run, ctx.log)}"
    artifacts.record(run.recipe.id, run.run_key, cluster_version=version)
    current = {"fingerprint": run.fingerprint, "image": run.recipe.image_ref(), "cluster_version": version,
               "image_digest": known_digest(run.recipe, os.environ.get("RECIPEBENCH_IMAGES", "cloudbuild"))}
    last = open_warehouse().last_valid_run(run.recipe.id, target.simulated)
    if last is not None and hasattr(last["started_at"], "timestamp"):
        last = {**last, "started_at": last["started_at"].timestamp()}
    decision = skipping.decide(run.recipe.schedule_policy, run.recipe.force_every_days, last, current, time.time(),
                               forced=bool(ctx.params.get("force")))
    if decision is None:
        ctx.log.info("schedule_policy when-changed: %s: the run goes ahead", "forced" if ctx.params.get("force") else
                     "no valid run to compare with" if last is None else "something changed since " + last["run_id"])
        return
    if ctx.ti is not None:  # load writes the runs row of the skipped run from its config
        from recipebench.pipeline.operators import RUN_XCOM

        ctx.ti.xcom_push(key=RUN_XCOM, value=run.model_dump(mode="json"))
    raise RunSkipped(decision)


def _node_pool_versions(cluster, run: RunConfig, log) -> str:
    """`; nodes POOL VERSION, ...`: the kubelet version of each node pool of the recipe's accelerator, as its
    nodes report it (a pool scaled to zero has none to ask: GKE's container API, NodePool.version, would
    know; not asked here). A grant without `list nodes` loses only this part, and says so."""
    from recipebench.catalog.environment import NODE_POOL_LABEL

    try:
        nodes = cluster.list("v1", "Node", None, f"cloud.google.com/gke-accelerator={run.recipe.acc.gke_accelerator}")
    except Exception as exc:
        log.warning("the node pools' versions could not be read (grant list nodes: include/rbac/clusterrole.yaml): "
                    "%s", reason_of(exc))
        return ""
    pools = sorted({f"{(n['metadata'].get('labels') or {}).get(NODE_POOL_LABEL, '?')} "
                    f"{((n.get('status') or {}).get('nodeInfo') or {}).get('kubeletVersion', '?')}" for n in nodes})
    return f"; nodes {', '.join(pools)}" if pools else "; no node of the pool is up"


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

    return ensure(ctx.run, ctx.cluster(), ctx.cluster_state()["target"], ctx.log)


def create_secrets(ctx: StageContext) -> list[str]:
    """The run's first objects: its heartbeat, then its Secrets, all or nothing (Airflow runs no
    teardown when the first setup failed)."""
    from recipebench.cluster.liveness import lease, renew
    from recipebench.cluster.secrets import create_secrets as create

    cluster = ctx.cluster()
    renew(cluster, ctx.heartbeat(), time.time())
    try:
        return create(ctx.run, cluster, ctx.log)
    except BaseException:
        cluster.delete_or_leave(lease(ctx.heartbeat(), time.time()), ctx.log)
        raise


def reserve_gpus(ctx: StageContext):
    """Take the node pool's Lease before anything lands on the GPUs, or defer until it is this run's
    turn (no worker slot held; its own limit, timeouts.lock_minutes)."""
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
    target = ctx.target()
    limit = target.seconds(ctx.run.recipe.timeouts.lock_minutes * 60)
    trigger = CapacityTrigger(target=target.to_dict(), lock=spec.to_dict(), limit_s=limit, poll_s=target.seconds(20),
                              heartbeat=ctx.heartbeat().to_dict())
    return Deferral(trigger, timedelta(seconds=limit + target.seconds(600)))


def finish_reserve(ctx: StageContext, event: dict) -> dict:
    from recipebench.cluster.capacity import CapacityUnavailable

    if event.get("state") != State.ACQUIRED:
        raise CapacityUnavailable(event.get("reason") or "the node pool's GPUs were not given to this run")
    ctx.log.info("%s", event.get("reason"))
    return {"lock": ctx.lock().name}


def deploy(ctx: StageContext) -> list[str]:
    from recipebench.cluster.capacity import renew
    from recipebench.cluster.workload import deploy as apply_workload

    cluster = ctx.cluster()
    renew(cluster, ctx.lock(), time.time())  # still this run's, right before the GPUs are taken
    applied = apply_workload(ctx.run, cluster, ctx.digests(), ctx.log)
    _reproduction(ctx, lambda: repro.write_run(ctx.run))
    return applied


def _reproduction(ctx: StageContext, write: Callable[[], None]) -> None:
    """Write a reproduction file (pipeline.repro); one that cannot be written is said, and the GPUs go on."""
    try:
        write()
    except Exception as exc:
        ctx.log.warning("reproduction files not written under %s: %s", artifacts.artifacts_root(), reason_of(exc))


def _point_script(run: RunConfig, point) -> str:
    """The script a point's client runs: its Job's (serving), or its part of the offline Job's."""
    from recipebench.manifests import command_lines
    from recipebench.manifests.render import service_endpoint

    recipe = run.recipe
    if recipe.topology.kind.serves:
        return command_lines.client_script(recipe, point, *service_endpoint(run))
    return recipe.benchmark.client.point_script(recipe, point)


def ready_trigger(run: RunConfig, target, lock: dict | None = None, heartbeat=None):
    from recipebench.cluster.workload import readiness_limits
    from recipebench.manifests.render import service_endpoint
    from recipebench.pipeline.triggers import ReadyTrigger

    capacity, ready, poll = readiness_limits(run, target)
    serves = run.recipe.topology.kind.serves  # an offline Job has no server to ask
    service, port = service_endpoint(run) if serves else (None, None)
    trigger = ReadyTrigger(target=target.to_dict(), shape=run.recipe.topology.shape,
                           namespace=run.recipe.cluster.namespace, name=run.name, run_key=run.run_key,
                           capacity_limit_s=capacity, ready_limit_s=ready, poll_s=poll, service=service, port=port,
                           model=run.recipe.served_model_name if serves else None, lock=lock,
                           heartbeat=heartbeat.to_dict() if heartbeat else None)
    return trigger, timedelta(seconds=capacity + ready + target.seconds(600))


def wait_ready(ctx: StageContext) -> Deferral:
    """Defer to the readiness trigger: the worker slot is released while the cluster comes up."""
    trigger, timeout = ready_trigger(ctx.run, ctx.target(), ctx.cluster_state().get("lock"), ctx.heartbeat())
    ctx.log.info("deferring until %s %s is ready (capacity limit %.0f s, ready limit %.0f s on this cluster's clock)",
                 ctx.run.recipe.topology.shape, ctx.run.name, trigger.capacity_limit_s, trigger.ready_limit_s)
    return Deferral(trigger, timeout)


def finish_ready(ctx: StageContext, event: dict) -> dict:
    if event.get("at") and event.get("state") == State.READY:  # when the server was seen serving
        artifacts.record(ctx.recipe_id, ctx.run_key, ready_at=event["at"])
    observe_environment(ctx)  # a server that failed to start is looked at too: its driver may be why
    return finish_wait(event, ctx.log)


def observe_environment(ctx: StageContext) -> None:
    """The run's environment and startup times, looked at once while its pods are there
    (pipeline.environment); a look that fails is said and the run goes on."""
    from recipebench.pipeline.environment import observe

    try:
        if ctx.ledger.get("environment") is not None:
            return
        artifacts.record(ctx.recipe_id, ctx.run_key, **observe(ctx.run, ctx.cluster(), ctx.log))
    except Exception as exc:
        ctx.log.warning("the run's environment was not recorded: %s", reason_of(exc))


def finish_wait(event: dict, log) -> dict:
    """The trigger's verdict: one line with the reason, then the evidence; raise when it failed."""
    from recipebench.cluster.readiness import WorkloadFailed

    if event.get("state") == State.READY:
        log.info("ready: %s", event.get("reason"))
        return {"state": str(State.READY)}
    log.error("wait_ready failed: %s", event.get("reason"))
    for line in event.get("evidence") or []:
        log.error("  %s", line)
    raise WorkloadFailed(event.get("reason") or "the workload did not become ready")


def accuracy(ctx: StageContext):
    """The accuracy gate before the points: its Job (the project's GSM8K client, the staged questions in
    a ConfigMap) against the deployed server, deferred until it ends. A recipe without one, or an
    offline benchmark, says so and goes on; a check an earlier try scored is not run again."""
    from recipebench.accuracy import gsm8k
    from recipebench.cluster import workload
    from recipebench.manifests.render import accuracy_job_name

    run = ctx.run
    spec = run.recipe.accuracy
    if spec is None:
        ctx.log.info("no accuracy gate: the recipe sets none%s", "" if run.recipe.topology.kind.serves else
                     " (an offline benchmark has no server to ask)")
        return {"accuracy": None}
    if ctx.ledger.get("accuracy"):
        ctx.log.info("accuracy check: scored by an earlier try")
        return {"accuracy": ctx.ledger["accuracy"]}
    cluster = ctx.cluster()
    name = accuracy_job_name(run)
    if not workload.reusable_job(run, cluster, name, ctx.log):
        questions, shots = gsm8k.read(artifacts.artifacts_root(), spec.questions, spec.shots)
        files = {"test.jsonl": gsm8k.jsonl(questions), "train.jsonl": gsm8k.jsonl(shots),
                 "gsm8k_client.py": gsm8k.CLIENT.read_text()}
        workload.start_accuracy(run, cluster, files, ctx.digests(), ctx.log)
    return wait_for_job(ctx, name, run.recipe.timeouts.point_minutes)


def wait_for_job(ctx: StageContext, name: str, minutes: int) -> Deferral:
    """Defer until one of the run's client Jobs ends (a point's, the accuracy check's), within `minutes`
    of the cluster's clock; the trigger keeps the run's GPU Lease and heartbeat alive meanwhile."""
    from recipebench.pipeline.triggers import JobTrigger

    target = ctx.target()
    limit, poll = target.seconds(minutes * 60), target.seconds(15)
    trigger = JobTrigger(target=target.to_dict(), namespace=ctx.run.recipe.cluster.namespace, name=name,
                         timeout_s=limit, poll_s=poll, lock=ctx.cluster_state().get("lock"),
                         heartbeat=ctx.heartbeat().to_dict())
    return Deferral(trigger, timedelta(seconds=limit + target.seconds(600)))


def finish_accuracy(ctx: StageContext, event: dict) -> dict:
    """The accuracy Job ended: archive its answers, score them (accuracy.gsm8k.score), record the verdict
    in the ledger for the runs row and every point's validity, then delete the Job. A low score does
    not fail the run: its points are measured, stored and marked invalid."""
    import json

    from recipebench.accuracy import gsm8k
    from recipebench.cluster import workload
    from recipebench.manifests.command_lines import ACCURACY_OUTPUT, unframe_outputs
    from recipebench.manifests.render import accuracy_job_name

    run, cluster = ctx.run, ctx.cluster()
    spec = run.recipe.accuracy
    assert spec is not None  # the stage started a Job only for a recipe with a gate
    name = accuracy_job_name(run)
    try:
        out = workload.collect_job(cluster, run.recipe.cluster.namespace, name, "accuracy check", "accuracy", event,
                                   ctx.log)
    except workload.BenchmarkFailed as exc:
        if exc.pod:
            artifacts.write_text(ctx.recipe_id, ctx.run_key, f"raw/accuracy/{exc.pod}.log", exc.log_text)
        raise
    artifacts.write_text(ctx.recipe_id, ctx.run_key, f"raw/accuracy/{out.pod}.log", out.log_text)
    files = unframe_outputs(out.log_text)
    if ACCURACY_OUTPUT not in files:
        raise workload.BenchmarkFailed(f"accuracy check: Job {name} printed no {ACCURACY_OUTPUT}")
    address = artifacts.write_text(ctx.recipe_id, ctx.run_key, f"raw/accuracy/{ACCURACY_OUTPUT}",
                                   files[ACCURACY_OUTPUT])
    answers = [json.loads(line) for line in files[ACCURACY_OUTPUT].splitlines() if line.strip()]
    scored = gsm8k.score(answers)
    result = scored.to_dict() | {"threshold": spec.min_score, "passed": scored.score >= spec.min_score,
                                 "artifact": address}
    artifacts.record(ctx.recipe_id, ctx.run_key, accuracy=result)
    ctx.log.info("accuracy %s: %.3f on %d questions (%d correct, %d unanswered, %d without a number), threshold "
                 "%.2f: %s", scored.task, scored.score, scored.questions, scored.correct, scored.errors,
                 scored.no_number, spec.min_score, "passed" if result["passed"] else
                 "FAILED: every point of this run is invalid")
    workload.delete_accuracy(run, cluster, ctx.log)
    return {"accuracy": result}


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
    from recipebench.cluster.capacity import renew
    from recipebench.pipeline.collect import ingest, log_point

    run, cluster = ctx.run, ctx.cluster()
    recipe = run.recipe
    index, point = _point(ctx)
    earlier = next((e for e in artifacts.parsed_entries(recipe.id, run.run_key) if artifacts.point_id(e) == point.id),
                   None)
    if earlier is not None:
        ctx.log.info("point %s: already collected by an earlier try", point.id)
        return {"point": point.id, "collected": "earlier", "entry": earlier}
    _reproduction(ctx, lambda: repro.write_point(run, point, _point_script(run, point)))
    if not recipe.topology.kind.serves:  # the workload Job was the benchmark: its pod log has the point
        out = workload.offline_output(run, cluster)
        entry = ingest(run, point, out.log_text, out.pod)
        log_point(ctx.log, point.id, entry)
        return {"point": point.id, "entry": entry}
    failures = (ctx.ledger.get("stages", {}).get(f"benchmark:{point.id}") or {}).get("failures", 0)
    if failures >= POINT_ATTEMPTS:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"point {point.id} failed {failures} time(s), its budget: not tried again")
    renew(cluster, ctx.lock(), time.time())
    reused = workload.reusable_point_job(run, cluster, index, ctx.log)
    if reused:  # an earlier try started it and was retried by Airflow without a failure: wait for it again
        name = reused
        ctx.log.info("point %s: Job %s from an earlier try is still there: collecting it", point.id, name)
    else:
        if not ctx.ledger.get("client_data_staged"):  # once per run: then its Job goes
            workload.staged(run, cluster, ctx.log)
            artifacts.record(recipe.id, run.run_key, client_data_staged=True)
        name = workload.start_point(run, cluster, point, index, ctx.digests(), ctx.log)
        artifacts.record(recipe.id, run.run_key, point_times={**ctx.ledger.get("point_times", {}),
                                                              point.id: [time.time(), None]})
    return wait_for_job(ctx, name, recipe.point_budget_minutes)


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
    entry = ingest(run, point, out.log_text, out.pod)
    log_point(ctx.log, point.id, entry)
    artifacts.record(recipe.id, run.run_key, point_times={**times, point.id: [out.applied_at, out.done_at]})
    workload.delete_point_job(run, cluster, index, ctx.log)
    # the parsed point also travels in XCom: load still has it if the artifacts location is lost
    return {"point": point.id, "entry": entry}


def search_steps(ctx: StageContext) -> list:
    """The capacity search's steps stored so far (their parsed entries), each judged as a pass (valid and
    within the SLO) or a failure with why: a retried search resumes from them."""
    from recipebench.catalog.recipe import BenchmarkPoint
    from recipebench.results.rows import result_row
    from recipebench.results.search import Step

    run = ctx.run
    spec = run.recipe.benchmark.search
    assert spec is not None  # only a recipe with a search has steps
    steps = []
    for entry in artifacts.parsed_entries(run.recipe.id, run.run_key):
        point = BenchmarkPoint.model_validate(entry["point"])
        if not point.search_step:
            continue
        row = result_row(run, point, entry, simulated=False, accuracy=ctx.ledger.get("accuracy"))
        why = None
        if not row["valid"]:
            why = "invalid: " + "; ".join(row["invalid_reasons"] or [])
        elif row["slo_met"] is not True:
            why = f"SLO {'not met' if row['slo_met'] is False else 'unknown'}: {row['slo_detail']}"
        load = point.concurrency if spec.load == "concurrency" else point.request_rate
        steps.append(Step(point.search_step, float(load or 0), why is None, why, row.get("output_throughput"),
                          row.get("output_throughput_per_gpu"), point.id))
    return sorted(steps, key=lambda s: s.step)


def _num(value) -> str:
    return "none" if value is None else f"{value:,.4g}" if value < 1000 else f"{value:,.0f}"


def search_point(run: RunConfig, step: int, load: float):
    from recipebench.catalog.recipe import BenchmarkPoint

    spec = run.recipe.benchmark.search
    assert spec is not None  # only a recipe with a search has steps
    by: dict[str, Any] = {"concurrency": int(load)} if spec.load == "concurrency" else {"request_rate": load}
    return BenchmarkPoint(input_len=spec.input_len, output_len=spec.output_len, num_prompts=spec.prompts(load),
                          search_step=step, **by)


def search(ctx: StageContext):
    """The capacity search after the fixed points (results.search): one step at a time, each a client Job
    against the same server, deferred until it ends (finish_search), no worker slot held meanwhile. The
    steps are stored as points; a retry resumes from them, and collects a step's Job that is still there."""
    from recipebench.cluster import workload
    from recipebench.cluster.capacity import renew
    from recipebench.manifests.render import bench_job_name
    from recipebench.results import search as decide

    run = ctx.run
    recipe = run.recipe
    spec = recipe.benchmark.search
    if spec is None or not recipe.topology.kind.serves:
        ctx.log.info("no capacity search: %s", "the recipe sets none" if spec is None else
                     "an offline benchmark has no server to load")
        return {"capacity": None}
    steps = search_steps(ctx)
    load = decide.next_load(spec, steps)
    if load is None:
        found = decide.outcome(spec, steps) | {"slo": recipe.slo.key(), "slo_text": recipe.slo.describe()}
        artifacts.record(recipe.id, run.run_key, capacity=found, search_pending=None)
        ctx.log.info("capacity at %s: %s %s (%s tok/s, %s tok/s/GPU); the first failure above it: %s (%s); %d "
                     "steps, %s", recipe.slo.describe(), spec.load, _num(found["capacity_load"]),
                     _num(found["capacity_output_throughput"]), _num(found["capacity_output_throughput_per_gpu"]),
                     _num(found["failed_load"]), found["failed_reason"] or "none", found["steps"], found["note"])
        return {"capacity": found}
    k = len(steps) + 1
    point = search_point(run, k, load)
    _reproduction(ctx, lambda: repro.write_point(run, point, _point_script(run, point)))
    index = len(recipe.benchmark.points) + k - 1  # its Job's name: after the fixed points'
    ctx.log.info("capacity search step %d of at most %d: %s %g (%s)", k, spec.max_steps, spec.load, load, point.id)
    cluster = ctx.cluster()
    renew(cluster, ctx.lock(), time.time())
    pending = ctx.ledger.get("search_pending") or {}
    if pending.get("point") == point.id and workload.reusable_point_job(run, cluster, index, ctx.log):
        ctx.log.info("step %d: its Job from an earlier try is still there: collecting it", k)
    else:
        workload.start_point(run, cluster, point, index, ctx.digests(), ctx.log)
        pending = {"point": point.id, "step": k, "load": load, "index": index, "applied": time.time()}
        artifacts.record(recipe.id, run.run_key, search_pending=pending)
    return wait_for_job(ctx, bench_job_name(run, index), recipe.point_budget_minutes)


def finish_search(ctx: StageContext, event: dict):
    """A step's Job ended: collect and store it as a point with its step number, then decide the next step
    (search again: another Job and another deferral) or the outcome."""
    from recipebench.cluster import workload
    from recipebench.pipeline.collect import ingest, log_point

    run, cluster = ctx.run, ctx.cluster()
    pending = ctx.ledger.get("search_pending") or {}
    point = search_point(run, int(pending["step"]), float(pending["load"]))
    index = int(pending["index"])
    try:
        out = workload.collect_point(run, cluster, point, index, {**event, "applied_at": pending.get("applied")},
                                     ctx.log)
    except workload.BenchmarkFailed as exc:
        if exc.pod:
            artifacts.write_text(run.recipe.id, run.run_key, f"raw/{point.id}/{exc.pod}.log", exc.log_text)
        raise
    entry = ingest(run, point, out.log_text, out.pod) | {"search_step": point.search_step}
    artifacts.save_parsed(run.recipe.id, run.run_key, point.id, entry)
    artifacts.record(run.recipe.id, run.run_key, point_times={**ctx.ledger.get("point_times", {}),
                                                              point.id: [out.applied_at, out.done_at]})
    log_point(ctx.log, point.id, entry)
    workload.delete_point_job(run, cluster, index, ctx.log)
    ctx.refresh_ledger()
    return search(ctx)


def load(ctx: StageContext) -> dict:
    from recipebench.pipeline.loading import load_run
    from recipebench.results.warehouse import open_warehouse

    run = ctx.run if ctx.run_config_data is not None else None
    return load_run(ctx.recipe_id, ctx.run_key, run, open_warehouse(), ctx.log, fallback=pushed_failure(ctx),
                    pushed=pushed_points(ctx), known=known_target(ctx))


def known_target(ctx: StageContext) -> dict:
    """The ledger's facts about the cluster that a runs row needs, from resolve's XCom when the ledger
    lost them (a simulated run must never be loaded as a real one), and the accuracy stage's verdict
    from its XCom."""
    pushed = ctx.ti.xcom_pull(task_ids="accuracy", key="return_value") if ctx.ti is not None else None
    accuracy = {"accuracy": pushed["accuracy"]} if isinstance(pushed, dict) and pushed.get("accuracy") else {}
    try:
        target = ctx.cluster_state()["target"]
    except (artifacts.ArtifactsLost, KeyError, TypeError):
        return accuracy
    return {"target": target, "simulated": bool(target.get("simulated")), "cluster": target.get("label"), **accuracy}


def pushed_points(ctx: StageContext) -> list[dict]:
    """The parsed points the benchmark tasks returned (XCom), for when the artifacts cannot be read."""
    if ctx.ti is None:
        return []
    try:
        values = ctx.ti.xcom_pull(task_ids="benchmark", key="return_value")
    except Exception as exc:  # an XCom backend that is down must not stop the load of what the artifacts hold
        _log(ctx).warning("the benchmark tasks' results could not be read from XCom: %s", exc)
        return []
    if isinstance(values, dict):
        values = [values]
    return [v["entry"] for v in values or [] if isinstance(v, dict) and v.get("entry")]


def was_refused(ctx: StageContext) -> bool:
    """resolve ended the run: its trigger params were refused, or nothing changed (skipped)."""
    failure = ctx.ti.xcom_pull(task_ids="resolve", key=FAILURE_XCOM) if ctx.ti is not None else None
    return bool(failure and (failure.get("refused") or failure.get("skipped")))


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
    """Delete everything labelled with the run (the cluster comes from the ledger, else from resolve's
    XCom: a run whose artifacts vanished is still torn down) and give the GPUs back."""
    from recipebench.cluster.capacity import release
    from recipebench.cluster.workload import TeardownIncomplete
    from recipebench.cluster.workload import teardown as delete_run

    cluster = ctx.cluster()
    if ctx.ledger.get("stages", {}).get("deploy"):  # a run that failed before ready: look before it goes
        observe_environment(ctx)
    try:
        result = delete_run(ctx.run, cluster, ctx.log)
    except TeardownIncomplete as exc:
        _note_leftover(ctx, exc.left)
        raise  # the GPUs are not free: the Lease stays until it expires
    _note_leftover(ctx, result["left"], workload_deleted_at=result["deleted_at"])
    # a kept-alive server keeps its pool, and its heartbeat, until its expiry label passes
    until = ctx.run.expires_at if ctx.run.keep_alive else None
    ctx.log.info("%s", release(cluster, ctx.lock(), time.time(), until))
    if until is not None:
        from recipebench.cluster.liveness import renew

        renew(cluster, ctx.heartbeat(), time.time(), duration_s=until - time.time())
    return result


def _note_leftover(ctx: StageContext, left: list[str], **more) -> None:
    """What teardown left, in XCom and the ledger (either may be unavailable; neither stops teardown)."""
    if ctx.ti is not None:
        ctx.ti.xcom_push(key=LEFTOVER_XCOM, value=left)
    try:
        artifacts.record(ctx.recipe_id, ctx.run_key, leftover=left, **more)
    except artifacts.ArtifactsLost as exc:
        ctx.log.error("%s", exc)


def check_regressions(ctx: StageContext) -> list:
    """Verdicts for every point; then the run fails if teardown left objects behind. Teardown is not
    a leaf of the DAG (load follows it), so Airflow would not fail the run for it
    (DagRun._tis_for_dagrun_state counts effective leaves only): this last task does."""
    from recipebench.cluster.workload import TeardownIncomplete
    from recipebench.pipeline.loading import check_run
    from recipebench.results.warehouse import open_warehouse

    known = known_target(ctx)
    verdicts = check_run(ctx.run, open_warehouse(), ctx.log, pushed_points(ctx), known.get("simulated"),
                         known.get("accuracy"))
    left = ctx.ledger.get("leftover")
    if left is None and ctx.ti is not None:
        left = ctx.ti.xcom_pull(task_ids="teardown", key=LEFTOVER_XCOM)
    if left:
        raise TeardownIncomplete(f"teardown left {len(left)} object(s) of the run in the cluster: "
                                 f"{', '.join(left[:6])}", left)
    return verdicts


PARAMS_SOURCE = "trigger params"  # how catalog.params names the trigger's input in its errors


class InputRefused(RecipeError):
    """The run's trigger params were refused (a typo in a key, a point out of bounds): the run ends as
    `refused`, which is not a failure of the recipe. Airflow pauses a DAG after N failed runs in a row
    whatever their kind (models/dagrun.py, DagRun._check_last_n_dagruns_failed), so three typos in
    manual triggers would pause a nightly recipe: a refused run is skipped instead."""


class RunSkipped(RecipebenchError):
    """Nothing changed since the last valid run (schedule_policy when-changed): the run ends as `skipped`,
    with the run it matches; no GPU was held and nobody is told."""

    def __init__(self, decision: dict):
        super().__init__(decision["reason"])
        self.decision = decision


class DeferralFailed(RecipebenchError):
    """A deferred stage that Airflow resumed only to fail it: its wait outlived the deferral timeout
    (the trigger never reported: the triggerer was down, or restarted and lost it), or the trigger
    itself crashed."""


def deferral_failure(stage: str, kwargs: dict) -> DeferralFailed:
    error = str(kwargs.get("error") or "unknown")
    if "timeout" in error.lower():
        return DeferralFailed(f"{stage}: no answer from its trigger within Airflow's deferral timeout (the stage's "
                              "own limits plus 10 minutes): was the triggerer down?")
    return DeferralFailed(f"{stage}: its trigger failed in the triggerer ({error[:200]})")


def not_failures() -> tuple[type[BaseException], ...]:
    """What Airflow signals with exceptions that are not failures of the stage (a deferral, a skip), and
    AirflowFailException, which recipebench raises itself once a failure is recorded."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, DownstreamTasksSkipped, TaskDeferred

    return TaskDeferred, AirflowSkipException, DownstreamTasksSkipped, AirflowFailException
FAILURE_XCOM = "failure"
CLUSTER_XCOM = "cluster"  # resolve's: the target and GPU Lease of the run
LEFTOVER_XCOM = "leftover"  # teardown's: objects it could not delete
POINT_ATTEMPTS = 2  # real failures a point may have (its first try and one retry)
# the stages after the run's first objects exist: each renews the run's heartbeat when it opens the cluster
HEARTBEAT_STAGES = ("reserve_gpus", "deploy", "wait_ready", "accuracy", "benchmark", "search", "teardown")
# the stages that go on when the run's ledger is lost (they free the GPUs and record the run); every
# other stage needs what the ledger holds and fails saying it is gone
AFTER_THE_RUN = ("teardown", "load", "check_regressions")
INTERRUPTED = "interrupted: the process received SIGTERM or SIGINT"


def reason_of(exc: BaseException) -> str:
    """The run's one-line reason for a stage's failure (recipebench.errors.reason)."""
    return INTERRUPTED if isinstance(exc, KeyboardInterrupt) else reason(exc)


def finish(stage: str, ctx: StageContext, event: dict) -> Any:
    """What a deferred stage does with its trigger's event (its `finish` in the stage table)."""
    return run_stage(stage, ctx, lambda c: globals()[STAGE[stage].finish or ""](c, event))


def run_stage(stage: str, ctx: StageContext, body: Callable[[StageContext], Any] | None = None) -> Any:
    """Run one stage body, recording its timing and, on failure, the first failure of the run (in the
    ledger, and in XCom in case the ledger cannot be written). A retry that succeeds clears the
    failure its earlier try recorded."""
    started = time.time()
    key = f"{stage}:{ctx.point_id}" if ctx.point_id else stage  # a mapped task's entry is its point's
    try:
        result = (body or globals()[STAGE[stage].body])(ctx)
    except InputRefused as exc:
        from airflow.sdk.exceptions import AirflowSkipException

        _record_failure(stage, key, ctx, started, reason_of(exc), refused=True)
        raise AirflowSkipException(f"refused: {exc}") from None
    except RunSkipped as exc:
        from airflow.sdk.exceptions import AirflowSkipException

        artifacts.record(ctx.recipe_id, ctx.run_key, skipped_run=exc.decision)
        _record_success(stage, key, ctx, started, None)
        if ctx.ti is not None:
            ctx.ti.xcom_push(key=FAILURE_XCOM, value={"skipped": True, "reason": str(exc)})
        _log(ctx).info("skipped: %s", exc)
        raise AirflowSkipException(f"skipped: {exc}") from None
    except BaseException as exc:
        if isinstance(exc, not_failures()):
            raise
        failures = _record_failure(stage, key, ctx, started, reason_of(exc))
        if ctx.point_id and failures >= POINT_ATTEMPTS and isinstance(exc, Exception):
            from airflow.sdk.exceptions import AirflowFailException

            # the point's budget is spent: no further try (the task's extra retries are for races)
            raise AirflowFailException(f"point {ctx.point_id}: {failures} failures, the last: "
                                       f"{reason_of(exc)}") from exc
        raise
    try:
        _record_success(stage, key, ctx, started, result)
    except Exception as exc:  # the stage did its work; a ledger that cannot be written must not undo that
        _log(ctx).error("could not record %s in the run's ledger under %s: %s", stage, artifacts.artifacts_root(),
                        reason_of(exc))
    return result


def _record_success(stage: str, key: str, ctx: StageContext, started: float, result: Any) -> None:
    ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
    previous = ledger.get("stages", {}).get(key, {})
    now = time.time()
    # start: of the first call (a deferred stage is called again when its trigger fires); busy: the
    # seconds it held a worker slot, deferrals excluded
    entries: dict[str, Any] = {"stages": {**ledger.get("stages", {}), key: {
        "start": previous.get("start", started), "end": now, "busy": round(previous.get("busy", 0) + now - started, 3),
        "state": "deferred" if isinstance(result, Deferral) else "success", "failures": previous.get("failures", 0)}}}
    if ledger.get("failed_stage") == stage and not isinstance(result, Deferral):
        entries |= {"failed_stage": None, "reason": None}
    artifacts.record(ctx.recipe_id, ctx.run_key, **entries)


def _record_failure(stage: str, key: str, ctx: StageContext, started: float, reason: str,
                    refused: bool = False) -> int:
    """Record the failure; how many times this stage (or point) has failed in the run so far."""
    failure = {"failed_stage": stage, "reason": reason, **({"refused": True} if refused else {})}
    if ctx.ti is not None:
        try:
            ctx.ti.xcom_push(key=FAILURE_XCOM, value=failure)
        except Exception as exc:  # the failure itself must surface, not this
            _log(ctx).error("could not push the failure of %s to XCom: %s", stage, exc)
    try:
        ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
        previous = ledger.get("stages", {}).get(key, {})
        entries: dict[str, Any] = {"stages": {**ledger.get("stages", {}), key: {
            "start": previous.get("start", started), "end": time.time(), "state": str(State.FAILED),
            "busy": round(previous.get("busy", 0) + time.time() - started, 3),
            "failures": previous.get("failures", 0) + 1}}}
        if not ledger.get("failed_stage"):  # the first failure is the run's
            entries |= failure
        artifacts.record(ctx.recipe_id, ctx.run_key, **entries)
        return entries["stages"][key]["failures"]
    except Exception as exc:
        _log(ctx).error("could not record the failure of %s in the ledger under %s: %s", stage,
                        artifacts.artifacts_root(), reason_of(exc))
        return 1


def _log(ctx: StageContext):
    import logging

    return ctx.log or logging.getLogger("recipebench")
