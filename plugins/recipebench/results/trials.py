"""A point's trials: which one is the point's result and how far apart they are (pure functions).

A point runs benchmark.repeats trials against the same server. Its result is the median trial by
output throughput (vLLM's nightly runs keep the median of an odd number of repetitions); the spread
of the trials (relative range, (max - min) / median) of output throughput, median TTFT and median
TPOT goes with it: validity judges it, and the regression check widens its noise band by it.
"""

from __future__ import annotations

import statistics
from typing import Any

# the figure the median trial is chosen by, then the figures a spread is kept of: results column -> figure
BY = "output_throughput"
SPREADS = {"spread_output_throughput": "output_throughput", "spread_ttft_median": "ttft_median_ms",
           "spread_tpot_median": "tpot_median_ms"}


def median_trial(records: list[dict[str, Any]]) -> int:
    """The index of the median trial by output throughput, among the trials that have the figure (the
    lower middle one of an even number); the first trial when none has it."""
    measured = sorted((i for i, r in enumerate(records) if r.get(BY) is not None), key=lambda i: (records[i][BY], i))
    return measured[(len(measured) - 1) // 2] if measured else 0


def relative_range(values: list[float | None]) -> float | None:
    """(max - min) / median of the figures present; None with fewer than two, or a median of 0."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return None
    mid = statistics.median(present)
    return (max(present) - min(present)) / abs(mid) if mid else None


def spread(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per spread column, the relative range of its figure across the trials."""
    return {column: relative_range([r.get(figure) for r in records]) for column, figure in SPREADS.items()}
