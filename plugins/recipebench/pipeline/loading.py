"""The load and check_regressions stages: from a run's artifacts to warehouse rows and verdicts."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from recipebench.catalog.accelerators import gpu_hour_usd
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
    if run is not None:
        from recipebench.pipeline.links import airflow_base_url, airflow_run_url

        row["airflow_run_url"] = airflow_run_url(airflow_base_url(), recipe_id, run.airflow_run_id)
    results = []
    if run is not None and ledger:
        price = _price(run, log)
        for entry in artifacts.parsed_entries(recipe_id, run_key):
            point = BenchmarkPoint.model_validate(entry["point"])
            results.append(result_row(run, point, entry["record"], entry["artifact"], row["simulated"], price))
    warehouse.ensure_tables()
    warehouse.upsert("runs", [row])
    warehouse.upsert("results", results)
    log.info("loaded run %s of %s into %s: status %s%s, %d result row(s)", run_key, recipe_id, warehouse.label,
             row["status"], f" (failed at {row['failed_stage']}: {row['reason']})" if row["failed_stage"] else "",
             len(results))
    return {"status": row["status"], "results": len(results), "failed_stage": row["failed_stage"]}


def _price(run: RunConfig, log) -> float | None:
    """The accelerator's price per GPU-hour; a malformed setting is logged and costs stay empty
    (the night's numbers are loaded all the same)."""
    try:
        return gpu_hour_usd(run.recipe.accelerator)
    except ValueError as exc:
        log.error("no cost columns for run %s: %s", run.run_key, exc)
        return None


class RegressionFound(RuntimeError):
    """A point is worse than the median of its recent runs; the message says which and by how much."""


def judge_rows(rows: list[dict[str, Any]], started: dt.datetime, warehouse: Warehouse) -> list[dict[str, Any]]:
    """A verdict per results row against the same point's history in the warehouse; the verdicts
    are written. The baseline's run ids go with each verdict, for the alert's comparison."""
    floor, n, min_runs, spread = regressions.settings()
    warehouse.ensure_tables()
    verdicts = []
    for row in rows:
        history = warehouse.history(row["recipe"], row["fingerprint"], row["point_id"], row["simulated"],
                                    row["run_id"], started, n)
        result = regressions.judge(row, history, floor, min_runs, spread)
        result["details"]["baseline_run_ids"] = [h["run_id"] for h in history]
        verdicts.append({"run_id": row["run_id"], "point_id": row["point_id"], "recipe": row["recipe"],
                         "run_date": row["run_date"], **result})
    warehouse.upsert("verdicts", verdicts)
    return verdicts


def check_run(run: RunConfig, warehouse: Warehouse, log) -> list[dict[str, Any]]:
    ledger = artifacts.ledger(run.recipe.id, run.run_key)
    simulated = bool(ledger.get("simulated", False))
    started = dt.datetime.fromtimestamp(run.started_at, tz=dt.UTC)
    rows = [result_row(run, BenchmarkPoint.model_validate(e["point"]), e["record"], e["artifact"], simulated)
            for e in artifacts.parsed_entries(run.recipe.id, run.run_key)]
    verdicts = judge_rows(rows, started, warehouse)
    lines = [regressions.describe(v["point_id"], v) for v in verdicts]
    for line in lines:
        log.info("regression check: %s", line)
    bad = [line for line, v in zip(lines, verdicts, strict=True) if v["verdict"] == "regressed"]
    if bad:
        raise RegressionFound("; ".join(bad))
    return verdicts
