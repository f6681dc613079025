"""What a results page's URL asks for, checked, and written back into its links: the days it covers,
its filters (accelerator, framework, model, precision), the latency statistic and the metric its trends
draw. Everything a view shows comes from its URL, so every view is a permalink.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from recipebench.errors import RecipebenchError
from recipebench.results.pages import FILTERS, OLDEST_DAYS, Scope

DEFAULT_DAYS = 90  # the window a page covers unless its URL says otherwise
# what a trend or a latency chart may draw: (column stem, label, higher is better); latencies take a statistic
METRICS = {
    "throughput": ("output_throughput", "output tok/s", True),
    "per_gpu": ("output_throughput_per_gpu", "output tok/s/GPU", True),
    "ttft": ("ttft", "TTFT", False),
    "tpot": ("tpot", "TPOT", False),
    "itl": ("itl", "ITL", False),
    "e2e": ("e2e", "E2E latency", False),
}
LATENCIES = ("ttft", "tpot", "itl", "e2e")
STATS = {"p50": "median", "p90": "p90", "p99": "p99", "mean": "mean"}  # URL name: column infix (catalog.metrics)


class BadQuery(RecipebenchError, ValueError):
    """A query parameter outside what the pages accept; its message names the parameter and the range."""


@dataclass(frozen=True)
class View:
    scope: Scope | None = None  # None: a view of one run's numbers, no window (its metric and statistic only)
    days: int | None = DEFAULT_DAYS  # the window as asked: days back from today, None for an explicit from/to
    metric: str = "throughput"
    stat: str = "p50"

    @property
    def filters(self) -> dict[str, str]:
        return self.scope.filters if self.scope else {}

    def column(self, metric: str | None = None) -> str:
        """The results column of a metric (this view's by default) at this view's statistic."""
        stem = METRICS[metric or self.metric][0]
        return f"{stem}_{STATS[self.stat]}_ms" if (metric or self.metric) in LATENCIES else stem

    def label(self, metric: str | None = None) -> str:
        name = metric or self.metric
        return f"{METRICS[name][1]} {self.stat} ms" if name in LATENCIES else METRICS[name][1]

    def query(self, keep: dict | None = None, **changes: Any) -> str:
        """This view's query string (`?...`, or "" for the defaults) with the page's own parameters `keep`
        (a selected run, chosen recipes) and `changes` made: a permalink."""
        values: dict[str, Any] = {}
        if self.days is None and self.scope is not None:
            values.update({"from": self.scope.since.isoformat(),
                           "to": self.scope.until.isoformat() if self.scope.until else None})
        elif self.days != DEFAULT_DAYS:
            values["days"] = self.days
        values.update(self.filters)
        if self.metric != "throughput":
            values["metric"] = self.metric
        if self.stat != "p50":
            values["stat"] = self.stat
        values.update(keep or {})
        values.update(changes)
        kept = [(k, v) for k, v in values.items() if v not in (None, "", [])]
        return "?" + urlencode(kept, doseq=True) if kept else ""

    def window_text(self) -> str:
        if self.days is not None or self.scope is None:
            return f"the last {self.days} days (UTC)"
        end = self.scope.until.isoformat() if self.scope.until else "now"
        return f"{self.scope.since.isoformat()} to {end} (UTC)"

    def with_(self, **changes) -> View:
        return replace(self, **changes)


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadQuery(f"{name}={value!r}: a date is written YYYY-MM-DD, e.g. 2026-11-30") from None


def _one_of(name: str, value: str, accepted) -> str:
    if value not in accepted:
        raise BadQuery(f"{name}={value!r}: one of {', '.join(accepted)}")
    return value


def parse(today: dt.date, days: int | None = None, since: str | None = None, until: str | None = None,
          filters: dict[str, str | None] | None = None, metric: str = "throughput", stat: str = "p50") -> View:
    """A page's view from its query parameters (`from`/`to` take precedence over `days`); BadQuery names
    what is wrong and what is accepted."""
    end = _date("to", until) if until else today
    if since:
        start, asked = _date("from", since), None
        if start > end:
            raise BadQuery(f"from={since} is after to={end.isoformat()}: the window runs from the earlier date")
    else:
        asked = DEFAULT_DAYS if days is None else days
        if not 1 <= asked <= OLDEST_DAYS:
            raise BadQuery(f"days={asked}: from 1 to {OLDEST_DAYS} days back from today")
        start = end - dt.timedelta(days=asked)
        if until:
            asked = None  # an explicit end: the permalink keeps both dates
    if (end - start).days > OLDEST_DAYS:
        raise BadQuery(f"from={start.isoformat()} to={end.isoformat()}: a page covers at most {OLDEST_DAYS} days")
    # no `to`: up to the newest run (a clock ahead of the page's, or a run that started after midnight UTC)
    chosen = {k: v for k, v in (filters or {}).items() if v}
    unknown = sorted(set(chosen) - set(FILTERS))
    if unknown:
        raise BadQuery(f"{unknown[0]}: pages filter by {', '.join(FILTERS)}")
    return View(Scope(start, end if until else None, chosen), asked, _one_of("metric", metric, METRICS),
                _one_of("stat", stat, STATS))
