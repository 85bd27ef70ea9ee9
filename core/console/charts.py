"""Charts drawn on the server as SVG: the page gets shapes with coordinates, the template
writes them out. No script, so the CSP stays strict and the chart prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # under the bar (a day), may be ""
    value: int
    title: str  # the tooltip: label and value as the page formats it


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    peak: int


def bar_chart(
    points: Sequence[tuple[str, int, str]],
    *,
    width: int = 600,
    height: int = 160,
    label_every: int = 5,
) -> BarChart:
    """Bars for ``(label, value, title)`` points, scaled to the largest value; every
    ``label_every``-th label is kept (and the last) so they do not overlap."""
    axis = 18.0  # room under the bars for the labels
    usable = height - axis
    peak = max((value for _, value, _ in points), default=0)
    step = width / max(len(points), 1)
    bars = []
    for index, (label, value, title) in enumerate(points):
        bar_height = usable * value / peak if peak > 0 else 0.0
        shown = label if index % label_every == 0 or index == len(points) - 1 else ""
        bars.append(
            Bar(
                x=round(index * step + step * 0.15, 2),
                y=round(usable - bar_height, 2),
                width=round(step * 0.7, 2),
                height=round(bar_height, 2),
                label=shown,
                value=value,
                title=title,
            )
        )
    return BarChart(width=width, height=height, baseline=usable, bars=bars, peak=peak)
