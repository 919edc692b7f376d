"""Chart geometry for server-rendered SVG: no JavaScript library, no CDN.

Functions take plain values and return what ``templates/components/*_chart.html``
draws; they know nothing about requests or the ORM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: float
    color: str


@dataclass
class LineChart:
    width: int
    height: int
    points: list[Point] = field(default_factory=list)
    path: str = ""
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    band_rects: list[tuple[float, float, str, str]] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    plot: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def empty(self) -> bool:
        return not self.points


def line_chart(
    *,
    series: list[tuple[dt.datetime, float, str]],
    start: dt.datetime,
    end: dt.datetime,
    bands: Sequence[tuple[float | None, str, str]] = (),
    markers: Sequence[tuple[dt.datetime, str]] = (),
    width: int = 640,
    height: int = 220,
) -> LineChart:
    """Scores over time. ``series``: (when, score, colour); ``bands``: (lower, name,
    colour) drawn as pale horizontal zones; ``markers``: vertical lines (e.g. where
    the model version changed)."""
    left, right, top, bottom = 36, 8, 8, 24
    chart = LineChart(width=width, height=height, plot=(left, top, width - right, height - bottom))
    values = [v for _, v, _ in series]
    low = min([0.0, *values])
    high = max([100.0, *values])
    span_y = (high - low) or 1.0
    span_t = (end - start).total_seconds() or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(when: dt.datetime) -> float:
        return round(left + plot_w * (when - start).total_seconds() / span_t, 1)

    def y_of(value: float) -> float:
        return round(top + plot_h * (1 - (value - low) / span_y), 1)

    for when, value, color in series:
        chart.points.append(Point(x_of(when), y_of(value), when.strftime("%d %b"), value, color))
    chart.path = " ".join(
        f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(chart.points)
    )
    step = 25 if span_y <= 150 else 50
    tick = (low // step) * step
    while tick <= high:
        if tick >= low:
            chart.y_ticks.append((y_of(tick), f"{tick:g}"))
        tick += step
    days = max(1, round(span_t / 86400))
    for i in range(5):
        when = start + dt.timedelta(days=days * i / 4)
        chart.x_ticks.append((x_of(when), when.strftime("%d %b")))
    ordered = sorted(
        ((lower, name, color) for lower, name, color in bands if lower is not None),
        key=lambda b: b[0],
    )
    open_below = [b for b in bands if b[0] is None]
    edges = ([(low, *open_below[0][1:])] if open_below else []) + [
        (max(lower, low), name, color) for lower, name, color in ordered
    ]
    for i, (lower, name, color) in enumerate(edges):
        upper = edges[i + 1][0] if i + 1 < len(edges) else high
        if upper <= lower:
            continue
        chart.band_rects.append((y_of(upper), round(y_of(lower) - y_of(upper), 1), color, name))
    for when, label in markers:
        if start <= when <= end:
            chart.markers.append((x_of(when), label))
    return chart


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int
    color: str


def bar_chart(
    *, buckets: list[tuple[str, int, str]], width: int = 480, height: int = 180
) -> list[Bar]:
    """Vertical bars: (label, count, colour) each."""
    if not buckets:
        return []
    top, bottom = 16, 22
    plot_h = height - top - bottom
    most = max(count for _, count, _ in buckets) or 1
    slot = width / len(buckets)
    bars = []
    for i, (label, count, color) in enumerate(buckets):
        h = round(plot_h * count / most, 1)
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.12, 1),
                y=round(top + plot_h - h, 1),
                width=round(slot * 0.76, 1),
                height=h,
                label=label,
                count=count,
                color=color,
            )
        )
    return bars


# --- Backtest charts --------------------------------------------------------------------


@dataclass
class RocChart:
    size: int
    height: int
    plot: tuple[int, int, int, int]
    curves: list[tuple[str, str, str]] = field(default_factory=list)  # label, colour, path
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)

    @property
    def side(self) -> int:
        return self.plot[2] - self.plot[0]

    @property
    def empty(self) -> bool:
        return not self.curves


def roc_chart(
    *, curves: list[tuple[str, str, list[tuple[float, float]]]], size: int = 280
) -> RocChart:
    """ROC curves on the unit square: (label, colour, [(false pos. rate, true pos. rate)])."""
    left, top, right, axis = 34, 8, 8, 30
    side = size - left - right
    chart = RocChart(size=size, height=top + side + axis, plot=(left, top, left + side, top + side))

    def x_of(fpr: float) -> float:
        return round(left + side * fpr, 1)

    def y_of(tpr: float) -> float:
        return round(top + side * (1 - tpr), 1)

    for label, color, points in curves:
        if not points:
            continue
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{x_of(fpr)},{y_of(tpr)}"
            for i, (fpr, tpr) in enumerate(points)
        )
        chart.curves.append((label, color, path))
    chart.x_ticks = [(x_of(t), f"{t:g}") for t in (0, 0.25, 0.5, 0.75, 1)]
    chart.y_ticks = [(y_of(t), f"{t:g}") for t in (0, 0.25, 0.5, 0.75, 1)]
    return chart


@dataclass(frozen=True)
class RateBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    text: str
    color: str
    title: str


def rate_bars(
    *,
    bars: list[tuple[str, float | None, str, str]],
    width: int = 480,
    height: int = 180,
    baseline: float | None = None,
) -> tuple[list[RateBar], float | None]:
    """Vertical bars of rates (0–1): (label, rate, colour, tooltip) each. Returns the bars
    and the y of ``baseline`` (e.g. the overall churn rate), drawn as a line."""
    if not bars:
        return [], None
    top, bottom = 16, 22
    plot_h = height - top - bottom
    most = max([rate or 0.0 for _, rate, _, _ in bars] + [baseline or 0.0]) or 1.0
    slot = width / len(bars)
    result = []
    for i, (label, rate, color, title) in enumerate(bars):
        h = round(plot_h * (rate or 0.0) / most, 1)
        result.append(
            RateBar(
                x=round(i * slot + slot * 0.12, 1),
                y=round(top + plot_h - h, 1),
                width=round(slot * 0.76, 1),
                height=h,
                label=label,
                text="—" if rate is None else f"{rate:.0%}",
                color=color,
                title=title,
            )
        )
    line = None if baseline is None else round(top + plot_h - plot_h * baseline / most, 1)
    return result, line
