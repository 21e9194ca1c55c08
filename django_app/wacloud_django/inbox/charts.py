"""Charts drawn on the server as SVG: no JavaScript and no build step, readable by screen
readers (each chart has a title and a text description), and scaled by the browser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: Colours with at least 3:1 contrast against white, told apart by more than hue (patterns below).
PALETTE = ("#1f6f50", "#2b59c3", "#b45309", "#7c3aed")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 240, 40, 48, 28


def _svg(title: str, summary: str, body: str, height: int = HEIGHT) -> SafeString:
    label = escape(title)
    return mark_safe(  # every text inside is escaped
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title><desc>{escape(summary)}</desc>'
        f'<text x="{LEFT}" y="16" class="chart-title">{label}</text>{body}</svg>'
    )


def _nice_max(values: Sequence[float]) -> float:
    top = max([0, *values])
    if top <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if top <= step * 4:
            return step * 4
    return top


def grouped_bars(labels: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> SafeString:
    """Vertical bars, one group per label, one bar per series."""
    values = [v for row in series.values() for v in row]
    top = _nice_max(values)
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    parts = []
    for tick in range(5):  # gridlines with their values
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">{top * tick / 4:g}</text>'
        )
    every = max(1, len(labels) // 10)  # at most about ten labels under the axis
    for i, label in enumerate(labels):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, (name, row) in enumerate(series.items()):
            value = row[i] if i < len(row) else 0
            h = plot_h * value / top
            x, y = x0 + j * bar_w, TOP + plot_h - h
            tooltip = f"{escape(name)}, {escape(label)}: {value:g}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{tooltip}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x0 + group_w * 0.4:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'class="axis">{escape(label)}</text>'
            )
    for j, name in enumerate(series):  # legend
        x = LEFT + j * 140
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 18}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{x + 16}" y="{HEIGHT - 8}" class="legend">{escape(name)}</text>')
    if not labels:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="empty">No data</text>'
        )
    summary = "; ".join(f"{name}: total {sum(row):g}" for name, row in series.items())
    return _svg(title, summary, "".join(parts))


def horizontal_bars(rows: Sequence[tuple[str, float]], unit: str, title: str) -> SafeString:
    """One horizontal bar per row, its value written beside it."""
    top = _nice_max([value for _, value in rows])
    height = TOP + 26 * len(rows) + 10
    label_w, plot_w = 170, WIDTH - 170 - 70
    parts = []
    for i, (label, value) in enumerate(rows):
        y = TOP + i * 26
        w = plot_w * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="axis">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" fill="{PALETTE[i // 3 % 2]}"/>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="value">{value:g} {escape(unit)}</text>'
        )
    summary = "; ".join(f"{label}: {value:g} {unit}" for label, value in rows)
    return _svg(title, summary, "".join(parts), height)


def funnel(rows: Sequence[tuple[str, int]], title: str) -> SafeString:
    """A funnel: each step as a bar with its count and its share of the first step."""
    first = rows[0][1] if rows else 0
    shaped = []
    for label, value in rows:
        share = f" ({value / first:.0%})" if first else ""
        shaped.append((f"{label}{share}", value))
    return horizontal_bars(shaped, "", title)
