"""Charts as inline SVG, rendered on the server: no script, no CDN, nothing fetched by the browser.

One mechanism for every chart on the pages: series of (x, y) points drawn as lines and/or markers
on linear axes with rounded ticks, an optional band (low/high per x) behind a series, error bars
(the trials' range of a point), hollow markers (invalid points: their numbers do not count) and
marked points (regressions) drawn as red rings. Categorical x axes pass their own tick labels; a time
axis (`x_time`: x in POSIX seconds) is labelled with UTC dates (hours over a few days). `chart`
works out the geometry; the template templates/chart.html draws it (autoescaped, like every page).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
MAX_SERIES = len(PALETTE)  # series one chart tells apart (a colour each): recipes on a shared chart


@dataclass
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    color: str | None = None
    dashed: bool = False
    line: bool = True
    band: Sequence[tuple[float, float, float]] = field(default_factory=list)  # (x, low, high)
    marked: Sequence[tuple[float, float]] = field(default_factory=list)  # drawn as red rings
    labels: list[str] = field(default_factory=list)  # a tooltip per point
    errors: Sequence[tuple[float, float, float]] = field(default_factory=list)  # (x, low, high): a trials' range
    hollow: Sequence[bool] = field(default_factory=list)  # per point: drawn as a ring (an invalid point)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2 or 5 x 10^k)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


HOUR, DAY = 3600, 86400
TIME_STEPS = (HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 56 * DAY,
              91 * DAY, 182 * DAY, 364 * DAY)


def time_ticks(low: float, high: float, count: int = 6) -> list[tuple[float, str]]:
    """Round instants covering [low, high] (POSIX seconds), labelled in UTC: `MM-DD HH:MM` for steps under
    a day, `MM-DD` for days, `YYYY-MM-DD` when the span crosses a year."""
    if high - low < HOUR:  # one instant, or a few minutes: an hour either side
        low, high = low - HOUR, high + HOUR
    step = next((s for s in TIME_STEPS if (high - low) / s <= count), TIME_STEPS[-1])
    instants = [math.floor(low / step) * step]
    while instants[-1] < high:
        instants.append(instants[-1] + step)

    def day(t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, tz=dt.UTC)

    if step < DAY:
        form = "%m-%d %H:%M"
    elif day(instants[0]).year != day(instants[-1]).year:
        form = "%Y-%m-%d"
    else:
        form = "%m-%d"
    return [(t, day(t).strftime(form)) for t in instants]


def _fmt(value: float) -> str:
    if abs(value) >= 10000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.3g}"


@dataclass
class Drawn:
    """One series as drawn: screen coordinates, ready for the chart template."""

    name: str
    color: str
    dashed: bool
    band: str  # polygon points, "" for none
    line: str  # polyline points, "" for none
    points: list[tuple[float, float, str, bool]]  # (cx, cy, tooltip, hollow)
    marked: list[tuple[float, float]]
    errors: list[tuple[float, float, float]] = field(default_factory=list)  # (cx, top y, bottom y)


@dataclass
class Bar:
    """One stacked bar as drawn: its segments' rectangles (x, y, width, height, color, tooltip)."""

    label: str
    rects: list[tuple[float, float, float, float, str, str]]


@dataclass
class Chart:
    """A chart's geometry (pure data); templates/chart.html draws it as inline SVG, escaping every text."""

    name: str  # its data-chart attribute (what the browser check looks for)
    title: str
    width: int
    height: int
    series_count: int
    point_count: int
    left: int = 0
    top: int = 0
    plot_w: int = 0
    plot_h: int = 0
    x_label: str = ""
    y_label: str = ""
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (screen y, label)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)  # (screen x, label)
    series: list[Drawn] = field(default_factory=list)
    legend: bool = False
    bars: list[Bar] = field(default_factory=list)  # a stacked bar chart's bars (`stacked`)
    keys: list[tuple[str, str]] = field(default_factory=list)  # its legend: (segment, color)

    @property
    def empty(self) -> bool:
        return not self.series and not self.bars


def chart(name: str, title: str, series: list[Series], x_label: str, y_label: str,
          x_ticks: Sequence[tuple[float, str]] | None = None, width: int = 640, height: int = 320,
          y_zero: bool = True, x_time: bool = False) -> Chart:
    """A chart's geometry: series on linear axes with rounded ticks (x as UTC dates with `x_time`)."""
    # the legend has its own column right of the plot when there is more than one series
    legend = len(series) > 1
    left, right, top, bottom = 64, (200 if legend else 16), 28, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points] + [x for s in series for x, _, _ in s.band]
    ys = [y for s in series for _, y in s.points] + [v for s in series for _, lo, hi in (*s.band, *s.errors)
                                                     for v in (lo, hi)]
    out = Chart(name, title, width, height, len(series), sum(len(s.points) for s in series))
    if not xs or not ys:
        return out
    if x_ticks:
        xt = [x for x, _ in x_ticks]
        x_lo, x_hi = min(xt + xs) - 0.5, max(xt + xs) + 0.5
    elif x_time:
        x_ticks = time_ticks(min(xs), max(xs))
        x_lo, x_hi = x_ticks[0][0], x_ticks[-1][0]
    else:
        ticks = nice_ticks(min(xs), max(xs))
        x_lo, x_hi = ticks[0], ticks[-1]
        x_ticks = [(t, _fmt(t)) for t in ticks]
    y_ticks = nice_ticks(0 if y_zero else min(ys), max(ys))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return round(left + (x - x_lo) / ((x_hi - x_lo) or 1) * plot_w, 1)

    def py(y: float) -> float:
        return round(top + plot_h - (y - y_lo) / ((y_hi - y_lo) or 1) * plot_h, 1)

    def joined(pairs) -> str:
        return " ".join(f"{px(x)},{py(y)}" for x, y in pairs)

    out.left, out.top, out.plot_w, out.plot_h, out.legend = left, top, plot_w, plot_h, legend
    out.x_label, out.y_label = x_label, y_label
    out.y_ticks = [(py(t), _fmt(t)) for t in y_ticks]
    out.x_ticks = [(px(x), label) for x, label in x_ticks]
    for i, s in enumerate(series):
        band = ""
        if s.band:
            band = joined((x, hi) for x, _, hi in s.band) + " " + joined((x, lo) for x, lo, _ in reversed(s.band))
        pts = sorted(s.points)
        tips = [s.labels[j] if j < len(s.labels) else f"{s.name}: {_fmt(y)}" for j, (_, y) in enumerate(s.points)]
        out.series.append(Drawn(
            name=s.name[:30], color=s.color or PALETTE[i % len(PALETTE)], dashed=s.dashed, band=band,
            line=joined(pts) if s.line and len(pts) > 1 else "",
            points=[(px(x), py(y), tip, j < len(s.hollow) and s.hollow[j])
                    for j, ((x, y), tip) in enumerate(zip(s.points, tips, strict=True))],
            marked=[(px(x), py(y)) for x, y in s.marked],
            errors=[(px(x), py(hi), py(lo)) for x, lo, hi in s.errors]))
    return out


def stacked(name: str, title: str, bars: list[tuple[str, list[tuple[str, float]]]], x_label: str, y_label: str,
            segments: Sequence[tuple[str, str]], width: int = 640, height: int = 300) -> Chart:
    """A stacked bar per x (label, [(segment key, value)]), segments stacked in the order of `segments`
    ((key, legend text)), on the same axes and ticks as `chart`."""
    left, right, top, bottom = 64, 200, 28, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(v for _, v in parts) for _, parts in bars]
    out = Chart(name, title, width, height, len(segments), len(bars))
    if not bars or max(totals, default=0) <= 0:
        return out
    colors = {key: PALETTE[i % len(PALETTE)] for i, (key, _) in enumerate(segments)}
    text = dict(segments)
    y_ticks = nice_ticks(0, max(totals))
    y_hi = y_ticks[-1]
    slot = plot_w / len(bars)
    out.left, out.top, out.plot_w, out.plot_h, out.legend = left, top, plot_w, plot_h, True
    out.x_label, out.y_label = x_label, y_label
    out.y_ticks = [(round(top + plot_h - t / y_hi * plot_h, 1), _fmt(t)) for t in y_ticks]
    step = max(1, -(-len(bars) // 8))
    out.x_ticks = [(round(left + slot * (i + 0.5), 1), label) for i, (label, _) in enumerate(bars) if i % step == 0]
    out.keys = [(text[key], colors[key]) for key, _ in segments]
    for i, (label, parts) in enumerate(bars):
        value_of = dict(parts)
        base, rects = 0.0, []
        for key, _ in segments:
            value = value_of.get(key) or 0.0
            if value <= 0:
                continue
            y0, y1 = base / y_hi * plot_h, (base + value) / y_hi * plot_h
            share = value / totals[i] if totals[i] else 0
            rects.append((round(left + slot * i + slot * 0.15, 1), round(top + plot_h - y1, 1), round(slot * 0.7, 1),
                          round(y1 - y0, 1), colors[key], f"{label}: {text[key]} {_fmt(value)} ({share:.0%})"))
            base += value
        out.bars.append(Bar(label, rects))
    return out
