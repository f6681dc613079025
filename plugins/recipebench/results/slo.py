"""A point against its recipe's SLO (catalog.slo), pure: the share of requests meeting every limit,
goodput (the rate and output tokens of those requests) and whether the point's percentiles are within
the limits (`slo_met`, what capacity is searched and tracked by).

From per-request records (parsers.requests) where the tool wrote them; otherwise `slo_met` is judged on
the point's summary percentiles (the results table has p90 and p99; a p95 limit then stays unknown)
and goodput is empty.
"""

from __future__ import annotations

from typing import Any

from recipebench.catalog.metrics import Request, percentile
from recipebench.catalog.slo import METRIC_NAMES, SloSpec

COLUMNS = ("slo", "slo_attainment", "goodput_request_throughput", "goodput_output_throughput", "slo_met",
           "slo_detail", "tool_request_goodput")


def _value(request: Request, metric: str) -> float | None:
    return getattr(request, f"{metric}_ms")


def meets(request: Request, slo: SloSpec) -> bool:
    """A successful request within every limit; a limit on a figure the request lacks (TPOT of a
    one-token answer) is not held against it."""
    if not request.ok:
        return False
    return all(v is None or v <= limit for m, _, limit in slo.items() for v in [_value(request, m)])


def percentiles(requests: list[Request], slo: SloSpec) -> dict[str, float | None]:
    """Each limited percentile over the successful requests (linear interpolation, numpy's default)."""
    out: dict[str, float | None] = {}
    for metric, pct, _ in slo.items():
        values = [v for r in requests if r.ok for v in [_value(r, metric)] if v is not None]
        out[f"{metric}_{pct}_ms"] = percentile(values, float(pct[1:]))
    return out


def summary_percentiles(record: dict, slo: SloSpec) -> dict[str, float | None]:
    """The limited percentiles a results row holds (p90, p99); p95 is not a column."""
    return {f"{m}_{p}_ms": record.get(f"{m}_{p}_ms") for m, p, _ in slo.items()}


def verdict(found: dict[str, float | None], slo: SloSpec) -> tuple[bool | None, str]:
    """(slo_met, detail): within every limit; None when a limited figure is unknown."""
    parts: list[str] = []
    met: bool | None = True
    for metric, pct, limit in slo.items():
        value = found.get(f"{metric}_{pct}_ms")
        if value is None:
            parts.append(f"{METRIC_NAMES[metric]} {pct} unknown")
            met = None if met is not False else met
            continue
        ok = value <= limit
        parts.append(f"{METRIC_NAMES[metric]} {pct} {value:,.1f} ms {'<=' if ok else '>'} {limit:,.0f}")
        if not ok:
            met = False
    return met, "; ".join(parts)


def _tool_goodput(extra: dict) -> float | None:
    """The tool's own goodput, where it reports one: vLLM's `request_goodput` (with --goodput), AIPerf's
    `goodput` metric (requests/sec, with its --goodput)."""
    value = extra.get("request_goodput")
    if value is None and isinstance(extra.get("goodput"), dict):
        value = extra["goodput"].get("avg")
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def judge(record: dict, requests: list[Request] | None, slo: SloSpec) -> dict[str, Any]:
    """The SLO columns of a point: its record (the median trial's) and that trial's per-request records."""
    tool_goodput = _tool_goodput(record.get("extra") or {})
    out: dict[str, Any] = {"slo": slo.key(), "tool_request_goodput": tool_goodput}
    if requests:
        good = [r for r in requests if meets(r, slo)]
        duration = record.get("duration_s")
        out |= {"slo_attainment": len(good) / len(requests),
                "goodput_request_throughput": len(good) / duration if duration else None,
                "goodput_output_throughput": sum(r.output_tokens or 0 for r in good) / duration if duration else None}
        met, detail = verdict(percentiles(requests, slo), slo)
        detail += f" (from {len(requests)} per-request records)"
    else:
        out |= {"slo_attainment": None, "goodput_request_throughput": None, "goodput_output_throughput": None}
        met, detail = verdict(summary_percentiles(record, slo), slo)
        detail += " (from the summary; no per-request records)"
    if tool_goodput is not None and out["goodput_request_throughput"] is not None:
        ours = out["goodput_request_throughput"]
        if abs(ours - tool_goodput) > 0.02 * max(ours, tool_goodput, 1e-9):
            detail += f"; the tool's own goodput {tool_goodput:,.2f} req/s differs from ours {ours:,.2f}"
    return out | {"slo_met": met, "slo_detail": detail}
