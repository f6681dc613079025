"""The stages that drive the cluster: deploy, wait_ready, benchmark, teardown.

Each takes the run config and a Cluster; the Airflow side (operators, deferral) stays in
operators.py and tasks.py.
"""

from __future__ import annotations

from datetime import timedelta

from recipebench import artifacts, collect
from recipebench.k8s import Cluster, job_failed, oid
from recipebench.naming import run_selector
from recipebench.params import RunConfig
from recipebench.readiness import WORKLOAD_KIND
from recipebench.render import bench_job_name, render_bench_job, render_workload


class WorkloadFailed(RuntimeError):
    """The workload cannot serve; the message is the one-line reason."""


class BenchmarkFailed(RuntimeError):
    """A benchmark point did not produce a result; the message names the point and why."""


def deploy(run: RunConfig, cluster: Cluster, image_digest: str | None, log) -> list[str]:
    from recipebench.validation import validate_objects

    objects = render_workload(run, image_digest)
    validate_objects(objects)
    cluster.ensure_namespace(run.recipe.cluster.namespace)
    applied = cluster.apply(objects)
    for o in applied:
        log.info("applied %s", o)
    return applied


def readiness_limits(run: RunConfig, cluster_target) -> tuple[float, float, float]:
    """(capacity limit, ready limit, poll interval) in real seconds on this cluster's clock."""
    t = run.recipe.timeouts
    return (cluster_target.seconds(t.capacity_minutes * 60), cluster_target.seconds(t.ready_minutes * 60),
            cluster_target.seconds(20))


def ready_trigger(run: RunConfig, target):
    from recipebench.triggers import ReadyTrigger

    capacity, ready, poll = readiness_limits(run, target)
    trigger = ReadyTrigger(target=target.to_dict(), shape=run.recipe.topology.shape,
                           namespace=run.recipe.cluster.namespace, name=run.name, run_key=run.run_key,
                           capacity_limit_s=capacity, ready_limit_s=ready, poll_s=poll)
    return trigger, timedelta(seconds=capacity + ready + target.seconds(600))


def finish_wait(event: dict, log) -> dict:
    """The trigger's verdict: one line with the reason, then the evidence; raise when it failed."""
    if event.get("state") == "ready":
        log.info("ready: %s", event.get("reason"))
        return {"state": "ready"}
    log.error("wait_ready failed: %s", event.get("reason"))
    for line in event.get("evidence") or []:
        log.error("  %s", line)
    raise WorkloadFailed(event.get("reason") or "the workload did not become ready")


def benchmark(run: RunConfig, cluster: Cluster, image_digest: str | None, log) -> list[dict]:
    """Run each point as a Job (offline recipes: collect the workload Job's reports) and ingest it."""
    recipe, ns = run.recipe, run.recipe.cluster.namespace
    parsed_ids = {_point_id(e) for e in artifacts.parsed_entries(recipe.id, run.run_key)}
    entries = []
    if recipe.topology.shape == "offline":
        pod = _job_pod(cluster, ns, run.name)
        log_text = cluster.logs(ns, pod)
        for point in recipe.benchmark.points:
            entries.append(collect.ingest(recipe.id, run.run_key, recipe.benchmark.tool, point, log_text, pod))
            _log_point(log, point.id, entries[-1])
        return entries
    for index, point in enumerate(recipe.benchmark.points):
        if point.id in parsed_ids:  # a retried stage does not run (or load) a point twice
            log.info("point %s: already collected by an earlier try", point.id)
            continue
        job = render_bench_job(run, point, index, image_digest)
        name = bench_job_name(run, index)
        cluster.apply([job])
        log.info("point %s: Job %s started", point.id, name)
        final = cluster.wait_job(ns, name, cluster.target.seconds(recipe.timeouts.point_minutes * 60),
                                 cluster.target.seconds(15))
        pod = _job_pod(cluster, ns, name)
        log_text = cluster.logs(ns, pod)
        if job_failed(final):
            tail = log_text.strip().splitlines()[-10:]
            reason = tail[-1] if tail else "no log"
            log.error("point %s: benchmark Job %s failed: %s", point.id, name, reason)
            for line in tail:
                log.error("  %s", line)
            artifacts.write_text(recipe.id, run.run_key, f"raw/{point.id}/{pod}.log", log_text)
            raise BenchmarkFailed(f"point {point.id}: benchmark Job {name} failed: {reason}")
        entries.append(collect.ingest(recipe.id, run.run_key, recipe.benchmark.tool, point, log_text, pod))
        _log_point(log, point.id, entries[-1])
        cluster.delete(job)
    return entries


def _point_id(entry: dict) -> str:
    from recipebench.recipe import BenchmarkPoint

    return BenchmarkPoint.model_validate(entry["point"]).id


def _log_point(log, point_id: str, entry: dict) -> None:
    r = entry["record"]
    log.info("point %s: %s completed, %s failed, output %s tok/s, median TTFT %s ms, median TPOT %s ms -> %s",
             point_id, r.get("completed"), r.get("failed"), _fmt(r.get("output_throughput")),
             _fmt(r.get("ttft_median_ms")), _fmt(r.get("tpot_median_ms")), entry["artifact"])
    for warning in entry.get("warnings") or []:
        log.warning("point %s: %s", point_id, warning)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _job_pod(cluster: Cluster, ns: str, job_name: str) -> str:
    pods = cluster.pods(ns, f"job-name={job_name}")
    if not pods:
        raise BenchmarkFailed(f"Job {ns}/{job_name} has no pod to read its output from")
    return pods[0]["metadata"]["name"]


def teardown(run: RunConfig, cluster: Cluster, log) -> dict:
    """Delete everything labelled with the run, Jobs and their pods included; what is already gone
    is fine. With keep-alive only the benchmark Jobs go; the expiry label lets the janitor take the
    rest later."""
    keep_server = run.keep_alive
    keep = (lambda obj: (obj.get("metadata", {}).get("labels") or {}).get("recipebench.dev/point") is None) \
        if keep_server else (lambda obj: False)
    deleted = cluster.delete_labelled(run_selector(run.run_key), keep=keep, log=log)
    left = [oid(o) for o in cluster.list_labelled(run_selector(run.run_key)) if not keep(o)]
    if keep_server:
        api_version, kind = WORKLOAD_KIND[run.recipe.topology.shape]
        log.info("keep-alive: %s %s stays up until %s (expiry label); the janitor removes it then",
                 kind, run.name, run.expires_at)
    log.info("teardown: deleted %d object(s)%s", len(deleted), f", still present: {left}" if left else "")
    return {"deleted": deleted, "left": left}
