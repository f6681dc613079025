"""The stages of one run, in order: each is one entry saying everything about it.

This table is the single description of a run: the DAG factory builds the tasks from it and has no
tables of its own, the stage bodies are looked up from it, the CLI prints it and each DAG's docs
list it. A stage's body (and, for a deferred stage, what it does with its trigger's event) are
functions of recipebench.pipeline.bodies named here; they are imported when a task runs, not when
a DAG file is parsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from recipebench.catalog.recipe import Recipe
from recipebench.pipeline.operators import BuildImageOperator, PointOperator, StageOperator, WaitReadyOperator


def _retry_delay() -> timedelta:
    return timedelta(seconds=float(os.environ.get("RECIPEBENCH_RETRY_DELAY_SECONDS", "120")))


def _point_retry_delay() -> timedelta:
    # Airflow 3.3 can mark a deferred task up_for_retry when its trigger fires within seconds of the
    # deferral (a stale executor event: apache/airflow issues 67287, 72716, not yet fixed in a
    # release). Such a retry only collects a Job that already finished, so a point's retries come
    # quickly, and more of them: the point's own budget of real failures (bodies.POINT_ATTEMPTS) is
    # counted in the run's ledger, and a race spends none of it.
    return timedelta(seconds=float(os.environ.get("RECIPEBENCH_POINT_RETRY_DELAY_SECONDS", "5")))


def _search_minutes(recipe: Recipe) -> int:
    """Every step's limit, the step count bounded up front (search.max_steps), so the run's limit is known."""
    spec = recipe.benchmark.search
    return 10 if spec is None else spec.max_steps * recipe.point_budget_minutes + 10


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    operator: type[StageOperator] = StageOperator
    trigger_rule: str = "all_success"
    retries: int = 0
    retry_delay: Callable[[], timedelta] = _retry_delay
    minutes: Callable[[Recipe], int] = lambda recipe: 20  # the execution timeout of one task
    after: tuple[str, ...] | None = None  # upstream stages (None: the one before it in the table)
    finish: str | None = None  # bodies' function for the trigger's event, when the stage defers
    setup: bool = False
    teardown: bool = False
    per_point: bool = False  # a task per benchmark point, mapped over what resolve returns

    @property
    def body(self) -> str:
        """The name of the stage's function in recipebench.pipeline.bodies."""
        return self.name


STAGES: tuple[Stage, ...] = (
    Stage("resolve", "recipe defaults + trigger params -> one validated run config, names and labels"),
    Stage("build_image", "Cloud Build builds the serving image, skipped for prebuilt images or existing tags",
          operator=BuildImageOperator, minutes=lambda r: 150),  # the Cloud Build timeout is 2 h
    # build_image may be skipped (prebuilt image, tag exists): the platform step still runs
    Stage("ensure_platform", "LeaderWorkerSet / Dynamo platform installed at the pinned version; Kueue, JobSet, "
                             "GCS FUSE checked", trigger_rule="none_failed", minutes=lambda r: 30),
    Stage("create_secrets", "the run's heartbeat, then the Hugging Face token and NGC key as Kubernetes Secrets",
          setup=True),
    Stage("reserve_gpus", "deferred until the run holds its node pool's Lease (Kueue-only pools: no lock)",
          setup=True, finish="finish_reserve", minutes=lambda r: r.timeouts.lock_minutes + 10),
    Stage("deploy", "render, validate and server-side apply the workload", setup=True),
    Stage("wait_ready", "deferred until the server answers (or the offline Job completes); fails fast with the "
                        "reason", operator=WaitReadyOperator, finish="finish_ready",
          minutes=lambda r: r.timeouts.capacity_minutes + r.ready_budget_minutes),
    # before any point: a server that answers fast and wrong must not make a number (recipebench.accuracy)
    Stage("accuracy", "the accuracy gate: GSM8K against the deployed server, deferred until its Job ends; below "
                      "the recipe's min_score every point is invalid", finish="finish_accuracy", retries=1,
          retry_delay=_point_retry_delay, minutes=lambda r: r.timeouts.point_minutes + 10),
    # one task per point, one at a time against the same server; a retry re-runs only its own point
    Stage("benchmark", "a task per point, one at a time: its client Job, deferred until done; outputs archived "
                       "and parsed", operator=PointOperator, finish="finish_point", per_point=True, retries=3,
          retry_delay=_point_retry_delay, minutes=lambda r: r.point_budget_minutes + 10),
    # after every fixed point, on the same server: one task whose steps are Jobs it defers on one after the
    # other (the mapping of benchmark is fixed when resolve ends; the steps are decided as they go)
    Stage("search", "the capacity search: the highest load that stays valid and within the SLO, one client Job per "
                    "step, each stored as a point", finish="finish_search", retries=1, retry_delay=_point_retry_delay,
          minutes=_search_minutes),
    # idempotent and retried: an API server that is down for a moment must not leak a GPU workload
    Stage("teardown", "delete everything labelled with the run id, give the GPUs back (teardown task)",
          teardown=True, retries=3),
    # a runs row for failed runs too, so it runs whatever happened before it; after teardown, outside
    # the setups' scope, so that it also runs (and records the failure) when a stage before them failed
    Stage("load", "runs row (also for failures) and results rows into the warehouse, idempotently",
          trigger_rule="all_done", retries=3),
    # it hangs off benchmark as well, so a failed point fails the run
    Stage("check_regressions", "each point (and the capacity) against the median of recent runs of the same "
                               "fingerprint", after=("benchmark", "search", "load")),
)

STAGE_NAMES = tuple(s.name for s in STAGES)
STAGE = {s.name: s for s in STAGES}


def upstream(stage: Stage) -> tuple[str, ...]:
    if stage.after is not None:
        return stage.after
    index = STAGE_NAMES.index(stage.name)
    return STAGE_NAMES[index - 1:index]


def run_minutes(recipe: Recipe, points: int | None = None) -> int:
    """The longest a whole run may take (the DAG run's timeout): every stage's limit, one after the other."""
    n = len(recipe.benchmark.points) if points is None else points
    return sum(s.minutes(recipe) * (n if s.per_point else 1) for s in STAGES)
