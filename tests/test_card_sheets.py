"""Door-card sheets: the printable PDF, through the API, `flask households cards` and the page."""

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
from testsupport import (
    admin_client_in_chinese,  # noqa: F401 (the office fixture)
    assert_problem,
    pdf_text,
)

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
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


# The sheet: pages, text, fonts, QR codes -----------------------------------------------


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


# Through the API -----------------------------------------------------------------------


def test_cards_pdf_of_a_grid_holds_every_code_of_the_grid(client, admin_headers, roster, grids):
    east, west = grids

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": east.id}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data)
    for code in ("MZ-01-0001", "MZ-01-0002", "MZ-01-0003"):
        assert code in text
    assert "MZ-02-0001" not in text


def test_cards_pdf_of_chosen_households(client, admin_headers, roster):
    ids = f"{roster[0].id},{roster[3].id}"

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"ids": ids}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "MZ-01-0001" in text and "MZ-02-0001" in text
    assert "MZ-01-0002" not in text


def test_cards_pdf_leaves_out_moved_households(client, admin_headers, patch, roster, grids):
    patch(roster[1], {"status": "moved"})

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": grids[0].id}, headers=admin_headers
    )

    text = pdf_text(response.data)
    assert "MZ-01-0001" in text and "MZ-01-0003" in text
    assert "MZ-01-0002" not in text


@pytest.mark.parametrize("query", [{}, {"ids": "1,x"}, {"grid_id": "east"}])
def test_cards_pdf_needs_a_grid_or_ids(client, admin_headers, roster, query):
    response = client.get("/api/v1/households/cards.pdf", query_string=query, headers=admin_headers)

    assert_problem(response, 422, "validation_error")


def test_cards_pdf_of_an_empty_grid_is_422(client, admin_headers, make_grid):
    empty = make_grid("空网格")

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": empty.id}, headers=admin_headers
    )

    assert_problem(response, 422, "validation_error")


def test_cards_pdf_never_prints_another_villages_households(
    client, make_user, token_for, other_village, roster, grids
):
    headers = token_for(make_user(ADMIN, of=other_village))

    by_grid = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": grids[0].id}, headers=headers
    )
    by_ids = client.get(
        "/api/v1/households/cards.pdf", query_string={"ids": str(roster[0].id)}, headers=headers
    )

    assert_problem(by_grid, 404, "not_found")
    assert "ids" in assert_problem(by_ids, 422, "validation_error")["errors"]
    assert "马秀英" not in by_ids.get_data(as_text=True)


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER])
def test_only_the_admin_prints_cards(client, make_user, token_for, roster, grids, role):
    response = client.get(
        "/api/v1/households/cards.pdf",
        query_string={"grid_id": grids[0].id},
        headers=token_for(make_user(role)),
    )

    assert_problem(response, 403, "forbidden")


# flask households cards ----------------------------------------------------------------


def test_flask_households_cards_writes_the_grids_pdf(runner, roster, tmp_path):
    output = tmp_path / "cards.pdf"

    result = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(output)])

    assert result.exit_code == 0, result.output
    assert str(output) in result.output
    text = pdf_text(output.read_bytes())
    assert all(code in text for code in ("MZ-01-0001", "MZ-01-0002", "MZ-01-0003"))
    assert "MZ-02-0001" not in text


def test_flask_households_cards_names_the_village_when_there_are_several(
    runner, roster, make_household, other_village, tmp_path
):
    make_household(of=other_village, name="李四")
    output = tmp_path / "cards.pdf"

    unnamed = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(output)])
    named = runner.invoke(
        args=["households", "cards", "--village", "LZ", "--grid", "1", "-o", str(output)]
    )

    assert unnamed.exit_code != 0
    assert "--village" in unnamed.output
    assert "Traceback" not in unnamed.output
    assert named.exit_code == 0, named.output
    text = pdf_text(output.read_bytes())
    assert "LZ-01-0001" in text
    assert "MZ-01-0001" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "9"], "no grid 9"),
        (["--village", "XX", "--grid", "1"], "XX"),
        ([], "grid"),
    ],
)
def test_flask_households_cards_fails_readably(runner, roster, tmp_path, args, message):
    output = tmp_path / "cards.pdf"

    result = runner.invoke(args=["households", "cards", *args, "-o", str(output)])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not output.exists()


def test_flask_households_cards_needs_base_url(app, runner, roster, tmp_path):
    app.config["BASE_URL"] = None
    output = tmp_path / "cards.pdf"

    result = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(output)])

    assert result.exit_code != 0
    assert "BASE_URL" in result.output
    assert "Traceback" not in result.output
    assert not output.exists()


def test_the_api_and_the_command_line_refuse_a_loopback_address_too(
    app, client, admin_headers, runner, roster, grids, tmp_path
):
    app.config["BASE_URL"] = "http://127.0.0.1:5000"

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": grids[0].id}, headers=admin_headers
    )
    result = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(tmp_path / "c")])

    assert "BASE_URL" in assert_problem(response, 422, "validation_error")["detail"]
    assert result.exit_code != 0 and "BASE_URL" in result.output


# The cards page ------------------------------------------------------------------------


def test_cards_page_offers_the_grids_and_prints_a_pdf(admin_client, roster, grids):
    page = admin_client.get("/admin/cards")

    assert page.status_code == 200
    assert "东一网格" in page.text and "西一网格" in page.text
    response = admin_client.get("/admin/cards.pdf", query_string={"grid_id": grids[1].id})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "MZ-02-0001" in text and "MZ-02-0002" in text
    assert "MZ-01-0001" not in text


def test_cards_pdf_page_without_a_grid_is_a_friendly_error(admin_client, roster):
    response = admin_client.get("/admin/cards.pdf")

    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "base_url", [None, "", "http://127.0.0.1:5000", "http://localhost:5000", "http://0.0.0.0"]
)
def test_cards_are_not_printed_without_a_reachable_base_url(app, office, roster, grids, base_url):
    app.config["BASE_URL"] = base_url

    page = office.get("/admin/cards")
    pdf = office.get("/admin/cards.pdf", query_string={"grid_id": grids[0].id})

    assert "不能打印积分卡" in page.text and "BASE_URL=http://192.168.1.10:5000" in page.text
    assert "data-print-cards" not in page.text
    assert pdf.status_code == 422
    assert pdf.mimetype == "text/html"
    assert "不能打印积分卡" in pdf.text


def test_a_private_address_prints_with_a_plain_warning(app, office, roster, grids):
    app.config["BASE_URL"] = "http://192.168.1.10:5000"

    page = office.get("/admin/cards")
    pdf = office.get("/admin/cards.pdf", query_string={"grid_id": grids[0].id})

    assert "只有连着村里网络" in page.text
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "http://192.168.1.10:5000" in pdf_text(pdf.data)


def test_every_sheet_says_on_its_margin_which_address_it_encodes(office, make_household, grids):
    for number in range(9):  # two pages
        make_household(name=f"住户{number}", address=f"幸福路{number}号")

    response = office.get("/admin/cards.pdf", query_string={"grid_id": grids[0].id})

    pages = pdf_text(response.data).split("二维码地址")
    assert len(pages) == 3
    assert pdf_text(response.data).count("QR address: http://greenpoints.test") == 2
    assert "只有连着村里网络" not in office.get("/admin/cards").text


def test_a_reissued_card_carries_its_version_and_prints_alone(
    client, admin_headers, office, roster, grids
):
    lost = roster[1]
    client.post(
        f"/api/v1/households/{lost.id}/qr/reissue",
        json={"reason": "丢失"},
        headers=admin_headers,
    )

    alone = office.get("/admin/cards.pdf", query_string={"reissued": "1"})
    in_grid = office.get("/admin/cards.pdf", query_string={"grid_id": grids[0].id, "reissued": "1"})
    none = office.get("/admin/cards.pdf", query_string={"grid_id": grids[1].id, "reissued": "1"})

    text = pdf_text(alone.data)
    assert alone.status_code == 200
    assert lost.code in text and "v2" in text
    assert roster[0].code not in text and roster[2].code not in text
    assert pdf_text(in_grid.data).count("绿色积分卡 v2") == 1
    assert none.status_code == 422
    assert "v2" not in pdf_text(
        office.get("/admin/cards.pdf", query_string={"id": roster[0].id}).data
    )
