"""Cancelling a redemption through the JSON API, and the ledger check after a day at the shop."""

import pytest
from sqlalchemy import text
from testsupport import assert_problem, balance_of, movements_of, stock_of

from app.auth.models import STOREKEEPER
from app.checks import verify_all
from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")

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
    stock_problems = [p for p in report.problems if p.check == "stock"]
    assert [(p.ids["good_id"], p.expected, p.actual) for p in stock_problems] == [(soap_id, 9, 10)]

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
