"""Does a point's result count? A pure decision over its results row (the parsed record, the plan) and
the recipe's rules (benchmark.validity), before it may become a baseline or a regression.

Each broken rule is one short reason naming the figures. A figure the tool did not report makes its
rule `unknown: ...` in the reasons without failing the point: absence proves nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recipebench.catalog.recipe import LengthSpec, ValiditySpec

UNKNOWN = "unknown: "
@dataclass(frozen=True)
class Facts:
    """What the rules need beyond the results row: the plan's trials, the warm-up as the log tells it,
    the concurrency the tool measured."""

    planned_trials: int = 1
    warmup_done: bool | None = None  # None: not known
    warmup_detail: str | None = None
    achieved_concurrency: float | None = None
    accuracy_failure: str | None = None  # the run's accuracy gate failed: every point says so


def achieved_concurrency(record: dict[str, Any]) -> float | None:
    """The mean requests in flight the tool measured, where it reports one: every parser keeps it as
    extra's measured_concurrency (sglang's `Concurrency`, trtllm-bench's concurrent requests)."""
    return (record.get("extra") or {}).get("measured_concurrency")


def judge(row: dict[str, Any], lengths: LengthSpec, rules: ValiditySpec,
          facts: Facts = Facts()) -> tuple[bool, list[str]]:
    """(valid, reasons): the reasons of every rule broken, then those that could not be judged."""
    broken: list[str] = []
    unknown: list[str] = []
    if facts.accuracy_failure:
        broken.append(facts.accuracy_failure)
    sent, completed, failed = row.get("num_prompts"), row.get("completed"), row.get("failed")
    if failed is None or not sent:
        unknown.append("failed requests")
    elif failed > rules.max_failed_fraction * sent:
        broken.append(f"failed {failed} of {sent} requests ({failed / sent:.1%} > {rules.max_failed_fraction:.0%})")
    needed = min(rules.min_completed, sent or rules.min_completed)
    if completed is None:
        unknown.append("completed requests")
    elif completed < needed:
        broken.append(f"completed {completed} < {needed} requests")
    for kind in ("input", "output"):
        total, asked = row.get(f"total_{kind}_tokens"), row.get(f"{kind}_len")
        if total is None or not completed or not asked:
            unknown.append(f"mean {kind} length")
            continue
        mean, planned = total / completed, lengths.mean(asked)
        off = (mean - planned) / planned
        if abs(off) > rules.length_tolerance:
            broken.append(f"mean {kind} {mean:.0f} tokens, {off:+.1%} off the planned {planned:.0f}")
    duration = row.get("duration_s")
    if duration is None:
        unknown.append("duration")
    elif duration < rules.min_duration_s:
        broken.append(f"measured {duration:.0f} s < {rules.min_duration_s:.0f} s")
    _load(row, rules, facts, broken, unknown)
    _warmup_and_trials(row, rules, facts, broken, unknown)
    return not broken, broken + [UNKNOWN + u for u in unknown]


def _load(row, rules, facts: Facts, broken: list[str], unknown: list[str]) -> None:
    """The load the plan asked for was reached: mean requests in flight against the concurrency cap; a
    rate-driven point is judged by its request throughput; an all-at-once burst has no load to hold."""
    rate = row.get("request_rate")
    if rate:
        got = row.get("request_throughput")
        if got is None:
            unknown.append("achieved request rate")
        elif got < rules.min_concurrency_fraction * rate:
            broken.append(f"achieved {got:.2f} req/s < {rules.min_concurrency_fraction:.0%} of the planned {rate:g}")
        return
    planned = row.get("concurrency")
    if planned is None:
        # every prompt at once: the queue drains as it is served, so no load is held to be reached (the
        # mean in flight of such a burst is about half of it however good the server)
        return
    got = facts.achieved_concurrency
    if got is None:
        unknown.append("achieved concurrency")
    elif got < rules.min_concurrency_fraction * planned:
        broken.append(f"achieved concurrency {got:.1f} < {rules.min_concurrency_fraction:.0%} of the planned "
                      f"{planned}")


def _warmup_and_trials(row, rules, facts: Facts, broken: list[str], unknown: list[str]) -> None:
    warmup = row.get("warmup_requests")
    if warmup == 0 and rules.require_warmup:
        broken.append("no warm-up: the first requests of the measurement met a cold server")
    elif facts.warmup_done is False:
        broken.append(f"warm-up not done: {facts.warmup_detail or 'it did not end'}")
    elif facts.warmup_done is None or warmup is None:
        unknown.append("warm-up")
    trials = row.get("trials")
    if trials is not None and trials < facts.planned_trials:
        broken.append(f"{trials} of {facts.planned_trials} trials completed")
    spread = row.get("spread_output_throughput")
    if spread is not None and spread > rules.max_trial_spread:
        broken.append(f"trials differ by {spread:.0%} in output throughput (> {rules.max_trial_spread:.0%})")
