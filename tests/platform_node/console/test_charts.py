"""Server-drawn charts: well-formed SVG, everything escaped, nothing referenced from outside."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from platform_node.console.charts import Series, bar_chart, column_chart, line_chart

NASTY = '<script>alert("x")</script>&"'


def _parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and root.get("role") == "img"
    return root


def test_labels_are_escaped_and_the_svg_is_well_formed() -> None:
    for svg in (line_chart([Series(NASTY, [(0, 0), (0.5, 0.7), (1, 1)])], title=NASTY, x_label=NASTY, y_label="y",
                           diagonal=True),
                bar_chart([(NASTY, 3.0), ("b", 0.0)], title=NASTY),
                column_chart([(NASTY, 2.0), ("700", 5.0)], title=NASTY)):
        root = _parsed(str(svg))
        assert "<script" not in str(svg) and "href" not in str(svg) and "url(" not in str(svg)
        assert any(NASTY in (e.text or "") for e in root.iter())  # shown as text, not markup


def test_bars_are_proportional_and_empty_charts_draw() -> None:
    root = _parsed(str(bar_chart([("a", 10.0), ("b", 5.0)], title="t")))
    widths = [float(r.get("width")) for r in root.iter() if r.tag.endswith("rect")]
    assert widths[0] == 2 * widths[1]
    _parsed(str(bar_chart([], title="none")))
    _parsed(str(column_chart([], title="none")))
