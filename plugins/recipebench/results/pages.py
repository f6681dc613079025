"""What each results page asks the warehouse for, in SQL that DuckDB and BigQuery both run: the latest
run per recipe, the best value per run, the window of runs a page draws, only the recipes the reader
may see, and only the days the page covers.

Every statement is bounded on run_date, the tables' partitioning column, so a page view on BigQuery
reads the partitions of its window and not whole tables; and every statement orders and ranks what
it returns, so what a page shows never depends on which rows a row limit happened to keep.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from recipebench.results.warehouse import Warehouse, decode_json

TREND_RUNS = 14  # successful runs per recipe on the overview's trend
OLDEST_DAYS = 3660  # no page looks further back (the longest window its URL may ask: ui.app.Days)
RUN_COLUMNS = ("run_id", "recipe", "run_date", "started_at", "status", "failed_stage", "reason", "simulated",
               "gpu_hours", "gpu_hours_measured", "gpu_hours_saved")


def _recipes(wh: Warehouse, recipes: list[str], base: dict) -> tuple[dict, str]:
    """Parameters r0..rN for the recipes and the `IN (...)` list naming them (FALSE for none)."""
    values = {f"r{i}": ("STRING", r) for i, r in enumerate(recipes)}
    params, ph = wh.typed(**values, **base)
    return params, "(" + ", ".join(ph[k] for k in values) + ")" if values else "(NULL)"


def _window(wh: Warehouse, members: str, since: str) -> str:
    """Each recipe's runs since the window's start, newest first, ranked overall and among its kind."""
    cols = ", ".join(RUN_COLUMNS)
    return (f"SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY recipe ORDER BY started_at DESC) AS nth, "
            f"ROW_NUMBER() OVER (PARTITION BY recipe, status ORDER BY started_at DESC) AS nth_of_status "
            f"FROM {wh.table('runs')} WHERE run_date >= {since} AND recipe IN {members}")


def overview(wh: Warehouse, recipes: list[str], since: dt.date, weeks_since: dt.date) -> dict[str, Any]:
    """The overview's rows: per recipe its latest run and latest successful runs (the trend's), the best
    output tok/s/GPU of each of those, the verdicts of its latest success, its skipped nights, its latest
    capacity, its GPU-hours per week since `weeks_since`; the latest alerts."""
    p, members = _recipes(wh, recipes, {"since": ("DATE", since), "weeks_since": ("DATE", weeks_since)})
    ph = {k: wh.placeholder(c) for k, (c, _) in p.items()}
    window = _window(wh, members, ph["since"])
    runs = wh.run(f"SELECT * FROM ({window}) AS w WHERE nth = 1 OR (status = 'success' AND nth_of_status <= "
                  f"{TREND_RUNS}) ORDER BY recipe, started_at DESC", p)
    best = wh.run(f"SELECT r.run_id, MAX(r.output_throughput_per_gpu) AS best FROM {wh.table('results')} AS r "
                  f"JOIN ({window}) AS w ON r.run_id = w.run_id WHERE r.run_date >= {ph['since']} "
                  f"AND w.status = 'success' AND w.nth_of_status <= {TREND_RUNS} AND r.search_step IS NULL "
                  f"GROUP BY r.run_id", p)
    verdicts = wh.run(f"SELECT v.* FROM {wh.table('verdicts')} AS v JOIN ({window}) AS w ON v.run_id = w.run_id "
                      f"WHERE v.run_date >= {ph['since']} AND w.status = 'success' AND w.nth_of_status = 1", p)
    skipped = wh.run(f"SELECT recipe, COUNT(*) AS runs, SUM(gpu_hours_saved) AS saved FROM {wh.table('runs')} "
                     f"WHERE run_date >= {ph['since']} AND recipe IN {members} AND status = 'skipped' "
                     f"GROUP BY recipe", p)
    capacity = wh.run(
        f"SELECT * FROM (SELECT c.*, u.started_at, ROW_NUMBER() OVER (PARTITION BY c.recipe ORDER BY u.started_at "
        f"DESC) AS nth FROM {wh.table('capacity')} AS c JOIN {wh.table('runs')} AS u ON c.run_id = u.run_id "
        f"WHERE c.run_date >= {ph['since']} AND u.run_date >= {ph['since']} AND c.recipe IN {members}) AS x "
        f"WHERE nth = 1", p)
    weeks = wh.run(f"SELECT recipe, {wh.week_of('run_date')} AS week, SUM(gpu_hours) AS hours, "
                   f"SUM(gpu_hours_measured) AS measured FROM {wh.table('runs')} WHERE run_date >= "
                   f"{ph['weeks_since']} AND recipe IN {members} AND gpu_hours IS NOT NULL GROUP BY recipe, 2", p)
    alerts = wh.run(f"SELECT run_id, kind, recipe, sent_at, subject FROM {wh.table('alerts')} WHERE run_date >= "
                    f"{ph['since']} AND recipe IN {members} ORDER BY sent_at DESC LIMIT 10", p)
    return {"runs": runs, "best": {r["run_id"]: r["best"] for r in best}, "verdicts": decode_json("verdicts", verdicts),
            "skipped": {r["recipe"]: r for r in skipped},
            "capacity": {r["recipe"]: r for r in capacity}, "weeks": weeks, "alerts": alerts}


def recipe(wh: Warehouse, recipe_id: str, since: dt.date, runs_shown: int, selected: str | None) -> dict[str, Any]:
    """The recipe page's rows: its newest `runs_shown` runs since `since` (and a selected run older than
    that), and their results, verdicts, trials and capacity; its latest alerts."""
    # a selected run is looked for as far back as any page looks (the longest window a URL may ask)
    oldest = since - dt.timedelta(days=OLDEST_DAYS)
    p, ph = wh.typed(recipe=("STRING", recipe_id), since=("DATE", since), selected=("STRING", selected or ""),
                     oldest=("DATE", oldest))
    shown = (f"SELECT run_id, run_date FROM (SELECT run_id, run_date, ROW_NUMBER() OVER (ORDER BY started_at DESC) AS "
             f"nth FROM {wh.table('runs')} WHERE recipe = {ph['recipe']} AND run_date >= {ph['since']}) AS n "
             f"WHERE nth <= {int(runs_shown)}")
    runs = wh.run(f"SELECT * FROM {wh.table('runs')} WHERE recipe = {ph['recipe']} AND run_date >= {ph['since']} "
                  f"ORDER BY started_at DESC LIMIT {int(runs_shown)}", p)
    if selected and selected not in {r["run_id"] for r in runs}:
        older = wh.run(f"SELECT * FROM {wh.table('runs')} WHERE recipe = {ph['recipe']} AND run_id = "
                       f"{ph['selected']} AND run_date >= {ph['oldest']}", p)  # a permalink to a run before the window
        runs += older
        if older:  # its partition, with the window's
            shown = (f"{shown} UNION ALL SELECT run_id, run_date FROM {wh.table('runs')} WHERE run_id = "
                     f"{ph['selected']} AND run_date >= {ph['oldest']}")
    earliest = min((r["run_date"] for r in runs), default=since)
    p2, ph2 = wh.typed(recipe=("STRING", recipe_id), since=("DATE", since), selected=("STRING", selected or ""),
                       earliest=("DATE", earliest), oldest=("DATE", oldest))

    def of_runs(table: str) -> list[dict]:
        return decode_json(table, wh.run(
            f"SELECT t.* FROM {wh.table(table)} AS t JOIN ({shown}) AS s ON t.run_id = s.run_id "
            f"WHERE t.recipe = {ph2['recipe']} AND t.run_date >= {ph2['earliest']}", p2))

    alerts = wh.run(f"SELECT * FROM {wh.table('alerts')} WHERE recipe = {ph['recipe']} AND run_date >= {ph['since']} "
                    f"ORDER BY sent_at DESC LIMIT 20", p)
    return {"runs": decode_json("runs", runs), "results": of_runs("results"), "verdicts": of_runs("verdicts"),
            "trials": of_runs("trials"), "capacity": of_runs("capacity"), "alerts": decode_json("alerts", alerts)}
