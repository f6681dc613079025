"""How long a benchmark plan takes, before it runs: a point sends its prompts in waves of `concurrency`
requests, each wave as long as one request's decode. The pace assumed is the recipe's own TPOT limit
(the slowest decode it still calls good service), so the estimate is the longest a healthy server
takes; a point whose estimate is past its limit would be cut off, and is refused before any GPU is
held. Warm-up requests and the prompt's prefill are left out: they shorten nothing and are small
against a decode of hundreds of tokens."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DEFAULT_TPOT_MS = 50.0  # without a TPOT limit in the recipe's SLO: a pace no recipe here is slower than


@dataclass(frozen=True)
class PointEstimate:
    point_id: str
    seconds: float
    waves: int


def tpot_pace(limits: dict[str, float]) -> tuple[float, str]:
    """(ms per output token, where it comes from): the recipe's loosest TPOT limit, else the default."""
    tpot = [v for k, v in limits.items() if k.startswith("tpot_")]
    if tpot:
        return max(tpot), f"its SLO's TPOT limit, {max(tpot):g} ms"
    return DEFAULT_TPOT_MS, f"{DEFAULT_TPOT_MS:g} ms per token (its SLO sets no TPOT limit)"


def point_seconds(point: Any, tpot_ms: float) -> PointEstimate:
    """One trial of a point (a recipe's BenchmarkPoint): ceil(prompts / concurrency) waves of output_len
    tokens at `tpot_ms` (an unbounded concurrency sends one wave; a request rate spreads the prompts over
    prompts / rate seconds)."""
    decode = point.output_len * tpot_ms / 1000
    if point.request_rate:
        return PointEstimate(point.id, point.num_prompts / point.request_rate + decode, 1)
    waves = math.ceil(point.num_prompts / point.concurrency) if point.concurrency else 1
    return PointEstimate(point.id, waves * decode, waves)


def plan_text(points: list[Any], tpot_ms: float, repeats: int, gpus: int) -> str:
    """The plan in words: its longest point and the whole benchmark's hours and GPU-hours."""
    each = [point_seconds(p, tpot_ms) for p in points]
    total_h = sum(e.seconds for e in each) * repeats / 3600
    longest = max(each, key=lambda e: e.seconds)
    return (f"about {total_h:.1f} h of benchmark ({total_h * gpus:.1f} GPU-hours on {gpus} GPUs); its longest point "
            f"{longest.point_id} about {longest.seconds / 60:.0f} min a trial")


def prompts_that_fit(output_len: int, concurrency: int, tpot_ms: float, limit_minutes: int) -> int:
    """The most prompts a point at `concurrency` sends within `limit_minutes` (whole waves, at least one)."""
    return max(1, int(limit_minutes * 60 // (output_len * tpot_ms / 1000))) * concurrency


def over_limit(points: list[Any], tpot_ms: float, limit_minutes: int) -> list[tuple[Any, PointEstimate, int]]:
    """The points whose trial would run past `limit_minutes`: (point, its estimate, the most prompts that
    fit at its concurrency)."""
    out = []
    for p in points:
        e = point_seconds(p, tpot_ms)
        if e.seconds > limit_minutes * 60 and not p.request_rate and p.concurrency:
            out.append((p, e, prompts_that_fit(p.output_len, p.concurrency, tpot_ms, limit_minutes)))
    return out
