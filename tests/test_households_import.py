"""Roster import: CSV and XLSX, all rows or none, every bad row named; the API and the page."""

import csv
import io
import re
import zipfile

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from testsupport import (
    ROSTER_HEADER,
    admin_client_in_chinese,  # noqa: F401 (the office fixture)
    assert_problem,
    csrf_token,
    csv_upload,
    household_count,
)

from app.db import db
from app.households.importer import (
    MAX_LISTED_ERRORS,
    import_roster,
    roster_template_csv,
    roster_template_xlsx,
)
from app.households.models import Household
from app.households.roster_file import MAX_ROWS, RosterInvalid
from app.ledger.models import Account
from app.ledger.services import household_account, verify

CHINESE_HEADER = "户主姓名,地址,网格,电话,人口"


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(encoding) + b"\r\n"


def xlsx_bytes(*rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def refused(village, data: bytes) -> RosterInvalid:
    """Import, expect a refusal, and check that nothing was written."""
    before = household_count()
    with pytest.raises(RosterInvalid) as caught:
        import_roster(village, data)
    db.session.rollback()
    assert household_count() == before
    assert caught.value.status == 422
    assert caught.value.code == "validation_error"
    assert caught.value.extra["errors"] is caught.value.errors
    return caught.value


def file_error(village, data: bytes) -> str:
    error = refused(village, data)
    assert "rows" not in error.errors
    [message] = error.errors["file"]
    return message


# The importer: the file's rows, all or none --------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_imports_every_row(village, grids, encoding):
    east, west = grids
    data = csv_bytes(
        CHINESE_HEADER,
        "马秀英,马庄村1组 幸福路8号,东一网格,138-1234-5678,3",
        "王建国, 马庄村2组 和平路12号 ,2,,",
        '"李, 桂兰",马庄村1组 幸福路9号, 东一网格 ,+86 139 0000 1111,1',
        encoding=encoding,
    )

    households = import_roster(village, data)
    db.session.commit()

    assert [(h.code, h.name, h.address, h.grid_id, h.phone, h.members) for h in households] == [
        ("MZ-01-0001", "马秀英", "马庄村1组 幸福路8号", east.id, "138-1234-5678", 3),
        ("MZ-02-0001", "王建国", "马庄村2组 和平路12号", west.id, None, None),
        ("MZ-01-0002", "李, 桂兰", "马庄村1组 幸福路9号", east.id, "+86 139 0000 1111", 1),
    ]
    for household in households:
        stored = db.session.get(Household, household.id)
        assert stored.village_id == village.id and stored.status == "active"
        assert household_account(household.id).balance == 0
    assert household_count() == 3
    assert verify().ok


def test_xlsx_imports_every_row(village, grids):
    east, west = grids
    data = xlsx_bytes(
        ("Name", " ADDRESS ", "Grid", "Phone", "Members", "备注"),
        ("马秀英", "马庄村1组 幸福路8号", "东一网格", 13812345678, 3, "ignored"),
        (None, None, None, None, None, None),
        ("王建国", "马庄村2组 和平路12号", 2.0, 13900001111.0, 4.0, None),
        ("赵四", "马庄村3组", 1, None, None),
    )

    households = import_roster(village, data)
    db.session.commit()

    assert [(h.code, h.name, h.grid_id, h.phone, h.members) for h in households] == [
        ("MZ-01-0001", "马秀英", east.id, "13812345678", 3),
        ("MZ-02-0001", "王建国", west.id, "13900001111", 4),
        ("MZ-01-0002", "赵四", east.id, None, None),
    ]
    assert all(household_account(h.id).balance == 0 for h in households)


def test_excel_unicode_text_and_semicolons_are_read(village, grid, make_grid):
    make_grid("3")  # number 2: a grid is looked up by its name before its number
    unicode_text = "户主\t地址\t网格\r\n马秀英\t幸福路8号\t3\r\n".encode("utf-16")
    semicolons = csv_bytes("户主;地址;网格", "王建国;和平路1号;东一网格")

    [first] = import_roster(village, unicode_text)
    [second] = import_roster(village, semicolons)

    assert (first.name, first.code) == ("马秀英", "MZ-02-0001")
    assert (second.name, second.grid_id) == ("王建国", grid.id)


@pytest.mark.parametrize(
    "header",
    [
        "name,address,grid,phone,members",
        " Name , Address,GRID,PHONE ,Members",
        "户主,住址,网格,手机,家庭人口",
        "姓名,地址,网格,联系电话,人数",
        "网格,人口,电话,户主姓名,地址,备注",
    ],
)
def test_headers_in_english_or_chinese_in_any_order(village, grid, header):
    values = {
        "name": "马秀英",
        "address": "幸福路8号",
        "grid": "东一网格",
        "phone": "138",
        "members": "3",
    }
    keys = {
        "name": "name",
        "户主": "name",
        "户主姓名": "name",
        "姓名": "name",
        "address": "address",
        "住址": "address",
        "地址": "address",
        "grid": "grid",
        "网格": "grid",
        "phone": "phone",
        "手机": "phone",
        "电话": "phone",
        "联系电话": "phone",
        "members": "members",
        "人口": "members",
        "家庭人口": "members",
        "人数": "members",
        "备注": None,
    }
    row = [values[k] if (k := keys["".join(h.split()).lower()]) else "x" for h in header.split(",")]

    [household] = import_roster(village, csv_bytes(header, ",".join(row)))

    assert (
        household.name,
        household.address,
        household.grid_id,
        household.phone,
        household.members,
    ) == ("马秀英", "幸福路8号", grid.id, "138", 3)


def test_a_title_row_above_the_header_is_skipped(village, grid):
    data = xlsx_bytes(
        ("马庄村住户花名册",),
        (),
        CHINESE_HEADER.split(","),
        ("马秀英", "幸福路8号", "东一网格"),
        ("王建国", "", "东一网格"),
    )

    error = refused(village, data)

    assert error.errors["rows"] == [
        {"row": 5, "column": "地址", "message": "The address is missing."}
    ]


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("马秀英,幸福路8号,南三网格,,3", "网格", "No grid named or numbered '南三网格'"),
        ("马秀英,幸福路8号,7,,3", "网格", "No grid named or numbered '7'"),
        (",幸福路8号,东一网格,,3", "户主姓名", "The name is missing."),
        ("马秀英,幸福路8号,,,3", "网格", "The grid is missing."),
        ("马秀英,幸福路8号,东一网格,,0", "人口", "whole number from 1 to 99"),
        ("马秀英,幸福路8号,东一网格,,100", "人口", "whole number from 1 to 99"),
        ("马秀英,幸福路8号,东一网格,,2.5", "人口", "whole number from 1 to 99"),
        ("马秀英,幸福路8号,东一网格,,三", "人口", "whole number from 1 to 99"),
        ("马秀英," + "路" * 201 + ",东一网格,,3", "地址", "201 characters; at most 200"),
        ("马" * 101 + ",幸福路8号,东一网格,,3", "户主姓名", "101 characters; at most 100"),
        ("马秀英,幸福路8号,东一网格,138abc,3", "电话", "only digits, +, - and spaces"),
        ("马秀英,幸福路8号,东一网格,1.38123E+10,3", "电话", "Excel turned this phone number"),
        ("马秀英,幸福路8号,东一网格," + "1" * 33 + ",3", "电话", "at most 32"),
        ("马秀\x07英,幸福路8号,东一网格,,3", "户主姓名", "control or invisible character"),
        ("马秀英,幸福路\u200b8号,东一网格,,3", "地址", "control or invisible character"),
        ('马秀英,"幸福路\n8号",东一网格,,3', "地址", "control or invisible character"),
    ],
)
def test_one_bad_row_among_good_ones_writes_nothing(
    village, grid, make_household, line, column, message
):
    make_household()
    data = csv_bytes(CHINESE_HEADER, "王建国,和平路1号,东一网格,,2", line, "李桂兰,和平路2号,1,,4")

    error = refused(village, data)

    [problem] = error.errors["rows"]
    assert (problem["row"], problem["column"]) == (3, column)
    assert message in problem["message"]
    assert "1 row(s) have errors" in error.detail


def test_every_bad_row_is_listed(village, grid):
    data = csv_bytes(
        "Name,Address,Grid,Members",
        "马秀英,幸福路8号,东一网格,3",
        ",幸福路9号,东一网格,3",
        "王建国,,北方网格,abc",
        "李桂兰,幸福路10号,东一网格,2",
        "赵四,幸福路11号,东一网格,0",
    )

    error = refused(village, data)

    assert [(p["row"], p["column"]) for p in error.errors["rows"]] == [
        (3, "Name"),
        (4, "Address"),
        (4, "Grid"),
        (4, "Members"),
        (6, "Members"),
    ]
    assert "3 row(s) have errors (5 problem(s))" in error.detail


def test_the_list_of_problems_is_capped(village, grid):
    lines = [f"户{n},路{n}号,西九网格" for n in range(MAX_LISTED_ERRORS + 50)]

    error = refused(village, csv_bytes("户主,地址,网格", *lines))

    assert len(error.errors["rows"]) == MAX_LISTED_ERRORS
    assert error.errors["rows"][-1]["row"] == MAX_LISTED_ERRORS + 1
    assert f"The first {MAX_LISTED_ERRORS} problems are listed" in error.detail


def test_duplicate_households_in_the_file_are_flagged(village, grid):
    data = csv_bytes(
        CHINESE_HEADER,
        "马秀英,幸福路8号,东一网格,,",
        "王建国,幸福路8号,东一网格,,",
        "马秀英,幸福路9号,东一网格,,",
        " 马秀英 ,幸福路 8号,1,,",
    )

    error = refused(village, data)

    assert error.errors["rows"] == [
        {
            "row": 5,
            "column": "户主姓名",
            "message": "The same household (name and address) is already on row 2.",
        }
    ]


def test_importing_the_same_roster_again_adds_nobody(village, grid):
    data = csv_bytes(CHINESE_HEADER, "马秀英,幸福路8号,东一网格,,", "王建国,幸福路9号,东一网格,,")
    first = import_roster(village, data)
    db.session.commit()

    again = import_roster(village, data)

    assert again == [] and household_count() == 2
    assert [(row.row, row.code) for row in again.skipped] == [
        (2, first[0].code),
        (3, first[1].code),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b" \r\n\r\n ", "The file is empty."),
        (bytes(range(256)) * 8, "neither an Excel workbook (.xlsx) nor CSV text"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64,
            "neither an Excel workbook (.xlsx) nor CSV text",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old Excel .xls file"),
        (b"PK\x03\x04" + b"\x00" * 100, "not an Excel workbook (.xlsx)"),
        ("马秀英,幸福路8号,东一网格\n".encode(), "No header row found"),
        (
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
            "neither an Excel",
        ),
        ("尊敬的村委会：\n附件是本组的花名册。\n".encode(), "neither an Excel workbook"),
        (b"<!DOCTYPE html><html><body><table></table></body></html>", "neither an Excel"),
        (
            "户主姓名,地址,电话\n马秀英,幸福路8号,138\n".encode(),
            "lacks the required column(s): grid (网格)",
        ),
        (b"name,phone\n", "address (地址), grid (网格)"),
        ("户主姓名,地址,网格\n\n , , \n".encode(), "has a header (row 1) but no households"),
        ("户主,姓名,地址,网格\n".encode(), "both give the household's name"),
    ],
)
def test_a_file_that_is_not_a_roster_gets_one_file_error(village, grid, data, message):
    assert message in file_error(village, data)


def test_a_zip_that_is_not_a_workbook_gets_a_file_error(village, grid):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("content.xml", "<office:document/>")
    assert "not an Excel workbook (.xlsx)" in file_error(village, buffer.getvalue())


def test_an_xlsx_without_the_required_columns_gets_a_file_error(village, grid):
    data = xlsx_bytes(("户主姓名", "电话"), ("马秀英", "138"))
    assert "address (地址), grid (网格)" in file_error(village, data)


def test_more_than_the_maximum_rows_is_refused(village, grid):
    lines = [f"户{n},路{n}号,1" for n in range(MAX_ROWS + 1)]
    message = file_error(village, csv_bytes("户主,地址,网格", *lines))
    assert f"more than {MAX_ROWS} households" in message


def test_five_thousand_rows_import_in_one_go(village, grids):
    lines = [
        f"户主{n},马庄村{n % 7}组 幸福路{n}号,{'东一网格' if n % 3 else 2},1380000{n:04d},"
        f"{n % 9 + 1}"
        for n in range(5000)
    ]

    households = import_roster(village, csv_bytes(CHINESE_HEADER, *lines))
    db.session.commit()

    assert len(households) == 5000
    assert household_count() == 5000
    accounts = db.session.scalar(
        select(func.count(Account.id)).where(
            Account.village_id == village.id,
            Account.household_id.is_not(None),
            Account.balance == 0,
        )
    )
    assert accounts == 5000
    codes = sorted(h.code for h in households)
    assert codes[0] == "MZ-01-0001" and codes[-1] == "MZ-02-1667"
    assert len(set(codes)) == 5000
    assert verify().ok


def test_codes_continue_after_the_grids_existing_households(village, grids, make_household):
    east, west = grids
    make_household(in_grid=east)
    make_household(in_grid=east, name="王建国")
    make_household(in_grid=west)

    households = import_roster(
        village,
        csv_bytes(
            "户主,地址,网格",
            "李桂兰,幸福路1号,东一网格",
            "赵四,幸福路2号,西一网格",
            "钱五,幸福路3号,东一网格",
        ),
    )
    db.session.commit()

    assert [h.code for h in households] == ["MZ-01-0003", "MZ-02-0002", "MZ-01-0004"]
    assert verify().ok


def test_grids_of_another_village_are_not_found(village, grid, make_village, make_grid):
    other = make_village()
    make_grid("南三网格", of=other)

    error = refused(village, csv_bytes("户主,地址,网格", "马秀英,幸福路8号,南三网格"))

    assert error.errors["rows"][0]["column"] == "网格"


@pytest.mark.parametrize("template", [roster_template_csv, roster_template_xlsx])
def test_the_templates_are_valid_rosters_whose_example_rows_are_never_imported(
    village, grids, template
):
    households = import_roster(village, template())
    db.session.commit()

    assert households == [] and household_count() == 0
    assert [(s.row, s.name) for s in households.skipped] == [
        (2, "【示例】马秀英"),
        (3, "【示例】王建国"),
    ]


def test_the_templates_have_chinese_headers():
    csv_text = roster_template_csv()
    assert csv_text.startswith(b"\xef\xbb\xbf" + CHINESE_HEADER.encode())
    assert len(csv_text.decode("utf-8-sig").splitlines()) == 3

    sheet = load_workbook(io.BytesIO(roster_template_xlsx())).active
    assert [cell.value for cell in sheet[1]] == CHINESE_HEADER.split(",")
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.max_row == 3


# Through the API -----------------------------------------------------------------------


def xlsx_upload(*rows) -> dict:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return {"file": (buffer, "roster.xlsx")}


def test_import_a_csv_roster(client, admin_headers, grids, listing):
    response = client.post(
        "/api/v1/households/import",
        headers=admin_headers,
        data=csv_upload(
            ROSTER_HEADER,
            "马秀英,马庄村1组 幸福路8号,东一网格,138-1234-5678,3",
            "王建国,马庄村2组 和平路12号,2,,",
        ),
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["imported"] == 2
    assert [(h["code"], h["name"]) for h in response.json["items"]] == [
        ("MZ-01-0001", "马秀英"),
        ("MZ-02-0001", "王建国"),
    ]
    body = listing()
    assert body["total"] == 2
    assert body["items"][0]["phone"] == "138-1234-5678"
    assert body["items"][0]["members"] == 3
    assert all(h["balance"] == 0 for h in body["items"])
    assert verify().ok


def test_import_an_xlsx_roster(client, admin_headers, grids):
    response = client.post(
        "/api/v1/households/import",
        headers=admin_headers,
        data=xlsx_upload(
            ROSTER_HEADER.split(","), ("马秀英", "幸福路8号", "东一网格", "13812345678", 3)
        ),
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["imported"] == 1
    assert household_count() == 1


def test_import_with_one_bad_row_names_it_and_writes_nothing(
    client, admin_headers, grids, make_household
):
    make_household()
    response = client.post(
        "/api/v1/households/import",
        headers=admin_headers,
        data=csv_upload(
            ROSTER_HEADER,
            "王建国,和平路12号,东一网格,,",
            "李桂兰,幸福路9号,北九网格,,",
            "赵四,人民路1号,2,,",
        ),
    )

    body = assert_problem(response, 422, "validation_error")
    rows = body["errors"]["rows"]
    assert [problem["row"] for problem in rows] == [3]
    assert rows[0]["column"] == "网格"
    assert rows[0]["message"]
    assert household_count() == 1
    # The refused file took no codes: the next household is still number 2.
    again = client.post(
        "/api/v1/households/import",
        headers=admin_headers,
        data=csv_upload(ROSTER_HEADER, "王建国,和平路12号,东一网格,,"),
    )
    assert again.json["items"][0]["code"] == "MZ-01-0002"


def test_import_names_every_bad_row(client, admin_headers, grids):
    response = client.post(
        "/api/v1/households/import",
        headers=admin_headers,
        data=csv_upload(
            ROSTER_HEADER,
            ",和平路12号,1,,",
            "李桂兰,幸福路9号,1,,",
            "赵四,人民路1号,1,phone,",
            "钱五,人民路2号,1,,200",
        ),
    )

    body = assert_problem(response, 422, "validation_error")
    assert sorted({problem["row"] for problem in body["errors"]["rows"]}) == [2, 4, 5]
    assert household_count() == 0


def test_import_without_a_file_is_422(client, admin_headers, grid):
    response = client.post("/api/v1/households/import", headers=admin_headers, data={})

    body = assert_problem(response, 422, "validation_error")
    assert "file" in body["errors"]


def test_import_of_a_file_that_is_no_roster_is_422(client, admin_headers, grid):
    response = client.post(
        "/api/v1/households/import",
        headers=admin_headers,
        data={"file": (io.BytesIO(b"\x89PNG\r\n\x1a\n..."), "card.png")},
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]["file"]
    assert household_count() == 0


def test_the_api_still_says_the_rows_problems_in_english(client, admin_headers, grids):
    response = client.post(
        "/api/v1/households/import",
        data=csv_upload(ROSTER_HEADER, ",和平路12号,北九网格,,"),
        headers=admin_headers,
    )

    body = assert_problem(response, 422, "validation_error")
    assert [(p["row"], p["message"]) for p in body["errors"]["rows"]] == [
        (2, "The name is missing."),
        (2, "No grid named or numbered '北九网格' in this village."),
    ]


def test_the_api_counts_the_rows_it_skipped(client, admin_headers, grids):
    roster = csv_upload(ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,")
    client.post("/api/v1/households/import", data=roster, headers=admin_headers)

    again = client.post(
        "/api/v1/households/import",
        data=csv_upload(ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,1,,"),
        headers=admin_headers,
    )

    assert again.status_code == 201
    assert (again.json["imported"], again.json["skipped"]) == (1, 1)


# The import page -----------------------------------------------------------------------


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_import_page_imports_a_roster(admin_client, grids):
    assert admin_client.get("/admin/households/import").status_code == 200

    response = admin_client.post(
        "/admin/households/import",
        data={
            **csv_upload(
                ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,西一网格,,"
            ),
            "csrf_token": csrf_token(admin_client),
        },
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "2 households imported" in response.text
    assert household_count() == 2


def test_import_page_shows_the_bad_rows(admin_client, grids):
    response = admin_client.post(
        "/admin/households/import",
        data={
            **csv_upload(
                ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,北九网格,,"
            ),
            "csrf_token": csrf_token(admin_client),
        },
    )

    assert response.status_code == 422
    assert "Nothing was imported" in response.text
    assert re.search(r"<td>\s*3\s*</td>\s*<td>\s*网格\s*</td>", response.text)
    assert household_count() == 0


def test_import_page_without_a_file_says_so(admin_client, grid):
    response = admin_client.post(
        "/admin/households/import", data={"csrf_token": csrf_token(admin_client)}
    )

    assert response.status_code == 422
    assert "Choose a CSV or XLSX file" in response.text


def test_roster_templates_download(admin_client, grids):
    as_csv = admin_client.get("/admin/households/import/template.csv")
    as_xlsx = admin_client.get("/admin/households/import/template.xlsx")

    assert as_csv.status_code == 200
    assert as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert rows[0] == ROSTER_HEADER.split(",")
    assert as_xlsx.status_code == 200
    assert as_xlsx.mimetype == XLSX
    sheet = load_workbook(io.BytesIO(as_xlsx.data)).active
    assert [cell.value for cell in sheet[1]] == ROSTER_HEADER.split(",")
    assert admin_client.get("/admin/households/import/template.pdf").status_code == 404


def _import(client, *lines: str, follow: bool = True):
    return client.post(
        "/admin/households/import",
        data={**csv_upload(ROSTER_HEADER, *lines), "csrf_token": csrf_token(client)},
        follow_redirects=follow,
    )


def test_an_import_page_names_each_bad_row_in_chinese(office, grids):
    response = _import(office, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,北九网格,,")

    assert response.status_code == 422
    assert re.search(
        r"<td[^>]*>\s*3\s*</td>\s*<td>\s*网格\s*</td>\s*<td>本村没有名称或编号为“北九网格”的网格",
        response.text,
    )
    assert "No grid named" not in response.text
    assert household_count() == 0


def test_the_master_roster_again_imports_only_the_new_families(office, grids):
    first = _import(office, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,西一网格,,")
    assert "已导入 2 户" in first.text

    again = _import(
        office,
        "马秀英,幸福路8号,东一网格,,",
        "王建国,和平路12号,西一网格,,",
        "李桂兰,和平路14号,西一网格,,2",
        follow=False,
    )

    assert again.status_code == 200
    assert "已导入 1 户" in again.text
    assert "已在本村登记，编号 MZ-01-0001" in again.text
    assert "已在本村登记，编号 MZ-02-0001" in again.text
    assert household_count() == 3


def test_a_real_error_still_refuses_the_whole_file(office, grids):
    _import(office, "马秀英,幸福路8号,东一网格,,")

    response = _import(office, "马秀英,幸福路8号,东一网格,,", "李桂兰,和平路14号,北九网格,,")

    assert response.status_code == 422
    assert household_count() == 1


def test_the_templates_example_rows_are_marked_and_never_imported(office, grids):
    template = roster_template_csv().decode("utf-8-sig").splitlines()
    assert all(line.startswith("【示例】") for line in template[1:])

    response = office.post(
        "/admin/households/import",
        data={
            **csv_upload(*template, "赵红梅,人民路1号,西一网格,,3"),
            "csrf_token": csrf_token(office),
        },
    )

    assert response.status_code == 200
    assert "已导入 1 户" in response.text
    assert response.text.count("<td>模板中的示例行。</td>") == 2
    assert household_count() == 1
