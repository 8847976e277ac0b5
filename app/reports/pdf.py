"""A4 reports as PDF in the project's CJK font: styles, tables, long lists, the page.

The public board, the township's board and the settlement are laid out with these.
"""

import io
from collections.abc import Callable, Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)

from app.households.sheets import BOLD, REGULAR, clip_text

GREEN = Color(0.09, 0.42, 0.22)
PALE = Color(0.9, 0.95, 0.91)
LINE = Color(0.75, 0.75, 0.75)
GREY = Color(0.35, 0.35, 0.35)


def paragraph_styles() -> dict[str, ParagraphStyle]:
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


def data_table(
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


class LongList(Flowable):
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

    def _part(self, start: int, stop: int, titled: bool) -> "LongList":
        return LongList(
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
            text = clip_text(str(value), font, self.SIZE, width - 2 * self.PAD)
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


def section(title: str, body, styles: dict[str, ParagraphStyle]) -> list:
    # The heading never sits alone at the foot of a page.
    return [KeepTogether([Paragraph(escape(title), styles["heading"]), body])]


def muted(text: str, styles: dict[str, ParagraphStyle]) -> Paragraph:
    return Paragraph(escape(text), styles["muted"])
