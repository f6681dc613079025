"""The load and check_regressions stages: from a run's artifacts to warehouse rows and verdicts."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from recipebench.catalog.params import RunConfig
from recipebench.catalog.recipe import BenchmarkPoint, RecipeError, load_recipe
from recipebench.pipeline import artifacts
from recipebench.results import regressions
from recipebench.results.rows import result_row, run_row
from recipebench.results.warehouse import Warehouse


def load_run(recipe_id: str, run_key: str, run: RunConfig | None, warehouse: Warehouse, log,
             fallback: dict | None = None) -> dict[str, Any]:
    """Write the runs row (whatever the outcome) and one results row per parsed point. Idempotent:
    every row is merged on its key, so a retried load leaves one copy. `fallback` ({failed_stage,
    reason}) stands in for the ledger's failure when the ledger lacks one: a stage that failed
    while the artifacts location could not be written still gets its runs row."""
    try:
        ledger = artifacts.ledger(recipe_id, run_key)
    except Exception as exc:  # an unreadable artifacts location must not lose the runs row
        log.error("cannot read the ledger of run %s under %s: %s", run_key, artifacts.artifacts_root(), exc)
        ledger = {}
    if fallback and not ledger.get("failed_stage"):
        ledger = {**ledger, **fallback}
    base = None
    if run is None:  # resolve failed: describe the run from the recipe file if it still loads
        try:
            base = load_recipe(recipe_id)
        except RecipeError:
            base = None
    now = time.time()
    row = run_row(recipe_id, run_key, ledger, run, now, base)
    results = []
    if run is not None and ledger:
        for entry in artifacts.parsed_entries(recipe_id, run_key):
            point = BenchmarkPoint.model_validate(entry["point"])
            results.append(result_row(run, point, entry["record"], entry["artifact"], row["simulated"]))
    warehouse.ensure_tables()
    warehouse.upsert("runs", [row])
    warehouse.upsert("results", results)
    log.info("loaded run %s of %s into %s: status %s%s, %d result row(s)", run_key, recipe_id, warehouse.label,
             row["status"], f" (failed at {row['failed_stage']}: {row['reason']})" if row["failed_stage"] else "",
             len(results))
    return {"status": row["status"], "results": len(results), "failed_stage": row["failed_stage"]}


class RegressionFound(RuntimeError):
    """A point is worse than the median of its recent runs; the message says which and by how much."""


def check_run(run: RunConfig, warehouse: Warehouse, log) -> list[dict[str, Any]]:
    threshold, n, min_runs = regressions.settings()
    ledger = artifacts.ledger(run.recipe.id, run.run_key)
    simulated = bool(ledger.get("simulated", False))
    started = dt.datetime.fromtimestamp(run.started_at, tz=dt.UTC)
    verdicts, lines = [], []
    for entry in artifacts.parsed_entries(run.recipe.id, run.run_key):
        point = BenchmarkPoint.model_validate(entry["point"])
        current = result_row(run, point, entry["record"], entry["artifact"], simulated)
        history = warehouse.history(run.recipe.id, run.fingerprint, point.id, simulated, run.run_key, started, n)
        result = regressions.judge(current, history, threshold, min_runs)
        lines.append(regressions.describe(point.id, result))
        verdicts.append({"run_id": run.run_key, "point_id": point.id, "recipe": run.recipe.id,
                         "run_date": current["run_date"], **result})
    warehouse.ensure_tables()
    warehouse.upsert("verdicts", verdicts)
    for line in lines:
        log.info("regression check: %s", line)
    bad = [line for line, v in zip(lines, verdicts, strict=True) if v["verdict"] == "regressed"]
    if bad:
        raise RegressionFound("; ".join(bad))
    return verdicts
