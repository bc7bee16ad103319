"""Line charts as standalone SVG: no plotting library, readable in any browser or report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#7f7f7f")


@dataclass(frozen=True)
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    dashed: bool = False


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = (low // step) * step
    return [first + i * step for i in range(count + 2) if low <= first + i * step <= high + 1e-9]


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    width: int = 760,
    height: int = 300,
) -> str:
    """One chart: axes with ticks, one polyline per series, a legend."""
    left, right, top, bottom = 70, 20, 40, 50
    xs = [x for s in series for x in s.xs] or [0.0]
    ys = [y for s in series for y in s.ys] or [0.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(0.0, min(ys)), max(ys) * 1.1 if max(ys) > 0 else 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    bottom_y = top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        _text(width / 2, 20, title, size=14),
        _line(left, bottom_y, left + plot_w, bottom_y),
        _line(left, top, left, bottom_y),
        _text(left + plot_w / 2, height - 10, xlabel),
        f'<text x="15" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 15 {top + plot_h / 2})">{escape(ylabel)}</text>',
    ]
    for t in _ticks(x0, x1):
        parts.append(_line(px(t), bottom_y, px(t), bottom_y + 5))
        parts.append(_text(px(t), bottom_y + 18, f"{t:g}"))
    for t in _ticks(y0, y1):
        parts.append(_line(left, py(t), left + plot_w, py(t), stroke="#eee"))
        parts.append(_text(left - 6, py(t) + 4, f"{t:g}", anchor="end"))
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(s.xs, s.ys, strict=True))
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.8"{dash} points="{points}"/>'
        )
        ly = top + 6 + 16 * i
        parts.append(
            f'<line x1="{left + plot_w - 250}" y1="{ly}" x2="{left + plot_w - 225}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{left + plot_w - 220}" y="{ly + 4}">{escape(s.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _line(x1: float, y1: float, x2: float, y2: float, *, stroke: str = "black") -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}">'
        f"{escape(text)}</text>"
    )


def stack(charts: Sequence[str]) -> str:
    """Several charts one above the other, in one SVG document."""
    heights = [int(c.split('height="', 1)[1].split('"', 1)[0]) for c in charts]
    widths = [int(c.split('width="', 1)[1].split('"', 1)[0]) for c in charts]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{max(widths)}" height="{sum(heights)}">'
    ]
    y = 0
    for chart, h in zip(charts, heights, strict=True):
        out.append(f'<g transform="translate(0 {y})">{chart}</g>')
        y += h
    out.append("</svg>")
    return "\n".join(out)
