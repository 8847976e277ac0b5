"""The monthly public board (红黑榜, 村务公开): grids ranked, households praised or to visit.

What goes on a notice board is fit for a door: names are masked here, once, so the
page and the PDF can never show a full name.
"""

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from flask_babel import format_percent
from flask_babel import gettext as _
from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.households.sheets import BOLD, REGULAR, _clip, _register_fonts
from app.masking import mask_name
from app.reports import dashboard
from app.reports.dashboard import Figures, GridFigures, HouseholdFigure
from app.scope import village_today

MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
FIRST_YEAR = 2000
TOP_COUNT = 10
ZERO_TIMES = 3

GREEN = Color(0.09, 0.42, 0.22)
PALE = Color(0.9, 0.95, 0.91)
LINE = Color(0.75, 0.75, 0.75)
GREY = Color(0.35, 0.35, 0.35)


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


# The PDF ---------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=10.5, leading=14, wordWrap="CJK")
    styles = {
        "base": base,
        "title": ParagraphStyle(
            "title", base, fontName=BOLD, fontSize=20, leading=26, textColor=GREEN
        ),
        "lead": ParagraphStyle("lead", base, fontSize=11, leading=16, textColor=GREY),
        "heading": ParagraphStyle(
            "heading",
            base,
            fontName=BOLD,
            fontSize=14,
            leading=18,
            spaceBefore=10,
            spaceAfter=4,
            textColor=GREEN,
        ),
        "head": ParagraphStyle("head", base, fontName=BOLD, textColor=white),
        "num": ParagraphStyle("num", base, alignment=2),
        "muted": ParagraphStyle("muted", base, textColor=GREY),
    }
    for name in ("base", "head", "num"):
        styles[f"{name}-latin"] = ParagraphStyle(f"{name}-latin", styles[name], wordWrap=None)
    return styles


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float],
    numeric: Sequence[int],
    styles: dict[str, ParagraphStyle],
) -> Table:
    """A table with a green header row; text wraps inside its cells."""

    def cell(text: object, column: int, style: str) -> Paragraph:
        if style != "head" and column in numeric:
            style = "num"
        text = str(text)
        # Latin text breaks between words; CJK wrapping would split a word anywhere.
        return Paragraph(escape(text), styles[f"{style}-latin" if text.isascii() else style])

    data = [[cell(text, i, "head") for i, text in enumerate(header)]]
    data += [[cell(text, i, "base") for i, text in enumerate(row)] for row in rows]
    table = Table(data, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("BACKGROUND", (0, 0), (-1, 0), GREEN),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [white, PALE]),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


class _Rows(Flowable):
    """A titled list of one-line rows that may run over hundreds of pages.

    A platypus Table of Paragraphs lays out every cell and re-measures what is left at
    each page break: a village of 25,000 households took a minute. Here every row has
    one height, so a page break is arithmetic, and a row is drawn once, cut short with
    an ellipsis if it is too wide. The column headings repeat at the top of every page.
    """

    TITLE_H = 32  # the section heading's spaceBefore, leading and spaceAfter
    HEAD_H = 20
    ROW_H = 18
    SIZE = 10.5
    PAD = 6
    # The title keeps at least this many rows below it on its page.
    MIN_ROWS = 3

    def __init__(
        self,
        title: str,
        header: Sequence[str],
        rows: Sequence[Sequence[object]],
        widths: Sequence[float],
        numeric: Sequence[int],
        *,
        start: int = 0,
        stop: int | None = None,
        titled: bool = True,
    ):
        super().__init__()
        self.hAlign = "CENTER"
        self.title = title
        self.header = header
        self.rows = rows
        self.widths = widths
        self.numeric = numeric
        self.start = start
        self.stop = len(rows) if stop is None else stop
        self.titled = titled

    def _top(self) -> float:
        return (self.TITLE_H if self.titled else 0) + self.HEAD_H

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = sum(self.widths)
        # Centred like the tables above, which are a little wider than the frame: the
        # title starts where their headings do.
        self.title_x = (self.width - availWidth) / 2
        self.height = self._top() + self.ROW_H * (self.stop - self.start)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        count = self.stop - self.start
        fits = int((availHeight - self._top()) // self.ROW_H)
        if fits >= count:
            return [self]
        if fits < min(self.MIN_ROWS, count):
            return []  # on to the next page, title and all
        # Never leave a row or two alone at the top of the last page: carry more over.
        if count - fits < self.MIN_ROWS and fits - (self.MIN_ROWS - (count - fits)) >= min(
            self.MIN_ROWS, count
        ):
            fits -= self.MIN_ROWS - (count - fits)
        cut = self.start + fits
        return [self._part(self.start, cut, self.titled), self._part(cut, self.stop, False)]

    def _part(self, start: int, stop: int, titled: bool) -> "_Rows":
        return _Rows(
            self.title,
            self.header,
            self.rows,
            self.widths,
            self.numeric,
            start=start,
            stop=stop,
            titled=titled,
        )

    def _cells(self, values: Sequence[object], top: float, font: str) -> None:
        canvas = self.canv
        x = 0.0
        baseline = top - self.ROW_H / 2 - self.SIZE * 0.35
        canvas.setFont(font, self.SIZE)
        for column, (value, width) in enumerate(zip(values, self.widths, strict=True)):
            text = _clip(str(value), font, self.SIZE, width - 2 * self.PAD)
            if column in self.numeric:
                canvas.drawRightString(x + width - self.PAD, baseline, text)
            else:
                canvas.drawString(x + self.PAD, baseline, text)
            x += width

    def draw(self) -> None:
        canvas = self.canv
        top = self.height
        if self.titled:
            canvas.setFillColor(GREEN)
            canvas.setFont(BOLD, 14)
            canvas.drawString(self.title_x, top - 10 - 14, self.title)
            top -= self.TITLE_H
        canvas.setFillColor(GREEN)
        canvas.rect(0, top - self.HEAD_H, self.width, self.HEAD_H, stroke=0, fill=1)
        canvas.setFillColor(white)
        self._cells(self.header, top + (self.ROW_H - self.HEAD_H) / 2, BOLD)
        top -= self.HEAD_H
        canvas.setStrokeColor(LINE)
        canvas.setLineWidth(0.4)
        for index in range(self.start, self.stop):
            if index % 2:
                canvas.setFillColor(PALE)
                canvas.rect(0, top - self.ROW_H, self.width, self.ROW_H, stroke=0, fill=1)
            canvas.setFillColor(black)
            self._cells(self.rows[index], top, REGULAR)
            top -= self.ROW_H
            canvas.line(0, top, self.width, top)


def a4_pdf(
    story: list,
    title: str,
    *,
    bottom_margin: float = 16 * mm,
    on_page: Callable[[Any, Any], None] | None = None,
    **options: Any,
) -> bytes:
    """Lay a story out on A4 pages with the reports' margins; return the PDF's bytes."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=bottom_margin,
        title=title,
        **options,
    )
    if on_page is None:
        document.build(story)
    else:
        document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def _section(title: str, body, styles: dict[str, ParagraphStyle]) -> list:
    # The heading never sits alone at the foot of a page.
    return [KeepTogether([Paragraph(escape(title), styles["heading"]), body])]


def _empty(text: str, styles: dict[str, ParagraphStyle]) -> Paragraph:
    return Paragraph(escape(text), styles["muted"])


def render_board_pdf(board: Board) -> bytes:
    """Return the board as an A4 PDF for the notice board, in the project's CJK font."""
    _register_fonts()
    styles = _styles()
    width = A4[0] - 36 * mm
    title = _("%(village)s · public board %(month)s", village=board.village_name, month=board.month)
    figures = board.figures
    story: list = [
        Paragraph(escape(title), styles["title"]),
        Paragraph(
            escape(
                _(
                    "%(first)s to %(last)s",
                    first=board.first.isoformat(),
                    last=board.last.isoformat(),
                )
            ),
            styles["lead"],
        ),
        Paragraph(
            escape(
                " · ".join(
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
            ),
            styles["lead"],
        ),
        Spacer(1, 4 * mm),
    ]
    grid_w = [0.1 * width, 0.45 * width, 0.25 * width, 0.2 * width]

    def grid_ranking(
        title: str, headers: tuple[str, str], ranked: list[Ranked], figures: tuple[str, str, str]
    ) -> list:
        """A section ranking the grids; figures name what was done, out of what, and the share."""
        if not ranked:
            return _section(title, _empty(_("No grids yet."), styles), styles)
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
        return _section(
            title, _table([_("Rank"), _("Grid"), *headers], rows, grid_w, (0, 2, 3), styles), styles
        )

    story += grid_ranking(
        _("Grids by participation"),
        (_("Households inspected"), _("Participation")),
        board.by_participation,
        ("households_inspected", "households", "participation"),
    )
    story += grid_ranking(
        _("Grids by sorting accuracy"),
        (_("Inspections with points"), _("Accuracy")),
        board.by_accuracy,
        ("inspections_with_points", "inspections", "accuracy"),
    )
    # A masked name beside its door-card code would name the household again: no codes.
    people_w = [0.15 * width, 0.3 * width, 0.35 * width, 0.2 * width]
    story += _section(
        _("Most points earned"),
        _table(
            [_("Rank"), _("Name"), _("Grid"), _("Points")],
            [[h.rank, h.masked_name, h.grid_name, h.value] for h in board.top],
            people_w,
            (0, 3),
            styles,
        )
        if board.top
        else _empty(_("No points were earned this month."), styles),
        styles,
    )
    # These two lists may hold every household of the village.
    heading = _("Not inspected this month")
    if board.never_inspected:
        story.append(
            _Rows(
                heading,
                [_("Name"), _("Grid")],
                [(h.masked_name, h.grid_name) for h in board.never_inspected],
                [0.5 * width, 0.5 * width],
                (),
            )
        )
    else:
        story += _section(
            heading, _empty(_("Every household was inspected this month."), styles), styles
        )
    heading = _("Graded zero points %(n)d times or more", n=ZERO_TIMES)
    if board.often_zero:
        story.append(
            _Rows(
                heading,
                [_("Name"), _("Grid"), _("Zero-point grades")],
                [(h.masked_name, h.grid_name, h.value) for h in board.often_zero],
                [0.35 * width, 0.35 * width, 0.3 * width],
                (2,),
            )
        )
    else:
        story += _section(heading, _empty(_("No household this month."), styles), styles)

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
