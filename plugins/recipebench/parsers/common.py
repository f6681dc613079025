"""What every parser shares: the error type, text clean-up, numbers, percentiles, units."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from recipebench.catalog.metrics import percentile
from recipebench.errors import RecipebenchError


class ParseError(RecipebenchError, ValueError):
    """Raised with the file and what was expected, so a corrupt output is never half-loaded."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass
class Parsed:
    tool: str
    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# What a log puts in front of each line a tool printed, seen in real outputs (each stripped once, in
# this order): a container runtime's log file ("2025-11-20T10:00:00.123456789Z stdout F ", the CRI
# format kubelet writes under /var/log/pods), `kubectl logs --timestamps` (an RFC 3339 time and a
# space), SkyPilot ("(task, pid=123) ") and TensorRT-LLM's logger ("[01/18/2025-01:01:26] [TRT-LLM] [I] ").
PREFIXES = (
    re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) (?:(?:stdout|stderr) [FP] )?"),
    re.compile(r"^\([\w.-]+, pid=\d+\)\s?"),
    re.compile(r"^\[\d\d/\d\d/\d{4}-[\d:]+\] \[TRT-LLM\] \[[A-Z]\]\s?"),
)
# where a report's first line starts: a rule of '=', a trtllm "= SECTION" title, a box-drawing table
REPORT_START = re.compile(r"={3,}|= [A-Z]|[┏┡┃│╭]")


def clean_lines(text: str) -> list[str]:
    """The text's lines without colour codes, without the known log prefixes, and without any
    other prefix that repeats on every line of a report ("# ", "[pod/x] "): one place for all of it."""
    lines = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = ANSI.sub("", raw)
        for prefix in PREFIXES:
            line = prefix.sub("", line, count=1)
        lines.append(line.rstrip())
    for repeated in repeated_prefixes(lines):
        lines = [ln[len(repeated):] if ln.startswith(repeated) else "" if ln == repeated.rstrip() else ln
                 for ln in lines]
    return lines


def repeated_prefixes(lines: list[str], window: int = 8) -> list[str]:
    """Prefixes in front of a report's first line that the lines after it repeat (most of the next
    `window` non-blank ones): a pipe through `sed 's/^/# /'` or a log collector's tag."""
    found: list[str] = []
    for i, line in enumerate(lines):
        m = REPORT_START.search(line)
        prefix = line[:m.start()] if m else ""
        if not prefix.strip() or prefix in found:
            continue
        following = [ln for ln in lines[i + 1:i + 1 + 3 * window] if ln.strip()][:window]
        if following and sum(ln.startswith(prefix) or ln == prefix.rstrip() for ln in following) >= 0.8 * len(following):
            found.append(prefix)
    return found


def number(text: str | float | int | None) -> float | None:
    """A reported number, or None for 'N/A', 'not set', 'None', '' and non-finite values.

    'inf' also becomes None: in our schema an unbounded rate or concurrency is NULL.
    """
    if text is None or isinstance(text, bool) or not isinstance(text, (str, int, float)):
        return None  # a list or mapping where a number belongs is no number either
    if isinstance(text, (int, float)):
        try:
            value = float(text)
        except OverflowError:  # an integer beyond float range
            return None
    else:
        cleaned = _separators(text.strip().rstrip("%"))
        if cleaned.lower() in ("", "n/a", "na", "none", "null", "not set", "inf", "infinity", "nan", "-"):
            return None
        try:
            value = float(cleaned)
        except ValueError:
            return None
    return value if math.isfinite(value) else None


_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(,\d{3})+(\.\d+)?")  # 1,100 and 12,345.6: English grouping
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")  # 745,38 or 0,125: a decimal comma (German, French locales)
_DOTTED_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(\.\d{3})+,\d+")  # 1.234,56


def _separators(text: str) -> str:
    """A number's text with English separators only: a comma groups thousands only where it can
    (a leading group of 1-3 digits, then groups of 3); otherwise it is a decimal comma, so 745,38 is
    745.38, not 74538."""
    if _THOUSANDS.fullmatch(text):
        return text.replace(",", "")
    if _DOTTED_THOUSANDS.fullmatch(text):
        return text.replace(".", "").replace(",", ".")
    if _DECIMAL_COMMA.fullmatch(text):
        return text.replace(",", ".")
    return text.replace(",", "")


def scaled(value: float | None, factor: float) -> float | None:
    """value x factor (a unit's conversion), None when the value is."""
    return None if value is None else value * factor


def integer(text) -> int | None:
    value = number(text)
    return None if value is None else int(round(value))


def lenient_json(text: str) -> Any:
    """Python's json accepts the bare Infinity/NaN literals sglang writes; keep it that way."""
    return json.loads(text)


def summary_ms(values_ms: list[float], metric: str) -> dict[str, float | None]:
    if not values_ms:
        return {}
    return {f"{metric}_mean_ms": sum(values_ms) / len(values_ms), f"{metric}_median_ms": percentile(values_ms, 50),
            f"{metric}_p90_ms": percentile(values_ms, 90), f"{metric}_p99_ms": percentile(values_ms, 99)}


TO_MS = {"ms": 1.0, "milliseconds": 1.0, "s": 1000.0, "sec": 1000.0, "seconds": 1000.0, "us": 1e-3, "ns": 1e-6}
TO_S = {k: v / 1000.0 for k, v in TO_MS.items()}


def snake(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def new_record(tool: str, **values: Any) -> dict[str, Any]:
    return {"tool": tool, "extra": {}, **values}
