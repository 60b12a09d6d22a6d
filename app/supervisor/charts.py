"""Small inline SVG charts for the reports (no chart library, nothing from a CDN).

Two shapes: bars (a count per interval) with an optional line (a percentage on its own
right-hand axis, or a second count on the bars' axis) and an optional dashed target; and trend
lines (shares per day, 0–100 %). Both axes start at zero, and each x label sits under the
centre of its bar or point. Every label is escaped; the table beside each chart carries the
same numbers for screen readers and for copying.

Class names are ``chart-…``: the site's own ``.bar`` (a progress bar with a CSS width and
height) once matched the SVG bars, and CSS geometry overrides SVG attributes, so the bars
floated above the axis at a fixed size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 16, 40
CHAR_WIDTH = 7.2  # px of a 12 px label character, to keep x labels from overlapping
# Trend line colours (the legend under the chart uses the same).
SERIES_COLOURS = ("#0a6e3c", "#b42318", "#1d4ed8", "#7c3aed")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_line_chart(
    labels: Sequence[str],
    bars: Sequence[float],
    line: Sequence[float | None] | None = None,
    *,
    title: str,
    line_is_share: bool = True,
    target: float | None = None,
) -> Markup:
    """An SVG chart: ``bars`` per label, ``line`` over them (a 0–1 share, or the bars' unit)."""
    count = len(labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = _nice_max(
        max([*bars, *([v for v in line or [] if v is not None] if not line_is_share else [])], default=0)
    )
    parts = [_open(title)]
    parts += _y_axis(top_value, plot_w, plot_h, right_share=line is not None and line_is_share)
    if count:
        slot = plot_w / count
        bar_w = max(1.0, slot * 0.7)
        for i, (label, value) in enumerate(zip(labels, bars, strict=True)):
            x = LEFT + i * slot + (slot - bar_w) / 2
            h = plot_h * (max(value, 0) / top_value)
            parts.append(
                f'<rect class="chart-bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)}: {value:g}</title></rect>'
            )
        parts += _x_labels(labels, slot)
        if line is not None:
            scale = 1.0 if line_is_share else top_value
            parts += _polyline(line, slot, plot_h, scale, SERIES_COLOURS[0], "chart-line")
        if target is not None and line_is_share:
            y = TOP + plot_h * (1 - target)
            parts.append(
                f'<line class="chart-target" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above


def trend_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    target: float | None = None,
) -> Markup:
    """Lines of shares (0–1) per label — one per ``(name, values)`` — on a 0–100 % axis; a day
    without a value (None: nothing to measure) leaves a gap rather than a fake zero."""
    count = len(labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [_open(title)]
    parts += _y_axis(1.0, plot_w, plot_h, percent=True)
    if count:
        slot = plot_w / count
        parts += _x_labels(labels, slot)
        for index, (name, values) in enumerate(series):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            parts += _polyline(values, slot, plot_h, 1.0, colour, "chart-line", name=name, labels=labels)
        if target is not None:
            y = TOP + plot_h * (1 - target)
            parts.append(
                f'<line class="chart-target" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped


def _open(title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )


def _y_axis(
    top_value: float, plot_w: float, plot_h: float, *, right_share: bool = False, percent: bool = False
) -> list[str]:
    """Grid lines and labels from 0 (on the x axis) to ``top_value``; the x axis itself."""
    parts = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + plot_h * (1 - fraction)
        text = f"{fraction * 100:.0f}%" if percent else f"{top_value * fraction:g}"
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-y" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
        if right_share:
            parts.append(
                f'<text class="chart-y2" x="{LEFT + plot_w + 6}" y="{y + 4:.1f}">{fraction * 100:.0f}%</text>'
            )
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    return parts


def _x_labels(labels: Sequence[str], slot: float) -> list[str]:
    """A label under the centre of every n-th slot, n chosen so that labels never overlap."""
    widest = max((len(label) for label in labels), default=1) * CHAR_WIDTH + 8
    every = max(1, math.ceil(widest / slot))
    return [
        f'<text class="chart-x" x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
        f'text-anchor="middle">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % every == 0
    ]


def _polyline(
    values: Sequence[float | None],
    slot: float,
    plot_h: float,
    scale: float,
    colour: str,
    klass: str,
    *,
    name: str | None = None,
    labels: Sequence[str] | None = None,
) -> list[str]:
    """A line through the points at the slots' centres, broken where a value is missing."""
    parts: list[str] = []
    runs: list[list[tuple[float, float, int]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append((LEFT + i * slot + slot / 2, TOP + plot_h * (1 - min(max(value, 0) / scale, 1)), i))
    for run in runs:
        if len(run) > 1:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in run)
            parts.append(
                f'<polyline class="{klass}" stroke="{colour}" points="{points}"'
                + (f' data-series="{escape(name)}"' if name else "")
                + "/>"
            )
        for x, y, i in run:
            tip = ""
            if name is not None and labels is not None and values[i] is not None:
                tip = f"<title>{escape(name)} {escape(labels[i])}: {float(values[i] or 0) * 100:.0f}%</title>"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">{tip}</circle>')
    return parts
