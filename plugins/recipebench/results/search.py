"""The capacity search as a pure decision: given the steps so far, the next load to try, or none; and
what the search found.

Bracketing, then bisection (catalog.slo.SearchSpec): the first step is `low`; while every step passed,
the next is the last load x `growth` (at most `high`); once a load failed, the next is halfway between
the highest load that passed below the lowest that failed and that failure, until the two are within
`tolerance` of the capacity (or one request apart) or `max_steps` ran. A step passes when its point is
valid and meets the SLO.

Noise near the boundary makes the outcome non-monotone (a load passes above one that failed): a pass
above the lowest failure is recorded but not believed, so the capacity is never above a load that
failed, and a later failure below the capacity lowers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recipebench.catalog.slo import SearchSpec


@dataclass(frozen=True)
class Step:
    step: int
    load: float
    passed: bool
    why: str | None = None  # what failed, for a failed step
    output_throughput: float | None = None
    output_throughput_per_gpu: float | None = None
    point_id: str | None = None


def _bracket(steps: list[Step]) -> tuple[Step | None, Step | None]:
    """(the highest pass below the lowest failure, the lowest failure)."""
    failed = min((s for s in steps if not s.passed), key=lambda s: s.load, default=None)
    below = [s for s in steps if s.passed and (failed is None or s.load < failed.load)]
    return max(below, key=lambda s: s.load, default=None), failed


def _rounded(spec: SearchSpec, load: float) -> float:
    return float(int(load)) if spec.load == "concurrency" else round(load, 3)


def _narrow(spec: SearchSpec, passed: Step, failed: Step) -> bool:
    gap = failed.load - passed.load
    return gap <= spec.tolerance * passed.load or (spec.load == "concurrency" and gap <= 1)


def next_load(spec: SearchSpec, steps: list[Step]) -> float | None:
    """The load of the next step; None: the search is done (converged, bounded, or out of steps)."""
    if not steps:
        return _rounded(spec, spec.low)
    if len(steps) >= spec.max_steps:
        return None
    passed, failed = _bracket(steps)
    if failed is None:  # everything passed so far: grow, up to the upper bound
        assert passed is not None
        if passed.load >= spec.high:
            return None
        return _rounded(spec, min(spec.high, passed.load * spec.growth))
    if passed is None:  # nothing passed below the lowest failure
        return None if failed.load <= spec.low else _rounded(spec, spec.low)
    if _narrow(spec, passed, failed):
        return None
    mid = _rounded(spec, (passed.load + failed.load) / 2)
    return None if mid <= passed.load or mid >= failed.load else mid


def outcome(spec: SearchSpec, steps: list[Step]) -> dict[str, Any]:
    """What the search found: the capacity (the highest believed pass) with its throughput, the first
    load above it that failed and why, and whether it converged."""
    passed, failed = _bracket(steps)
    believed_out = [s for s in steps if s.passed and failed is not None and s.load > failed.load]
    converged = passed is not None and (
        (failed is not None and _narrow(spec, passed, failed)) or (failed is None and passed.load >= spec.high))
    if passed is None and failed is not None and failed.load <= spec.low:
        note = f"even the lowest load ({spec.low:g}) failed: {failed.why}"
    elif failed is None and passed is not None and passed.load >= spec.high:
        note = f"the upper bound ({spec.high:g}) passed: the capacity is at least that"
    elif converged:
        note = "converged"
    else:
        note = f"stopped after {len(steps)} steps (max_steps {spec.max_steps}) before the bracket narrowed"
    if believed_out:
        note += "; not believed (above a failed load: noise near the boundary): " + ", ".join(
            f"step {s.step} at {s.load:g} passed" for s in believed_out)
    return {
        "load_kind": spec.load,
        "capacity_load": passed.load if passed else None,
        "capacity_point": passed.point_id if passed else None,
        "capacity_output_throughput": passed.output_throughput if passed else None,
        "capacity_output_throughput_per_gpu": passed.output_throughput_per_gpu if passed else None,
        "failed_load": failed.load if failed else None,
        "failed_reason": failed.why if failed else None,
        "steps": len(steps),
        "converged": converged,
        "note": note,
    }
