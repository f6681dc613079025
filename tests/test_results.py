"""Warehouses (DuckDB, and BigQuery through the official client against an emulator), idempotent
loads, failed runs recorded, and regression verdicts over a series of stored runs."""

import logging

import pytest
from recipebench.catalog.params import build_run_config
from recipebench.catalog.recipe import load_recipe
from recipebench.pipeline import artifacts
from recipebench.pipeline.loading import RegressionFound, check_run, load_run
from recipebench.results.regressions import judge
from recipebench.results.schema import RESULTS, RUNS
from recipebench.results.warehouse import BigQueryWarehouse, WarehouseError, open_warehouse

log = logging.getLogger("test")
DAY = 86400


def make_run(key, started, recipe_id="vllm-a4-deepseek-r1", params=None):
    return build_run_config(load_recipe(recipe_id), params or {}, key, f"scheduled__{key}", "scheduled", now=started)


def finish(run, throughput=1000.0, ttft=50.0, tpot=20.0, simulated=True, fail_at=None):
    """Leave a run's artifacts as the pipeline would: ledger and one parsed entry per point."""
    artifacts.record(run.recipe.id, run.run_key, simulated=simulated, stages={
        s: {"start": run.started_at + i, "end": run.started_at + i + 1, "state": "success"}
        for i, s in enumerate(["resolve", "deploy", "wait_ready", "benchmark"])})
    if fail_at:
        artifacts.record(run.recipe.id, run.run_key, failed_stage=fail_at[0], reason=fail_at[1])
        return
    for point in run.recipe.benchmark.points:
        artifacts.save_parsed(run.recipe.id, run.run_key, point.id, {
            "point": point.model_dump(), "artifact": f"file:///a/{run.run_key}/{point.id}.json",
            "record": {"tool": "vllm-bench-serve", "completed": point.num_prompts, "output_throughput": throughput,
                       "ttft_median_ms": ttft, "tpot_median_ms": tpot, "extra": {"k": 1}}})


def test_loading_the_same_run_twice_leaves_one_copy(warehouse):
    run = make_run("rload00001", 1_800_000_000, params={"concurrency": [1, 8]})
    finish(run)
    first = load_run(run.recipe.id, run.run_key, run, warehouse, log)
    second = load_run(run.recipe.id, run.run_key, run, warehouse, log)
    assert first == second == {"status": "success", "results": 2, "failed_stage": None}
    assert warehouse.count("runs", run.run_key) == 1
    assert warehouse.count("results", run.run_key) == 2
    rows = warehouse.recent_results(run.recipe.id)
    assert {r["point_id"] for r in rows} == {p.id for p in run.recipe.benchmark.points}
    r = rows[0]
    assert r["output_throughput"] == 1000.0 and r["output_throughput_per_gpu"] == 125.0 and r["simulated"] is True


def test_trials_warmup_and_accuracy_load_idempotently(warehouse):
    """Issue 22's columns on both warehouses (DuckDB and the BigQuery emulator): a point's three trials,
    its warm-up and spread, the run's accuracy gate; loaded twice, one copy."""
    run = make_run("rtrial0001", 1_800_000_000)
    finish(run)
    point = run.recipe.benchmark.points[0]
    records = [{"tool": "vllm-bench-serve", "completed": point.num_prompts, "output_throughput": v,
                "ttft_median_ms": 50.0, "tpot_median_ms": 20.0} for v in (990.0, 1000.0, 1020.0)]
    artifacts.save_parsed(run.recipe.id, run.run_key, point.id, {
        "point": point.model_dump(), "record": records[1], "artifact": "file:///a/t2.json", "warnings": [],
        "trials": [{"trial": k + 1, "record": r, "artifact": f"file:///a/t{k + 1}.json"} for k, r in enumerate(records)],
        "median_trial": 2, "spread": {"spread_output_throughput": 0.03, "spread_ttft_median": 0.0,
                                      "spread_tpot_median": 0.0},
        "warmup": {"requests": 512, "done": True, "detail": None}})
    artifacts.record(run.recipe.id, run.run_key, accuracy={"task": "gsm8k", "questions": 200, "score": 0.95,
                                                           "threshold": 0.91, "passed": True})
    for _ in range(2):
        load_run(run.recipe.id, run.run_key, run, warehouse, log)
    assert warehouse.count("trials", run.run_key) == 3 and warehouse.count("results", run.run_key) == 1
    (row,) = warehouse.select("results", {"run_id": run.run_key})
    assert (row["trials"], row["median_trial"], row["warmup_requests"], row["spread_output_throughput"]) == (3, 2, 512, 0.03)
    trials = sorted(warehouse.select("trials", {"run_id": run.run_key}), key=lambda t: t["trial"])
    assert [t["output_throughput"] for t in trials] == [990.0, 1000.0, 1020.0]
    assert [t["is_median"] for t in trials] == [False, True, False]
    (runs_row,) = warehouse.select("runs", {"run_id": run.run_key})
    assert (runs_row["accuracy_task"], runs_row["accuracy_score"], runs_row["accuracy_passed"]) == ("gsm8k", 0.95, True)


def test_failed_run_is_recorded_with_stage_and_reason(warehouse):
    run = make_run("rfail00001", 1_800_000_000)
    finish(run, fail_at=("wait_ready", "ImagePullBackOff: image x:y not found"))
    assert load_run(run.recipe.id, run.run_key, run, warehouse, log)["status"] == "failed"
    (row,) = [r for r in warehouse.recent_runs(run.recipe.id) if r["run_id"] == run.run_key]
    assert (row["status"], row["failed_stage"], row["reason"]) == ("failed", "wait_ready",
                                                                   "ImagePullBackOff: image x:y not found")
    assert warehouse.count("results", run.run_key) == 0


def test_run_whose_resolve_failed_is_still_recorded(duck):
    artifacts.record("vllm-a4-deepseek-r1", "rresolve01", failed_stage="resolve",
                     reason="RecipeError: trigger params: field input_len", stages={})
    load_run("vllm-a4-deepseek-r1", "rresolve01", None, duck, log)
    (row,) = duck.recent_runs("vllm-a4-deepseek-r1")
    assert row["failed_stage"] == "resolve" and row["status"] == "failed"


def test_bigquery_tables_are_partitioned_and_clustered(bq, emulator):
    bq.ensure_tables()
    table = emulator.client().get_table(f"{bq.project}.{bq.dataset}.results")
    assert table.time_partitioning.type_ == "DAY" and table.time_partitioning.field == "run_date"
    assert table.clustering_fields == ["accelerator", "framework", "model"]
    assert [f.name for f in table.schema] == [c.name for c in RESULTS]


@pytest.mark.parametrize("kind", ["duckdb", "bigquery"])
def test_a_new_column_is_added_without_losing_data(kind, request, monkeypatch):
    wh = request.getfixturevalue("duck" if kind == "duckdb" else "bq")
    import recipebench.results.warehouse as whmod

    older = {**whmod.TABLES, "runs": RUNS[:-1]}  # the schema before its last column existed
    monkeypatch.setattr(whmod, "TABLES", older)
    wh.ensure_tables()
    wh.run(f"MERGE INTO {wh.table('runs')} AS t USING (SELECT 'rold' AS run_id) AS s ON t.run_id = s.run_id "
           f"WHEN NOT MATCHED THEN INSERT (run_id, recipe, run_date, started_at, simulated, status) VALUES "
           f"('rold', 'x', DATE '2026-01-01', TIMESTAMP '2026-01-01 00:00:00+00', false, 'success')")
    monkeypatch.setattr(whmod, "TABLES", {**whmod.TABLES, "runs": RUNS})
    wh.ensure_tables()
    rows = wh.run(f"SELECT run_id, {RUNS[-1].name} FROM {wh.table('runs')}")
    assert rows == [{"run_id": "rold", RUNS[-1].name: None}]


def test_unreachable_bigquery_is_a_clear_error():
    def refuse():
        raise ConnectionError("connection refused")

    wh = BigQueryWarehouse("proj", "ds", client_factory=refuse)
    with pytest.raises(WarehouseError, match="BigQuery proj.ds: cannot connect: connection refused"):
        wh.ensure_tables()


def test_warehouse_url_is_checked():
    with pytest.raises(WarehouseError, match="expected duckdb"):
        open_warehouse("mysql://x")
    assert isinstance(open_warehouse("bigquery://p/d?location=EU"), BigQueryWarehouse)


# ---- regressions ----------------------------------------------------------------------------


def series(warehouse, throughputs, recipe_id="vllm-a4-deepseek-r1", start=1_800_000_000, prefix="rs"):
    runs = []
    for i, tput in enumerate(throughputs):
        run = make_run(f"{prefix}{i:07d}", start + i * DAY, recipe_id)
        finish(run, throughput=tput)
        load_run(run.recipe.id, run.run_key, run, warehouse, log)
        runs.append(run)
    return runs


def test_a_20_percent_throughput_drop_is_flagged(warehouse):
    *_, last = series(warehouse, [1000, 1010, 990, 1005, 995, 800])
    with pytest.raises(RegressionFound) as err:
        check_run(last, warehouse, log)
    assert "REGRESSED: output_throughput -20.0% (800 vs median 1000" in str(err.value)
    (verdict,) = warehouse.run(f"SELECT verdict, baseline_runs FROM {warehouse.table('verdicts')} "
                               f"WHERE run_id = '{last.run_key}'")
    assert verdict == {"verdict": "regressed", "baseline_runs": 5}


def test_an_unchanged_run_is_ok(duck):
    *_, last = series(duck, [1000, 1010, 990, 1005, 1002])
    (verdict,) = check_run(last, duck, log)
    assert verdict["verdict"] == "ok" and verdict["details"]["output_throughput"]["regressed"] is False


def test_too_few_runs_means_no_baseline_yet(duck):
    *_, last = series(duck, [1000, 700], recipe_id="sglang-a3ultra-llama4-scout", prefix="rn")
    (verdict,) = check_run(last, duck, log)
    assert verdict["verdict"] == "no-baseline" and verdict["baseline_runs"] == 1


def test_other_fingerprints_and_simulated_runs_are_not_a_baseline(duck):
    series(duck, [1000, 1000, 1000])
    other = make_run("rother0001", 1_800_000_000 + 10 * DAY, params={"image_tag": "v0.9.2"})
    finish(other, throughput=500)
    load_run(other.recipe.id, other.run_key, other, duck, log)
    assert check_run(other, duck, log)[0]["verdict"] == "no-baseline"


@pytest.mark.parametrize("metric, value, regressed", [
    ("ttft_median_ms", 60.0, True), ("ttft_median_ms", 54.0, False), ("tpot_median_ms", 23.0, True),
    ("output_throughput", 1200.0, False)])
def test_judge_directions(metric, value, regressed):
    history = [{"output_throughput": 1000.0, "ttft_median_ms": 50.0, "tpot_median_ms": 20.0}] * 3
    current = {"output_throughput": 1000.0, "ttft_median_ms": 50.0, "tpot_median_ms": 20.0, metric: value}
    assert (judge(current, history, 0.1, 3)["verdict"] == "regressed") is regressed
