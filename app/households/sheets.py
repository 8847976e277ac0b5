"""Printable door cards: an A4 sheet of eight QR cards, ready to cut and laminate."""

import functools
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from app.households.cards import qr_rows

FONT_DIR = Path(__file__).parent / "fonts"
REGULAR = "NotoSansSC"
BOLD = "NotoSansSC-Bold"

COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
CARD_W, CARD_H = 90 * mm, 60 * mm
PAD = 4 * mm
HEADER_H = 11 * mm
# The QR with its quiet zone. The symbol itself is then never under 30 mm (the
# smallest, version 1, is 21 of 29 modules), large enough to read off a worn card.
QR_BLOCK = 42 * mm
# Keeps the quiet zone inside the card when the cut wanders a little.
QR_EDGE = 1.5 * mm
TEXT_W = CARD_W - PAD - QR_BLOCK - QR_EDGE - 1 * mm
SCAN_ZH = "扫码查看积分"
SCAN_EN = "Scan to see your points"

GREEN = Color(0.09, 0.42, 0.22)
GREY = Color(0.35, 0.35, 0.35)
GUIDE = Color(0.6, 0.6, 0.6)
_DARK_RUN = re.compile("1+")


@dataclass(frozen=True)
class Card:
    """What one door card shows."""

    village_name: str  # 马庄村
    household_code: str  # MZ-03-0127
    address: str  # 马庄村3组 幸福路12号
    grid_name: str  # 西一网格
    payload: str  # the URL the QR encodes: <BASE_URL>/q/<token>
    version: int = 1  # a reissued card says so: v2, v3...


@functools.cache
def register_fonts() -> None:
    # Parsing a 10 MB font takes a while: do it once per process, not per sheet.
    pdfmetrics.registerFont(TTFont(REGULAR, FONT_DIR / "NotoSansSC_400Regular.ttf"))
    pdfmetrics.registerFont(TTFont(BOLD, FONT_DIR / "NotoSansSC_700Bold.ttf"))


def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def _fit_size(text: str, font: str, size: float, width: float, smallest: float) -> float:
    """Return the largest size up to size at which text fits width, but not below smallest."""
    while size > smallest and _width(text, font, size) > width:
        size -= 0.5
    return size


def clip_text(text: str, font: str, size: float, width: float) -> str:
    """Return text cut short with an ellipsis so that it fits width."""
    if _width(text, font, size) <= width:
        return text
    while text and _width(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _tokens(text: str) -> list[str]:
    """Split text into breakable pieces: each CJK character, or a Latin word with its space."""
    pieces: list[str] = []
    for char in text:
        if char.isascii() and pieces and pieces[-1][-1].isascii() and pieces[-1][-1] != " ":
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Return text broken into lines that each fit width."""
    lines: list[str] = []
    line = ""
    for piece in _tokens(" ".join(text.split())):
        if _width(line + piece, font, size) <= width:
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = "" if piece == " " else piece
        # A Latin word wider than the whole line is broken anywhere.
        while _width(line, font, size) > width:
            cut = len(line) - 1
            while cut > 1 and _width(line[:cut], font, size) > width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _draw_qr(canvas: Canvas, payload: str, x: float, y: float, side: float) -> None:
    """Draw the QR of payload, quiet zone included, as one vector path in a side x side square."""
    rows = qr_rows(payload)
    module = side / len(rows)
    canvas.setFillColor(white)
    canvas.rect(x, y, side, side, stroke=0, fill=1)
    # One path of row runs: touching modules then render without hairline seams. Written
    # as PDF operators in module units, since reportlab's path objects format every
    # number in Python: seconds on a sheet of MAX_CARDS.
    runs = [
        f"{run.start()} {index} {run.end() - run.start()} 1 re"
        for index, row in enumerate(rows)
        for run in _DARK_RUN.finditer(row)
    ]
    canvas.saveState()
    # Module (column, row) at (x + column * module, y + side - row * module): rows downwards.
    canvas.transform(module, 0, 0, -module, x, y + side)
    canvas.setFillColor(black)
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()


def _draw_card(canvas: Canvas, card: Card, x: float, y: float) -> None:
    """Draw one card with its lower-left corner at (x, y)."""
    top = y + CARD_H
    inner_w = CARD_W - 2 * PAD

    # Header: village name, then the card's name on the right.
    label_size = 9
    # A reissued card carries its version, so the old and the new card are told apart.
    label = "绿色积分卡" if card.version <= 1 else f"绿色积分卡 v{card.version}"
    label_w = _width(label, REGULAR, label_size)
    village_w = inner_w - label_w - 3 * mm
    village_size = _fit_size(card.village_name, BOLD, 12, village_w, 8)
    baseline = top - PAD - 4 * mm
    canvas.setFillColor(GREEN)
    canvas.setFont(BOLD, village_size)
    canvas.drawString(
        x + PAD, baseline, clip_text(card.village_name, BOLD, village_size, village_w)
    )
    canvas.setFont(REGULAR, label_size)
    canvas.drawRightString(x + CARD_W - PAD, baseline, label)
    canvas.setStrokeColor(GREEN)
    canvas.setLineWidth(0.6)
    rule_y = top - HEADER_H
    canvas.line(x + PAD, rule_y, x + CARD_W - PAD, rule_y)

    # The QR sits on the right, centred in the space under the header.
    qr_x = x + CARD_W - QR_EDGE - QR_BLOCK
    qr_y = y + (CARD_H - HEADER_H - QR_BLOCK) / 2
    _draw_qr(canvas, card.payload, qr_x, qr_y, QR_BLOCK)

    # Left column: code, grid, address, and the scan hint at the bottom.
    left = x + PAD
    code_size = _fit_size(card.household_code, BOLD, 20, TEXT_W, 9)
    cursor = rule_y - 3 * mm - code_size * 0.75
    canvas.setFillColor(black)
    canvas.setFont(BOLD, code_size)
    canvas.drawString(left, cursor, clip_text(card.household_code, BOLD, code_size, TEXT_W))

    grid_size = _fit_size(card.grid_name, REGULAR, 10, TEXT_W, 7)
    cursor -= 2.5 * mm + grid_size * 0.75
    canvas.setFont(REGULAR, grid_size)
    canvas.drawString(left, cursor, clip_text(card.grid_name, REGULAR, grid_size, TEXT_W))

    hint_size = 6.5
    hint_top = y + PAD + 2 * hint_size * 1.2
    _draw_address(canvas, card.address, left, cursor - 2 * mm, hint_top + 1.5 * mm)

    canvas.setFillColor(GREY)
    canvas.setFont(REGULAR, hint_size + 1)
    canvas.drawString(left, y + PAD + hint_size * 1.25, SCAN_ZH)
    canvas.setFont(REGULAR, hint_size)
    canvas.drawString(left, y + PAD, SCAN_EN)


def _draw_address(canvas: Canvas, address: str, left: float, top: float, bottom: float) -> None:
    """Draw the address wrapped between top and bottom, shrinking it before cutting it short."""
    for size in (9, 8.5, 8, 7.5, 7, 6.5):
        leading = size * 1.25
        lines = _wrap(address, REGULAR, size, TEXT_W)
        if len(lines) * leading <= top - bottom:
            break
    fitting = max(1, int((top - bottom) // leading))
    if len(lines) > fitting:
        lines = lines[:fitting]
        lines[-1] = clip_text(lines[-1] + "…", REGULAR, size, TEXT_W)
    canvas.setFillColor(black)
    canvas.setFont(REGULAR, size)
    baseline = top - size * 0.9
    for line in lines:
        canvas.drawString(left, baseline, line)
        baseline -= leading


def _draw_guides(canvas: Canvas, origin_x: float, origin_y: float) -> None:
    """Draw dashed cutting lines along every card edge, running into the margins."""
    overrun = 8 * mm
    canvas.setStrokeColor(GUIDE)
    canvas.setLineWidth(0.4)
    canvas.setDash(3, 2)
    for column in range(COLUMNS + 1):
        gx = origin_x + column * CARD_W
        canvas.line(gx, origin_y - overrun, gx, origin_y + ROWS * CARD_H + overrun)
    for row in range(ROWS + 1):
        gy = origin_y + row * CARD_H
        canvas.line(origin_x - overrun, gy, origin_x + COLUMNS * CARD_W + overrun, gy)
    canvas.setDash()


def render_card_sheet(
    cards: Sequence[Card], *, title: str | None = None, address: str | None = None
) -> bytes:
    """Return an A4 PDF of the cards, eight to a page, with dashed cutting guides.

    address, when given, is printed on every page's margin: the address the QR
    codes encode, so that a sheet made with a wrong one is noticed before cutting.
    """
    if not cards:
        raise ValueError("No cards to print.")
    register_fonts()
    page_w, page_h = A4
    origin_x = (page_w - COLUMNS * CARD_W) / 2
    origin_y = (page_h - ROWS * CARD_H) / 2
    pages = math.ceil(len(cards) / PER_PAGE)

    buffer = io.BytesIO()
    # Starting in our own font keeps a never-used, unembedded Helvetica out of the PDF.
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=REGULAR)
    if title:
        canvas.setTitle(title)
    canvas.setAuthor("Green Points")
    canvas.setCreator("Green Points")
    for page in range(pages):
        chunk = cards[page * PER_PAGE : (page + 1) * PER_PAGE]
        for index, card in enumerate(chunk):
            column, row = index % COLUMNS, index // COLUMNS
            # Rows fill from the top of the page, as a person reads the sheet.
            x = origin_x + column * CARD_W
            y = origin_y + (ROWS - 1 - row) * CARD_H
            _draw_card(canvas, card, x, y)
        _draw_guides(canvas, origin_x, origin_y)
        canvas.setFillColor(GREY)
        canvas.setFont(REGULAR, 8)
        if title:
            canvas.drawString(
                origin_x,
                page_h - origin_y + 12 * mm,
                clip_text(title, REGULAR, 8, COLUMNS * CARD_W),
            )
        canvas.drawRightString(
            origin_x + COLUMNS * CARD_W, origin_y - 14 * mm, f"{page + 1} / {pages}"
        )
        if address:
            margin = f"二维码地址 QR address: {address}"
            canvas.drawString(
                origin_x,
                origin_y - 14 * mm,
                clip_text(margin, REGULAR, 8, COLUMNS * CARD_W - 20 * mm),
            )
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
