"""Households through HTTP: the API, the admin's roster pages, card sheets and their command."""

import csv
import io
import re

import pytest
import zxingcpp
from openpyxl import Workbook, load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select
from test_cards import rasterize_svg
from testsupport import PASSWORD, csrf_token

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.households.models import CardReissue, Household
from app.ledger.services import adjust, verify

BASE_URL = "http://greenpoints.test"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
HOUSEHOLD_FIELDS = {"id", "code", "name", "address", "grid_id", "balance", "qr_payload"}
ROSTER_HEADER = "户主姓名,地址,网格,电话,人口"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


def household_count() -> int:
    return db.session.scalar(select(func.count(Household.id)))


def csv_upload(*lines: str, filename: str = "roster.csv") -> dict:
    data = ("\r\n".join(lines) + "\r\n").encode()
    return {"file": (io.BytesIO(data), filename)}


def xlsx_upload(*rows) -> dict:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return {"file": (buffer, "roster.xlsx")}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def log_in(client, username):
    # English pages, so the tests do not depend on the Chinese catalogue.
    client.get("/lang/en")
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    return response


@pytest.fixture
def grids(grid, make_grid):
    """东一网格 (number 1) and 西一网格 (number 2)."""
    return grid, make_grid("西一网格")


@pytest.fixture
def other_village(make_village):
    return make_village("李庄村", "LZ")


@pytest.fixture
def create(client, admin_headers):
    """Add a household through the API as the admin; return the response."""

    def post(grid, name="马秀英", address="马庄村1组 幸福路8号", headers=None, **extra):
        return client.post(
            "/api/v1/households",
            json={"name": name, "address": address, "grid_id": grid.id, **extra},
            headers=headers or admin_headers,
        )

    return post


@pytest.fixture
def patch(client, admin_headers):
    def send(household, changes, headers=None):
        return client.patch(
            f"/api/v1/households/{household.id}", json=changes, headers=headers or admin_headers
        )

    return send


@pytest.fixture
def listing(client, admin_headers):
    def get(**query):
        response = client.get("/api/v1/households", query_string=query, headers=admin_headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    return get


@pytest.fixture
def roster(make_household, grids):
    """Five households: three in grid 1, two in grid 2."""
    east, west = grids
    return [
        make_household(name="马秀英", address="幸福路8号", phone="138-1234-5678"),
        make_household(name="王建国", address="和平路12号", phone="13900001111"),
        make_household(name="李桂兰", address="幸福路9号", phone=None),
        make_household(in_grid=west, name="赵红梅", address="人民路1号", phone="13700000000"),
        make_household(in_grid=west, name="Wang Fang", address="西街100%号"),
    ]


@pytest.fixture
def browser(client, admin):
    """The client, logged in as the village admin through the login form."""
    log_in(client, "admin")
    return client


# Create --------------------------------------------------------------------------------


def test_admin_creates_a_household_with_201_location_and_card(client, admin_headers, create, grid):
    response = create(grid, phone="138-1234-5678", members=3)

    assert response.status_code == 201
    body = response.json
    assert HOUSEHOLD_FIELDS <= set(body)
    assert body["code"] == "MZ-01-0001"
    assert (body["name"], body["address"], body["grid_id"]) == (
        "马秀英",
        "马庄村1组 幸福路8号",
        grid.id,
    )
    assert body["balance"] == 0
    assert re.fullmatch(rf"{re.escape(BASE_URL)}/q/[A-Za-z0-9_-]{{27}}", body["qr_payload"])
    assert body["phone"] == "138-1234-5678"
    assert body["members"] == 3
    assert body["status"] == "active"
    assert response.headers["Location"].endswith(f"/api/v1/households/{body['id']}")
    shown = client.get(response.headers["Location"], headers=admin_headers)
    assert shown.status_code == 200
    assert shown.json == body
    assert verify().ok


def test_phone_and_members_are_optional(create, grid):
    response = create(grid)

    assert response.status_code == 201
    assert response.json["phone"] is None
    assert response.json["members"] is None


def test_text_fields_are_trimmed(create, grid):
    body = create(grid, name="  马秀英 ", address=" 幸福路8号  ").json

    assert (body["name"], body["address"]) == ("马秀英", "幸福路8号")


def test_codes_are_sequential_per_grid_and_unique_in_the_village(
    create, grids, other_village, make_grid, make_user, token_for
):
    east, west = grids
    codes = [
        create(east).json["code"],
        create(east, name="王建国").json["code"],
        create(west, name="李桂兰").json["code"],
        create(east, name="赵四").json["code"],
    ]
    theirs = make_grid("南一网格", of=other_village)
    their_code = create(theirs, headers=token_for(make_user(ADMIN, of=other_village))).json["code"]

    assert codes == ["MZ-01-0001", "MZ-01-0002", "MZ-02-0001", "MZ-01-0003"]
    assert their_code == "LZ-01-0001"
    assert (
        len(
            set(
                db.session.scalars(
                    select(Household.code).where(Household.village_id == east.village_id)
                )
            )
        )
        == 4
    )


def test_create_reports_every_missing_field(client, admin_headers):
    response = client.post("/api/v1/households", json={}, headers=admin_headers)

    body = assert_problem(response, 422, "validation_error")
    assert {"name", "address", "grid_id"} <= set(body["errors"])
    assert household_count() == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"phone": "call me"}, "phone"),
        ({"phone": "1" * 33}, "phone"),
        ({"members": 0}, "members"),
        ({"members": 100}, "members"),
        ({"members": "3"}, "members"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "马" * 101}, "name"),
        ({"name": "马\x07秀英"}, "name"),
        ({"address": ""}, "address"),
        ({"grid_id": "1"}, "grid_id"),
        ({"grid_id": 0}, "grid_id"),
    ],
)
def test_create_refuses_bad_fields_with_422(create, grid, extra, field):
    body = assert_problem(create(grid, **extra), 422, "validation_error")

    assert field in body["errors"]
    assert household_count() == 0


def test_create_refuses_unknown_fields(create, grid):
    body = assert_problem(create(grid, balance=1000), 422, "validation_error")

    assert "balance" in body["errors"]
    assert household_count() == 0


@pytest.mark.parametrize("whose", ["missing", "another village's"])
def test_create_in_a_grid_that_is_not_the_villages_is_refused(
    client, admin_headers, grid, make_grid, other_village, whose
):
    grid_id = make_grid("南一网格", of=other_village).id if whose != "missing" else 999_999

    response = client.post(
        "/api/v1/households",
        headers=admin_headers,
        json={"name": "马秀英", "address": "幸福路8号", "grid_id": grid_id},
    )

    # Either a validation error naming grid_id or a plain 404: never a household.
    assert response.status_code in (404, 422)
    assert_problem(response, response.status_code)
    assert household_count() == 0


def test_get_shows_the_balance_and_code(client, admin_headers, make_household):
    household = make_household(points=25)

    body = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json

    assert body["balance"] == 25
    assert body["code"] == "MZ-01-0001"


# Get and list --------------------------------------------------------------------------


def test_get_an_unknown_household_is_404(client, admin_headers):
    assert_problem(client.get("/api/v1/households/999999", headers=admin_headers), 404, "not_found")


def test_list_shows_every_household_with_balance_in_code_order(listing, roster):
    adjust(roster[1].village_id, roster[1].id, 9, reason="开户", actor_id=None)
    db.session.commit()

    body = listing()

    assert body["total"] == 5
    assert [h["code"] for h in body["items"]] == [
        "MZ-01-0001",
        "MZ-01-0002",
        "MZ-01-0003",
        "MZ-02-0001",
        "MZ-02-0002",
    ]
    assert all(HOUSEHOLD_FIELDS <= set(h) for h in body["items"])
    assert [h["balance"] for h in body["items"]] == [0, 9, 0, 0, 0]


def test_list_filters_by_grid(listing, roster, grids):
    east, west = grids

    assert [h["name"] for h in listing(grid_id=west.id)["items"]] == ["赵红梅", "Wang Fang"]
    assert listing(grid_id=east.id)["total"] == 3


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("王建国", ["王建国"]),
        ("桂", ["李桂兰"]),
        ("MZ-02-0001", ["赵红梅"]),
        ("MZ-01", ["马秀英", "王建国", "李桂兰"]),
        ("幸福路", ["马秀英", "李桂兰"]),
        ("1234", ["马秀英"]),
        ("13900001111", ["王建国"]),
        ("100%", ["Wang Fang"]),
        ("%", ["Wang Fang"]),
        ("_", []),
        ("  王建国  ", ["王建国"]),
        ("无此人", []),
    ],
)
def test_search_by_name_code_address_or_phone(listing, roster, q, names):
    assert [h["name"] for h in listing(q=q)["items"]] == names


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("mz-02-0001", ["赵红梅"]),
        ("wang fang", ["Wang Fang"]),
        ("WANG", ["Wang Fang"]),
    ],
)
def test_search_ignores_the_case_of_latin_letters(listing, roster, q, names):
    # Codes are capitals; a phone keyboard types small letters. Same on both databases.
    assert [h["name"] for h in listing(q=q)["items"]] == names


def test_search_and_grid_filter_combine(listing, roster, grids):
    east, west = grids

    assert [h["name"] for h in listing(q="幸福路", grid_id=west.id)["items"]] == []
    assert [h["name"] for h in listing(q="路", grid_id=west.id)["items"]] == ["赵红梅"]


def test_list_is_paginated(listing, roster):
    pages = [listing(per_page=2, page=n) for n in (1, 2, 3, 4)]

    assert [[h["code"] for h in p["items"]] for p in pages] == [
        ["MZ-01-0001", "MZ-01-0002"],
        ["MZ-01-0003", "MZ-02-0001"],
        ["MZ-02-0002"],
        [],
    ]
    assert all(p["total"] == 5 and p["per_page"] == 2 for p in pages)
    assert [p["page"] for p in pages] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"per_page": 0},
        {"per_page": 501},
        {"page": "one"},
        {"grid_id": "east"},
        {"status": "gone"},
    ],
)
def test_bad_list_queries_are_422(client, admin_headers, query):
    response = client.get("/api/v1/households", query_string=query, headers=admin_headers)

    assert_problem(response, 422, "validation_error")


def test_list_never_shows_another_villages_households(
    client, make_household, other_village, make_user, token_for, roster
):
    make_household(of=other_village, name="李四")
    headers = token_for(make_user(ADMIN, of=other_village))

    body = client.get("/api/v1/households", headers=headers).json

    assert [h["name"] for h in body["items"]] == ["李四"]
    assert body["total"] == 1
    assert (
        client.get("/api/v1/households", query_string={"q": "马秀英"}, headers=headers).json[
            "items"
        ]
        == []
    )


# Update --------------------------------------------------------------------------------


def test_patch_changes_the_given_fields_only(client, admin_headers, patch, household):
    response = patch(
        household, {"address": "马庄村3组 新村路1号", "phone": "139 0000 1111", "members": 5}
    )

    assert response.status_code == 200
    body = response.json
    assert body["address"] == "马庄村3组 新村路1号"
    assert body["phone"] == "139 0000 1111"
    assert body["members"] == 5
    assert body["name"] == "马秀英"
    assert body["code"] == "MZ-01-0001"
    assert client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json == body


def test_patch_renames_and_clears_the_phone(patch, make_household):
    household = make_household(phone="13800000000")

    body = patch(household, {"name": "马秀利", "phone": None}).json

    assert body["name"] == "马秀利"
    assert body["phone"] is None


def test_patch_marks_a_household_moved_and_back(patch, listing, household):
    assert patch(household, {"status": "moved"}).json["status"] == "moved"
    assert [h["status"] for h in listing(status="moved")["items"]] == ["moved"]
    assert listing(status="active")["items"] == []

    assert patch(household, {"status": "active"}).json["status"] == "active"


def test_moving_to_another_grid_keeps_the_code_and_card(
    client, admin_headers, patch, household, grids
):
    east, west = grids
    before = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json

    body = patch(household, {"grid_id": west.id}).json

    assert body["grid_id"] == west.id
    assert body["code"] == before["code"] == "MZ-01-0001"
    assert body["qr_payload"] == before["qr_payload"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "abc"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"status": "gone"}, "status"),
        ({"status": None}, "status"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"members": -1}, "members"),
        ({"grid_id": 999_999}, "grid_id"),
        ({"code": "MZ-99-9999"}, "code"),
        ({"balance": 1_000}, "balance"),
        ({"card_version": 9}, "card_version"),
    ],
)
def test_patch_refuses_bad_or_unknown_fields_with_422(
    client, admin_headers, patch, household, changes, field
):
    body = assert_problem(patch(household, changes), 422, "validation_error")

    assert field in body["errors"]
    shown = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json
    assert (
        shown["code"],
        shown["name"],
        shown["phone"],
        shown["status"],
        shown["balance"],
        shown["card_version"],
    ) == ("MZ-01-0001", "马秀英", None, "active", 0, 1)


def test_patch_to_another_villages_grid_is_422(
    client, admin_headers, patch, household, make_grid, other_village
):
    theirs = make_grid("南一网格", of=other_village)

    body = assert_problem(patch(household, {"grid_id": theirs.id}), 422, "validation_error")

    assert "grid_id" in body["errors"]
    assert (
        client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json["grid_id"]
        == household.grid_id
    )


def test_an_empty_patch_changes_nothing(patch, household):
    response = patch(household, {})

    assert response.status_code == 200
    assert (response.json["name"], response.json["status"]) == ("马秀英", "active")


# Who may do what -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"), [(ADMIN, 200), (INSPECTOR, 200), (STOREKEEPER, 200), (HOUSEHOLD, 403)]
)
def test_who_may_read_households(client, make_user, token_for, household, role, status):
    headers = token_for(make_user(role, household=household if role == HOUSEHOLD else None))

    one = client.get(f"/api/v1/households/{household.id}", headers=headers)
    many = client.get("/api/v1/households", headers=headers)

    assert (one.status_code, many.status_code) == (status, status)
    if status == 200:
        assert one.json["balance"] == 0
        assert many.json["total"] == 1
    else:
        assert_problem(one, 403, "forbidden")
        assert_problem(many, 403, "forbidden")


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, HOUSEHOLD])
def test_only_the_admin_creates_changes_or_imports(
    client, make_user, token_for, household, create, patch, grid, role
):
    headers = token_for(make_user(role, household=household if role == HOUSEHOLD else None))

    assert_problem(create(grid, name="王建国", headers=headers), 403, "forbidden")
    assert_problem(patch(household, {"name": "马秀利"}, headers=headers), 403, "forbidden")
    imported = client.post(
        "/api/v1/households/import",
        headers=headers,
        data=csv_upload("户主,地址,网格", "王建国,幸福路1号,1"),
    )
    assert_problem(imported, 403, "forbidden")
    assert household_count() == 1
    assert db.session.scalar(select(Household.name)) == "马秀英"


def test_households_need_a_token(client, household, grid):
    for response in (
        client.get("/api/v1/households"),
        client.get(f"/api/v1/households/{household.id}"),
        client.post("/api/v1/households", json={"name": "王", "address": "路", "grid_id": grid.id}),
        client.patch(f"/api/v1/households/{household.id}", json={"name": "王"}),
        client.post("/api/v1/households/import", data=csv_upload("户主,地址,网格", "王,路,1")),
        client.get("/api/v1/households/cards.pdf", query_string={"grid_id": grid.id}),
    ):
        assert_problem(response, 401, "unauthorized")
    assert household_count() == 1


@pytest.mark.parametrize(
    ("role", "patch_status"), [(ADMIN, 404), (INSPECTOR, 403), (STOREKEEPER, 403)]
)
def test_another_villages_staff_get_404(
    client, make_user, token_for, other_village, household, patch, role, patch_status
):
    headers = token_for(make_user(role, of=other_village))

    read = client.get(f"/api/v1/households/{household.id}", headers=headers)
    changed = patch(household, {"name": "偷改"}, headers=headers)

    assert "马秀英" not in read.get_data(as_text=True)
    assert_problem(read, 404, "not_found")
    assert_problem(changed, patch_status)
    assert "马秀英" not in changed.get_data(as_text=True)
    assert db.session.scalar(select(Household.name)) == "马秀英"


def test_a_resident_reads_its_own_household_at_me(
    client, resident, token_for, admin_headers, household
):
    body = client.get("/api/v1/me", headers=token_for(resident)).json

    assert body["id"] == household.id
    assert body["balance"] == 0
    assert_problem(client.get("/api/v1/me", headers=admin_headers), 403, "forbidden")


def test_create_with_an_idempotency_key_creates_once(client, admin_headers, grid):
    headers = {**admin_headers, "Idempotency-Key": "roster-2024-001"}
    body = {"name": "马秀英", "address": "幸福路8号", "grid_id": grid.id}

    first = client.post("/api/v1/households", json=body, headers=headers)
    again = client.post("/api/v1/households", json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert household_count() == 1


def test_openapi_describes_the_household_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    for path, methods in {
        "/api/v1/households": {"get", "post"},
        "/api/v1/households/{household_id}": {"get", "patch"},
        "/api/v1/households/import": {"post"},
        "/api/v1/households/{household_id}/qr.png": {"get"},
        "/api/v1/households/{household_id}/qr.svg": {"get"},
        "/api/v1/households/{household_id}/qr/reissue": {"post"},
        "/api/v1/households/cards.pdf": {"get"},
        "/api/v1/scan": {"post"},
    }.items():
        assert methods <= set(paths[path]), path


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


# Card sheets ---------------------------------------------------------------------------


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


# The admin's pages ---------------------------------------------------------------------


def test_roster_pages_need_an_admin(client, make_user, household):
    anonymous = client.get("/admin/households", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login")

    make_user(INSPECTOR, username="wgy")
    log_in(client, "wgy")
    for url in (
        "/admin/households",
        f"/admin/households/{household.id}",
        "/admin/households/new",
        "/admin/households/import",
        "/admin/cards",
    ):
        assert client.get(url).status_code == 403, url


def test_list_page_shows_codes_and_searches(browser, roster, grids):
    everyone = browser.get("/admin/households")

    assert everyone.status_code == 200
    for code in ("MZ-01-0001", "MZ-01-0003", "MZ-02-0002"):
        assert code in everyone.text
    found = browser.get("/admin/households", query_string={"q": "王建国"})
    assert "MZ-01-0002" in found.text
    assert "MZ-01-0001" not in found.text
    by_grid = browser.get("/admin/households", query_string={"grid_id": grids[1].id})
    assert "MZ-02-0001" in by_grid.text and "MZ-02-0002" in by_grid.text
    assert "MZ-01-0001" not in by_grid.text


def test_list_page_never_shows_another_village(browser, make_household, other_village, household):
    make_household(of=other_village, name="李四光")

    assert "李四光" not in browser.get("/admin/households").text


def test_new_household_form_creates_one(browser, grids):
    assert browser.get("/admin/households/new").status_code == 200

    response = browser.post(
        "/admin/households/new",
        data={
            "name": "王建国",
            "address": "和平路12号",
            "grid_id": str(grids[1].id),
            "phone": "13900001111",
            "members": "4",
            "status": "active",
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 302
    household = db.session.scalar(select(Household))
    assert response.headers["Location"] == f"/admin/households/{household.id}"
    assert (household.code, household.name, household.phone, household.members) == (
        "MZ-02-0001",
        "王建国",
        "13900001111",
        4,
    )
    assert verify().ok
    detail = browser.get(response.headers["Location"])
    assert detail.status_code == 200
    assert "MZ-02-0001" in detail.text


def test_new_household_form_shows_field_errors_with_422(browser, grid):
    response = browser.post(
        "/admin/households/new",
        data={
            "name": "",
            "address": "和平路12号",
            "grid_id": str(grid.id),
            "phone": "call me",
            "members": "200",
            "status": "active",
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 422
    assert "Enter the name" in response.text
    assert "Digits, +, - and spaces only" in response.text
    assert "A whole number from 1 to 99" in response.text
    assert "和平路12号" in response.text  # what was typed is kept
    assert household_count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "马\x07秀英"),
        ("address", "幸福路\x1b8号"),
        ("phone", "１３８１２３４５６７８"),  # full-width digits: the API refuses them too
        ("phone", "12"),
        ("members", "٣"),
    ],
    ids=[
        "control-name",
        "control-address",
        "full-width-phone",
        "short-phone",
        "arabic-digit-members",
    ],
)
def test_new_household_form_refuses_what_the_api_refuses(
    browser, client, admin_headers, grid, field, value
):
    fields = {"name": "王建国", "address": "和平路12号", "phone": "", "members": ""}
    api = client.post(
        "/api/v1/households",
        headers=admin_headers,
        json={**{k: v for k, v in fields.items() if v}, "grid_id": grid.id, field: value},
    )
    assert_problem(api, 422, "validation_error")

    response = browser.post(
        "/admin/households/new",
        data={
            **fields,
            "grid_id": str(grid.id),
            "status": "active",
            field: value,
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 422
    assert household_count() == 0


def test_new_household_form_refuses_another_villages_grid(browser, make_grid, other_village):
    theirs = make_grid("南一网格", of=other_village)

    response = browser.post(
        "/admin/households/new",
        data={
            "name": "王建国",
            "address": "和平路12号",
            "grid_id": str(theirs.id),
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 422
    assert "Choose a grid" in response.text
    assert household_count() == 0


def test_edit_form_changes_the_address(browser, household):
    form = browser.get(f"/admin/households/{household.id}/edit")
    assert form.status_code == 200
    assert "马庄村1组 幸福路8号" in form.text

    response = browser.post(
        f"/admin/households/{household.id}/edit",
        data={
            "name": "马秀英",
            "address": "马庄村3组 新村路1号",
            "grid_id": str(household.grid_id),
            "phone": "",
            "members": "",
            "status": "active",
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/households/{household.id}"
    db.session.refresh(household)
    assert household.address == "马庄村3组 新村路1号"
    assert household.code == "MZ-01-0001"
    assert "马庄村3组 新村路1号" in browser.get(response.headers["Location"]).text


def test_edit_form_marks_moved_and_refuses_bad_input(browser, household):
    bad = browser.post(
        f"/admin/households/{household.id}/edit",
        data={
            "name": "马秀英",
            "address": "",
            "grid_id": str(household.grid_id),
            "status": "gone",
            "csrf_token": csrf_token(browser),
        },
    )
    assert bad.status_code == 422
    assert "Enter the address" in bad.text

    moved = browser.post(
        f"/admin/households/{household.id}/edit",
        data={
            "name": "马秀英",
            "address": "幸福路8号",
            "grid_id": str(household.grid_id),
            "status": "moved",
            "csrf_token": csrf_token(browser),
        },
    )
    assert moved.status_code == 302
    db.session.refresh(household)
    assert household.status == "moved"


def test_detail_page_shows_balance_and_movements(browser, household):
    adjust(household.village_id, household.id, 30, reason="春季评比奖励", actor_id=None)
    adjust(household.village_id, household.id, -4, reason="录入错误更正", actor_id=None)
    db.session.commit()

    response = browser.get(f"/admin/households/{household.id}")

    assert response.status_code == 200
    assert re.search(r"data-balance[^>]*>\s*26\s*<", response.text)
    assert "春季评比奖励" in response.text and "录入错误更正" in response.text
    assert "+30" in response.text and "-4" in response.text
    assert "马秀英" in response.text and "MZ-01-0001" in response.text


def test_detail_page_of_another_villages_household_is_404(browser, make_household, other_village):
    theirs = make_household(of=other_village, name="李四光")

    response = browser.get(f"/admin/households/{theirs.id}")

    assert response.status_code == 404
    assert "李四光" not in response.text


def test_reissue_form_bumps_the_card_version(browser, admin, household):
    response = browser.post(
        f"/admin/households/{household.id}/reissue",
        data={"reason": "卡片遗失", "csrf_token": csrf_token(browser)},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/admin/households/{household.id}")
    db.session.refresh(household)
    assert household.card_version == 2
    record = db.session.scalar(select(CardReissue))
    assert (record.actor_id, record.reason, record.new_version) == (admin.id, "卡片遗失", 2)
    assert "v2" in browser.get(response.headers["Location"]).text


def test_reissue_form_of_another_villages_household_is_404(browser, make_household, other_village):
    theirs = make_household(of=other_village, name="李四光")

    response = browser.post(
        f"/admin/households/{theirs.id}/reissue",
        data={"reason": "x", "csrf_token": csrf_token(browser)},
    )

    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.card_version == 1


def test_detail_page_qr_decodes_to_the_payload(browser, client, admin_headers, household):
    payload = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json[
        "qr_payload"
    ]
    svg = browser.get(f"/admin/households/{household.id}/qr.svg")

    assert svg.status_code == 200
    assert [r.text for r in zxingcpp.read_barcodes(rasterize_svg(svg.data))] == [payload]


def test_import_page_imports_a_roster(browser, grids):
    assert browser.get("/admin/households/import").status_code == 200

    response = browser.post(
        "/admin/households/import",
        data={
            **csv_upload(
                ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,西一网格,,"
            ),
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 200
    assert "2 households imported" in response.text
    assert household_count() == 2


def test_import_page_shows_the_bad_rows(browser, grids):
    response = browser.post(
        "/admin/households/import",
        data={
            **csv_upload(
                ROSTER_HEADER, "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,北九网格,,"
            ),
            "csrf_token": csrf_token(browser),
        },
    )

    assert response.status_code == 422
    assert "Nothing was imported" in response.text
    assert re.search(r"<td>\s*3\s*</td>\s*<td>\s*网格\s*</td>", response.text)
    assert household_count() == 0


def test_import_page_without_a_file_says_so(browser, grid):
    response = browser.post("/admin/households/import", data={"csrf_token": csrf_token(browser)})

    assert response.status_code == 422
    assert "Choose a CSV or XLSX file" in response.text


def test_roster_templates_download(browser, grids):
    as_csv = browser.get("/admin/households/import/template.csv")
    as_xlsx = browser.get("/admin/households/import/template.xlsx")

    assert as_csv.status_code == 200
    assert as_csv.mimetype == "text/csv"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert rows[0] == ROSTER_HEADER.split(",")
    assert as_xlsx.status_code == 200
    assert as_xlsx.mimetype == XLSX
    sheet = load_workbook(io.BytesIO(as_xlsx.data)).active
    assert [cell.value for cell in sheet[1]] == ROSTER_HEADER.split(",")
    assert browser.get("/admin/households/import/template.pdf").status_code == 404


def test_cards_page_offers_the_grids_and_prints_a_pdf(browser, roster, grids):
    page = browser.get("/admin/cards")

    assert page.status_code == 200
    assert "东一网格" in page.text and "西一网格" in page.text
    response = browser.get("/admin/cards.pdf", query_string={"grid_id": grids[1].id})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "MZ-02-0001" in text and "MZ-02-0002" in text
    assert "MZ-01-0001" not in text


def test_cards_pdf_page_without_a_grid_is_a_friendly_error(browser, roster):
    response = browser.get("/admin/cards.pdf")

    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.text
