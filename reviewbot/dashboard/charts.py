"""Inline SVG charts (no script, no style attributes: presentation attributes only).

Every label is escaped; numbers are formatted here. An empty chart says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

COLORS = {
    "error": "#c0392b", "warning": "#d68910", "advice": "#2e86c1", "series": "#1e8449",
    "rate": "#7d3c98", "bar": "#34495e",
}


@dataclass(frozen=True, slots=True)
class Stack:
    """One layer of a stacked column chart."""

    name: str
    color: str
    values: Sequence[int]


def _svg(width: int, height: int, title: str, body: list[str], css: str) -> Markup:
    # title is escaped, body is built from escaped parts
    return Markup(  # noqa: S704  # nosec B704
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11,
          fill: str = "#333") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}" font-family="sans-serif">{escape(text)}</text>')


def _empty(width: int, height: int, title: str, css: str) -> Markup:
    body = [f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" '
            f'stroke="#ccc"/>', _text(width / 2, height / 2, "no data yet", "middle")]
    return _svg(width, height, title, body, f"{css} empty")


def columns(title: str, labels: Sequence[str], stacks: Sequence[Stack], width: int = 720,
            height: int = 220) -> Markup:
    """A stacked column chart with a legend, the maximum on the y axis and sparse x labels."""
    n = len(labels)
    sums = [sum(s.values[i] for s in stacks) for i in range(n)]
    if n == 0 or not any(sums):
        return _empty(width, height, title, "columns")
    top, left, bottom, right = 28, 40, 34, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(sums)
    step = plot_w / n
    bar_w = max(1.0, step * 0.8)
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
            f'stroke="#888"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
            _text(left - 4, top + 4, str(peak), "end"),
            _text(left - 4, top + plot_h, "0", "end")]
    x = float(left)
    for stack in stacks:
        body.append(f'<rect x="{x:.1f}" y="6" width="10" height="10" '
                    f'fill="{escape(stack.color)}"/>')
        body.append(_text(x + 14, 15, stack.name))
        x += 24 + 7 * len(stack.name)
    for i in range(n):
        y = float(top + plot_h)
        cx = left + i * step + (step - bar_w) / 2
        for stack in stacks:
            value = stack.values[i]
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            body.append(f'<rect class="bar" x="{cx:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" fill="{escape(stack.color)}"><title>'
                        f'{escape(labels[i])}: {value} {escape(stack.name)}</title></rect>')
    every = max(1, -(-n // 6))
    for i in range(0, n, every):
        body.append(_text(left + i * step + step / 2, height - 12, labels[i], "middle", 10))
    return _svg(width, height, title, body, "columns")


def hbars(title: str, rows: Sequence[tuple[str, float, str]], width: int = 480,
          percent: bool = False, label_width: int = 150) -> Markup:
    """Horizontal bars: one row per (label, value, color); ``percent`` for 0..1 values."""
    row_h = 22
    height = 8 + row_h * max(1, len(rows))
    if not rows or not any(v for _, v, _ in rows):
        return _empty(width, max(height, 60), title, "hbars")
    peak = 1.0 if percent else max(v for _, v, _ in rows)
    plot_w = width - label_width - 60
    body: list[str] = []
    for i, (label, value, color) in enumerate(rows):
        y = 4 + i * row_h
        w = plot_w * value / peak if peak else 0
        shown = f"{value * 100:.0f}%" if percent else f"{value:g}"
        body.append(_text(label_width - 6, y + 15, label, "end"))
        body.append(f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{w:.1f}" '
                    f'height="{row_h - 6}" fill="{escape(color)}"><title>{escape(label)}: '
                    f'{escape(shown)}</title></rect>')
        body.append(_text(label_width + w + 4, y + 15, shown))
    return _svg(width, height, title, body, "hbars")
