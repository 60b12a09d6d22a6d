"""Small inline SVG charts for the reports (no chart library, nothing from a CDN).

One shape is enough for the call reports: bars (a count per interval) with an optional line
(a percentage on its own right-hand axis, or a second count on the bars' axis) and an optional
dashed target. Every label is escaped; the table beside each chart carries the same numbers
for screen readers and for copying.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 16, 40


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
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{top_value * fraction:g}</text>'
        )
        if line is not None and line_is_share:
            parts.append(f'<text x="{LEFT + plot_w + 6}" y="{y + 4:.1f}">{fraction * 100:.0f}%</text>')
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    if count:
        slot = plot_w / count
        bar_w = max(1.0, slot * 0.7)
        every = max(1, count // 12)
        for i, (label, value) in enumerate(zip(labels, bars, strict=True)):
            x = LEFT + i * slot + (slot - bar_w) / 2
            h = plot_h * (value / top_value)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(label)}: {value:g}</title></rect>"
            )
            if i % every == 0:
                parts.append(
                    f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                    f'text-anchor="middle">{escape(label)}</text>'
                )
        if line is not None:
            scale = 1.0 if line_is_share else top_value
            points = [
                f"{LEFT + i * slot + slot / 2:.1f},{TOP + plot_h * (1 - min(value / scale, 1)):.1f}"
                for i, value in enumerate(line)
                if value is not None
            ]
            if points:
                parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
                for point in points:
                    px, py = point.split(",")
                    parts.append(f'<circle cx="{px}" cy="{py}" r="3" fill="#0a6e3c"/>')
        if target is not None and line_is_share:
            y = TOP + plot_h * (1 - target)
            parts.append(f'<line class="target" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped above
