"""The workload on the cluster: deploy it, run one benchmark point as a Job, read the offline Job's
output, tear it all down.

Each function takes the run config and a Cluster; what to do with the outputs (archive, parse,
load) is the pipeline's business (recipebench.pipeline.bodies).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from recipebench.catalog.naming import run_selector
from recipebench.catalog.params import RunConfig
from recipebench.catalog.recipe import BenchmarkPoint
from recipebench.catalog.vocabulary import State
from recipebench.cluster.access import ClusterError
from recipebench.cluster.api import Cluster
from recipebench.errors import RecipebenchError
from recipebench.manifests.render import (
    accuracy_job_name,
    bench_job_name,
    render_accuracy_job,
    render_bench_job,
    render_stage_job,
    render_workload,
    stage_job_name,
)


class BenchmarkFailed(RecipebenchError):
    """A benchmark point did not produce a result; the message names the point and why."""

    def __init__(self, message: str, pod: str | None = None, log_text: str = ""):
        super().__init__(message)
        self.pod, self.log_text = pod, log_text


def deploy(run: RunConfig, cluster: Cluster, digests: dict, log) -> list[str]:
    from recipebench.manifests.validation import validate_objects

    deployed = run.deployed(time.time())
    objects = render_workload(deployed, digests)
    if run.recipe.topology.kind.serves:  # what the clients read, staged while the server starts
        objects.append(render_stage_job(deployed, digests))
    validate_objects(objects)
    cluster.ensure_namespace(run.recipe.cluster.namespace)
    applied = cluster.apply(objects)
    for o in applied:
        log.info("applied %s", o)
    return applied


def readiness_limits(run: RunConfig, cluster_target) -> tuple[float, float, float]:
    """(capacity limit, ready limit, poll interval) in real seconds on this cluster's clock."""
    return (cluster_target.seconds(run.recipe.timeouts.capacity_minutes * 60),
            cluster_target.seconds(run.recipe.ready_budget_minutes * 60), cluster_target.seconds(20))


@dataclass(frozen=True)
class PointOutput:
    job: str  # the Job's name
    pod: str  # the pod whose log holds the output
    log_text: str
    applied_at: float | None = None  # unix seconds: the client Job was created
    done_at: float | None = None  # ... and seen complete


def staged(run: RunConfig, cluster: Cluster, log) -> None:
    """The client data the deploy stage started staging is there (its Job complete), waiting for it a
    bounded while, then its Job goes; BenchmarkFailed with the Job's reason otherwise. The server took
    minutes to load, so this is normally done long before the first point."""
    from recipebench.cluster.readiness import wait_job

    ns, name = run.recipe.cluster.namespace, stage_job_name(run)
    limit = cluster.target.seconds(run.recipe.timeouts.point_minutes * 60)
    try:
        outcome = wait_job(cluster, ns, name, limit, cluster.target.seconds(5), cluster.target.time_scale)
    except TimeoutError as exc:
        raise BenchmarkFailed(f"staging the clients' tokenizer and dataset (Job {name}) did not finish: {exc}") from None
    if outcome.state != State.DONE:
        pods = cluster.pods(ns, f"job-name={name}")
        tail = cluster.logs(ns, pods[0]["metadata"]["name"]).strip().splitlines()[-1:] if pods else []
        raise BenchmarkFailed(f"staging the clients' tokenizer and dataset (Job {name}) failed: {outcome.reason}"
                              + (f": {tail[0]}" if tail else ""))
    log.info("client data staged (Job %s)", name)
    cluster.delete_or_leave({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns}},
                            log)


def start_point(run: RunConfig, cluster: Cluster, point: BenchmarkPoint, index: int, digests: dict, log) -> str:
    """Create the point's client Job; its name. Whether it finishes is a JobTrigger's to watch."""
    name = bench_job_name(run, index)
    cluster.apply([render_bench_job(run, point, index, digests)])
    log.info("point %s: Job %s started", point.id, name)
    return name


def reusable_point_job(run: RunConfig, cluster: Cluster, index: int, log) -> str | None:
    """The point's Job from an earlier try when it can still give this try its output (running, or
    complete and not yet collected): its name. A Job that failed is deleted, so the retry runs the
    point again (applying the same Job would change nothing: a finished Job does not run twice)."""
    return reusable_job(run, cluster, bench_job_name(run, index), log)


def reusable_job(run: RunConfig, cluster: Cluster, name: str, log) -> str | None:
    """reusable_point_job for any of the run's client Jobs, by name."""
    from recipebench.cluster.readiness import assess_job, observe_job

    ns = run.recipe.cluster.namespace
    job, pods, events = observe_job(cluster, ns, name)
    if job is None:
        return None
    verdict = assess_job(job, pods, events)
    if verdict.state in (State.RUNNING, State.DONE):
        return name
    log.info("Job %s from an earlier try: %s; deleting it to run it again", name, verdict.reason)
    cluster.delete(job | {"apiVersion": "batch/v1", "kind": "Job"})
    deadline = time.monotonic() + cluster.target.seconds(120)
    while cluster.get("batch/v1", "Job", ns, name) is not None:
        if time.monotonic() > deadline:
            raise BenchmarkFailed(f"the failed Job {ns}/{name} of an earlier try is still being deleted")
        time.sleep(cluster.target.seconds(2))
    return None


def collect_point(run: RunConfig, cluster: Cluster, point: BenchmarkPoint, index: int, outcome: dict,
                  log) -> PointOutput:
    """The point's output once its Job ended (`outcome`: the JobTrigger's event); BenchmarkFailed, with
    what the client printed, when the Job failed or could not run."""
    return collect_job(cluster, run.recipe.cluster.namespace, bench_job_name(run, index), f"point {point.id}",
                       "benchmark", outcome, log)


def collect_job(cluster: Cluster, ns: str, name: str, what: str, kind: str, outcome: dict, log) -> PointOutput:
    """A client Job's output once it ended; BenchmarkFailed naming `what` (and `kind` of Job) otherwise."""
    state, reason = outcome.get("state"), outcome.get("reason") or "no verdict"
    if state not in (State.DONE, State.FAILED):  # stuck (a pod no node can take, an image), timed out, lost its lock
        for line in outcome.get("evidence") or []:
            log.error("  %s", line)
        raise BenchmarkFailed(f"{what}: {kind} Job {name} cannot run: {reason}")
    pod = job_pod(cluster, ns, name)
    log_text = cluster.logs(ns, pod)
    if state == State.FAILED:
        tail = log_text.strip().splitlines()[-10:]
        last = tail[-1] if tail else "no log"
        log.error("%s: %s Job %s failed: %s", what, kind, name, last)
        for line in tail:
            log.error("  %s", line)
        raise BenchmarkFailed(f"{what}: {kind} Job {name} failed: {last}", pod, log_text)
    return PointOutput(name, pod, log_text, outcome.get("applied_at"), outcome.get("at"))


def start_accuracy(run: RunConfig, cluster: Cluster, files: dict[str, str], digests: dict, log) -> str:
    """Create the accuracy check's ConfigMap and Job (render.render_accuracy_job); the Job's name."""
    objects = render_accuracy_job(run, files, digests)
    cluster.apply(objects)
    name = objects[-1]["metadata"]["name"]
    log.info("accuracy check: Job %s started", name)
    return name


def delete_job(run: RunConfig, cluster: Cluster, name: str, log) -> None:
    """A collected Job may go now, or at teardown if the API refuses."""
    cluster.delete_or_leave({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": name, "namespace": run.recipe.cluster.namespace}}, log)


def delete_accuracy(run: RunConfig, cluster: Cluster, log) -> None:
    """The accuracy check is scored: its Job and its questions' ConfigMap may go (else at teardown)."""
    name, ns = accuracy_job_name(run), run.recipe.cluster.namespace
    delete_job(run, cluster, name, log)
    cluster.delete_or_leave({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}},
                            log)


def delete_point_job(run: RunConfig, cluster: Cluster, index: int, log) -> None:
    """The point's numbers are collected: its Job may go now, or at teardown if the API refuses."""
    delete_job(run, cluster, bench_job_name(run, index), log)


def offline_output(run: RunConfig, cluster: Cluster) -> PointOutput:
    """The offline workload is itself the benchmark: its Job's pod log holds every point's report."""
    ns = run.recipe.cluster.namespace
    pod = job_pod(cluster, ns, run.name)
    return PointOutput(run.name, pod, cluster.logs(ns, pod))


def job_pod(cluster: Cluster, ns: str, job_name: str) -> str:
    pods = cluster.pods(ns, f"job-name={job_name}")
    if not pods:
        raise BenchmarkFailed(f"Job {ns}/{job_name} has no pod to read its output from")
    return pods[0]["metadata"]["name"]


class TeardownIncomplete(ClusterError):
    """Objects of the run are still in the cluster after teardown; the message names them."""

    def __init__(self, message: str, left: list[str]):
        super().__init__(message)
        self.left = left


def _client_object(obj: dict) -> bool:
    """A benchmark point's or the accuracy check's object: it goes at teardown even when the server stays."""
    labels = obj.get("metadata", {}).get("labels") or {}
    return labels.get("recipebench.dev/point") is not None or labels.get("recipebench.dev/component") == "accuracy"


def teardown(run: RunConfig, cluster: Cluster, log) -> dict:
    """Delete everything labelled with the run, Jobs and their pods included; what is already gone
    is fine. With keep-alive only the benchmark Jobs go; the expiry label lets the janitor take the
    rest later. TeardownIncomplete, naming what is left, when anything could not be deleted."""
    keep_server = run.keep_alive
    keep = (lambda obj: not _client_object(obj)) if keep_server else (lambda obj: False)
    selector = run_selector(run.run_key)
    failed: dict[str, str] = {}
    deleted = cluster.delete_labelled(selector, keep=keep, log=log, failed=failed)
    deleted_at = time.time()
    # the workload first (what holds the GPUs), then the rest by name: the reason names the first few
    left = sorted(set(failed) | set(cluster.remaining(selector, keep)),
                  key=lambda o: (o.split("/")[-1] != run.name, o))
    if keep_server:
        log.info("keep-alive: %s %s stays up until %s (expiry label); the janitor removes it then",
                 run.recipe.topology.kind.kind, run.name, run.expires_at)
    log.info("teardown: deleted %d object(s)%s", len(deleted), f", still present: {left}" if left else "")
    if left:
        first = next(iter(failed.items()), None)
        raise TeardownIncomplete(
            f"{len(left)} object(s) of the run are still in {cluster.target.label}: {', '.join(left[:6])}"
            + (f" and {len(left) - 6} more" if len(left) > 6 else "")
            + (f" (delete {first[0]}: {first[1]})" if first else ""), left)
    return {"deleted": deleted, "left": left, "deleted_at": deleted_at}
