"""The points shop through the JSON API: catalogue, stock, redemptions, receipts, cancels."""

import io
import re
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select, text
from test_ledger_races import run_at_once

from app.auth.models import INSPECTOR, STOREKEEPER
from app.catalogue import services as catalogue
from app.catalogue.models import Good, StockMovement
from app.checks import verify_all
from app.db import db, run_write
from app.households.cards import card_payload
from app.households.services import reissue_card, update_household
from app.ledger import services as ledger
from app.ledger.models import Account, Journal
from app.redemptions import services as shop
from app.redemptions.models import Redemption, RedemptionLine

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
REDEMPTION_FIELDS = {"id", "receipt_no", "total_points", "balance", "lines"}
RECEIPT = re.compile(r"^MZ-(\d{4})-(\d{6})$")


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


def balance_of(household_id: int) -> int:
    return db.session.scalar(select(Account.balance).where(Account.household_id == household_id))


def stock_of(good_id: int) -> int:
    return db.session.scalar(select(Good.stock).where(Good.id == good_id))


def movements_of(good_id: int) -> list[StockMovement]:
    return list(
        db.session.scalars(
            select(StockMovement).where(StockMovement.good_id == good_id).order_by(StockMovement.id)
        )
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def this_year() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


def snapshot(households, goods) -> dict:
    """Everything a redemption could change, to compare before and after a refusal."""
    db.session.rollback()
    return {
        "balances": {h.id: balance_of(h.id) for h in households},
        "stocks": {g.id: stock_of(g.id) for g in goods},
        "journals": count(Journal),
        "redemptions": count(Redemption),
        "lines": count(RedemptionLine),
        "movements": count(StockMovement),
    }


@pytest.fixture(autouse=True)
def photo_folder(app, tmp_path):
    """Keep uploaded pictures in the test's own folder, never under instance/."""
    folder = tmp_path / "photos"
    app.config["PHOTO_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def storekeeper(make_user):
    return make_user(STOREKEEPER, username="storekeeper")


@pytest.fixture
def storekeeper_headers(storekeeper, token_for):
    return token_for(storekeeper)


@pytest.fixture
def inspector_headers(make_user, token_for):
    return token_for(make_user(INSPECTOR, username="inspector"))


@pytest.fixture
def resident_headers(resident, token_for):
    return token_for(resident)


@pytest.fixture
def make_good(app, village):
    counter = iter(range(1, 10_000))

    def make(
        name: str | None = None,
        *,
        price: int = 5,
        stock: int = 10,
        unit: str = "个",
        of=None,
        low_stock: int = 5,
        active: bool = True,
    ) -> Good:
        target = of or village
        good = catalogue.create_good(
            target.id,
            name=name or f"商品{next(counter)}",
            unit=unit,
            price_points=price,
            stock=stock,
            low_stock=low_stock,
        )
        if not active:
            catalogue.update_good(good, {"active": False})
        db.session.commit()
        return good

    return make


@pytest.fixture
def soap(make_good):
    return make_good("肥皂", price=5, stock=10, unit="块")


@pytest.fixture
def oil(make_good):
    return make_good("食用油", price=12, stock=3, unit="瓶")


@pytest.fixture
def redeem(client, storekeeper_headers):
    """Post a redemption; lines are (good or good id, quantity) pairs."""

    def post(household=None, *lines, key=None, headers=None, **body):
        if household is not None:
            body.setdefault("household_id", household.id)
        body.setdefault(
            "lines",
            [
                {"good_id": getattr(good, "id", good), "quantity": quantity}
                for good, quantity in lines
            ],
        )
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            "/api/v1/redemptions", json=body, headers={**(headers or storekeeper_headers), **extra}
        )

    return post


@pytest.fixture
def cancel(client, storekeeper_headers):
    def post(redemption_id, reason="退货", *, headers=None, key=None):
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            f"/api/v1/redemptions/{redemption_id}/cancel",
            json={"reason": reason},
            headers={**(headers or storekeeper_headers), **extra},
        )

    return post


def png_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (20, 120, 200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


# The catalogue ------------------------------------------------------------------------------


def test_a_storekeeper_adds_a_good_with_its_opening_stock(client, storekeeper_headers):
    response = client.post(
        "/api/v1/goods",
        headers=storekeeper_headers,
        json={"name": "洗衣粉", "unit": "袋", "price_points": 8, "stock": 20, "category": "日用品"},
    )

    assert response.status_code == 201, response.text
    good = response.json
    assert {
        k: good[k]
        for k in ("name", "unit", "price_points", "stock", "category", "active", "has_picture")
    } == {
        "name": "洗衣粉",
        "unit": "袋",
        "price_points": 8,
        "stock": 20,
        "category": "日用品",
        "active": True,
        "has_picture": False,
    }
    assert response.headers["Location"].endswith(f"/api/v1/goods/{good['id']}")
    [opening] = movements_of(good["id"])
    assert (opening.kind, opening.quantity, opening.stock_after) == ("restock", 20, 20)
    assert verify_all().ok


def test_an_admin_adds_a_good_with_no_stock(client, admin_headers):
    response = client.post(
        "/api/v1/goods",
        headers=admin_headers,
        json={"name": "毛巾", "unit": "条", "price_points": 3},
    )

    assert response.status_code == 201, response.text
    assert response.json["stock"] == 0
    assert movements_of(response.json["id"]) == []


@pytest.mark.parametrize(
    "change",
    [
        {"price_points": 0},
        {"price_points": -3},
        {"price_points": 2.5},
        {"price_points": "5"},
        {"price_points": None},
        {"stock": -1},
        {"name": ""},
        {"unit": None},
    ],
)
def test_a_good_needs_a_whole_positive_price_and_a_name(client, storekeeper_headers, change):
    body = {"name": "酱油", "unit": "瓶", "price_points": 6, "stock": 2, **change}

    assert_problem(
        client.post("/api/v1/goods", headers=storekeeper_headers, json=body),
        422,
        "validation_error",
    )
    assert count(Good) == 0


def test_a_name_is_taken_once_per_village(client, storekeeper_headers, soap):
    response = client.post(
        "/api/v1/goods",
        headers=storekeeper_headers,
        json={"name": "肥皂", "unit": "块", "price_points": 4},
    )

    body = assert_problem(response, 422, "validation_error")
    assert "name" in body["errors"]


def test_patch_changes_the_price_but_not_the_stock(client, storekeeper_headers, soap):
    response = client.patch(
        f"/api/v1/goods/{soap.id}",
        headers=storekeeper_headers,
        json={"price_points": 7, "low_stock": 2},
    )

    assert response.status_code == 200, response.text
    assert (response.json["price_points"], response.json["low_stock"]) == (7, 2)
    assert_problem(
        client.patch(f"/api/v1/goods/{soap.id}", headers=storekeeper_headers, json={"stock": 99}),
        422,
        "validation_error",
    )
    assert_problem(
        client.patch(
            f"/api/v1/goods/{soap.id}", headers=storekeeper_headers, json={"price_points": 0}
        ),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10


def test_a_household_lists_the_goods_on_sale_only(
    client, resident_headers, make_good, storekeeper_headers
):
    on_sale = make_good("大米", price=20)
    hidden = make_good("旧货", active=False)

    response = client.get("/api/v1/goods", headers=resident_headers)
    assert response.status_code == 200
    assert [g["id"] for g in response.json["items"]] == [on_sale.id]
    everything = client.get("/api/v1/goods?all=true", headers=resident_headers)
    assert [g["id"] for g in everything.json["items"]] == [on_sale.id]
    assert_problem(
        client.get(f"/api/v1/goods/{hidden.id}", headers=resident_headers), 404, "not_found"
    )

    staff = client.get("/api/v1/goods?all=true", headers=storekeeper_headers)
    assert {g["id"] for g in staff.json["items"]} == {on_sale.id, hidden.id}


def test_a_good_at_or_below_its_mark_is_low(client, storekeeper_headers, make_good):
    at_mark = make_good("蜡烛", stock=5, low_stock=5)
    above = make_good("大米", stock=6, low_stock=5)

    items = {
        g["id"]: g for g in client.get("/api/v1/goods", headers=storekeeper_headers).json["items"]
    }
    assert items[at_mark.id]["is_low"] is True
    assert items[above.id]["is_low"] is False


def test_movements_and_pictures_are_for_staff(client, resident_headers, inspector_headers, soap):
    assert_problem(
        client.get(f"/api/v1/goods/{soap.id}/movements", headers=resident_headers), 403, "forbidden"
    )
    assert (
        client.get(f"/api/v1/goods/{soap.id}/movements", headers=inspector_headers).status_code
        == 200
    )
    for headers in (resident_headers, inspector_headers):
        response = client.post(
            f"/api/v1/goods/{soap.id}/picture",
            headers=headers,
            data={"picture": (io.BytesIO(png_bytes()), "soap.png", "image/png")},
            content_type="multipart/form-data",
        )
        assert_problem(response, 403, "forbidden")


def test_the_catalogue_needs_a_login(client, soap):
    assert_problem(client.get("/api/v1/goods"), 401, "unauthorized")


@pytest.mark.parametrize("who", ["inspector", "household"])
def test_inspectors_and_households_cannot_run_the_shop(client, request, who, soap, household):
    headers = request.getfixturevalue(
        "inspector_headers" if who == "inspector" else "resident_headers"
    )
    before = snapshot([household], [soap])
    calls = [
        ("post", "/api/v1/goods", {"name": "糖", "unit": "袋", "price_points": 2}),
        ("patch", f"/api/v1/goods/{soap.id}", {"price_points": 1}),
        ("post", f"/api/v1/goods/{soap.id}/restock", {"quantity": 5}),
        ("post", f"/api/v1/goods/{soap.id}/stocktake", {"counted": 1, "reason": "x"}),
        ("post", f"/api/v1/goods/{soap.id}/writeoff", {"quantity": 1, "reason": "x"}),
        (
            "post",
            "/api/v1/redemptions",
            {"household_id": household.id, "lines": [{"good_id": soap.id, "quantity": 1}]},
        ),
    ]
    for method, path, body in calls:
        assert_problem(getattr(client, method)(path, json=body, headers=headers), 403, "forbidden")
    assert client.get("/api/v1/goods", headers=headers).status_code == 200
    assert snapshot([household], [soap]) == before


def test_another_villages_goods_are_out_of_reach(client, make_village, make_user, token_for, soap):
    other = token_for(make_user(STOREKEEPER, of=make_village("李庄村", "LZ")))

    assert client.get("/api/v1/goods", headers=other).json["items"] == []
    for method, path, body in [
        ("get", f"/api/v1/goods/{soap.id}", None),
        ("patch", f"/api/v1/goods/{soap.id}", {"price_points": 1}),
        ("post", f"/api/v1/goods/{soap.id}/restock", {"quantity": 5}),
        ("post", f"/api/v1/goods/{soap.id}/writeoff", {"quantity": 1, "reason": "x"}),
        ("get", f"/api/v1/goods/{soap.id}/movements", None),
    ]:
        assert_problem(getattr(client, method)(path, json=body, headers=other), 404, "not_found")
    assert stock_of(soap.id) == 10


# Stock movements ----------------------------------------------------------------------------


def test_a_storekeeper_restocks_with_a_note_and_a_supplier(
    client, storekeeper, storekeeper_headers, soap
):
    response = client.post(
        f"/api/v1/goods/{soap.id}/restock",
        headers=storekeeper_headers,
        json={"quantity": 24, "note": "一箱", "supplier": "镇供销社"},
    )

    assert response.status_code == 200, response.text
    assert response.json["stock"] == 34
    latest = movements_of(soap.id)[-1]
    assert (
        latest.kind,
        latest.quantity,
        latest.stock_after,
        latest.note,
        latest.supplier,
        latest.actor_id,
    ) == ("restock", 24, 34, "一箱", "镇供销社", storekeeper.id)
    listed = client.get(f"/api/v1/goods/{soap.id}/movements", headers=storekeeper_headers)
    assert listed.status_code == 200
    assert [(m["kind"], m["quantity"], m["stock_after"]) for m in listed.json["items"]] == [
        ("restock", 24, 34),
        ("restock", 10, 10),
    ]


@pytest.mark.parametrize("quantity", [0, -4, 1.5, "3"])
def test_a_restock_adds_a_whole_number_of_units(client, storekeeper_headers, soap, quantity):
    assert_problem(
        client.post(
            f"/api/v1/goods/{soap.id}/restock",
            headers=storekeeper_headers,
            json={"quantity": quantity},
        ),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10
    assert len(movements_of(soap.id)) == 1


def test_a_stocktake_records_the_difference_and_its_reason(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 7, "reason": "月底盘点"},
    )

    assert response.status_code == 200, response.text
    assert response.json["stock"] == 7
    latest = movements_of(soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.stock_after, latest.note) == (
        "stocktake",
        -3,
        7,
        "月底盘点",
    )

    upward = client.post(
        f"/api/v1/goods/{soap.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 9, "reason": "找到两块"},
    )
    assert upward.json["stock"] == 9
    assert movements_of(soap.id)[-1].quantity == 2
    assert verify_all().ok


def test_a_stocktake_that_matches_records_nothing(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 10, "reason": "一致"},
    )

    assert response.status_code == 200
    assert len(movements_of(soap.id)) == 1


@pytest.mark.parametrize(
    "body", [{"counted": 3}, {"counted": 3, "reason": ""}, {"counted": -1, "reason": "x"}]
)
def test_a_stocktake_needs_a_count_and_a_reason(client, storekeeper_headers, soap, body):
    assert_problem(
        client.post(f"/api/v1/goods/{soap.id}/stocktake", headers=storekeeper_headers, json=body),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10


def test_a_write_off_records_its_reason(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/writeoff",
        headers=storekeeper_headers,
        json={"quantity": 2, "reason": "受潮"},
    )

    assert response.status_code == 200, response.text
    assert response.json["stock"] == 8
    latest = movements_of(soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.stock_after, latest.note) == (
        "writeoff",
        -2,
        8,
        "受潮",
    )


def test_a_write_off_of_more_than_the_stock_is_refused(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/writeoff",
        headers=storekeeper_headers,
        json={"quantity": 11, "reason": "全坏了"},
    )

    body = assert_problem(response, 409, "out_of_stock")
    assert body["good_id"] == soap.id
    assert stock_of(soap.id) == 10
    assert len(movements_of(soap.id)) == 1


def test_a_write_off_needs_a_reason(client, storekeeper_headers, soap):
    assert_problem(
        client.post(
            f"/api/v1/goods/{soap.id}/writeoff", headers=storekeeper_headers, json={"quantity": 1}
        ),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10


def test_a_restock_replayed_under_its_key_adds_once(client, storekeeper_headers, soap):
    headers = {**storekeeper_headers, "Idempotency-Key": "restock-1"}
    first = client.post(f"/api/v1/goods/{soap.id}/restock", headers=headers, json={"quantity": 5})
    again = client.post(f"/api/v1/goods/{soap.id}/restock", headers=headers, json={"quantity": 5})

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert stock_of(soap.id) == 15


# Redemptions --------------------------------------------------------------------------------


def test_a_multi_line_redemption_moves_points_and_stock_exactly(
    redeem, make_household, storekeeper, soap, oil
):
    household = make_household(points=50)

    response = redeem(household, (soap, 2), (oil, 1))

    assert response.status_code == 201, response.text
    body = response.json
    assert REDEMPTION_FIELDS <= set(body)
    assert response.headers["Location"].endswith(f"/api/v1/redemptions/{body['id']}")
    assert body["total_points"] == 2 * 5 + 12
    assert body["balance"] == 50 - 22
    assert body["balance_before"] == 50
    assert sorted(
        (line["good_id"], line["quantity"], line["price_points"], line["line_points"])
        for line in body["lines"]
    ) == sorted([(soap.id, 2, 5, 10), (oil.id, 1, 12, 12)])
    assert {line["name"] for line in body["lines"]} == {"肥皂", "食用油"}

    assert balance_of(household.id) == 28
    assert (stock_of(soap.id), stock_of(oil.id)) == (8, 2)
    for good_id, taken, left in [(soap.id, 2, 8), (oil.id, 1, 2)]:
        latest = movements_of(good_id)[-1]
        assert (
            latest.kind,
            latest.quantity,
            latest.stock_after,
            latest.redemption_id,
            latest.actor_id,
        ) == ("redemption", -taken, left, body["id"], storekeeper.id)
    redemption = db.session.get(Redemption, body["id"])
    assert (redemption.household_id, redemption.storekeeper_id, redemption.total_points) == (
        household.id,
        storekeeper.id,
        22,
    )
    journal = db.session.get(Journal, redemption.journal_id)
    assert journal.kind == "redemption"
    assert verify_all().ok


def test_a_redemption_can_be_read_back_and_listed(
    client, redeem, storekeeper_headers, make_household, soap
):
    household = make_household(points=20)
    created = redeem(household, (soap, 1)).json

    one = client.get(f"/api/v1/redemptions/{created['id']}", headers=storekeeper_headers)
    assert one.status_code == 200
    assert (one.json["receipt_no"], one.json["total_points"], one.json["cancelled"]) == (
        created["receipt_no"],
        5,
        False,
    )
    listed = client.get(
        f"/api/v1/redemptions?household_id={household.id}", headers=storekeeper_headers
    )
    assert [r["id"] for r in listed.json["items"]] == [created["id"]]


def test_two_lines_of_one_good_are_taken_together(redeem, make_household, soap):
    household = make_household(points=50)

    response = redeem(household, (soap, 2), (soap, 3))

    assert response.status_code == 201, response.text
    assert response.json["total_points"] == 25
    assert [(line["good_id"], line["quantity"]) for line in response.json["lines"]] == [
        (soap.id, 5)
    ]
    assert stock_of(soap.id) == 5


def test_a_scanned_card_redeems_for_its_household(app, redeem, make_household, soap):
    household = make_household(points=10)
    with app.test_request_context():
        payload = card_payload(household)

    response = redeem(None, (soap, 1), payload=payload)

    assert response.status_code == 201, response.text
    assert balance_of(household.id) == 5


def test_a_replaced_card_does_not_redeem(app, redeem, make_household, soap):
    household = make_household(points=10)
    with app.test_request_context():
        old = card_payload(household)
    reissue_card(household, actor_id=None, reason="lost")
    db.session.commit()

    assert_problem(redeem(None, (soap, 1), payload=old), 410, "revoked_qr")
    assert_problem(redeem(None, (soap, 1), payload="not a card"), 422, "invalid_qr")
    assert balance_of(household.id) == 10
    assert stock_of(soap.id) == 10


def test_a_refusal_for_too_few_points_changes_nothing(redeem, make_household, soap, oil):
    household = make_household(points=20)
    before = snapshot([household], [soap, oil])

    body = assert_problem(redeem(household, (soap, 1), (oil, 2)), 409, "insufficient_points")

    assert body["code"] == "insufficient_points"
    assert snapshot([household], [soap, oil]) == before


def test_out_of_stock_names_the_good_even_when_another_line_is_fine(
    redeem, make_household, soap, oil
):
    household = make_household(points=500)
    before = snapshot([household], [soap, oil])

    body = assert_problem(redeem(household, (soap, 1), (oil, 4)), 409, "out_of_stock")

    assert body["good_id"] == oil.id
    assert snapshot([household], [soap, oil]) == before
    # The refusal took no receipt number either.
    assert RECEIPT.match(redeem(household, (soap, 1)).json["receipt_no"]).group(2) == "000001"


@pytest.mark.parametrize(
    "lines",
    [
        [{"good_id": 999_999, "quantity": 1}],
        [{"good_id": "inactive", "quantity": 1}],
        [{"good_id": "soap", "quantity": 0}],
        [{"good_id": "soap", "quantity": -1}],
        [{"good_id": "soap", "quantity": 1.5}],
        [{"good_id": "soap", "quantity": "1"}],
        [{"good_id": "soap"}],
        [{"good_id": "soap", "quantity": 1}, {"good_id": 999_999, "quantity": 1}],
        [{"good_id": 2**40, "quantity": 1}],
        [{"good_id": "soap", "quantity": 10**12}],
        [{"good_id": "soap", "quantity": 1}] * 51,
        [],
    ],
)
def test_an_invalid_basket_is_refused_and_changes_nothing(
    redeem, make_household, make_good, soap, lines
):
    household = make_household(points=50)
    inactive = make_good("下架商品", price=1, active=False)
    ids = {"soap": soap.id, "inactive": inactive.id}
    lines = [{**line, "good_id": ids.get(line["good_id"], line["good_id"])} for line in lines]
    before = snapshot([household], [soap, inactive])

    assert_problem(redeem(household, lines=lines), 422, "validation_error")

    assert snapshot([household], [soap, inactive]) == before


def test_household_id_and_payload_together_are_refused(app, redeem, make_household, soap):
    household = make_household(points=50)
    with app.test_request_context():
        payload = card_payload(household)

    assert_problem(redeem(household, (soap, 1), payload=payload), 422, "validation_error")
    assert_problem(redeem(None, (soap, 1)), 422, "validation_error")
    assert balance_of(household.id) == 50


def test_another_villages_household_or_good_moves_nothing(
    redeem, make_village, make_household, make_good, soap
):
    other_village = make_village("李庄村", "LZ")
    stranger = make_household(of=other_village, points=50, name="李四")
    foreign_good = make_good("外村肥皂", of=other_village, price=1)
    household = make_household(points=50)
    before = snapshot([household, stranger], [soap, foreign_good])

    response = redeem(stranger, (soap, 1))
    assert response.status_code in (404, 422)
    assert_problem(response, response.status_code)
    assert_problem(redeem(household, (foreign_good, 1)), 422, "validation_error")

    assert snapshot([household, stranger], [soap, foreign_good]) == before


def test_a_basket_worth_more_than_any_balance_is_refused_cleanly(redeem, make_household, make_good):
    household = make_household(points=100)
    dear = [make_good(f"金条{i}", price=1_000_000, stock=1_000_000) for i in range(3)]
    before = snapshot([household], dear)

    # 3 lines of 1,000 at 1,000,000 points: 3e9 points, past a 32-bit integer and past
    # the most one transfer moves; refused as too much either way, never a 500.
    response = redeem(household, *[(good, 1000) for good in dear])

    body = assert_problem(response, response.status_code)
    assert (response.status_code, body["code"]) in {
        (409, "insufficient_points"),
        (422, "validation_error"),
    }
    assert snapshot([household], dear) == before


def test_another_villages_card_does_not_redeem_here(redeem, make_village, make_household, soap):
    stranger = make_household(of=make_village("李庄村", "LZ"), points=50, name="李四")

    assert_problem(redeem(None, (soap, 1), payload=card_payload(stranger)), 422, "invalid_qr")
    assert balance_of(stranger.id) == 50
    assert stock_of(soap.id) == 10


def test_a_household_that_moved_away_cannot_redeem(redeem, make_household, soap):
    household = make_household(points=50)
    update_household(household, {"status": "moved"})
    db.session.commit()

    assert_problem(redeem(household, (soap, 1)), 409, "household_inactive")
    assert balance_of(household.id) == 50
    assert stock_of(soap.id) == 10


def test_prices_on_old_receipts_stay_as_they_were(
    client, redeem, storekeeper_headers, make_household, soap
):
    household = make_household(points=100)
    old = redeem(household, (soap, 2)).json

    assert (
        client.patch(
            f"/api/v1/goods/{soap.id}",
            headers=storekeeper_headers,
            json={"price_points": 9, "name": "香皂"},
        ).status_code
        == 200
    )
    new = redeem(household, (soap, 2)).json

    again = client.get(f"/api/v1/redemptions/{old['id']}", headers=storekeeper_headers).json
    assert [
        (line["name"], line["price_points"], line["line_points"]) for line in again["lines"]
    ] == [("肥皂", 5, 10)]
    assert again["total_points"] == 10
    assert [(line["name"], line["price_points"]) for line in new["lines"]] == [("香皂", 9)]
    assert new["total_points"] == 18
    assert balance_of(household.id) == 100 - 10 - 18
    assert verify_all().ok


# Idempotency --------------------------------------------------------------------------------


def test_a_redemption_replayed_under_its_key_redeems_once(redeem, make_household, soap):
    household = make_household(points=50)

    first = redeem(household, (soap, 2), key="till-1")
    again = redeem(household, (soap, 2), key="till-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert balance_of(household.id) == 40
    assert stock_of(soap.id) == 8
    assert count(Redemption) == 1


def test_a_key_reused_for_another_basket_is_a_conflict(redeem, make_household, soap):
    household = make_household(points=50)
    redeem(household, (soap, 1), key="till-2")

    assert_problem(redeem(household, (soap, 3), key="till-2"), 422, "idempotency_conflict")
    assert balance_of(household.id) == 45
    assert stock_of(soap.id) == 9


def test_a_refusal_is_replayed_under_its_key(redeem, village, make_household, soap):
    household = make_household(points=3)
    first = redeem(household, (soap, 1), key="till-3")
    assert_problem(first, 409, "insufficient_points")

    ledger.adjust(village.id, household.id, 10, reason="top up", actor_id=None)
    db.session.commit()
    again = redeem(household, (soap, 1), key="till-3")

    assert_problem(again, 409, "insufficient_points")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert balance_of(household.id) == 13
    fresh = redeem(household, (soap, 1), key="till-4")
    assert fresh.status_code == 201
    assert balance_of(household.id) == 8


def test_an_out_of_stock_refusal_is_replayed_under_its_key(
    redeem, client, storekeeper_headers, make_household, oil
):
    household = make_household(points=500)
    first = redeem(household, (oil, 5), key="till-5")
    assert_problem(first, 409, "out_of_stock")
    client.post(
        f"/api/v1/goods/{oil.id}/restock", headers=storekeeper_headers, json={"quantity": 10}
    )

    again = redeem(household, (oil, 5), key="till-5")

    assert_problem(again, 409, "out_of_stock")
    assert again.json["good_id"] == oil.id
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stock_of(oil.id) == 13
    assert balance_of(household.id) == 500


def test_a_malformed_basket_is_not_stored_under_its_key(redeem, make_household, soap):
    household = make_household(points=50)
    assert_problem(redeem(household, (soap, 0), key="till-6"), 422, "validation_error")

    assert redeem(household, (soap, 1), key="till-6").status_code == 201


def test_the_same_key_from_many_connections_redeems_once(
    app, make_household, storekeeper_headers, soap
):
    household = make_household(points=50)
    body = {"household_id": household.id, "lines": [{"good_id": soap.id, "quantity": 2}]}
    headers = {**storekeeper_headers, "Idempotency-Key": "till-race"}
    household_id, soap_id = household.id, soap.id

    def send(_index):
        response = app.test_client().post("/api/v1/redemptions", json=body, headers=headers)
        return (
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Idempotent-Replayed"),
        )

    results = run_at_once(app, 6, send)
    assert {(status, text) for status, text, _ in results} == {(201, results[0][1])}
    assert sum(1 for *_, replayed in results if replayed is None) == 1
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 40
    assert stock_of(soap_id) == 8
    assert count(Redemption) == 1


# Receipt numbers ----------------------------------------------------------------------------


def test_receipt_numbers_count_up_per_village_and_year(
    redeem, make_village, make_user, token_for, make_household, make_good, soap
):
    household = make_household(points=100)
    numbers = [redeem(household, (soap, 1)).json["receipt_no"] for _ in range(3)]

    assert numbers == [f"MZ-{this_year()}-{n:06d}" for n in (1, 2, 3)]

    other_village = make_village("李庄村", "LZ")
    other_headers = token_for(make_user(STOREKEEPER, of=other_village))
    stranger = make_household(of=other_village, points=10, name="李四")
    their_good = make_good("外村肥皂", of=other_village, price=1)
    theirs = redeem(stranger, (their_good, 1), headers=other_headers)
    assert theirs.json["receipt_no"] == f"LZ-{this_year()}-000001"


def test_a_new_year_starts_a_new_sequence_on_the_village_clock(
    village, storekeeper, make_household, soap
):
    household = make_household(points=100)
    soap_id = soap.id
    lines = [shop.LineRequest(soap_id, 1)]

    def at(moment):
        return run_write(lambda: shop.redeem(household, storekeeper, lines, at=moment).receipt_no)

    # 16:30 UTC on New Year's Eve is already New Year's Day in Shanghai.
    assert at(datetime(2030, 12, 31, 10, 0, tzinfo=UTC)) == "MZ-2030-000001"
    assert at(datetime(2030, 12, 31, 16, 30, tzinfo=UTC)) == "MZ-2031-000001"
    assert at(datetime(2031, 1, 2, 9, 0, tzinfo=UTC)) == "MZ-2031-000002"


def test_concurrent_redemptions_get_distinct_consecutive_numbers(
    app, make_household, storekeeper_headers, soap
):
    households = [make_household(points=10, name=f"住户{i}") for i in range(10)]
    household_ids, soap_id = [h.id for h in households], soap.id

    def buy(index):
        response = app.test_client().post(
            "/api/v1/redemptions",
            headers=storekeeper_headers,
            json={
                "household_id": household_ids[index],
                "lines": [{"good_id": soap_id, "quantity": 1}],
            },
        )
        return response.status_code, response.json.get("receipt_no")

    results = run_at_once(app, 10, buy)
    assert [status for status, _ in results] == [201] * 10
    year = this_year()
    assert sorted(number for _, number in results) == [f"MZ-{year}-{n:06d}" for n in range(1, 11)]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    by_id = list(db.session.scalars(select(Redemption.receipt_no).order_by(Redemption.id)))
    assert by_id == sorted(by_id)
    assert stock_of(soap_id) == 0
    assert verify_all().ok


# Races --------------------------------------------------------------------------------------


def test_thirty_tills_on_a_balance_for_five(app, make_household, storekeeper_headers, make_good):
    good = make_good("纸巾", price=3, stock=100)
    household = make_household(points=15)
    household_id, good_id = household.id, good.id

    def buy(index):
        response = app.test_client().post(
            "/api/v1/redemptions",
            headers={**storekeeper_headers, "Idempotency-Key": f"overdraft-{index}"},
            json={"household_id": household_id, "lines": [{"good_id": good_id, "quantity": 1}]},
        )
        return response.status_code, response.json.get("code")

    outcomes = Counter(run_at_once(app, 30, buy))
    assert outcomes == {(201, None): 5, (409, "insufficient_points"): 25}
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 0
    assert stock_of(good_id) == 95
    assert count(Redemption) == 5
    assert verify_all().ok


def test_twelve_households_after_the_last_three_units(
    app, make_household, storekeeper_headers, make_good
):
    good = make_good("电饭煲", price=4, stock=3)
    household_ids = [make_household(points=10, name=f"住户{i}").id for i in range(12)]
    good_id = good.id

    def buy(index):
        response = app.test_client().post(
            "/api/v1/redemptions",
            headers=storekeeper_headers,
            json={
                "household_id": household_ids[index],
                "lines": [{"good_id": good_id, "quantity": 1}],
            },
        )
        return response.status_code, response.json.get("code"), response.json.get("good_id")

    outcomes = Counter(run_at_once(app, 12, buy))
    assert outcomes == {(201, None, None): 3, (409, "out_of_stock", good_id): 9}
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert stock_of(good_id) == 0
    assert sorted(balance_of(h) for h in household_ids) == [6] * 3 + [10] * 9
    assert count(Redemption) == 3
    assert verify_all().ok


def test_concurrent_cancels_of_one_redemption_cancel_it_once(
    app, redeem, make_household, storekeeper_headers, soap, oil
):
    household = make_household(points=50)
    redemption_id = redeem(household, (soap, 2), (oil, 1)).json["id"]
    household_id, soap_id, oil_id = household.id, soap.id, oil.id

    def cancel_it(_index):
        response = app.test_client().post(
            f"/api/v1/redemptions/{redemption_id}/cancel",
            headers=storekeeper_headers,
            json={"reason": "并发"},
        )
        return response.status_code, response.json.get("code")

    outcomes = Counter(run_at_once(app, 6, cancel_it))
    assert outcomes == {(200, None): 1, (409, "already_reversed"): 5}
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 50
    assert (stock_of(soap_id), stock_of(oil_id)) == (10, 3)
    assert [m.kind for m in movements_of(soap_id)] == ["restock", "redemption", "cancel"]
    assert verify_all().ok


# Cancelling ---------------------------------------------------------------------------------


def test_a_cancel_gives_back_points_and_stock_once(redeem, cancel, make_household, soap, oil):
    household = make_household(points=50)
    created = redeem(household, (soap, 2), (oil, 1)).json

    response = cancel(created["id"], "拿错了")

    assert response.status_code == 200, response.text
    assert response.json["cancelled"] is True
    assert response.json["cancel_reason"] == "拿错了"
    assert response.json["current_balance"] == 50
    assert balance_of(household.id) == 50
    assert (stock_of(soap.id), stock_of(oil.id)) == (10, 3)
    for good_id, quantity, after in [(soap.id, 2, 10), (oil.id, 1, 3)]:
        latest = movements_of(good_id)[-1]
        assert (latest.kind, latest.quantity, latest.stock_after, latest.redemption_id) == (
            "cancel",
            quantity,
            after,
            created["id"],
        )
    # The receipt keeps its lines and numbers.
    assert response.json["receipt_no"] == created["receipt_no"]
    assert response.json["total_points"] == 22

    assert_problem(cancel(created["id"], "再来一次"), 409, "already_reversed")
    assert balance_of(household.id) == 50
    assert (stock_of(soap.id), stock_of(oil.id)) == (10, 3)
    assert verify_all().ok


def test_a_cancel_needs_a_reason(redeem, cancel, make_household, soap):
    household = make_household(points=50)
    created = redeem(household, (soap, 1)).json

    assert_problem(cancel(created["id"], ""), 422, "validation_error")
    assert balance_of(household.id) == 45


def test_a_cancel_replayed_under_its_key_answers_the_same(redeem, cancel, make_household, soap):
    household = make_household(points=50)
    created = redeem(household, (soap, 1)).json

    first = cancel(created["id"], key="undo-1")
    again = cancel(created["id"], key="undo-1")

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance_of(household.id) == 50


def test_cancels_are_for_the_shop_of_the_village(
    redeem, cancel, make_household, make_village, make_user, token_for, inspector_headers, soap
):
    household = make_household(points=50)
    created = redeem(household, (soap, 1)).json
    stranger = token_for(make_user(STOREKEEPER, of=make_village("李庄村", "LZ")))

    assert_problem(cancel(created["id"], headers=inspector_headers), 403, "forbidden")
    assert_problem(cancel(created["id"], headers=stranger), 404, "not_found")
    assert_problem(cancel(999_999), 404, "not_found")
    assert balance_of(household.id) == 45


def test_an_admin_may_redeem_and_cancel(redeem, cancel, admin_headers, make_household, soap):
    household = make_household(points=50)
    created = redeem(household, (soap, 1), headers=admin_headers)
    assert created.status_code == 201

    assert cancel(created.json["id"], headers=admin_headers).status_code == 200
    assert balance_of(household.id) == 50


# ledger verify ------------------------------------------------------------------------------


def test_verify_names_a_good_whose_stock_was_tampered_with(
    client, runner, admin_headers, redeem, make_household, village, soap, oil
):
    redeem(make_household(points=50), (soap, 1))
    assert verify_all().ok
    soap_id = soap.id

    db.session.execute(text("UPDATE goods SET stock = stock + 1 WHERE id = :id"), {"id": soap_id})
    db.session.commit()

    report = verify_all(village.id)
    assert not report.ok
    stock_problems = [p for p in report.problems if p["check"] == "stock"]
    assert [(p["good_id"], p["expected"], p["actual"]) for p in stock_problems] == [
        (soap_id, 9, 10)
    ]

    response = client.get("/api/v1/ledger/verify", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["ok"] is False
    assert {(p["check"], p.get("good_id")) for p in response.json["problems"]} == {
        ("stock", soap_id)
    }

    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "[stock]" in result.output
    assert f"good {soap_id}" in result.output


def test_verify_passes_after_a_day_at_the_shop(
    redeem, cancel, client, storekeeper_headers, make_household, runner, soap, oil
):
    household = make_household(points=80)
    first = redeem(household, (soap, 2), (oil, 1)).json
    redeem(household, (oil, 1))
    cancel(first["id"])
    client.post(
        f"/api/v1/goods/{soap.id}/writeoff",
        headers=storekeeper_headers,
        json={"quantity": 1, "reason": "破损"},
    )
    client.post(
        f"/api/v1/goods/{oil.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 1, "reason": "盘点"},
    )

    assert verify_all().ok
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


# Pictures -----------------------------------------------------------------------------------


def test_a_picture_upload_is_served_as_jpeg(client, storekeeper_headers, resident_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/picture",
        headers=storekeeper_headers,
        data={"picture": (io.BytesIO(png_bytes()), "soap.png", "image/png")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 200, response.text
    assert response.json["has_picture"] is True
    picture = client.get(f"/api/v1/goods/{soap.id}/picture", headers=resident_headers)
    assert picture.status_code == 200
    assert picture.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(picture.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (40, 30)
    listed = client.get("/api/v1/goods", headers=resident_headers).json["items"]
    assert listed[0]["has_picture"] is True


def test_a_picture_must_be_an_image(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/picture",
        headers=storekeeper_headers,
        data={"picture": (io.BytesIO(b"not an image"), "x.png", "image/png")},
        content_type="multipart/form-data",
    )

    assert_problem(response, 422, "validation_error")
    assert_problem(
        client.get(f"/api/v1/goods/{soap.id}/picture", headers=storekeeper_headers),
        404,
        "not_found",
    )


def test_the_openapi_document_describes_the_shop(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    for path in (
        "/api/v1/goods",
        "/api/v1/goods/{good_id}/restock",
        "/api/v1/goods/{good_id}/stocktake",
        "/api/v1/goods/{good_id}/writeoff",
        "/api/v1/goods/{good_id}/movements",
        "/api/v1/goods/{good_id}/picture",
        "/api/v1/redemptions",
        "/api/v1/redemptions/{redemption_id}/cancel",
    ):
        assert path in paths, path
