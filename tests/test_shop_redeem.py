"""Redemptions through the JSON API: points and stock move exactly, refusals move nothing."""

import re

import pytest
from testsupport import (
    assert_problem,
    balance_of,
    count,
    movements_of,
    run_at_once,
    snapshot,
    stock_of,
)

from app.checks import verify_all
from app.db import db
from app.households.cards import card_payload
from app.households.services import reissue_card, update_household
from app.ledger import services as ledger
from app.ledger.models import Journal
from app.redemptions.models import Redemption

pytestmark = pytest.mark.usefixtures("photo_folder")

REDEMPTION_FIELDS = {"id", "receipt_no", "total_points", "balance", "lines"}
RECEIPT = re.compile(r"^MZ-(\d{4})-(\d{6})$")


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
