"""The admin's roster pages: the list, the add and edit forms, a household's page, reissue."""

import re

import pytest
import zxingcpp
from sqlalchemy import select
from testsupport import (
    assert_problem,
    balance_of,
    csrf_token,
    household_count,
    log_in,
    page_post,
    rasterize_svg,
)

from app.auth.models import INSPECTOR
from app.db import db
from app.households.models import CardReissue, Household
from app.inspections.models import Inspection
from app.ledger.services import adjust, verify

# The admin's pages ---------------------------------------------------------------------


def test_roster_pages_need_an_admin(client, make_user, household):
    anonymous = client.get("/admin/households", headers={"Accept": "text/html"})
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login")

    make_user(INSPECTOR, username="wgy")
    log_in(client, "wgy", english=True)
    for url in (
        "/admin/households",
        f"/admin/households/{household.id}",
        "/admin/households/new",
        "/admin/households/import",
        "/admin/cards",
    ):
        assert client.get(url).status_code == 403, url


def test_list_page_shows_codes_and_searches(admin_client, roster, grids):
    everyone = admin_client.get("/admin/households")

    assert everyone.status_code == 200
    for code in ("MZ-01-0001", "MZ-01-0003", "MZ-02-0002"):
        assert code in everyone.text
    found = admin_client.get("/admin/households", query_string={"q": "王建国"})
    assert "MZ-01-0002" in found.text
    assert "MZ-01-0001" not in found.text
    by_grid = admin_client.get("/admin/households", query_string={"grid_id": grids[1].id})
    assert "MZ-02-0001" in by_grid.text and "MZ-02-0002" in by_grid.text
    assert "MZ-01-0001" not in by_grid.text


def test_list_page_never_shows_another_village(
    admin_client, make_household, other_village, household
):
    make_household(of=other_village, name="李四光")

    assert "李四光" not in admin_client.get("/admin/households").text


def test_the_households_list_shows_grid_masked_phone_balance_and_last_inspection(
    client, admin, inspector, make_household, grids
):
    from app.inspections.services import record_inspection

    east, west = grids
    seen = make_household(name="东户甲", in_grid=east, phone="13812345678", points=7)
    unseen = make_household(name="西户乙", in_grid=west)
    record_inspection(seen, inspector, "A")
    db.session.commit()
    log_in(client, "admin", english=True)
    page = client.get("/admin/households").text
    row = page.split(f'data-household="{seen.code}"')[1].split("</tr>")[0]
    assert "东一网格" in row and "138****5678" in row and "13812345678" not in page
    assert f'class="num">{balance_of(seen)}<' in row and balance_of(seen) > 7
    day = db.session.scalar(select(Inspection.local_date))
    assert day.isoformat() in row
    other = page.split(f'data-household="{unseen.code}"')[1].split("</tr>")[0]
    assert "西一网格" in other and "Never" in other


def test_new_household_form_creates_one(admin_client, grids):
    assert admin_client.get("/admin/households/new").status_code == 200

    response = admin_client.post(
        "/admin/households/new",
        data={
            "name": "王建国",
            "address": "和平路12号",
            "grid_id": str(grids[1].id),
            "phone": "13900001111",
            "members": "4",
            "status": "active",
            "key": "form-1",
            "csrf_token": csrf_token(admin_client),
        },
    )

    assert response.status_code == 302
    household = db.session.scalar(select(Household))
    assert response.headers["Location"] == f"/admin/households/{household.id}?saved=1"
    assert (household.code, household.name, household.phone, household.members) == (
        "MZ-02-0001",
        "王建国",
        "13900001111",
        4,
    )
    assert verify().ok
    detail = admin_client.get(response.headers["Location"])
    assert detail.status_code == 200
    assert "MZ-02-0001" in detail.text


def test_new_household_form_shows_field_errors_with_422(admin_client, grid):
    response = admin_client.post(
        "/admin/households/new",
        data={
            "name": "",
            "address": "和平路12号",
            "grid_id": str(grid.id),
            "phone": "call me",
            "members": "200",
            "status": "active",
            "key": "form-2",
            "csrf_token": csrf_token(admin_client),
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
    admin_client, client, admin_headers, grid, field, value
):
    fields = {"name": "王建国", "address": "和平路12号", "phone": "", "members": ""}
    api = client.post(
        "/api/v1/households",
        headers=admin_headers,
        json={**{k: v for k, v in fields.items() if v}, "grid_id": grid.id, field: value},
    )
    assert_problem(api, 422, "validation_error")

    response = admin_client.post(
        "/admin/households/new",
        data={
            **fields,
            "grid_id": str(grid.id),
            "status": "active",
            field: value,
            "key": "form-3",
            "csrf_token": csrf_token(admin_client),
        },
    )

    assert response.status_code == 422
    assert household_count() == 0


def test_new_household_form_refuses_another_villages_grid(admin_client, make_grid, other_village):
    theirs = make_grid("南一网格", of=other_village)

    response = admin_client.post(
        "/admin/households/new",
        data={
            "name": "王建国",
            "address": "和平路12号",
            "grid_id": str(theirs.id),
            "key": "form-4",
            "csrf_token": csrf_token(admin_client),
        },
    )

    assert response.status_code == 422
    assert "Choose a grid" in response.text
    assert household_count() == 0


def test_edit_form_changes_the_address(admin_client, household):
    form = admin_client.get(f"/admin/households/{household.id}/edit")
    assert form.status_code == 200
    assert "马庄村1组 幸福路8号" in form.text

    response = admin_client.post(
        f"/admin/households/{household.id}/edit",
        data={
            "name": "马秀英",
            "address": "马庄村3组 新村路1号",
            "grid_id": str(household.grid_id),
            "phone": "",
            "members": "",
            "status": "active",
            "key": "form-5",
            "csrf_token": csrf_token(admin_client),
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/households/{household.id}?saved=1"
    db.session.refresh(household)
    assert household.address == "马庄村3组 新村路1号"
    assert household.code == "MZ-01-0001"
    assert "马庄村3组 新村路1号" in admin_client.get(response.headers["Location"]).text


def test_edit_form_marks_moved_and_refuses_bad_input(admin_client, household):
    bad = admin_client.post(
        f"/admin/households/{household.id}/edit",
        data={
            "name": "马秀英",
            "address": "",
            "grid_id": str(household.grid_id),
            "status": "gone",
            "key": "form-6",
            "csrf_token": csrf_token(admin_client),
        },
    )
    assert bad.status_code == 422
    assert "Enter the address" in bad.text

    moved = admin_client.post(
        f"/admin/households/{household.id}/edit",
        data={
            "name": "马秀英",
            "address": "幸福路8号",
            "grid_id": str(household.grid_id),
            "status": "moved",
            "key": "form-7",
            "csrf_token": csrf_token(admin_client),
        },
    )
    assert moved.status_code == 302
    db.session.refresh(household)
    assert household.status == "moved"


def test_editing_a_household_says_it_was_saved(client, admin, household, grid):
    log_in(client, "admin", english=True)
    response = page_post(
        client,
        f"/admin/households/{household.id}/edit",
        {
            "name": "马秀兰",
            "address": household.address,
            "grid_id": str(grid.id),
            "phone": "",
            "members": "",
            "status": "active",
        },
    )
    assert response.status_code == 302
    assert "Saved." in client.get(response.headers["Location"]).text


def test_detail_page_shows_balance_and_movements(admin_client, household):
    adjust(household.village_id, household.id, 30, reason="春季评比奖励", actor_id=None)
    adjust(household.village_id, household.id, -4, reason="录入错误更正", actor_id=None)
    db.session.commit()

    response = admin_client.get(f"/admin/households/{household.id}")

    assert response.status_code == 200
    assert re.search(r"data-balance[^>]*>\s*26\s*<", response.text)
    assert "春季评比奖励" in response.text and "录入错误更正" in response.text
    assert "+30" in response.text and "-4" in response.text
    assert "马秀英" in response.text and "MZ-01-0001" in response.text


def test_detail_page_of_another_villages_household_is_404(
    admin_client, make_household, other_village
):
    theirs = make_household(of=other_village, name="李四光")

    response = admin_client.get(f"/admin/households/{theirs.id}")

    assert response.status_code == 404
    assert "李四光" not in response.text


def test_reissue_form_bumps_the_card_version(admin_client, admin, household):
    response = admin_client.post(
        f"/admin/households/{household.id}/reissue",
        data={"key": "form-8", "reason": "卡片遗失", "csrf_token": csrf_token(admin_client)},
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/admin/households/{household.id}")
    db.session.refresh(household)
    assert household.card_version == 2
    record = db.session.scalar(select(CardReissue))
    assert (record.actor_id, record.reason, record.new_version) == (admin.id, "卡片遗失", 2)
    assert "v2" in admin_client.get(response.headers["Location"]).text


def test_reissue_form_of_another_villages_household_is_404(
    admin_client, make_household, other_village
):
    theirs = make_household(of=other_village, name="李四光")

    response = admin_client.post(
        f"/admin/households/{theirs.id}/reissue",
        data={"key": "form-9", "reason": "x", "csrf_token": csrf_token(admin_client)},
    )

    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.card_version == 1


def test_detail_page_qr_decodes_to_the_payload(admin_client, client, admin_headers, household):
    payload = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json[
        "qr_payload"
    ]
    svg = admin_client.get(f"/admin/households/{household.id}/qr.svg")

    assert svg.status_code == 200
    assert [r.text for r in zxingcpp.read_barcodes(rasterize_svg(svg.data))] == [payload]


@pytest.mark.parametrize("base_url", [None, "http://127.0.0.1:5000", "http://localhost"])
def test_detail_page_shows_no_card_a_phone_could_not_open(app, admin_client, household, base_url):
    """Unset or loopback BASE_URL: the page says so, as the cards page does, and offers no card."""
    app.config["BASE_URL"] = base_url

    page = admin_client.get(f"/admin/households/{household.id}").text

    assert "data-card-address-refused" in page
    assert "Cards cannot be printed: BASE_URL" in page
    assert "BASE_URL=http://192.168.1.10:5000" in page
    assert "data-card-qr" not in page and "data-print-card" not in page


def test_detail_page_says_where_a_village_network_card_points(app, admin_client, household):
    app.config["BASE_URL"] = "http://192.168.1.10:5000"

    page = admin_client.get(f"/admin/households/{household.id}").text

    assert "data-card-address-private" in page
    assert "only phones on that network" in page
    assert "data-card-qr" in page and "data-print-card" in page
    assert "The QR codes encode: http://192.168.1.10:5000" in page


def test_the_api_qr_images_say_they_encode_base_url(app, client, admin_headers, household):
    """Programs and tests use them, so they keep answering even without BASE_URL."""
    app.config["BASE_URL"] = None
    spec = client.get("/api/v1/openapi.json").json

    for ext in ("png", "svg"):
        path = spec["paths"][f"/api/v1/households/{{household_id}}/qr.{ext}"]["get"]
        assert "BASE_URL" in path["description"]
        image = client.get(f"/api/v1/households/{household.id}/qr.{ext}", headers=admin_headers)
        assert image.status_code == 200
