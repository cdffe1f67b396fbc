"""Charts drawn on the server as SVG: lines (ROC, KS), horizontal bars (statistics), columns (distributions).

No script, no library, nothing loaded from anywhere: each function returns escaped SVG markup that a page
embeds, with a title and a description for screen readers; pages print the numbers in a table beside it.
Colours come from the console's style sheet through class names (`series-0`, `series-1`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 56, 16, 16, 44


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _open(width: int, height: int, title: str) -> list[str]:
    label = escape(title)
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{label}"><title>{label}</title>']


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str, width: int = 420,
               height: int = 320, x_range: tuple[float, float] = (0.0, 1.0), y_range: tuple[float, float] = (0.0, 1.0),
               diagonal: bool = False) -> Markup:
    """Lines over fixed axes (ROC: FPR against TPR with the chance diagonal; KS: two cumulative shares)."""
    plot_w, plot_h = width - _PAD_LEFT - _PAD_RIGHT, height - _PAD_TOP - _PAD_BOTTOM
    (x0, x1), (y0, y1) = x_range, y_range

    def at(x: float, y: float) -> tuple[float, float]:
        return (_PAD_LEFT + (x - x0) / (x1 - x0 or 1) * plot_w, _PAD_TOP + plot_h - (y - y0) / (y1 - y0 or 1) * plot_h)

    out = _open(width, height, title)
    out.append(f'<rect class="plot" x="{_PAD_LEFT}" y="{_PAD_TOP}" width="{plot_w}" height="{plot_h}"/>')
    for k in range(5):
        fx, fy = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        gx, _ = at(fx, y0)
        _, gy = at(x0, fy)
        out.append(f'<line class="grid" x1="{_fmt(gx)}" y1="{_PAD_TOP}" x2="{_fmt(gx)}" y2="{_PAD_TOP + plot_h}"/>')
        out.append(f'<line class="grid" x1="{_PAD_LEFT}" y1="{_fmt(gy)}" x2="{_PAD_LEFT + plot_w}" y2="{_fmt(gy)}"/>')
        out.append(f'<text class="tick" x="{_fmt(gx)}" y="{_PAD_TOP + plot_h + 14}" text-anchor="middle">{fx:.2g}</text>')
        out.append(f'<text class="tick" x="{_PAD_LEFT - 6}" y="{_fmt(gy + 4)}" text-anchor="end">{fy:.2g}</text>')
    if diagonal:
        (ax, ay), (bx, by) = at(x0, y0), at(x1, y1)
        out.append(f'<line class="diagonal" x1="{_fmt(ax)}" y1="{_fmt(ay)}" x2="{_fmt(bx)}" y2="{_fmt(by)}"/>')
    for index, s in enumerate(series):
        points = " ".join(f"{_fmt(px)},{_fmt(py)}" for px, py in (at(x, y) for x, y in s.points))
        out.append(f'<polyline class="line series-{index % 4}" points="{points}"><title>{escape(s.name)}</title></polyline>')
    out.append(f'<text class="axis" x="{_PAD_LEFT + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
               f'{escape(x_label)}</text>')
    out.append(f'<text class="axis" x="14" y="{_PAD_TOP + plot_h / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {_PAD_TOP + plot_h / 2:.0f})">{escape(y_label)}</text>')
    for index, s in enumerate(series):  # legend, top left inside the plot
        ly = _PAD_TOP + 14 + 16 * index
        out.append(f'<line class="line series-{index % 4}" x1="{_PAD_LEFT + 8}" y1="{ly - 4}" x2="{_PAD_LEFT + 28}" '
                   f'y2="{ly - 4}"/><text class="legend" x="{_PAD_LEFT + 34}" y="{ly}">{escape(s.name)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, value_format: str = "{:,.0f}",
              width: int = 560, bar_height: int = 20) -> Markup:
    """Horizontal bars, one per label, longest = the largest value (statistics by district, bank, ...)."""
    label_w, gap = 150, 6
    height = _PAD_TOP * 2 + max(1, len(bars)) * (bar_height + gap)
    plot_w = width - label_w - 110
    top = max((v for _, v in bars), default=0.0) or 1.0
    out = _open(width, height, title)
    for index, (label, value) in enumerate(bars):
        y = _PAD_TOP + index * (bar_height + gap)
        length = max(0.0, value) / top * plot_w
        text = escape(value_format.format(value))
        out.append(f'<text class="label" x="{label_w - 6}" y="{y + bar_height * 0.7:.0f}" text-anchor="end">'
                   f'{escape(label)}</text>')
        out.append(f'<rect class="bar series-{index % 4}" x="{label_w}" y="{y}" width="{_fmt(length)}" '
                   f'height="{bar_height}"><title>{escape(label)}: {text}</title></rect>')
        out.append(f'<text class="value" x="{label_w + length + 4:.1f}" y="{y + bar_height * 0.7:.0f}">{text}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def column_chart(columns: Sequence[tuple[str, float]], *, title: str, width: int = 560, height: int = 240) -> Markup:
    """Vertical columns with their labels below (a distribution over ordered bins)."""
    plot_w, plot_h = width - _PAD_LEFT - _PAD_RIGHT, height - _PAD_TOP - _PAD_BOTTOM
    top = max((v for _, v in columns), default=0.0) or 1.0
    slot = plot_w / max(1, len(columns))
    out = _open(width, height, title)
    out.append(f'<line class="grid" x1="{_PAD_LEFT}" y1="{_PAD_TOP + plot_h}" x2="{_PAD_LEFT + plot_w}" '
               f'y2="{_PAD_TOP + plot_h}"/>')
    out.append(f'<text class="tick" x="{_PAD_LEFT - 6}" y="{_PAD_TOP + 4}" text-anchor="end">{top:,.0f}</text>')
    for index, (label, value) in enumerate(columns):
        h = max(0.0, value) / top * plot_h
        x = _PAD_LEFT + index * slot + slot * 0.1
        out.append(f'<rect class="bar series-0" x="{_fmt(x)}" y="{_fmt(_PAD_TOP + plot_h - h)}" '
                   f'width="{_fmt(slot * 0.8)}" height="{_fmt(h)}"><title>{escape(label)}: {value:,.0f}</title></rect>')
        if len(columns) <= 12 or index % max(1, len(columns) // 10) == 0:
            out.append(f'<text class="tick" x="{_fmt(x + slot * 0.4)}" y="{_PAD_TOP + plot_h + 14}" '
                       f'text-anchor="middle">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
