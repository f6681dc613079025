"""What each results page asks the warehouse for, in SQL that DuckDB and BigQuery both run: the latest
run per recipe, the best value per run, the window of runs a page draws, only the recipes the reader
may see, and only the days the page covers.

Every statement is bounded on run_date, the tables' partitioning column, so a page view on BigQuery
reads the partitions of its window and not whole tables; and every statement orders and ranks what
it returns, so what a page shows never depends on which rows a row limit happened to keep.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from recipebench.catalog.vocabulary import Verdict
from recipebench.results.warehouse import Warehouse, decode_json

TREND_RUNS = 14  # successful runs per recipe on the overview's trend
OLDEST_DAYS = 3660  # no page looks further back (the longest window its URL may ask: ui.query.parse)
RUN_COLUMNS = ("run_id", "recipe", "run_date", "started_at", "status", "failed_stage", "reason", "simulated",
               "gpu_hours", "gpu_hours_measured", "gpu_hours_saved")


FILTERS = ("accelerator", "framework", "model", "precision")  # runs columns a page may be narrowed by


@dataclass(frozen=True)
class Scope:
    """What a page covers: the run dates from `since` to `until` (UTC, both included; no `until`: up to
    the newest) and, optionally, one value per filter (runs of that accelerator, framework, model,
    precision)."""

    since: dt.date
    until: dt.date | None = None
    filters: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, tuple[str, Any]]:
        return {"since": ("DATE", self.since), **({"until": ("DATE", self.until)} if self.until else {}),
                **{f"f_{k}": ("STRING", v) for k, v in sorted(self.filters.items())}}


def _dates(ph: dict[str, str], alias: str = "") -> str:
    """The partition bound of a table (by its alias) to the scope's days."""
    upper = f" AND {alias}run_date <= {ph['until']}" if "until" in ph else ""
    return f"{alias}run_date >= {ph['since']}{upper}"


def _recipes(wh: Warehouse, recipes: list[str], base: dict) -> tuple[dict, dict[str, str], str]:
    """Parameters r0..rN for the recipes with the others, their placeholders, and the `IN (...)` list
    naming the recipes (`(NULL)`, matching none, for none)."""
    values = {f"r{i}": ("STRING", r) for i, r in enumerate(recipes)}
    params, ph = wh.typed(**values, **base)
    return params, ph, "(" + ", ".join(ph[k] for k in values) + ")" if values else "(NULL)"


def _runs_in(members: str, scope: Scope, ph: dict[str, str], alias: str = "") -> str:
    """The runs table's condition for the scope: its days, the recipes, the filters."""
    narrowed = "".join(f" AND {alias}{k} = {ph[f'f_{k}']}" for k in sorted(scope.filters))
    return f"{_dates(ph, alias)} AND {alias}recipe IN {members}{narrowed}"


def _window(wh: Warehouse, members: str, scope: Scope, ph: dict[str, str]) -> str:
    """Each recipe's runs in the scope, newest first, ranked overall and among its kind."""
    cols = ", ".join(RUN_COLUMNS)
    return (f"SELECT {cols}, ROW_NUMBER() OVER (PARTITION BY recipe ORDER BY started_at DESC) AS nth, "
            f"ROW_NUMBER() OVER (PARTITION BY recipe, status ORDER BY started_at DESC) AS nth_of_status "
            f"FROM {wh.table('runs')} WHERE {_runs_in(members, scope, ph)}")


def choices(wh: Warehouse, recipes: list[str], scope: Scope) -> dict[str, list[str]]:
    """Per filter, the values the recipes' runs in the scope's days have (what its menu offers)."""
    p, ph, members = _recipes(wh, recipes, scope.params())
    rows = wh.run(f"SELECT DISTINCT {', '.join(FILTERS)} FROM {wh.table('runs')} WHERE {_dates(ph)} "
                  f"AND recipe IN {members}", p)
    return {k: sorted({str(r[k]) for r in rows if r[k] is not None}) for k in FILTERS}


def overview(wh: Warehouse, recipes: list[str], scope: Scope, weeks_since: dt.date) -> dict[str, Any]:
    """The overview's rows: per recipe its latest run and latest successful runs (the trend's), the best
    output tok/s/GPU of each of those, the regressed verdicts of its latest success, its skipped nights, its latest
    capacity, its GPU-hours per week since `weeks_since`; the latest alerts."""
    p, ph, members = _recipes(wh, recipes, {**scope.params(), "weeks_since": ("DATE", weeks_since)})
    window = _window(wh, members, scope, ph)
    runs = wh.run(f"SELECT * FROM ({window}) AS w WHERE nth = 1 OR (status = 'success' AND nth_of_status <= "
                  f"{TREND_RUNS}) ORDER BY recipe, started_at DESC", p)
    best = wh.run(f"SELECT r.run_id, MAX(r.output_throughput_per_gpu) AS best FROM {wh.table('results')} AS r "
                  f"JOIN ({window}) AS w ON r.run_id = w.run_id WHERE {_dates(ph, 'r.')} "
                  f"AND w.status = 'success' AND w.nth_of_status <= {TREND_RUNS} AND r.search_step IS NULL "
                  f"GROUP BY r.run_id", p)
    verdicts = wh.run(f"SELECT v.* FROM {wh.table('verdicts')} AS v JOIN ({window}) AS w ON v.run_id = w.run_id "
                      f"WHERE {_dates(ph, 'v.')} AND w.status = 'success' AND w.nth_of_status = 1 "
                      f"AND v.verdict = '{Verdict.REGRESSED.value}'", p)  # the overview lists its open regressions only
    runs_in = _runs_in(members, scope, ph, "u.")
    skipped = wh.run(f"SELECT u.recipe, COUNT(*) AS runs, SUM(u.gpu_hours_saved) AS saved FROM {wh.table('runs')} "
                     f"AS u WHERE {runs_in} AND u.status = 'skipped' GROUP BY u.recipe", p)
    capacity = wh.run(
        f"SELECT * FROM (SELECT c.*, u.started_at, ROW_NUMBER() OVER (PARTITION BY c.recipe ORDER BY u.started_at "
        f"DESC) AS nth FROM {wh.table('capacity')} AS c JOIN {wh.table('runs')} AS u ON c.run_id = u.run_id "
        f"WHERE {_dates(ph, 'c.')} AND {runs_in}) AS x WHERE nth = 1", p)
    weeks = wh.run(f"SELECT u.recipe, {wh.week_of('u.run_date')} AS week, SUM(u.gpu_hours) AS hours, "
                   f"SUM(u.gpu_hours_measured) AS measured FROM {wh.table('runs')} AS u WHERE u.run_date >= "
                   f"{ph['weeks_since']} AND {runs_in} AND u.gpu_hours IS NOT NULL GROUP BY u.recipe, 2", p)
    alerts = wh.run(f"SELECT a.run_id, a.kind, a.recipe, a.sent_at, a.subject FROM {wh.table('alerts')} AS a "
                    f"JOIN {wh.table('runs')} AS u ON a.run_id = u.run_id WHERE {_dates(ph, 'a.')} AND {runs_in} "
                    f"ORDER BY a.sent_at DESC LIMIT 10", p)
    return {"runs": runs, "best": {r["run_id"]: r["best"] for r in best}, "verdicts": decode_json("verdicts", verdicts),
            "skipped": {r["recipe"]: r for r in skipped},
            "capacity": {r["recipe"]: r for r in capacity}, "weeks": weeks, "alerts": alerts}


def frontier(wh: Warehouse, recipes: list[str], scope: Scope) -> dict[str, Any]:
    """Per recipe its latest successful run in the scope and that run's measured points (search steps
    aside): several recipes on one throughput-interactivity frontier."""
    p, ph, members = _recipes(wh, recipes, scope.params())
    window = _window(wh, members, scope, ph)
    runs = wh.run(f"SELECT * FROM {wh.table('runs')} AS u JOIN (SELECT run_id AS id FROM ({window}) AS w WHERE "
                  f"status = 'success' AND nth_of_status = 1) AS l ON u.run_id = l.id WHERE {_dates(ph, 'u.')} "
                  f"ORDER BY u.recipe", p)
    results = wh.run(f"SELECT r.* FROM {wh.table('results')} AS r JOIN ({window}) AS w ON r.run_id = w.run_id "
                     f"WHERE {_dates(ph, 'r.')} AND w.status = 'success' AND w.nth_of_status = 1 "
                     f"AND r.search_step IS NULL", p)
    return {"runs": decode_json("runs", runs), "results": decode_json("results", results)}


def recipe(wh: Warehouse, recipe_id: str, scope: Scope, runs_shown: int, selected: str | None) -> dict[str, Any]:
    """The recipe page's rows: its newest `runs_shown` runs in the scope (and a selected run outside it),
    and their results, verdicts, trials and capacity; its latest alerts."""
    # a selected run is looked for as far back as any page looks (the longest window a URL may ask)
    oldest = (scope.until or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=OLDEST_DAYS)
    p, ph = wh.typed(recipe=("STRING", recipe_id), selected=("STRING", selected or ""), oldest=("DATE", oldest),
                     **scope.params())
    mine = _runs_in(f"({ph['recipe']})", scope, ph)
    shown = (f"SELECT run_id, run_date FROM (SELECT run_id, run_date, ROW_NUMBER() OVER (ORDER BY started_at DESC) AS "
             f"nth FROM {wh.table('runs')} WHERE {mine}) AS n WHERE nth <= {int(runs_shown)}")
    runs = wh.run(f"SELECT * FROM {wh.table('runs')} WHERE {mine} ORDER BY started_at DESC LIMIT {int(runs_shown)}", p)
    if selected and selected not in {r["run_id"] for r in runs}:
        older = wh.run(f"SELECT * FROM {wh.table('runs')} WHERE recipe = {ph['recipe']} AND run_id = "
                       f"{ph['selected']} AND run_date >= {ph['oldest']}", p)  # a permalink to a run before the window
        runs += older
        if older:  # its partition, with the window's
            shown = (f"{shown} UNION ALL SELECT run_id, run_date FROM {wh.table('runs')} WHERE run_id = "
                     f"{ph['selected']} AND run_date >= {ph['oldest']}")
    earliest = min((r["run_date"] for r in runs), default=scope.since)
    p2, ph2 = wh.typed(recipe=("STRING", recipe_id), selected=("STRING", selected or ""),
                       earliest=("DATE", earliest), oldest=("DATE", oldest), **scope.params())

    def of_runs(table: str) -> list[dict]:
        return decode_json(table, wh.run(
            f"SELECT t.* FROM {wh.table(table)} AS t JOIN ({shown}) AS s ON t.run_id = s.run_id "
            f"WHERE t.recipe = {ph2['recipe']} AND t.run_date >= {ph2['earliest']}", p2))

    alerts = wh.run(f"SELECT * FROM {wh.table('alerts')} WHERE recipe = {ph['recipe']} AND {_dates(ph)} "
                    f"ORDER BY sent_at DESC LIMIT 20", p)
    return {"runs": decode_json("runs", runs), "results": of_runs("results"), "verdicts": of_runs("verdicts"),
            "trials": of_runs("trials"), "capacity": of_runs("capacity"), "alerts": decode_json("alerts", alerts)}
