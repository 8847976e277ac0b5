"""Small charts drawn on the server as SVG: no JavaScript, nothing fetched from elsewhere.

Each chart has a fixed viewBox and stretches to the width of the page; its text is
large enough to read on a phone once scaled down. Every piece of text is escaped.
"""

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 34, 32
FONT = 16
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
COLOURS = ("#1b7f3b", "#c45a00")
# The second series is also dashed, so it reads apart in grey print and for any eye.
DASHES = ("", "6 4")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _text_width(text: str) -> float:
    """Guess the drawn width of text: a CJK character is a full em, Latin about 0.6 em."""
    return sum(FONT if ord(char) >= 0x2E80 else FONT * 0.6 for char in text)


def nice_ceiling(value: int) -> int:
    """Return a round number at least value (1, 2, 5 times a power of ten), never 0."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return max(step * factor, 1)
        step *= 10


def _tick_indexes(count: int, every: int | None) -> list[int]:
    """Return which labels to print under the x axis: every so many, back from the last."""
    every = every or max(1, -(-count // 5))
    return list(range(count - 1, -1, -every))[::-1]


def _open(ident: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="100%" preserveAspectRatio="xMidYMid meet" role="img"'
        f' aria-labelledby="{_e(ident)}-title {_e(ident)}-desc"'
        f' font-family="system-ui, sans-serif" font-size="{FONT}">',
        f'<title id="{_e(ident)}-title">{_e(title)}</title>',
        f'<desc id="{_e(ident)}-desc">{_e(desc)}</desc>',
    ]


def _axes(labels: Sequence[str], top: int, every: int | None) -> list[str]:
    """The horizontal grid lines with their values, and the x labels."""
    parts = []
    for fraction in (0, 0.5, 1):
        y = TOP + PLOT_H * (1 - fraction)
        value = top * fraction
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y)}" y2="{_n(y)}"'
            f' stroke="#d6d6d6" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{_n(y + FONT / 3)}" text-anchor="end"'
            f' fill="#5b5b5b">{_e(_n(value))}</text>'
        )
    slot = PLOT_W / max(len(labels), 1)
    for index in _tick_indexes(len(labels), every):
        x = LEFT + slot * (index + 0.5)
        # The last label ends at the right edge rather than running past it.
        anchor = "end" if index == len(labels) - 1 and len(labels) > 1 else "middle"
        x = WIDTH - RIGHT if anchor == "end" else x
        parts.append(
            f'<text x="{_n(x)}" y="{HEIGHT - 8}" text-anchor="{anchor}"'
            f' fill="#5b5b5b">{_e(labels[index])}</text>'
        )
    return parts


def bar_chart(
    values: Sequence[int],
    labels: Sequence[str],
    *,
    title: str,
    desc: str,
    ident: str,
    names: Sequence[str] | None = None,
    tick_every: int | None = None,
) -> str:
    """Return an SVG bar chart: one bar per label.

    Under the axis goes one label in tick_every (counted back from the last); names,
    the bars' full names for their tooltips, default to the labels.
    """
    if len(values) != len(labels):
        raise ValueError("One value per label.")
    names = names or labels
    top = nice_ceiling(max(values, default=0))
    parts = _open(ident, title, desc) + _axes(labels, top, tick_every)
    slot = PLOT_W / max(len(values), 1)
    width = max(slot * 0.7, 1)
    for index, value in enumerate(values):
        height = PLOT_H * value / top
        x = LEFT + slot * index + (slot - width) / 2
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(TOP + PLOT_H - height)}" width="{_n(width)}"'
            f' height="{_n(height)}" fill="{COLOURS[0]}">'
            f"<title>{_e(names[index])}: {_e(value)}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[tuple[str, Sequence[int]]],
    labels: Sequence[str],
    *,
    title: str,
    desc: str,
    ident: str,
    tick_every: int | None = None,
) -> str:
    """Return an SVG line chart of one or two named series over the same labels."""
    if not 1 <= len(series) <= len(COLOURS):
        raise ValueError(f"One to {len(COLOURS)} series.")
    for _name, values in series:
        if len(values) != len(labels):
            raise ValueError("One value per label in every series.")
    top = nice_ceiling(max((max(values, default=0) for _, values in series), default=0))
    parts = _open(ident, title, desc) + _axes(labels, top, tick_every)
    slot = PLOT_W / max(len(labels), 1)
    legend_x: float = LEFT
    for number, (name, values) in enumerate(series):
        colour, dash = COLOURS[number], DASHES[number]
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        # The legend above the plot: a short stroke of the line, then its name.
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 24}" y1="14" y2="14"'
            f' stroke="{colour}" stroke-width="3"{dashing}/>'
        )
        parts.append(f'<text x="{legend_x + 30}" y="19">{_e(name)}</text>')
        legend_x += 30 + _text_width(name) + 24
        points = [
            (LEFT + slot * (index + 0.5), TOP + PLOT_H * (1 - value / top))
            for index, value in enumerate(values)
        ]
        path = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}"'
            f' stroke-width="2.5" stroke-linejoin="round"{dashing}/>'
        )
        for (x, y), label, value in zip(points, labels, values, strict=True):
            parts.append(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{colour}">'
                f"<title>{_e(name)}, {_e(label)}: {_e(value)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
