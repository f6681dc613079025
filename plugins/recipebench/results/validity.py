"""Does a point's result count? A pure decision over its results row (the parsed record, the plan) and
the recipe's rules (benchmark.validity), before it may become a baseline or a regression.

Each broken rule is one short reason naming the figures. A figure the tool did not report makes its
rule `unknown: ...` in the reasons without failing the point: absence proves nothing either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recipebench.catalog.recipe import LengthSpec, ValiditySpec

UNKNOWN = "unknown: "


def judge(row: dict[str, Any], lengths: LengthSpec, rules: ValiditySpec) -> tuple[bool, list[str]]:
    """(valid, reasons): the reasons of every rule broken, then those that could not be judged."""
    broken: list[str] = []
    unknown: list[str] = []
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
    return not broken, broken + [UNKNOWN + u for u in unknown]
