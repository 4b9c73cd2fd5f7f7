"""Small bar charts as SVG, drawn here so the page and the PDF show the same picture.

A suppressed count has no bar (its height would reveal it): it is labelled "<5" instead.
"""

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from server.reports.counts import Count

WIDTH = 640
BAR_AREA = 180
TOP = 30
LABEL_SPACE = 110
LEFT = 70
# Colours as attributes as well as classes: WeasyPrint does not style inline SVG from CSS.
SERIES = (("chart-now", "#2f3e74"), ("chart-before", "#9aa7cf"))
TEXT = 'font-size="11" fill="#1d2433" font-family="DejaVu Sans, sans-serif"'


@dataclass(frozen=True)
class Series:
    name: str
    values: list[Count]


def bar_chart(title: str, labels: list[str], series: list[Series]) -> Markup:
    shown = [c.value for s in series for c in s.values if not c.suppressed]
    top = max(shown, default=0) or 1
    group = (WIDTH - LEFT - 6) / max(len(labels), 1)
    bar = min(28.0, (group - 8) / max(len(series), 1))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {TOP + BAR_AREA + LABEL_SPACE}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        _legend(series),
        f'<line x1="{LEFT - 4}" y1="{TOP + BAR_AREA}" x2="{WIDTH - 6}" y2="{TOP + BAR_AREA}" '
        'class="chart-axis" stroke="#5a6275"/>',
    ]
    for index, label in enumerate(labels):
        left = LEFT + index * group
        for position, one in enumerate(series):
            parts.append(_bar(one.values[index], left + position * bar, bar, top, position))
        centre = left + group / 2 - 4
        parts.append(
            f'<text x="{centre:.1f}" y="{TOP + BAR_AREA + 14}" class="chart-label" {TEXT} '
            f'text-anchor="end" transform="rotate(-35 {centre:.1f} {TOP + BAR_AREA + 14})">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above went through escape)


def _bar(count: Count, x: float, width: float, top: int, position: int) -> str:
    baseline = TOP + BAR_AREA
    if count.suppressed:
        return (
            f'<text x="{x + width / 2:.1f}" y="{baseline - 4}" class="chart-value" {TEXT} '
            f'text-anchor="middle">&lt;5</text>'
        )
    height = BAR_AREA * count.value / top
    css, colour = SERIES[position % 2]
    return (
        f'<rect x="{x:.1f}" y="{baseline - height:.1f}" width="{width - 2:.1f}" '
        f'height="{height:.1f}" class="{css}" fill="{colour}"/>'
        f'<text x="{x + width / 2:.1f}" y="{baseline - height - 3:.1f}" class="chart-value" '
        f'{TEXT} text-anchor="middle">{count.value}</text>'
    )


def _legend(series: list[Series]) -> str:
    items = []
    for position, one in enumerate(series):
        x = LEFT + position * 220
        css, colour = SERIES[position % 2]
        items.append(
            f'<rect x="{x}" y="4" width="12" height="12" class="{css}" fill="{colour}"/>'
            f'<text x="{x + 16}" y="14" class="chart-label" {TEXT}>{escape(one.name)}</text>'
        )
    return "".join(items)
