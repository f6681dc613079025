"""What the results pages show, computed from warehouse rows: pure functions, no web framework.

Every row set comes from Warehouse.select, so DuckDB and BigQuery serve the same pages.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from recipebench.catalog.params import rerun_commands, rerun_params
from recipebench.catalog.slo import SloSpec
from recipebench.catalog.vocabulary import Verdict
from recipebench.results.inputs import input_diff
from recipebench.results.regressions import CAPACITY, UNITS, metric_details
from recipebench.ui.charts import MAX_SERIES, Chart, Series, chart, stacked
from recipebench.ui.query import View
from recipebench.ui.trends import instant, latency_chart, point_trends

RUNS_SHOWN = 30  # runs per recipe in tables and trends
FRONTIER_RUNS = 5  # runs drawn on the frontier chart
GPU_TIME_RUNS = 20  # runs drawn on the GPU-hours chart


def point_metrics(view: View | None = None) -> tuple[tuple[str, str, bool], ...]:
    """(column, label, higher is better) shown per point; latencies at the view's statistic (p50 by default)."""
    view = view or View()
    return (("output_throughput", "output tok/s", True), ("output_throughput_per_gpu", "output tok/s/GPU", True),
            ("tokens_per_s_per_user", "tok/s/user", True),
            *((view.column(m), view.label(m), False) for m in ("ttft", "tpot", "e2e")),
            ("completed", "completed", True), ("failed", "failed", False),
            ("cost_per_million_output_tokens", "USD / M output tok", False),
            ("slo_attainment", "within SLO", True), ("goodput_output_throughput", "goodput tok/s", True))


POINT_METRICS = point_metrics()


def when(value: Any) -> str:
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    return str(value or "")


def concurrency_label(row: dict) -> str:
    return str(row.get("concurrency") or "max")


def point_key(row: dict) -> tuple:
    """Sort points by concurrency (unbounded last), then lengths."""
    c = row.get("concurrency")
    return (c is None, c or 0, row.get("input_len") or 0, row.get("output_len") or 0, row["point_id"])


def group(rows: list[dict], key: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


def regressed_points(verdicts: list[dict]) -> list[dict]:
    out = []
    for v in verdicts:
        if v.get("verdict") != Verdict.REGRESSED:
            continue
        for metric, d in metric_details(v):
            if d["regressed"]:
                out.append({"point_id": v["point_id"], "metric": metric, "change": d["change"], "value": d["value"],
                            "baseline": d["baseline"], "band": d["band"]})
    return out


def with_verdict(run: dict, verdicts: list[dict]) -> dict:
    """A runs row with its regression verdict beside its status: a run whose check found a regression
    is stored as a success of the pipeline, and is shown regressed."""
    return {**run, "regressed": any(v.get("verdict") == Verdict.REGRESSED for v in verdicts)}


# -- overview ----------------------------------------------------------------------------------

def overview(recipe_ids: list[str], page: dict[str, Any], view: View) -> dict[str, Any]:
    """Per recipe: its latest run, its latest capacity at its SLO (the number teams track), open
    regressions (those of its latest successful run), and the trend of its best output tokens/s per GPU
    over its last successful runs. `page`: what results.pages.overview read for the view's scope; with
    filters, only the recipes that have a run matching them."""
    runs_by_recipe = group(page["runs"], "recipe")  # newest first
    if view.filters:
        recipe_ids = [r for r in recipe_ids if r in runs_by_recipe]
    best, capacity_of, skipped = page["best"], page["capacity"], page["skipped"]
    verdicts_by_run = group(page["verdicts"], "run_id")
    rows, series = [], []
    for recipe in recipe_ids:
        recipe_runs = runs_by_recipe.get(recipe, [])
        latest = recipe_runs[0] if recipe_runs else None
        successes = [r for r in recipe_runs if r["status"] == "success"]
        last_ok = successes[0] if successes else None
        trend = [(instant(r["started_at"]), best[r["run_id"]], r["run_id"]) for r in successes[:14]
                 if best.get(r["run_id"])]
        if trend:
            series.append(Series(recipe, [(x, v) for x, v, _ in trend],
                                 labels=[f"{recipe} {run}: {v:.4g} tok/s/GPU" for _, v, run in trend]))
        saved = skipped.get(recipe) or {}
        regressions = regressed_points(verdicts_by_run.get(last_ok["run_id"], [])) if last_ok else []
        rows.append({"recipe": recipe, "latest": latest, "last_ok": last_ok, "capacity": capacity_of.get(recipe),
                     "skipped_runs": saved.get("runs") or 0, "gpu_hours_saved": saved.get("saved") or 0.0,
                     "best_per_gpu": best.get(last_ok["run_id"]) if last_ok else None,
                     "regressions": regressions,
                     "latest_regressed": bool(regressions) and latest is last_ok,
                     # each figure's badge follows the run that produced it, not the latest run
                     "simulated": bool(latest and latest.get("simulated")),
                     "best_simulated": bool(last_ok and last_ok.get("simulated")),
                     "capacity_simulated": bool((capacity_of.get(recipe) or {}).get("simulated"))})
    trend_chart = chart("overview-trend", "Best output tokens/s per GPU, last successful runs per recipe",
                        series[:MAX_SERIES], "run started (UTC)", "output tok/s/GPU", x_time=True)
    return {"rows": rows, "trend_chart": trend_chart, "alerts": page["alerts"], "view": view,
            "gpu_weeks": gpu_hours_by_week(page["weeks"]),
            "any_simulated": any(r["simulated"] or r["best_simulated"] or r["capacity_simulated"] for r in rows)}


# -- one recipe --------------------------------------------------------------------------------

def capacity_section(runs: list[dict], capacity: list[dict], verdicts: list[dict], results: list[dict],
                     current: dict | None) -> dict[str, Any]:
    """The recipe page's lead: the capacity at the SLO of the current run, its trend over the runs with
    the band the check used, and the current run's search steps against the SLO's limits (1 = the
    boundary; a failed step ringed)."""
    by_run = {c["run_id"]: c for c in capacity}
    chronological = [r for r in reversed(runs) if r["run_id"] in by_run]
    verdict_of = {v["run_id"]: v for v in verdicts if v["point_id"] == CAPACITY}
    pts, band, marked = [], [], []
    for run in chronological:
        row = by_run[run["run_id"]]
        value = row.get("capacity_output_throughput_per_gpu")
        if value is None:
            continue
        x = instant(run["started_at"])
        pts.append((x, value))
        d = (verdict_of.get(run["run_id"]) or {}).get("details") or {}
        if isinstance(d.get("capacity_output_throughput_per_gpu"), dict):
            b, w = d["capacity_output_throughput_per_gpu"]["baseline"], d["capacity_output_throughput_per_gpu"]["band"]
            band.append((x, b * (1 - w), b * (1 + w)))
        if verdict_of.get(run["run_id"], {}).get("verdict") == Verdict.REGRESSED:
            marked.append((x, value))
    trend = chart("capacity-trend", "Capacity at the SLO: output tok/s per GPU (band: baseline ± noise)",
                  [Series("capacity tok/s/GPU", pts, band=band, marked=marked)], "run started (UTC)",
                  "output tok/s/GPU", x_time=True)
    found = by_run.get(current["run_id"]) if current else None
    steps_chart = None
    if found:
        steps = sorted((r for r in results if r["run_id"] == found["run_id"] and r.get("search_step")),
                       key=lambda r: r["search_step"])
        limits = SloSpec.limits_of(found["slo"])
        kind = found["load_kind"]
        load = (lambda r: r.get("concurrency")) if kind == "concurrency" else (lambda r: r.get("request_rate"))
        series = []
        for column, limit in limits:
            measured = [(load(r), r[column] / limit, r) for r in steps if r.get(column) is not None and load(r)]
            if measured:
                series.append(Series(f"{column.split('_')[0].upper()} {column.split('_')[1]} / limit",
                                     [(x, y) for x, y, _ in measured],
                                     labels=[f"step {r['search_step']} at {x:g}: {r[column]:,.1f} ms, limit {limit:,.0f}"
                                             f" ({'met' if r.get('slo_met') else 'NOT met'})" for x, _, r in measured],
                                     marked=[(x, y) for x, y, r in measured if r.get("slo_met") is not True],
                                     line=False))
        xs = [load(r) for r in steps if load(r)]
        if xs:
            series.append(Series("SLO boundary", [(min(xs), 1.0), (max(xs), 1.0)], dashed=True, color="#d62728"))
        steps_chart = chart("capacity-steps", f"Search steps against the SLO ({found.get('slo_text') or found['slo']})",
                            series, UNITS.get(kind, kind), "figure / its limit (1 = the boundary)")
    return {"found": found, "trend": trend, "steps": steps_chart,
            "unit": UNITS.get(found["load_kind"], "") if found else ""}


def _baseline_of(verdicts: list[dict]) -> dict[str, float]:
    """Per point: the output throughput baseline the check used for that run."""
    out = {}
    for v in verdicts:
        d = v.get("details") or {}
        if isinstance(d.get("output_throughput"), dict):
            out[v["point_id"]] = d["output_throughput"]["baseline"]
    return out


def _trial_range(trials: list[dict], run_id: str, point_id: str, column: str, scale: float = 1.0):
    """(low, high) of a figure across a point's trials (None with fewer than two)."""
    values = [t[column] / scale for t in trials
              if t["run_id"] == run_id and t["point_id"] == point_id and t.get(column) is not None]
    return (min(values), max(values)) if len(values) > 1 else None


def _reasons(row: dict) -> list[str]:
    reasons = row.get("invalid_reasons") or []
    return json.loads(reasons) if isinstance(reasons, str) else list(reasons)


def recipe_page(recipe: str, runs: list[dict], results: list[dict], verdicts: list[dict], alerts: list[dict],
                selected: str | None = None, trials: list[dict] | None = None,
                capacity: list[dict] | None = None, view: View | None = None) -> dict[str, Any]:
    """The recipe page: the selected (else latest successful) run's points with their trials' range as
    error bars and invalid points hollow, its latency percentiles, the frontier, a trend per point of the
    view's metric, the runs, the alerts."""
    trials = trials or []
    view = view or View()
    by_run = group(results, "run_id")
    verdicts_by_run = group(verdicts, "run_id")
    # the window's newest runs, and a selected run from before it (a permalink) after them
    runs = runs[:RUNS_SHOWN] + [r for r in runs[RUNS_SHOWN:] if r["run_id"] == selected]
    runs = [with_verdict(r, verdicts_by_run.get(r["run_id"], [])) for r in runs]
    successes = [r for r in runs if r["status"] == "success" and by_run.get(r["run_id"])]
    current = next((r for r in runs if r["run_id"] == selected), None) if selected else None
    current = current or (successes[0] if successes else None)
    charts: dict[str, Chart] = {}
    points: list[dict] = []
    if current is not None:
        rows = sorted(by_run.get(current["run_id"], []), key=point_key)
        baseline = _baseline_of(verdicts_by_run.get(current["run_id"], []))
        ticks = [(i, concurrency_label(r)) for i, r in enumerate(rows)]
        measured = [(i, r) for i, r in enumerate(rows) if r.get("output_throughput")]
        errors = [(i, *span) for i, r in measured
                  if (span := _trial_range(trials, current["run_id"], r["point_id"], "output_throughput"))]
        series = [Series(f"run {current['run_id']}", [(i, r["output_throughput"]) for i, r in measured],
                         errors=errors, hollow=[r.get("valid") is False for _, r in measured],
                         labels=[f"concurrency {concurrency_label(r)}: {r['output_throughput']:.4g} tok/s"
                                 + (f" (median of {r['trials']} trials)" if (r.get("trials") or 0) > 1 else "")
                                 + ("; INVALID: " + "; ".join(_reasons(r)) if r.get("valid") is False else "")
                                 for _, r in measured])]
        base_pts = [(i, baseline[r["point_id"]]) for i, r in enumerate(rows) if r["point_id"] in baseline]
        if base_pts:
            series.append(Series("baseline (median)", base_pts, dashed=True, color="#555"))
        charts["throughput"] = chart("throughput-concurrency", "Output throughput against concurrency", series,
                                     "concurrency (max = unbounded)", "output tok/s", x_ticks=ticks)
        charts["latency"] = latency_chart(rows, view, ticks)
        regressed = {(p["point_id"]) for p in regressed_points(verdicts_by_run.get(current["run_id"], []))}
        verdict_of = {v["point_id"]: v["verdict"] for v in verdicts_by_run.get(current["run_id"], [])}
        points = [{**r, "verdict": verdict_of.get(r["point_id"], "-"), "regressed": r["point_id"] in regressed,
                   "rerun": None if r.get("request_rate") or r.get("num_prompts") is None else rerun_commands(
                       recipe, rerun_params(
                           r, current.get("framework_version"), None, r.get("trials"), r.get("warmup_requests"))),
                   "reasons": [x for x in _reasons(r) if not x.startswith("unknown: ")],
                   "unknown": [x for x in _reasons(r) if x.startswith("unknown: ")]} for r in rows]
    # the frontier: every point of the latest runs, output tok/s/GPU against tok/s per user
    frontier = []
    for run in successes[:FRONTIER_RUNS]:
        rows = [r for r in by_run[run["run_id"]] if r.get("tokens_per_s_per_user") and
                r.get("output_throughput_per_gpu")]
        if rows:
            gpus = run.get("gpu_count") or 1
            spans = [(r, _trial_range(trials, run["run_id"], r["point_id"], "output_throughput", gpus)) for r in rows]
            frontier.append(Series(f"{run['run_id']} {when(run['started_at'])[5:]}",
                                   [(r["tokens_per_s_per_user"], r["output_throughput_per_gpu"]) for r in rows],
                                   errors=[(r["tokens_per_s_per_user"], *span) for r, span in spans if span],
                                   hollow=[r.get("valid") is False for r in rows],
                                   # the search's steps that failed the SLO, ringed
                                   marked=[(r["tokens_per_s_per_user"], r["output_throughput_per_gpu"]) for r in rows
                                           if r.get("search_step") and r.get("slo_met") is not True],
                                   labels=[f"concurrency {concurrency_label(r)}: {r['tokens_per_s_per_user']:.3g} "
                                           f"tok/s/user, {r['output_throughput_per_gpu']:.4g} tok/s/GPU"
                                           for r in rows]))
    charts["frontier"] = chart("frontier", "Throughput–interactivity frontier (a point per concurrency)",
                               frontier, "tokens/s per user (1000 / TPOT p50)", "output tok/s per GPU")
    # every point's trend over the runs, of the metric the view asks for (dated, its band, regressions ringed)
    point_ids = sorted({r["point_id"] for r in results if not r.get("search_step")}, key=lambda p: point_key(
        next(r for r in results if r["point_id"] == p)))
    trends = point_trends(list(reversed(successes)), by_run, verdicts_by_run, point_ids, view)
    charts["gpu_time"] = gpu_time_chart(runs)
    return {"recipe": recipe, "runs": runs, "current": current, "points": points, "charts": charts,
            "environment": environment_rows(current),
            "capacity": capacity_section(runs, capacity or [], verdicts, results, current),
            "trends": trends, "alerts": alerts, "metrics": point_metrics(view), "view": view,
            "selected_missing": bool(selected) and not any(r["run_id"] == selected for r in runs),
            "previous_ok": {r["run_id"]: next((s["run_id"] for s in successes if s["started_at"] < r["started_at"]),
                                              None) for r in runs},
            "any_simulated": any(r.get("simulated") for r in runs)}


def gpu_time_chart(runs: list[dict]) -> Chart:
    """Where each run's GPU-hours went (runs.gpu_hours_split, results.gpu_time), a stacked bar per run,
    oldest first; failed runs too: their hours were spent as well."""
    from recipebench.results.gpu_time import LABELS, PHASES

    shown = [r for r in reversed(runs[:GPU_TIME_RUNS]) if isinstance(r.get("gpu_hours_split"), dict)]
    bars = [(f"{when(r['started_at'])[5:16]} {r['status'] if r['status'] != 'success' else ''}".strip(),
             [(phase, r["gpu_hours_split"].get(phase) or 0.0) for phase in PHASES]) for r in shown]
    return stacked("gpu-hours", "Where each run's GPU-hours went", bars, "run (UTC)", "GPU-hours",
                   [(phase, LABELS[phase]) for phase in PHASES])


def environment_rows(run: dict | None) -> list[tuple[str, str]]:
    """The run's environment as (what, value) lines for its page; none recorded: nothing."""
    env = (run or {}).get("environment")
    if not isinstance(env, dict):
        return []
    nodes = f"{', '.join(env.get('node_pools') or [])} ({', '.join(env.get('machine_types') or [])})"
    rows = [("GPU", f"{env.get('gpus')} x {env.get('gpu')}"), ("driver", env.get("driver_version")),
            ("CUDA", env.get("cuda_version")), ("NCCL", env.get("nccl_version")),
            ("server", env.get("server_version")), ("python", env.get("python_version")),
            ("torch", env.get("torch_version")),
            ("packages", ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v)),
            ("node pool", nodes), ("node image", env.get("node_image")), ("kubelet", env.get("kubelet_version")),
            ("kernel", env.get("kernel")), ("container runtime", env.get("container_runtime"))]
    return [(k, str(v)) for k, v in rows if v not in (None, "", "None x None")] + [
        ("note", n) for n in [*(env.get("notes") or []), *(env.get("errors") or [])]]


def gpu_hours_by_week(weeks: list[dict], shown: int = 6) -> dict[str, Any]:
    """GPU-hours per recipe per ISO week (rows of recipe, week, hours, measured: results.pages.overview), the
    newest `shown` weeks, with the share the benchmark measured."""
    def label(week: Any) -> str:
        year, number, _ = (week if isinstance(week, dt.date) else dt.date.fromisoformat(str(week)[:10])).isocalendar()
        return f"{year}-W{number:02d}"

    cells = {(w["recipe"], label(w["week"])): w for w in weeks if w.get("hours")}
    columns = sorted({week for _, week in cells}, reverse=True)[:shown]
    return {"weeks": columns, "recipes": sorted({rec for rec, week in cells if week in columns}),
            "cells": {f"{rec}|{week}": {"hours": w["hours"], "share": (w["measured"] or 0.0) / w["hours"]}
                      for (rec, week), w in cells.items()}}


# -- two runs ----------------------------------------------------------------------------------

def compare(run_a: dict, run_b: dict, rows_a: list[dict], rows_b: list[dict]) -> dict[str, Any]:
    """Each point side by side (relative change b against a) and what differs in the inputs."""
    a_by, b_by = {r["point_id"]: r for r in rows_a}, {r["point_id"]: r for r in rows_b}
    ordered = sorted({*a_by, *b_by}, key=lambda p: point_key(a_by.get(p) or b_by[p]))
    points = []
    for point in ordered:
        a, b = a_by.get(point) or {}, b_by.get(point) or {}
        cells = []
        for column, label, higher in POINT_METRICS:
            va, vb = a.get(column), b.get(column)
            change = (vb - va) / va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va else None
            worse = change is not None and (change < -0.05 if higher else change > 0.05)
            cells.append({"label": label, "a": va, "b": vb, "change": change, "worse": worse})
        points.append({"point_id": point, "concurrency": concurrency_label(a or b), "cells": cells})
    return {"a": run_a, "b": run_b, "points": points, "diff": input_diff(run_a, run_b),
            "any_simulated": bool(run_a.get("simulated") or run_b.get("simulated"))}
