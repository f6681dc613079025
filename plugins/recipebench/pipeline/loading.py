"""The load and check_regressions stages: from a run's artifacts to warehouse rows and verdicts."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from recipebench.catalog.accelerators import gpu_hour_usd
from recipebench.catalog.params import RunConfig
from recipebench.catalog.recipe import BenchmarkPoint, RecipeError, load_recipe
from recipebench.catalog.vocabulary import Verdict
from recipebench.errors import RecipebenchError
from recipebench.pipeline import artifacts
from recipebench.results import regressions
from recipebench.results.rows import capacity_row, result_row, run_row, trial_rows
from recipebench.results.warehouse import Warehouse


def point_entries(recipe_id: str, run_key: str, log, pushed: list[dict] | None = None) -> list[dict]:
    """The run's parsed points: the artifacts' copies, and for any point they lack (the location was
    lost or cannot be read) the copy its benchmark task returned."""
    try:
        entries = artifacts.parsed_entries(recipe_id, run_key)
    except Exception as exc:
        log.error("cannot read the parsed points of run %s under %s: %s", run_key, artifacts.artifacts_root(), exc)
        entries = []
    have = {artifacts.point_id(e) for e in entries}
    recovered = [e for e in pushed or [] if artifacts.point_id(e) not in have]
    if recovered:
        log.warning("%d point(s) of run %s are not in its artifacts (removed?): loaded from what their tasks "
                    "returned", len(recovered), run_key)
    return entries + recovered


def load_run(recipe_id: str, run_key: str, run: RunConfig | None, warehouse: Warehouse, log,
             fallback: dict | None = None, pushed: list[dict] | None = None,
             known: dict | None = None) -> dict[str, Any]:
    """Write the runs row (whatever the outcome) and one results row per parsed point. Idempotent:
    every row is merged on its key, so a retried load leaves one copy. `fallback` ({failed_stage,
    reason}) stands in for the ledger's failure when the ledger lacks one: a stage that failed
    while the artifacts location could not be written still gets its runs row."""
    try:
        ledger = artifacts.ledger(recipe_id, run_key)
    except Exception as exc:  # an unreadable artifacts location must not lose the runs row
        log.error("cannot read the ledger of run %s under %s: %s", run_key, artifacts.artifacts_root(), exc)
        ledger = {}
    ledger = {**(known or {}), **ledger}  # what resolve said of the cluster (and the accuracy stage), where the
    # ledger lost it
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
    results, trials = [], []
    if run is not None:
        price = _price(run, log)
        for entry in point_entries(recipe_id, run_key, log, pushed):
            point = BenchmarkPoint.model_validate(entry["point"])
            results.append(result_row(run, point, entry, row["simulated"], price, ledger.get("accuracy")))
            trials += trial_rows(results[-1], entry)
    capacity = capacity_row(run, ledger.get("capacity"), row["simulated"]) if run is not None else None
    warehouse.ensure_tables()
    warehouse.write_run(row, results, trials, capacity)
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


def stopped_stage(ledger: dict) -> str | None:
    """Where a run that ended from outside stopped: the first stage whose record is not a success, else
    the one after the last stage recorded (pure)."""
    from recipebench.pipeline.stages import STAGE_NAMES

    stages = ledger.get("stages") or {}
    before_load = STAGE_NAMES[:STAGE_NAMES.index("load")]
    last = None
    for name in before_load:
        entries = [v for k, v in stages.items() if k.split(":")[0] == name]
        if any(e.get("state") != "success" for e in entries):
            return name
        if entries:
            last = name
    following = before_load[before_load.index(last) + 1:] if last else before_load
    return following[0] if following else None


def record_ended_run(recipe_id: str, airflow_run_id: str, why: str, warehouse: Warehouse | None = None,
                     log=None) -> bool:
    """Every ended run gets its runs row, whatever ended it: a run marked failed (or success) from the
    UI or the API has its load task skipped, so the DAG's callbacks and the plugin's listener call this.
    Writes the row from the run's artifacts only when load did not; True when it wrote one."""
    import logging

    from recipebench.catalog.naming import run_key
    from recipebench.results.warehouse import open_warehouse

    log = log or logging.getLogger("recipebench")
    key = run_key(recipe_id, airflow_run_id)
    warehouse = warehouse or open_warehouse()
    warehouse.ensure_tables()
    if warehouse.select("runs", {"run_id": key}, limit=1, columns=["run_id"]):
        return False
    try:
        ledger = artifacts.ledger(recipe_id, key)
        data = artifacts.read_json(recipe_id, key, "run.json")
    except Exception as exc:
        log.error("run %s of %s: its artifacts cannot be read (%s): the runs row says only what is known", key,
                  recipe_id, exc)
        ledger, data = {}, None
    run = RunConfig.model_validate(data) if data else None
    stage = stopped_stage(ledger) or "unknown"
    load_run(recipe_id, key, run, warehouse, log, fallback={
        "failed_stage": stage, "reason": f"the run ended during {stage} without its load stage: {why}"})
    log.warning("run %s of %s ended without its load stage (%s): its runs row is written now", key, recipe_id, why)
    return True


class RegressionFound(RecipebenchError):
    """A point is worse than the median of its recent runs; the message says which and by how much."""


def judge_rows(rows: list[dict[str, Any]], started: dt.datetime, warehouse: Warehouse) -> list[dict[str, Any]]:
    """A verdict per results row against the same point's history in the warehouse; the verdicts
    are written. The baseline's run ids go with each verdict, for the alert's comparison."""
    floor, n, min_runs, spread = regressions.settings()
    warehouse.ensure_tables()
    verdicts = []
    for row in rows:
        result: dict[str, Any]
        if row.get("valid") is False:  # its numbers do not count: stored and shown, never judged
            result = {"verdict": Verdict.INVALID, "baseline_runs": 0,
                      "details": {"invalid_reasons": row.get("invalid_reasons") or []}}
        else:
            history = warehouse.history(row["recipe"], row["fingerprint"], row["point_id"], row["simulated"],
                                        row["run_id"], started, n)
            result = regressions.judge(row, history, floor, min_runs, spread)
            result["details"]["baseline_run_ids"] = [h["run_id"] for h in history]
        verdicts.append({"run_id": row["run_id"], "point_id": row["point_id"], "recipe": row["recipe"],
                         "run_date": row["run_date"], **result})
    warehouse.upsert("verdicts", verdicts)
    return verdicts


def judge_capacity(run: RunConfig, found: dict | None, simulated: bool, started: dt.datetime,
                   warehouse: Warehouse) -> list[dict[str, Any]]:
    """The run's capacity against the same SLO's recent nights, as a verdict of point `capacity`."""
    row = capacity_row(run, found, simulated)
    if row is None or run.recipe.benchmark.search is None:
        return []
    floor, n, min_runs, spread = regressions.settings()
    history = warehouse.capacity_history(run.recipe.id, run.fingerprint, row["slo"], simulated, run.run_key,
                                         started, n)
    result = regressions.judge_capacity(row, history, floor, min_runs, spread, run.recipe.benchmark.search.tolerance)
    result["details"]["baseline_run_ids"] = [h["run_id"] for h in history]
    verdict = {"run_id": run.run_key, "point_id": regressions.CAPACITY, "recipe": run.recipe.id,
               "run_date": row["run_date"], **result}
    warehouse.upsert("verdicts", [verdict])
    return [verdict]


def check_run(run: RunConfig, warehouse: Warehouse, log, pushed: list[dict] | None = None,
              simulated: bool | None = None, accuracy: dict | None = None) -> list[dict[str, Any]]:
    try:  # the run's facts, and its search's outcome
        ledger = artifacts.ledger(run.recipe.id, run.run_key)
    except artifacts.ArtifactsLost:
        if simulated is None:
            raise
        ledger = {}
    simulated = bool(ledger.get("simulated", False)) if simulated is None else simulated
    accuracy = ledger.get("accuracy") if accuracy is None else accuracy
    started = dt.datetime.fromtimestamp(run.started_at, tz=dt.UTC)
    rows = [result_row(run, BenchmarkPoint.model_validate(e["point"]), e, simulated, accuracy=accuracy)
            for e in point_entries(run.recipe.id, run.run_key, log, pushed)]
    # a search step is the capacity's evidence, not a point with a history of its own: the capacity is judged
    verdicts = judge_rows([r for r in rows if not r.get("search_step")], started, warehouse)
    verdicts += judge_capacity(run, ledger.get("capacity"), simulated, started, warehouse)
    lines = [regressions.describe(v["point_id"], v) for v in verdicts]
    for line in lines:
        log.info("regression check: %s", line)
    bad = [line for line, v in zip(lines, verdicts, strict=True) if v["verdict"] == Verdict.REGRESSED]
    if bad:
        raise RegressionFound("; ".join(bad))
    return verdicts
