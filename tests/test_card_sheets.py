"""The printable door-card sheet: pages, real CJK text, embedded font, scannable QRs."""

import base64
import hashlib
import io
import math

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import DictionaryObject
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from app.households.sheets import (
    BOLD,
    CARD_H,
    CARD_W,
    COLUMNS,
    HEADER_H,
    PER_PAGE,
    QR_BLOCK,
    QR_EDGE,
    REGULAR,
    ROWS,
    Card,
    render_card_sheet,
)

DPI = 200
LONG_ADDRESS = (
    "马庄村3组 幸福路东段靠近村委会大院北侧第二排从西数第三户 12号院 "
    "Building 7, Unit 2, Room 301, next to the old primary school and the well "
) * 3


def _payload(number: int) -> str:
    # Shaped like a real card URL: a 27-character URL-safe token after /q/.
    digest = hashlib.sha256(b"card %d" % number).digest()[:20]
    token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return f"http://192.168.1.10:5000/q/{token}"


def _cards(count: int, *, address: str = "马庄村3组 幸福路12号") -> list[Card]:
    return [
        Card(
            village_name="马庄村",
            household_code=f"MZ-03-{number:04d}",
            address=address,
            grid_name="西一网格",
            payload=_payload(number),
        )
        for number in range(1, count + 1)
    ]


def _render_page(pdf: bytes, index: int) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[index]
        try:
            return page.render(scale=DPI / 72).to_pil().convert("L")
        finally:
            page.close()
    finally:
        document.close()


def _card_box(slot: int, image: Image.Image) -> tuple[int, int, int, int]:
    """Return the pixel box of a page's slot-th card (rows fill from the top)."""
    page_w, page_h = A4
    scale = image.width / page_w
    left = (page_w - COLUMNS * CARD_W) / 2 + (slot % COLUMNS) * CARD_W
    top = (page_h - ROWS * CARD_H) / 2 + (slot // COLUMNS) * CARD_H
    return (
        round(left * scale),
        round(top * scale),
        round((left + CARD_W) * scale),
        round((top + CARD_H) * scale),
    )


@pytest.mark.parametrize("count", [1, 8, 9, 17])
def test_one_page_per_eight_cards(count):
    reader = PdfReader(io.BytesIO(render_card_sheet(_cards(count))))

    assert len(reader.pages) == math.ceil(count / PER_PAGE)


def test_text_is_real_extractable_chinese():
    cards = _cards(17)
    reader = PdfReader(io.BytesIO(render_card_sheet(cards)))

    text = "".join(page.extract_text() for page in reader.pages)
    for card in cards:
        assert card.household_code in text
    assert text.count("马庄村") >= len(cards)
    assert "西一网格" in text and "绿色积分卡" in text and "扫码查看积分" in text
    # A missing glyph would extract as a replacement or notdef character.
    assert "\ufffd" not in text


def test_every_font_is_embedded():
    reader = PdfReader(io.BytesIO(render_card_sheet(_cards(9))))

    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        assert fonts
        for font in fonts.values():
            font = font.get_object()
            # A composite (Type0) font keeps its outlines in its descendant.
            leaves = [f.get_object() for f in font.get("/DescendantFonts", [font])]
            for leaf in leaves:
                descriptor = leaf["/FontDescriptor"].get_object()
                assert isinstance(descriptor, DictionaryObject)
                assert "/FontFile2" in descriptor, leaf["/BaseFont"]
                assert "NotoSansSC" in leaf["/BaseFont"]


def test_each_qr_decodes_to_its_own_payload():
    cards = _cards(9)
    image = _render_page(render_card_sheet(cards), 0)

    everything = zxingcpp.read_barcodes(image)
    assert sorted(r.text for r in everything) == sorted(c.payload for c in cards[:PER_PAGE])
    for slot, card in enumerate(cards[:PER_PAGE]):
        found = zxingcpp.read_barcodes(image.crop(_card_box(slot, image)))
        assert [(r.format, r.text) for r in found] == [
            (zxingcpp.BarcodeFormat.QRCode, card.payload)
        ]


def test_qr_is_at_least_30_mm():
    image = _render_page(render_card_sheet(_cards(1)), 0)

    (result,) = zxingcpp.read_barcodes(image.crop(_card_box(0, image)))
    corners = result.position
    width_mm = (corners.top_right.x - corners.top_left.x) / DPI * 25.4
    assert width_mm >= 30


def _text_boxes(page) -> list[tuple[str, float, float, float, float]]:
    """Return each line of text on a page as (text, left, right, baseline, top) in points."""
    boxes = []

    def visit(text, cm, tm, font, size):
        text = text.strip()
        if text:
            name = BOLD if "Bold" in font["/BaseFont"] else REGULAR
            x, y = tm[4], tm[5]
            boxes.append((text, x, x + stringWidth(text, name, size), y, y + size))

    page.extract_text(visitor_text=visit)
    return boxes


def test_long_address_keeps_the_layout():
    cards = _cards(3, address=LONG_ADDRESS)
    cards[1] = Card("马庄村" * 8, "MZ-03-0002", LONG_ADDRESS, "西一网格" * 8, _payload(2))
    pdf = render_card_sheet(cards)

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    text = page.extract_text()
    for card in cards:
        assert card.household_code in text
    page_w, page_h = A4
    in_cards = 0
    for line, left, right, baseline, top in _text_boxes(page):
        column = int((left - (page_w - COLUMNS * CARD_W) / 2) // CARD_W)
        row = int((page_h - (page_h - ROWS * CARD_H) / 2 - baseline) // CARD_H)
        if not (0 <= column < COLUMNS and 0 <= row < ROWS):
            continue  # the sheet's title and page number, in the margins
        in_cards += 1
        card_left = (page_w - COLUMNS * CARD_W) / 2 + column * CARD_W
        card_top = page_h - (page_h - ROWS * CARD_H) / 2 - row * CARD_H
        assert card_left + 2 * mm <= left and right <= card_left + CARD_W - 2 * mm, line
        assert card_top - CARD_H + 2 * mm <= baseline and top <= card_top - 2 * mm, line
        if top < card_top - HEADER_H:
            # Under the header, text keeps clear of the QR and its quiet zone.
            assert right <= card_left + CARD_W - QR_EDGE - QR_BLOCK, line
    assert in_cards >= 3 * 6
    image = _render_page(pdf, 0)
    for slot, card in enumerate(cards):
        (result,) = zxingcpp.read_barcodes(image.crop(_card_box(slot, image)))
        assert result.text == card.payload


def test_title_becomes_the_pdf_title():
    pdf = render_card_sheet(_cards(1), title="马庄村 西一网格")

    assert PdfReader(io.BytesIO(pdf)).metadata.title == "马庄村 西一网格"


def test_no_cards_is_an_error():
    with pytest.raises(ValueError):
        render_card_sheet([])
