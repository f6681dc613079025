"""Is a point worse than its recent history? A pure decision, and its configuration."""

from __future__ import annotations

import os
import statistics
from typing import Any

# (column, higher is better)
METRICS = (("output_throughput", True), ("ttft_median_ms", False), ("tpot_median_ms", False))


def settings() -> tuple[float, int, int]:
    """(relative threshold, baseline runs N, minimum runs for a baseline) from the environment."""
    return (float(os.environ.get("RECIPEBENCH_REGRESSION_THRESHOLD", "0.10")),
            int(os.environ.get("RECIPEBENCH_BASELINE_RUNS", "7")),
            int(os.environ.get("RECIPEBENCH_MIN_BASELINE_RUNS", "3")))


def judge(current: dict[str, Any], history: list[dict[str, Any]], threshold: float, min_runs: int) -> dict[str, Any]:
    """Compare each metric with the median of the history; a change beyond the threshold in the
    bad direction is a regression. Returns verdict, baseline size and per-metric details."""
    details: dict[str, Any] = {}
    if len(history) < min_runs:
        return {"verdict": "no-baseline", "baseline_runs": len(history),
                "details": {"reason": f"{len(history)} earlier successful run(s), {min_runs} needed"}}
    regressed = []
    for metric, higher_is_better in METRICS:
        value = current.get(metric)
        past = [h[metric] for h in history if h.get(metric) is not None]
        if value is None or len(past) < min_runs:
            continue
        baseline = statistics.median(past)
        if baseline == 0:
            continue
        change = (value - baseline) / baseline
        bad = change < -threshold if higher_is_better else change > threshold
        details[metric] = {"value": value, "baseline": baseline, "change": round(change, 4), "regressed": bad}
        if bad:
            regressed.append(metric)
    return {"verdict": "regressed" if regressed else "ok", "baseline_runs": len(history), "details": details}


def describe(point_id: str, result: dict[str, Any]) -> str:
    """One log line per point."""
    if result["verdict"] == "no-baseline":
        return f"{point_id}: no baseline yet ({result['details']['reason']})"
    parts = [f"{m} {d['change']:+.1%} ({d['value']:.4g} vs median {d['baseline']:.4g})"
             for m, d in result["details"].items() if d["regressed"]]
    if parts:
        return f"{point_id}: REGRESSED: " + "; ".join(parts) + f" over {result['baseline_runs']} runs"
    return f"{point_id}: ok against the median of {result['baseline_runs']} runs"
