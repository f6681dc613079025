"""The body of each stage. Operators call `run_stage`; each body is a plain function of a
StageContext, so the CLI and the tests can run the same code without an operator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recipebench import artifacts
from recipebench.params import RunConfig, build_run_config
from recipebench.recipe import load_recipe


class StageNotBuilt(NotImplementedError):
    """A stage whose work belongs to an issue that has not landed yet."""


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
    _run: RunConfig | None = field(default=None, repr=False)

    @property
    def run(self) -> RunConfig:
        if self._run is None:
            if self.run_config_data is None:
                raise RuntimeError("no run config: the resolve stage did not succeed")
            self._run = RunConfig.model_validate(self.run_config_data)
        return self._run


def resolve(ctx: StageContext) -> dict:
    recipe = load_recipe(ctx.recipe_id)
    run = build_run_config(recipe, ctx.params, ctx.run_key, ctx.airflow_run_id, ctx.trigger)
    ctx.log.info("run %s of %s: %d point(s), fingerprint %s, objects expire at %s",
                 run.run_key, recipe.id, len(run.recipe.benchmark.points), run.fingerprint, run.expires_at)
    return run.model_dump(mode="json")


def load(ctx: StageContext) -> dict:
    from recipebench.results.loading import load_run
    from recipebench.results.warehouse import open_warehouse

    run = ctx.run if ctx.run_config_data is not None else None
    return load_run(ctx.recipe_id, ctx.run_key, run, open_warehouse(), ctx.log)


def check_regressions(ctx: StageContext) -> list:
    from recipebench.results.loading import check_run
    from recipebench.results.warehouse import open_warehouse

    return check_run(ctx.run, open_warehouse(), ctx.log)


def _not_built(stage: str, issue: int) -> Callable[[StageContext], Any]:
    def body(ctx: StageContext) -> Any:
        raise StageNotBuilt(f"stage {stage} is not built yet: it belongs to issue #{issue}")

    body.__name__ = stage
    return body


BODIES: dict[str, Callable[[StageContext], Any]] = {
    "resolve": resolve,
    "build_image": _not_built("build_image", 6),
    "ensure_platform": _not_built("ensure_platform", 6),
    "create_secrets": _not_built("create_secrets", 5),
    "deploy": _not_built("deploy", 5),
    "wait_ready": _not_built("wait_ready", 5),
    "benchmark": _not_built("benchmark", 5),
    "load": load,
    "teardown": _not_built("teardown", 5),
    "check_regressions": check_regressions,
}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def run_stage(stage: str, ctx: StageContext) -> Any:
    """Run one stage body, recording its timing and, on failure, the first failure of the run."""
    started = time.time()
    try:
        result = BODIES[stage](ctx)
    except BaseException as exc:
        # Deferral is not a failure: Airflow signals it with an exception too.
        if type(exc).__name__ in ("TaskDeferred", "AirflowSkipException", "DownstreamTasksSkipped"):
            raise
        ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
        entries: dict[str, Any] = {"stages": {**ledger.get("stages", {}),
                                              stage: {"start": started, "end": time.time(), "state": "failed"}}}
        if "failed_stage" not in ledger:
            entries |= {"failed_stage": stage, "reason": _reason(exc)}
        artifacts.record(ctx.recipe_id, ctx.run_key, **entries)
        raise
    ledger = artifacts.ledger(ctx.recipe_id, ctx.run_key)
    artifacts.record(ctx.recipe_id, ctx.run_key, stages={
        **ledger.get("stages", {}), stage: {"start": started, "end": time.time(), "state": "success"}})
    return result
