"""The report charts read true: the y axis starts at zero, bars stand on it, labels sit under
their bars and points, labels never overlap, and nothing else on the page reshapes them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.supervisor import charts

NS = {"s": "http://www.w3.org/2000/svg"}
PLOT_BOTTOM = charts.HEIGHT - charts.BOTTOM


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def _y_labels(root: ET.Element) -> list[tuple[float, str]]:
    return sorted(
        (float(t.get("y")) - 4, t.text or "")
        for t in root.iterfind("s:text", NS)
        if t.get("class") == "chart-y"
    )


def _x_labels(root: ET.Element) -> dict[str, float]:
    return {
        t.text or "": float(t.get("x")) for t in root.iterfind("s:text", NS) if t.get("class") == "chart-x"
    }


def test_bars_start_at_zero_on_the_axis_and_sit_over_their_labels():
    labels = ["08:00", "09:00", "10:00", "11:00"]
    root = _svg(charts.bar_line_chart(labels, [3, 7, 0, 12], [0.5, 0.9, None, 0.75], title="t"))
    y_labels = _y_labels(root)
    assert y_labels[-1] == (PLOT_BOTTOM, "0")  # the lowest label is 0, on the x axis
    assert float(y_labels[0][1]) >= 12  # the highest is at or above the largest bar
    axis = root.find("s:line[@class='chart-axis']", NS)
    assert float(axis.get("y1")) == PLOT_BOTTOM
    rects = root.findall("s:rect[@class='chart-bar']", NS)
    assert len(rects) == 4
    top = float(y_labels[0][1])
    for rect, value in zip(rects, [3, 7, 0, 12], strict=True):
        bottom = float(rect.get("y")) + float(rect.get("height"))
        assert bottom == pytest.approx(PLOT_BOTTOM, abs=0.1)  # standing on zero
        assert float(rect.get("height")) == pytest.approx(value / top * (PLOT_BOTTOM - charts.TOP), abs=0.1)
    centres = [float(r.get("x")) + float(r.get("width")) / 2 for r in rects]
    x_labels = _x_labels(root)
    assert [x_labels[label] for label in labels] == pytest.approx(centres, abs=0.1)
    # The line's points sit over the same centres (the missing value is a gap, not a zero).
    points = [float(c.get("cx")) for c in root.iterfind("s:circle", NS)]
    assert points == pytest.approx([centres[0], centres[1], centres[3]], abs=0.1)


def test_x_labels_never_overlap_however_many_intervals():
    labels = [f"2026-02-{day:02d}" for day in range(1, 29)]
    root = _svg(charts.bar_line_chart(labels, list(range(28)), title="t"))
    xs = sorted(_x_labels(root).values())
    assert 3 <= len(xs) < 28
    widest = max(len(label) for label in labels) * charts.CHAR_WIDTH
    assert all(b - a > widest for a, b in zip(xs, xs[1:], strict=False))


def test_trend_lines_run_from_0_to_100_percent_with_gaps_for_days_without_figures():
    days = ["01/03", "02/03", "03/03", "04/03"]
    root = _svg(
        charts.trend_chart(
            days, [("SL", [0.8, None, 1.0, 0.5]), ("Abandon", [0.1, 0.2, 0.0, 0.05])], title="t", target=0.8
        )
    )
    y_labels = _y_labels(root)
    assert (y_labels[-1], y_labels[0][1]) == ((PLOT_BOTTOM, "0%"), "100%")
    lines = {p.get("data-series"): p.get("points") for p in root.iterfind("s:polyline", NS)}
    assert set(lines) == {"SL", "Abandon"}  # SL's lone point after the gap is a dot only
    abandon = [tuple(map(float, point.split(","))) for point in lines["Abandon"].split()]
    x_labels = _x_labels(root)
    assert [x for x, _ in abandon] == pytest.approx([x_labels[d] for d in days], abs=0.1)
    plot_h = PLOT_BOTTOM - charts.TOP
    assert [y for _, y in abandon] == pytest.approx(
        [PLOT_BOTTOM - plot_h * v for v in (0.1, 0.2, 0.0, 0.05)], abs=0.1
    )


def test_no_stylesheet_rule_gives_chart_shapes_a_css_size():
    """CSS width/height beat SVG geometry attributes: a site-wide ``.bar`` once did exactly that."""
    rendered = str(charts.bar_line_chart(["a", "b"], [1, 2], [0.5, 1], title="t", target=0.8))
    rendered += str(charts.trend_chart(["a", "b"], [("x", [0.1, 0.2])], title="t", target=0.8))
    classes = set(re.findall(r'class="([\w-]+)"', rendered)) - {"chart"}
    assert {"chart-bar", "chart-line", "chart-axis"} <= classes
    for css in Path("app/static/css").glob("*.css"):
        for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", css.read_text()):
            if any(re.search(rf"\.{name}\b", selector) for name in classes):
                assert not re.search(r"(^|;)\s*(width|height)\s*:", body), (css.name, selector)
