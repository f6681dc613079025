"""Is a point worse than its recent history? A pure decision, and its configuration.

The baseline of a metric is the median of the point's last N successful runs of the same
fingerprint; its noise band is learnt from their spread: `spread` robust standard deviations
(1.4826 x the median absolute deviation, the normal-consistent scale) relative to the median, never
tighter than the floor. A point whose metric moved beyond the band in the bad direction regressed.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from recipebench.catalog.vocabulary import Verdict

# (column, higher is better)
METRICS = (("output_throughput", True), ("ttft_median_ms", False), ("tpot_median_ms", False))
# the capacity at the SLO (the capacity table), judged as one more "point" of the run's verdicts
CAPACITY = "capacity"
CAPACITY_METRICS = (("capacity_load", True), ("capacity_output_throughput_per_gpu", True))
MAD_TO_SIGMA = 1.4826


# the trials' spread of a metric inside one run (results.trials): a change no larger than it is noise
SPREAD_OF = {"output_throughput": "spread_output_throughput", "ttft_median_ms": "spread_ttft_median",
             "tpot_median_ms": "spread_tpot_median"}


def settings() -> tuple[float, int, int, float]:
    """(band floor, baseline runs N, minimum runs for a baseline, band width in robust standard
    deviations) from the environment."""
    return (float(os.environ.get("RECIPEBENCH_REGRESSION_FLOOR", "0.05")),
            int(os.environ.get("RECIPEBENCH_BASELINE_RUNS", "7")),
            int(os.environ.get("RECIPEBENCH_MIN_BASELINE_RUNS", "3")),
            float(os.environ.get("RECIPEBENCH_REGRESSION_SPREAD", "3")))


def band(past: list[float], floor: float, spread: float) -> tuple[float, float]:
    """(median, relative half-width of the noise band) of a metric's history."""
    median = statistics.median(past)
    mad = statistics.median(abs(v - median) for v in past)
    return median, max(floor, spread * MAD_TO_SIGMA * mad / abs(median)) if median else floor


def judge(current: dict[str, Any], history: list[dict[str, Any]], floor: float, min_runs: int,
          spread: float = 3.0, metrics: tuple[tuple[str, bool], ...] = METRICS) -> dict[str, Any]:
    """Compare each metric with the median of the history and its noise band. Returns verdict,
    baseline size and per metric: value, baseline, band, change, regressed."""
    details: dict[str, Any] = {}
    if len(history) < min_runs:
        return {"verdict": Verdict.NO_BASELINE, "baseline_runs": len(history),
                "details": {"reason": f"{len(history)} earlier successful run(s), {min_runs} needed"}}
    regressed = []
    for metric, higher_is_better in metrics:
        value = current.get(metric)
        past = [h[metric] for h in history if h.get(metric) is not None]
        if value is None or len(past) < min_runs:
            continue
        baseline, width = band(past, floor, spread)
        if baseline == 0:
            continue
        inside = current.get(SPREAD_OF.get(metric, ""))  # how far apart this run's own trials were
        if inside is not None and inside > width:
            width = inside
        change = (value - baseline) / baseline
        bad = change < -width if higher_is_better else change > width
        details[metric] = {"value": value, "baseline": baseline, "band": round(width, 4), "change": round(change, 4),
                           "regressed": bad}
        if bad:
            regressed.append(metric)
    return {"verdict": Verdict.REGRESSED if regressed else Verdict.OK, "baseline_runs": len(history), "details": details}


def describe(point_id: str, result: dict[str, Any]) -> str:
    """One line per point."""
    if result["verdict"] == Verdict.NO_BASELINE:
        return f"{point_id}: no baseline yet ({result['details']['reason']})"
    if point_id == CAPACITY and result["verdict"] == Verdict.REGRESSED:
        return f"{point_id}: REGRESSED: {capacity_line(result)}"
    parts = [f"{m} {d['change']:+.1%} ({d['value']:.4g} vs median {d['baseline']:.4g}, band ±{d['band']:.1%})"
             for m, d in metric_details(result) if d["regressed"]]
    if parts:
        return f"{point_id}: REGRESSED: " + "; ".join(parts) + f" over {result['baseline_runs']} runs"
    return f"{point_id}: ok against the median of {result['baseline_runs']} runs"


def metric_details(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The per-metric entries of a verdict's details (which also carry baseline_run_ids)."""
    return [(m, result["details"][m]) for m, _ in (*METRICS, *CAPACITY_METRICS)
            if isinstance(result["details"].get(m), dict)]


def judge_capacity(current: dict[str, Any], history: list[dict[str, Any]], floor: float, min_runs: int,
                   spread: float, tolerance: float) -> dict[str, Any]:
    """The capacity against the same SLO's recent nights: a search that found none fell to 0; its band is
    never tighter than the search's own tolerance (the bisection stops within it)."""
    current = {**current, "capacity_load": current.get("capacity_load") or 0.0,
               "capacity_output_throughput_per_gpu": current.get("capacity_output_throughput_per_gpu") or 0.0}
    result = judge(current, history, max(floor, tolerance), min_runs, spread, CAPACITY_METRICS)
    result["details"] |= {"slo_text": current.get("slo_text"), "load_kind": current.get("load_kind")}
    return result


UNITS = {"concurrency": "concurrent requests", "request_rate": "req/s"}


def capacity_line(result: dict[str, Any]) -> str:
    """`capacity at TTFT p99 <= 2 s, TPOT p99 <= 80 ms fell 18%: 96 -> 79 concurrent requests, 1,180 -> 960
    tok/s/GPU`: what an alert and the regression check say of a fallen capacity."""
    d = result["details"]
    load, per_gpu = d.get("capacity_load") or {}, d.get("capacity_output_throughput_per_gpu") or {}
    lead = load if load.get("regressed") or not per_gpu.get("regressed") else per_gpu
    parts = []
    if load:
        parts.append(f"{number(load['baseline'])} -> {number(load['value'])} {UNITS.get(d.get('load_kind'), '')}".strip())
    if per_gpu:
        parts.append(f"{number(per_gpu['baseline'])} -> {number(per_gpu['value'])} tok/s/GPU")
    return (f"capacity at {d.get('slo_text') or 'its SLO'} fell {-lead.get('change', 0):.0%}: " + ", ".join(parts)
            + f" (median of {result['baseline_runs']} runs, band ±{lead.get('band', 0):.0%})")


def number(value: Any, digits: int = 4) -> str:
    """Readable figures: thousands in full with separators, smaller values to `digits` significant."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"
