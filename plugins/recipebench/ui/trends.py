"""Charts over time and over a sweep's load, for the metric and statistic a view asks for: a trend per
point of a sweep (every point, dated axes, the check's band where it judged that metric, regressions
ringed) and the latency percentiles of one run against concurrency."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recipebench.catalog.vocabulary import Verdict
from recipebench.ui.charts import Chart, Series, chart
from recipebench.ui.query import LATENCIES, METRICS, View


def instant(value: Any) -> float:
    """POSIX seconds of a timestamp as the warehouse returns it (datetime, ISO text or seconds)."""
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, str):
        return instant(dt.datetime.fromisoformat(value))
    return float(value)


def point_trends(chronological: list[dict], by_run: dict[str, list[dict]], verdicts_by_run: dict[str, list[dict]],
                 point_ids: list[str], view: View) -> list[Chart]:
    """One chart per point (every point of the sweep) of the view's metric over the runs, oldest first."""
    column, label = view.column(), view.label()
    charts = []
    for point in point_ids:
        pts, band, marked, hollow, tips = [], [], [], [], []
        for run in chronological:
            row = next((r for r in by_run.get(run["run_id"], []) if r["point_id"] == point), None)
            if not row or row.get(column) is None:
                continue
            x = instant(run["started_at"])
            pts.append((x, row[column]))
            hollow.append(row.get("valid") is False)  # shown, never in a baseline (the warehouse's history)
            tips.append(f"{run['run_id']} {dt.datetime.fromtimestamp(x, dt.UTC):%Y-%m-%d %H:%M}: {row[column]:.4g}")
            verdict = next((v for v in verdicts_by_run.get(run["run_id"], []) if v["point_id"] == point), None)
            judged = ((verdict or {}).get("details") or {}).get(column)
            if isinstance(judged, dict):  # the band the check used for this metric, where it judged it
                b, w = judged["baseline"], judged["band"]
                band.append((x, b * (1 - w), b * (1 + w)))
                if judged.get("regressed"):
                    marked.append((x, row[column]))
            elif verdict and verdict["verdict"] == Verdict.REGRESSED and column == "output_throughput":
                marked.append((x, row[column]))
        title = f"{point}: {label}" + (" (band: baseline ± noise)" if band else "")
        charts.append(chart(f"trend-{point}", title, [Series(label, pts, band=band, marked=marked, hollow=hollow,
                                                             labels=tips)],
                            "run started (UTC)", label, width=480, height=240, x_time=True))
    return charts


def latency_chart(rows: list[dict], view: View, ticks: list[tuple[int, str]]) -> Chart:
    """One run's latency (the view's, else TTFT) at p50, p90 and p99 against its points' concurrency."""
    metric = view.metric if view.metric in LATENCIES else "ttft"
    series = []
    for stat in ("p50", "p90", "p99"):
        column = view.with_(metric=metric, stat=stat).column()
        pts = [(i, r[column]) for i, r in enumerate(rows) if r.get(column) is not None]
        if pts:
            series.append(Series(stat, pts, labels=[f"{stat}: {v:,.1f} ms" for _, v in pts]))
    return chart("latency-concurrency", f"{METRICS[metric][1]} p50 / p90 / p99 against concurrency", series,
                 "concurrency (max = unbounded)", "ms", x_ticks=ticks)
