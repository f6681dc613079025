"""Charts as inline SVG, rendered on the server: no script, no CDN, nothing fetched by the browser.

One mechanism for every chart on the pages: series of (x, y) points drawn as lines and/or markers
on linear axes with rounded ticks, an optional band (low/high per x) behind a series, and marked
points (regressions) drawn as red rings. Categorical x axes pass their own tick labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]
    color: str | None = None
    dashed: bool = False
    line: bool = True
    band: list[tuple[float, float, float]] = field(default_factory=list)  # (x, low, high)
    marked: list[tuple[float, float]] = field(default_factory=list)  # drawn as red rings
    labels: list[str] = field(default_factory=list)  # a tooltip per point


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


def _fmt(value: float) -> str:
    if abs(value) >= 10000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.3g}"


def chart(name: str, title: str, series: list[Series], x_label: str, y_label: str,
          x_ticks: list[tuple[float, str]] | None = None, width: int = 640, height: int = 320,
          y_zero: bool = True) -> str:
    """An SVG chart; `name` becomes its data-chart attribute (what the browser check looks for)."""
    # the legend has its own column right of the plot when there is more than one series
    legend = len(series) > 1
    left, right, top, bottom = 64, (200 if legend else 16), 28, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points] + [x for s in series for x, _, _ in s.band]
    ys = [y for s in series for _, y in s.points] + [v for s in series for _, lo, hi in s.band for v in (lo, hi)]
    head = (f'<svg class="chart" data-chart="{escape(name)}" data-series="{len(series)}" '
            f'data-points="{sum(len(s.points) for s in series)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>')
    if not xs or not ys:
        return head + (f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
                       f'no data yet</text></svg>')
    if x_ticks:
        xt = [x for x, _ in x_ticks]
        x_lo, x_hi = min(xt + xs) - 0.5, max(xt + xs) + 0.5
    else:
        ticks = nice_ticks(min(xs), max(xs))
        x_lo, x_hi = ticks[0], ticks[-1]
        x_ticks = [(t, _fmt(t)) for t in ticks]
    y_ticks = nice_ticks(0 if y_zero else min(ys), max(ys))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (x - x_lo) / ((x_hi - x_lo) or 1) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y_lo) / ((y_hi - y_lo) or 1) * plot_h

    out = [head, f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for t in y_ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" class="tick">{_fmt(t)}</text>')
    for x, label in x_ticks:
        out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">'
                   f'{escape(label)}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" class="axis">'
               f'{escape(x_label)}</text>'
               f'<text transform="translate(14 {top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
               f'class="axis">{escape(y_label)}</text>')
    legend_x = left + plot_w + 10
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.band:
            upper = " ".join(f"{px(x):.1f},{py(hi):.1f}" for x, _, hi in s.band)
            lower = " ".join(f"{px(x):.1f},{py(lo):.1f}" for x, lo, _ in reversed(s.band))
            out.append(f'<polygon points="{upper} {lower}" fill="{color}" fill-opacity="0.15" class="band"/>')
        pts = sorted(s.points)
        if s.line and len(pts) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash} '
                       f'class="series"/>')
        for j, (x, y) in enumerate(s.points):
            tip = s.labels[j] if j < len(s.labels) else f"{s.name}: {_fmt(y)}"
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}" class="point">'
                       f'<title>{escape(tip)}</title></circle>')
        for x, y in s.marked:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="8" fill="none" stroke="#d62728" '
                       f'stroke-width="2.5" class="regression"><title>regressed</title></circle>')
        if legend:
            out.append(f'<rect x="{legend_x}" y="{top + 6 + 14 * i}" width="10" height="10" fill="{color}"/>'
                       f'<text x="{legend_x + 14}" y="{top + 15 + 14 * i}" class="legend">{escape(s.name[:30])}</text>')
    out.append("</svg>")
    return "".join(out)
