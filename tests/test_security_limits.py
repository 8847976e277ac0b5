"""Limits found by the black-box probe of issue 14: bombs, races, big PDFs, big photos, the door.

Each test runs on SQLite and on PostgreSQL.
"""

import functools
import io
import random
import re
import struct
import zipfile
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, insert, select
from testsupport import (
    ROSTER_HEADER,
    assert_problem,
    csrf_token,
    csv_upload,
    household_count,
    inspection_rows,
    key_of,
    log_in,
    run_at_once,
)

from app.db import db
from app.households.cards import card_payload, make_token
from app.households.models import Household
from app.households.printing import MAX_CARDS
from app.households.roster_file import MAX_COLUMNS
from app.ledger.services import adjust, open_household_accounts
from app.villages.services import create_grid

pytestmark = pytest.mark.usefixtures("photo_folder")

IMPORT = "/api/v1/households/import"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Rosters: decompression bombs and rows too wide ---------------------------------------------


ROSTER_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
    ),
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>户主姓名</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>地址</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>网格</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>0</v></c>'
        '<c r="B2" t="inlineStr"><is><t>幸福路8号</t></is></c>'
        '<c r="C2" t="inlineStr"><is><t>1</t></is></c></row>'
        "</sheetData></worksheet>"
    ),
}


def xlsx_with_shared_string(unpacked_bytes: int) -> bytes:
    """An XLSX whose one shared string unpacks to unpacked_bytes: a few KB on the wire.

    Written in 1 MB chunks, so the test never holds the unpacked text.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in ROSTER_PARTS.items():
            archive.writestr(name, text)
        head = (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'count="1" uniqueCount="1"><si><t>'
        )
        tail = b"</t></si></sst>"
        chunk = b"A" * (1024 * 1024)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            member.write(head)
            left = unpacked_bytes - len(head) - len(tail)
            while left > 0:
                member.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
            member.write(tail)
    return buffer.getvalue()


def xlsx_of_one_long_string(length: int, rows: int) -> bytes:
    """The probe's workbook: one shared string of length characters fills the name and the
    address of every row (a header, then rows - 1 households).

    The string is random a and b, one bit a character, so it packs only about 8 to one,
    well under the archive's ratio check.
    """
    bits = int.from_bytes(random.Random(34).randbytes(length // 8 + 1), "big") | 1 << length
    text = bin(bits)[3 : length + 3].translate(str.maketrans("01", "ab"))
    cells = "".join(
        f'<row r="{n}"><c t="s"><v>0</v></c><c t="s"><v>0</v></c><c><v>1</v></c></row>'
        for n in range(2, rows + 1)
    )
    parts = {
        **ROSTER_PARTS,
        "xl/worksheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData><row><c t="inlineStr"><is><t>户主姓名</t></is></c>'
            '<c t="inlineStr"><is><t>地址</t></is></c>'
            '<c t="inlineStr"><is><t>网格</t></is></c></row>'
            f"{cells}</sheetData></worksheet>"
        ),
        "xl/sharedStrings.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{2 * (rows - 1)}" uniqueCount="1"><si><t>{text}</t></si></sst>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, part in parts.items():
            archive.writestr(name, part)
    return buffer.getvalue()


def xlsx_upload(data: bytes) -> dict:
    return {"file": (io.BytesIO(data), "roster.xlsx", XLSX_TYPE)}


@pytest.mark.parametrize(
    "unpacked",
    [
        60 * 1024 * 1024,  # more than any roster unpacks to
        5 * 1024 * 1024,  # little, but packed a thousand to one: filler
    ],
)
def test_an_xlsx_that_unpacks_huge_is_refused_before_it_is_read(
    client, admin_headers, grid, unpacked
):
    bomb = xlsx_with_shared_string(unpacked)
    assert len(bomb) < 100_000

    response = client.post(IMPORT, headers=admin_headers, data=xlsx_upload(bomb))

    body = assert_problem(response, 422, "validation_error")
    [message] = body["errors"]["file"]
    assert "unpacks to more than 50 MB" in message
    assert "rows" not in body["errors"]
    assert household_count() == 0


def test_the_import_page_says_why_a_bomb_is_refused_in_chinese(client, admin, grid):
    log_in(client, "admin")
    bomb = xlsx_with_shared_string(60 * 1024 * 1024)

    response = client.post(
        "/admin/households/import",
        data={**xlsx_upload(bomb), "csrf_token": csrf_token(client)},
    )

    assert response.status_code == 422
    assert "解压后超过 50 MB" in response.text
    assert household_count() == 0


def test_a_million_character_shared_string_is_refused_at_its_first_cell(
    client, admin_headers, grid
):
    """The probe's workbook: one string of 1,000,000 characters is the name and the address
    of 19,999 rows. Checked row by row it took 20 to 30 s to refuse; its first cell's
    length refuses it now (about 0.3 s on a 2-core machine)."""
    bomb = xlsx_of_one_long_string(1_000_000, 20_000)
    assert len(bomb) < 250_000

    response = client.post(IMPORT, headers=admin_headers, data=xlsx_upload(bomb))

    body = assert_problem(response, 422, "validation_error")
    [message] = body["errors"]["file"]
    assert message.startswith("Row 2, column A has 1000000 characters")
    assert "rows" not in body["errors"]
    assert household_count() == 0


def test_the_import_page_names_the_cell_that_is_too_long_in_chinese(client, admin, grid):
    log_in(client, "admin")

    response = client.post(
        "/admin/households/import",
        data={
            **xlsx_upload(xlsx_of_one_long_string(1_000_000, 20_000)),
            "csrf_token": csrf_token(client),
        },
    )

    assert response.status_code == 422
    assert "第 2 行 A 列有 1000000 个字符" in response.text
    assert household_count() == 0


def test_an_ignored_column_may_hold_a_long_note_but_not_an_endless_one(client, admin_headers, grid):
    header = "户主姓名,地址,网格,备注"
    fine = client.post(
        IMPORT, headers=admin_headers, data=csv_upload(header, "马秀英,幸福路8号,1," + "注" * 900)
    )
    assert fine.status_code == 201, fine.get_data(as_text=True)

    endless = client.post(
        IMPORT, headers=admin_headers, data=csv_upload(header, "王建国,和平路2号,1," + "注" * 5000)
    )

    body = assert_problem(endless, 422, "validation_error")
    assert body["errors"]["file"][0].startswith("Row 2, column D has 5000 characters")
    assert household_count() == 1


def test_a_csv_row_with_a_value_past_the_column_limit_is_refused(client, admin_headers, grid):
    wide = ["马秀英", "幸福路8号", "1"] + [""] * (MAX_COLUMNS - 3) + ["stray"]
    response = client.post(
        IMPORT, headers=admin_headers, data=csv_upload("户主姓名,地址,网格", ",".join(wide))
    )

    body = assert_problem(response, 422, "validation_error")
    [message] = body["errors"]["file"]
    assert f"Row 2 has something in column {MAX_COLUMNS + 1}" in message
    assert household_count() == 0


def test_trailing_empty_csv_columns_are_no_problem(client, admin_headers, grid):
    response = client.post(
        IMPORT,
        headers=admin_headers,
        data=csv_upload("户主姓名,地址,网格" + "," * 200, "马秀英,幸福路8号,1" + "," * 200),
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert household_count() == 1


def test_an_xlsx_row_reaching_the_last_column_is_refused(client, admin_headers, grid):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["户主姓名", "地址", "网格"])
    for row in range(2, 202):
        sheet.cell(row=row, column=1, value=f"户主{row}")
        sheet.cell(row=row, column=2, value=f"幸福路{row}号")
        sheet.cell(row=row, column=3, value=1)
        # Column XFD, the last: openpyxl pads such a row out to 16,384 cells.
        sheet.cell(row=row, column=MAX_COLUMNS + 1, value="x")
        sheet.cell(row=row, column=16_384, value="x")
    buffer = io.BytesIO()
    book.save(buffer)

    response = client.post(IMPORT, headers=admin_headers, data=xlsx_upload(buffer.getvalue()))

    body = assert_problem(response, 422, "validation_error")
    assert f"column {MAX_COLUMNS + 1}" in body["errors"]["file"][0]
    assert household_count() == 0


# Rosters: the same file at once, a form sent twice ----------------------------------------------


def fifty_rows() -> bytes:
    lines = [ROSTER_HEADER] + [f"户主{n},幸福路{n}号,东一网格,," for n in range(1, 51)]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_the_same_roster_imported_five_times_at_once_adds_fifty(app, admin_headers, grid):
    data = fifty_rows()

    def send(_index):
        response = app.test_client().post(
            IMPORT, headers=admin_headers, data={"file": (io.BytesIO(data), "roster.csv")}
        )
        return response.status_code

    outcomes = Counter(run_at_once(app, 5, send))

    db.session.rollback()  # read what the workers wrote
    assert household_count() == 50
    # The first adds the 50; the others find them all in the village and skip them.
    assert outcomes == {201: 5}
    names = db.session.scalars(select(Household.name)).all()
    assert len(set(names)) == 50


def test_a_resent_import_form_imports_once(client, admin, grid):
    log_in(client, "admin", english=True)
    key = key_of(client.get("/admin/households/import"))

    def send():
        return client.post(
            "/admin/households/import",
            data={
                "file": (io.BytesIO(fifty_rows()), "roster.csv"),
                "key": key,
                "csrf_token": csrf_token(client),
            },
        )

    first, again = send(), send()

    # The first answer is the report itself; the resent form gets the kept redirect to it.
    assert first.status_code == 200 and "50 households imported" in first.text
    assert again.status_code == 302
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert household_count() == 50
    shown = client.get(again.headers["Location"])
    assert "50 households imported" in shown.text


def test_the_form_key_with_another_file_is_refused_on_the_page(client, admin, grid):
    log_in(client, "admin", english=True)
    key = key_of(client.get("/admin/households/import"))
    client.post(
        "/admin/households/import",
        data={
            **csv_upload(ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,"),
            "key": key,
            "csrf_token": csrf_token(client),
        },
    )

    other = client.post(
        "/admin/households/import",
        data={
            **csv_upload(ROSTER_HEADER, "王建国,和平路12号,东一网格,,"),
            "key": key,
            "csrf_token": csrf_token(client),
        },
    )

    assert other.status_code == 422
    assert "already sent with other values" in other.text
    assert household_count() == 1


# Printing at the documented limits -----------------------------------------------------------


def decoded_cards(pdf: bytes, page_index: int) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[page_index].render(scale=2).to_pil().convert("L")
    finally:
        document.close()
    return sorted(found.text for found in zxingcpp.read_barcodes(image))


def page_texts(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def add_households(village, grid, count: int, *, start: int = 1) -> list[int]:
    """Insert households straight into the table (with their accounts): fast at scale."""
    rows = [
        {
            "village_id": village.id,
            "grid_id": grid.id,
            "code": f"{village.code}-{grid.number:02d}-{n:05d}",
            "name": f"户主{n}",
            "address": f"幸福路{n}号",
            "status": "active",
            "card_version": 1,
            # Registered before this month: the board lists them as not inspected.
            "created_at": datetime.now(UTC) - timedelta(days=40),
        }
        for n in range(start, start + count)
    ]
    ids = list(db.session.scalars(insert(Household).returning(Household.id), rows))
    open_household_accounts(village.id, ids)
    db.session.commit()
    return ids


def test_the_cards_of_a_grid_at_the_limit_print(client, admin_headers, village, grid):
    add_households(village, grid, MAX_CARDS)

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": grid.id}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.data
    assert len(PdfReader(io.BytesIO(pdf)).pages) == MAX_CARDS // 8
    households = db.session.scalars(select(Household).order_by(Household.code)).all()
    with client.application.test_request_context():
        payloads = [card_payload(h) for h in households]
    assert decoded_cards(pdf, 0) == sorted(payloads[:8])
    assert decoded_cards(pdf, MAX_CARDS // 8 - 1) == sorted(payloads[-8:])


BOARD_HOUSEHOLDS = 25_000
# A page holds this many households of a long list at least (the old tables held 34).
ROWS_A_PAGE = 38


def test_the_board_of_a_village_of_25000_households_prints(client, admin, village, grid):
    second = create_grid(village.id, "西一网格")
    db.session.commit()
    add_households(village, grid, BOARD_HOUSEHOLDS // 2)
    add_households(village, second, BOARD_HOUSEHOLDS // 2, start=BOARD_HOUSEHOLDS)
    assert db.session.scalar(select(func.count(Household.id))) == BOARD_HOUSEHOLDS
    log_in(client, "admin", english=True)

    response = client.get("/admin/board.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    texts = page_texts(response.data)
    pages = len(texts)
    assert pages == len(PdfReader(io.BytesIO(response.data)).pages)
    assert pages <= BOARD_HOUSEHOLDS // ROWS_A_PAGE + 3
    rows = 0
    for number, text in enumerate(texts, start=1):
        # Each page's footer (drawn first) names it: none is missing or repeated.
        footer = re.match(r"Green Points · 马庄村 · \d{4}-\d{2}\s+(\d+)\s", text)
        assert footer is not None and footer.group(1) == str(number), text[:80]
        # The board names no door-card code, only the masked name (户主123 -> 户***3).
        assert not re.search(r"MZ-0[12]-\d{5}", text)
        rows += len(re.findall(r"户\*+\d", text))
    assert rows == BOARD_HOUSEHOLDS
    assert any("Not inspected this month" in text for text in texts)


# Photos: pixels, not bytes ------------------------------------------------------------------


def huge_png(side: int = 6300) -> bytes:
    """A PNG of side x side pixels that is small on the wire (one bit a pixel)."""
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_photo_of_too_many_pixels_is_refused_by_the_api(
    client, inspect, household, inspector_headers, photo_folder
):
    created = inspect(household, "A").json
    data = huge_png()
    assert len(data) < 200_000

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"photo": (io.BytesIO(data), "photo.png", "image/png")},
        headers=inspector_headers,
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]["photo"] == ["Too many pixels."]
    assert "6300 x 6300" in body["detail"]
    assert not photo_folder.exists() or not any(photo_folder.iterdir())


def grade_with_photo(client, household, png: bytes):
    """The inspector grades the household with this picture as its photo, on the page."""
    log_in(client, "inspector")
    form = client.get(f"/inspect/household/{household.id}")
    return client.post(
        f"/inspect/household/{household.id}",
        data={
            "grade": "A",
            "key": key_of(form),
            "photo": (io.BytesIO(png), "photo.png", "image/png"),
            "csrf_token": csrf_token(client),
        },
    )


def test_a_photo_of_too_many_pixels_is_refused_on_the_inspectors_page(
    client, inspector, household, photo_folder
):
    response = grade_with_photo(client, household, huge_png())

    assert response.status_code == 422
    assert "照片超过 16 百万像素" in response.text
    assert inspection_rows(household.id) == 0
    assert not photo_folder.exists() or not any(photo_folder.iterdir())


def test_a_phone_photo_is_kept_scaled_down(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    # Smooth, so that the upload stays small (a test client's big body leaks a temp file).
    Image.new("RGB", (4000, 3000), (30, 160, 60)).save(buffer, "JPEG", quality=85)
    assert len(buffer.getvalue()) < 400_000

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"photo": (io.BytesIO(buffer.getvalue()), "photo.jpg", "image/jpeg")},
        headers=inspector_headers,
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    with Image.open(io.BytesIO(shown.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (1600, 1200)


def png_of(width: int, height: int, *, depth: int = 8, colour: int = 0) -> bytes:
    """A blank PNG written with zlib, so a picture Pillow would choke on stays small."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = b"\x00" * (1 + (width * channels * depth + 7) // 8)
    packer = zlib.compressobj(9)
    rows = row * min(height, 1_000_000)
    body = b"".join(packer.compress(rows) for _ in range(height // 1_000_000))
    body += packer.compress(row * (height % 1_000_000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@functools.cache
def needle_png() -> bytes:
    """The probe's bomb: 1 x 16,000,000 grey pixels, within the pixel limit, 31 KB."""
    return png_of(1, 16_000_000)


def truncated_jpeg() -> bytes:
    """A camera-sized JPEG cut off after 691 bytes, as a dropped upload leaves it."""
    buffer = io.BytesIO()
    Image.effect_noise((640, 480), 60).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()[:691]


def nothing_stored(folder) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def test_a_needle_png_is_refused_from_its_header(
    client, inspect, household, inspector_headers, photo_folder
):
    created = inspect(household, "A").json
    assert len(needle_png()) < 40_000

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"photo": (io.BytesIO(needle_png()), "photo.png", "image/png")},
        headers=inspector_headers,
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]["photo"] == ["Too wide or too tall."]
    assert "1 x 16000000" in body["detail"]
    assert nothing_stored(photo_folder)


def test_a_needle_png_is_refused_as_a_goods_picture(
    client, storekeeper_headers, soap, photo_folder
):
    response = client.post(
        f"/api/v1/goods/{soap.id}/picture",
        data={"picture": (io.BytesIO(needle_png()), "soap.png", "image/png")},
        headers=storekeeper_headers,
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]["picture"] == ["Too wide or too tall."]
    assert nothing_stored(photo_folder)
    assert (
        client.get("/api/v1/goods", headers=storekeeper_headers).json["items"][0]["has_picture"]
        is False
    )


@pytest.mark.parametrize(
    ("width", "height", "refused"),
    [
        (8_001, 1_000, True),  # a side over 8,000
        (800, 8_001, True),  # a side over 8,000, the other way
        (4_000, 199, True),  # longer than 20 times the shorter
        (4_000, 200, False),  # 1:20 exactly
        (8_000, 2_000, False),  # 8,000 exactly
    ],
)
def test_each_side_and_the_ratio_are_capped(
    client, inspect, household, inspector_headers, photo_folder, width, height, refused
):
    created = inspect(household, "A").json

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"photo": (io.BytesIO(png_of(width, height)), "photo.png", "image/png")},
        headers=inspector_headers,
    )

    if refused:
        body = assert_problem(response, 422, "validation_error")
        assert body["errors"]["photo"] == ["Too wide or too tall."]
        assert nothing_stored(photo_folder)
    else:
        assert response.status_code == 200, response.get_data(as_text=True)


def test_a_sixteen_bit_rgba_png_is_counted_by_its_bytes(
    client, inspect, household, inspector_headers, photo_folder
):
    """4000 x 4000 is under 16 million pixels, but at 8 bytes a pixel it is 128 MB."""
    created = inspect(household, "A").json

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"photo": (io.BytesIO(png_of(4000, 4000, depth=16, colour=6)), "p.png", "image/png")},
        headers=inspector_headers,
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]["photo"] == ["Too many pixels."]
    assert "128 MB" in body["detail"]
    assert nothing_stored(photo_folder)


def test_the_inspectors_page_says_why_a_needle_png_is_refused(
    client, inspector, household, photo_folder
):
    response = grade_with_photo(client, household, needle_png())

    assert response.status_code == 422
    assert "照片太宽或太高" in response.text
    assert inspection_rows(household.id) == 0
    assert nothing_stored(photo_folder)


def test_a_truncated_jpeg_is_not_stored(
    client, inspect, household, inspector_headers, storekeeper_headers, soap, photo_folder
):
    data = truncated_jpeg()
    assert len(data) == 691
    created = inspect(household, "A").json

    photo = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"photo": (io.BytesIO(data), "photo.jpg", "image/jpeg")},
        headers=inspector_headers,
    )
    picture = client.post(
        f"/api/v1/goods/{soap.id}/picture",
        data={"picture": (io.BytesIO(data), "soap.jpg", "image/jpeg")},
        headers=storekeeper_headers,
    )

    assert assert_problem(photo, 422, "validation_error")["errors"]["photo"] == [
        "Not a readable JPEG or PNG image."
    ]
    assert "picture" in assert_problem(picture, 422, "validation_error")["errors"]
    assert nothing_stored(photo_folder)


# The door page -----------------------------------------------------------------------------


def test_the_door_page_names_the_kind_of_movement_not_the_reason(client, village, make_household):
    household = make_household(points=10)
    adjust(village.id, household.id, -3, reason="邻居投诉的私事", actor_id=None)
    db.session.commit()

    page = client.get(f"/q/{make_token(household)}")

    assert page.status_code == 200
    assert "邻居投诉的私事" not in page.text
    assert "opening balance" not in page.text
    assert page.text.count("积分调整") == 2
    assert "-3" in page.text and "+10" in page.text
