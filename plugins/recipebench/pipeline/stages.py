"""The stages of one run, in order, with what each does and how long it may take.

This table is the single description of a run: the DAG factory builds tasks from it, the
CLI prints it, and the docs of each DAG list it.
"""

from __future__ import annotations

from dataclasses import dataclass

from recipebench.catalog.recipe import Recipe


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    setup: bool = False
    teardown: bool = False


STAGES: tuple[Stage, ...] = (
    Stage("resolve", "recipe defaults + trigger params -> one validated run config, names and labels"),
    Stage("build_image", "Cloud Build builds the serving image, skipped for prebuilt images or existing tags"),
    Stage("ensure_platform", "LeaderWorkerSet / Dynamo platform installed at the pinned version; Kueue, JobSet, GCS FUSE checked"),
    Stage("create_secrets", "Hugging Face token and NGC key become Kubernetes Secrets", setup=True),
    Stage("reserve_gpus", "deferred until the run holds its node pool's Lease (Kueue-only pools: no lock)",
          setup=True),
    Stage("deploy", "render, validate and server-side apply the workload", setup=True),
    Stage("wait_ready", "deferred until the server answers (or the offline Job completes); fails fast with the reason"),
    Stage("benchmark", "a task per point, one at a time: its client Job, deferred until done; outputs archived and "
                       "parsed"),
    Stage("teardown", "delete everything labelled with the run id, give the GPUs back (teardown task)",
          teardown=True),
    Stage("load", "runs row (also for failures) and results rows into the warehouse, idempotently"),
    Stage("check_regressions", "each point against the median of recent runs of the same fingerprint"),
)

STAGE_NAMES = tuple(s.name for s in STAGES)


def minutes_for(stage: str, recipe: Recipe) -> int:
    """The execution timeout of a stage for this recipe (for a mapped stage: of one task)."""
    t = recipe.timeouts
    return {
        "build_image": 150,  # the Cloud Build timeout is 2 h
        "ensure_platform": 30,
        "reserve_gpus": t.lock_minutes + 10,
        "wait_ready": t.capacity_minutes + recipe.ready_budget_minutes,
        "benchmark": t.point_minutes + 10,
    }.get(stage, 20)


def run_minutes(recipe: Recipe, points: int | None = None) -> int:
    """The longest a whole run may take (the DAG run's timeout): every stage's limit, one after the other."""
    n = len(recipe.benchmark.points) if points is None else points
    return sum(minutes_for(s.name, recipe) * (n if s.name == "benchmark" else 1) for s in STAGES)
