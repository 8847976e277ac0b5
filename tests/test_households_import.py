"""Importing a roster (CSV or XLSX) through the JSON API."""

import io

from openpyxl import Workbook
from testsupport import ROSTER_HEADER, assert_problem, csv_upload, household_count

from app.ledger.services import verify


def xlsx_upload(*rows) -> dict:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return {"file": (buffer, "roster.xlsx")}


# Import through the API ----------------------------------------------------------------


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
