"""Households through the JSON API: create, read, list, change, and who may."""

import re

import pytest
from sqlalchemy import select
from testsupport import BASE_URL, assert_problem, csv_upload, household_count

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.households.models import Household
from app.ledger.services import adjust, verify

HOUSEHOLD_FIELDS = {"id", "code", "name", "address", "grid_id", "balance", "qr_payload"}


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
        # 王建国 too: its pinyin is wangjianguo (issue 15).
        ("WANG", ["王建国", "Wang Fang"]),
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
