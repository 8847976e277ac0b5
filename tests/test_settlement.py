"""Goods cost and the shop's monthly settlement (issue 18)."""

import io

import pytest
from pypdf import PdfReader
from testsupport import PASSWORD, assert_problem, log_in, page_post

from app.auth.models import ADMIN, HOUSEHOLD, STOREKEEPER
from app.db import db
from app.scope import village_today
from app.townships.services import create_township, create_township_user, move_village


@pytest.fixture
def shop(client, village, make_household, make_user, token_for):
    """A storekeeper's headers, a household with 500 points and a good that cost 1.50 yuan."""
    keeper = token_for(make_user(STOREKEEPER))
    household = make_household(points=500)
    good = client.post(
        "/api/v1/goods",
        json={"name": "竹炭牙刷", "unit": "支", "price_points": 10, "stock": 50, "cost_cents": 150},
        headers=keeper,
    ).get_json()
    return {"keeper": keeper, "household_id": household.id, "good_id": good["id"]}


def _redeem(client, shop, quantity: int) -> int:
    response = client.post(
        "/api/v1/redemptions",
        json={
            "household_id": shop["household_id"],
            "lines": [{"good_id": shop["good_id"], "quantity": quantity}],
        },
        headers=shop["keeper"],
    )
    assert response.status_code == 201, response.text
    return response.get_json()["id"]


def _month(village) -> str:
    return village_today(village.id).strftime("%Y-%m")


def test_the_settlement_nets_a_cancellation_and_keeps_the_old_cost(client, village, shop):
    _redeem(client, shop, 2)
    patched = client.patch(
        f"/api/v1/goods/{shop['good_id']}", json={"cost_cents": 300}, headers=shop["keeper"]
    )
    assert patched.get_json()["cost_cents"] == 300
    _redeem(client, shop, 1)
    cancelled = _redeem(client, shop, 4)
    assert (
        client.post(
            f"/api/v1/redemptions/{cancelled}/cancel",
            json={"reason": "退货"},
            headers=shop["keeper"],
        ).status_code
        == 200
    )

    body = client.get(
        f"/api/v1/reports/settlement?month={_month(village)}", headers=shop["keeper"]
    ).get_json()

    assert body["items"] == [
        {
            "good_id": shop["good_id"],
            "name": "竹炭牙刷",
            "units": 3,
            "points": 30,
            "cost_cents": 600,
        }
    ]
    assert (body["total_units"], body["total_points"], body["total_cost_cents"]) == (3, 30, 600)
    # 600 fen for 30 points: 20 fen a point; the household holds 470 points.
    assert body["outstanding"] == 470
    assert body["cost_per_point_cents"] == 20
    assert body["outstanding_cost_cents"] == 470 * 20


def test_a_restock_with_a_unit_cost_sets_the_goods_cost(client, shop):
    response = client.post(
        f"/api/v1/goods/{shop['good_id']}/restock",
        json={"quantity": 5, "unit_cost_cents": 180},
        headers=shop["keeper"],
    )

    assert response.status_code == 200
    assert response.get_json()["cost_cents"] == 180
    movements = client.get(
        f"/api/v1/goods/{shop['good_id']}/movements", headers=shop["keeper"]
    ).get_json()["items"]
    assert movements[0]["unit_cost_cents"] == 180


def test_only_admin_and_storekeeper_see_what_goods_cost(
    client, village, shop, household, make_user, token_for
):
    resident = token_for(make_user(HOUSEHOLD, household=household))
    admin = token_for(make_user(ADMIN))

    seen = client.get("/api/v1/goods", headers=resident).get_json()["items"][0]
    assert "cost_cents" not in seen
    assert client.get("/api/v1/goods", headers=admin).get_json()["items"][0]["cost_cents"] == 150
    page = client.get(f"/api/v1/reports/settlement?month={_month(village)}", headers=resident)
    assert_problem(page, 403, "forbidden")


def test_a_malformed_month_is_refused(client, shop):
    for month in ("2026-13", "26-01", "2026/01", "x" * 30):
        response = client.get(f"/api/v1/reports/settlement?month={month}", headers=shop["keeper"])
        assert_problem(response, 422, "validation_error")


def test_the_settlement_pdf_shows_its_goods_and_signature_lines_in_chinese(client, village, shop):
    _redeem(client, shop, 2)

    response = client.get(
        f"/api/v1/reports/settlement.pdf?month={_month(village)}", headers=shop["keeper"]
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "竹炭牙刷" in text
    assert "马庄村" in text
    assert "3.00" in text
    assert text.count("签字") >= 3


def test_a_township_reads_each_villages_settlement_by_village_id(
    client, village, make_village, shop, token_for
):
    town = create_township("东湖街道", "DH")
    move_village(village, town)
    other = make_village("外村", "WC")
    staff = create_township_user(town, "dh-staff", PASSWORD)
    db.session.commit()
    headers = token_for(staff)
    _redeem(client, shop, 1)
    month = _month(village)

    own = client.get(
        f"/api/v1/reports/settlement?month={month}&village_id={village.id}", headers=headers
    )
    assert own.status_code == 200
    assert own.get_json()["total_cost_cents"] == 150
    refused = client.get(
        f"/api/v1/reports/settlement?month={month}&village_id={other.id}", headers=headers
    )
    assert refused.status_code in (403, 404)
    page = client.get(f"/api/v1/reports/villages?from={month}-01", headers=headers).get_json()
    assert [row["goods_cost_cents"] for row in page["items"]] == [150]


def test_the_catalogue_page_shows_the_cost_to_the_storekeeper(client, shop, make_user):
    make_user(STOREKEEPER, username="keeper-page")
    log_in(client, "keeper-page")

    page = client.get("/admin/goods")

    assert page.status_code == 200
    assert "进价（元）" in page.text
    assert "1.50" in page.text


def test_a_cost_typed_in_yuan_on_the_goods_page_reaches_the_settlement(
    client, village, make_user, make_good, make_household, token_for
):
    make_user(STOREKEEPER, username="keeper-yuan")
    soap = make_good("香皂", price=10, stock=20)
    household = make_household(points=100)
    log_in(client, "keeper-yuan")
    edited = page_post(client, f"/admin/goods/{soap.id}/edit", {"cost_yuan": "2.30"})
    assert edited.status_code == 302
    keeper = token_for(make_user(STOREKEEPER))
    redeemed = client.post(
        "/api/v1/redemptions",
        json={"household_id": household.id, "lines": [{"good_id": soap.id, "quantity": 2}]},
        headers=keeper,
    )
    assert redeemed.status_code == 201

    settled = client.get(
        f"/api/v1/reports/settlement?month={_month(village)}", headers=keeper
    ).get_json()

    assert settled["total_cost_cents"] == 460
