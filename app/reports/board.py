"""The monthly public board (红黑榜, 村务公开): grids ranked, households praised or to visit.

What goes on a notice board is fit for a door: names are masked here, once, so the
page and the PDF can never show a full name.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from flask_babel import format_percent
from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    Paragraph,
    Spacer,
)

from app.households.sheets import REGULAR, register_fonts
from app.masking import mask_name
from app.reports import dashboard
from app.reports.dashboard import Figures, GridFigures, HouseholdFigure
from app.reports.pdf import GREY, LongList, a4_pdf, data_table, muted, paragraph_styles, section
from app.scope import village_today

MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
FIRST_YEAR = 2000
TOP_COUNT = 10
ZERO_TIMES = 3


class BadMonth(ValueError):
    """The month asked for is not YYYY-MM, or has not begun yet."""


@dataclass(frozen=True)
class Listed:
    """A household as the board shows it: code, masked name, grid, its number."""

    code: str
    masked_name: str
    grid_name: str
    value: int
    # Its place on a ranked list: equal points share one.
    rank: int | None = None


@dataclass(frozen=True)
class Ranked:
    """A grid with its place; None when it has nothing to rank by."""

    rank: int | None
    grid: GridFigures


@dataclass(frozen=True)
class Board:
    village_name: str
    month: str
    first: date
    last: date
    figures: Figures
    by_participation: list[Ranked]
    by_accuracy: list[Ranked]
    top: list[Listed]
    never_inspected: list[Listed]
    often_zero: list[Listed]


def current_month(village_id: int) -> str:
    """Return the village's month now, as YYYY-MM."""
    return village_today(village_id).strftime("%Y-%m")


def shift_month(month: str, by: int) -> str:
    """Return the month by months after (or before) month."""
    year, number = int(month[:4]), int(month[5:])
    index = year * 12 + number - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_month(text: str, village_id: int) -> tuple[int, int]:
    """Return (year, month) of YYYY-MM; refuse a malformed month or one not begun yet."""
    match = MONTH.fullmatch(text.strip())
    if not match:
        raise BadMonth(
            _(
                "Give the month as YYYY-MM, for example %(example)s.",
                example=current_month(village_id),
            )
        )
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < FIRST_YEAR:
        raise BadMonth(_("There is no month %(month)s.", month=text.strip()))
    if text.strip() > current_month(village_id):
        raise BadMonth(_("The month %(month)s has not begun yet.", month=text.strip()))
    return year, month


def _rank(grids: Sequence[GridFigures], key: Callable[[GridFigures], float | None]) -> list[Ranked]:
    """Order grids best first; equal values share a place (1, 2, 2, 4)."""
    rated = sorted(
        (g for g in grids if key(g) is not None), key=lambda g: (-(key(g) or 0), g.number)
    )
    ranked: list[Ranked] = []
    for index, grid in enumerate(rated):
        same = ranked and key(ranked[-1].grid) == key(grid)
        ranked.append(Ranked(ranked[-1].rank if same else index + 1, grid))
    # Grids with nothing to measure yet come last, unranked.
    ranked += [Ranked(None, g) for g in grids if key(g) is None]
    return ranked


def _listed(rows: Sequence[HouseholdFigure], *, ranked: bool = False) -> list[Listed]:
    listed: list[Listed] = []
    for index, row in enumerate(rows):
        rank = None
        if ranked:
            same = listed and listed[-1].value == row.value
            rank = listed[-1].rank if same else index + 1
        listed.append(Listed(row.code, mask_name(row.name), row.grid_name, row.value, rank))
    return listed


def build_board(village_id: int, village_name: str, year: int, month: int) -> Board:
    """Gather the month's board for the village."""
    first, last = dashboard.month_bounds(year, month)
    grids = dashboard.grid_figures(village_id, first, last)
    return Board(
        village_name=village_name,
        month=f"{year:04d}-{month:02d}",
        first=first,
        last=last,
        figures=dashboard.figures(village_id, first, last),
        by_participation=_rank(grids, lambda g: g.participation),
        by_accuracy=_rank(grids, lambda g: g.accuracy),
        top=_listed(dashboard.top_earners(village_id, first, last, TOP_COUNT), ranked=True),
        never_inspected=_listed(dashboard.never_inspected(village_id, first, last)),
        often_zero=_listed(dashboard.often_zero(village_id, first, last, ZERO_TIMES)),
    )


def percent(value: float | None) -> str:
    """Return a share as a whole percentage, or a dash when there is nothing to share."""
    return "—" if value is None else format_percent(value, "#,##0%")


def render_board_pdf(board: Board) -> bytes:
    """Return the board as an A4 PDF for the notice board, in the project's CJK font."""
    register_fonts()
    styles = paragraph_styles()
    width = A4[0] - 36 * mm
    title = _("%(village)s · public board %(month)s", village=board.village_name, month=board.month)
    story = [
        *_heading(board, title, styles),
        *_grid_rankings(board, width, styles),
        *_most_points(board, width, styles),
        *_long_lists(board, width, styles),
    ]
    footer = _(
        "Green Points · %(village)s · %(month)s", village=board.village_name, month=board.month
    )

    def on_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 8)
        canvas.setFillColor(GREY)
        canvas.drawString(18 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, str(document.page))
        canvas.restoreState()

    # Starting in our own font keeps a never-used, unembedded Helvetica out of the PDF.
    return a4_pdf(
        story,
        title,
        bottom_margin=18 * mm,
        on_page=on_page,
        author="Green Points",
        creator="Green Points",
        initialFontName=REGULAR,
        pageCompression=1,
    )


def _heading(board: Board, title: str, styles) -> list:
    """The title, the month's days and its four figures in one line."""
    figures = board.figures
    days = _("%(first)s to %(last)s", first=board.first.isoformat(), last=board.last.isoformat())
    line = " · ".join(
        (
            _("Inspections: %(n)d", n=figures.inspections),
            _(
                "Households inspected: %(seen)d of %(total)d (%(rate)s)",
                seen=figures.households_inspected,
                total=figures.households,
                rate=percent(figures.participation),
            ),
            _("Points issued: %(n)d", n=figures.points_issued),
            _("Points redeemed: %(n)d", n=figures.points_redeemed),
        )
    )
    return [
        Paragraph(escape(title), styles["title"]),
        Paragraph(escape(days), styles["lead"]),
        Paragraph(escape(line), styles["lead"]),
        Spacer(1, 4 * mm),
    ]


def _grid_rankings(board: Board, width: float, styles) -> list:
    """The grids ranked by participation, then by sorting accuracy."""
    return [
        *_grid_ranking(
            _("Grids by participation"),
            (_("Households inspected"), _("Participation")),
            board.by_participation,
            ("households_inspected", "households", "participation"),
            width,
            styles,
        ),
        *_grid_ranking(
            _("Grids by sorting accuracy"),
            (_("Inspections with points"), _("Accuracy")),
            board.by_accuracy,
            ("inspections_with_points", "inspections", "accuracy"),
            width,
            styles,
        ),
    ]


def _grid_ranking(
    title: str,
    headers: tuple[str, str],
    ranked: list[Ranked],
    figures: tuple[str, str, str],
    width: float,
    styles,
) -> list:
    """A section ranking the grids; figures name what was done, out of what, and the share."""
    if not ranked:
        return section(title, muted(_("No grids yet."), styles), styles)
    done, total, share = figures
    rows = [
        [
            r.rank or "—",
            r.grid.name,
            f"{getattr(r.grid, done)} / {getattr(r.grid, total)}",
            percent(getattr(r.grid, share)),
        ]
        for r in ranked
    ]
    widths = [0.1 * width, 0.45 * width, 0.25 * width, 0.2 * width]
    return section(
        title, data_table([_("Rank"), _("Grid"), *headers], rows, widths, (0, 2, 3), styles), styles
    )


def _most_points(board: Board, width: float, styles) -> list:
    """The households that earned most; a masked name beside its door-card code would name
    the household again, so no codes."""
    title = _("Most points earned")
    if not board.top:
        return section(title, muted(_("No points were earned this month."), styles), styles)
    rows = [[h.rank, h.masked_name, h.grid_name, h.value] for h in board.top]
    widths = [0.15 * width, 0.3 * width, 0.35 * width, 0.2 * width]
    headers = [_("Rank"), _("Name"), _("Grid"), _("Points")]
    return section(title, data_table(headers, rows, widths, (0, 3), styles), styles)


def _long_lists(board: Board, width: float, styles) -> list:
    """The two lists that may hold every household of the village."""
    story: list = []
    heading = _("Not inspected this month")
    if board.never_inspected:
        names = [(h.masked_name, h.grid_name) for h in board.never_inspected]
        story.append(LongList(heading, [_("Name"), _("Grid")], names, [0.5 * width] * 2, ()))
    else:
        story += section(
            heading, muted(_("Every household was inspected this month."), styles), styles
        )
    heading = _("Graded zero points %(n)d times or more", n=ZERO_TIMES)
    if board.often_zero:
        rows = [(h.masked_name, h.grid_name, h.value) for h in board.often_zero]
        headers = [_("Name"), _("Grid"), _("Zero-point grades")]
        widths = [0.35 * width, 0.35 * width, 0.3 * width]
        story.append(LongList(heading, headers, rows, widths, (2,)))
    else:
        story += section(heading, muted(_("No household this month."), styles), styles)
    return story
