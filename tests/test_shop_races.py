"""Receipt numbers and tills racing: no overdraft, no oversold stock, no gap in numbers."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from testsupport import balance_of, count, movements_of, run_at_once, stock_of, this_year

from app.auth.models import STOREKEEPER
from app.checks import verify_all
from app.db import db, run_write
from app.redemptions import services as shop
from app.redemptions.models import Redemption

pytestmark = pytest.mark.usefixtures("photo_folder")

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
        return run_write(
            lambda: (
                shop.redeem_goods(household, storekeeper, lines, at=moment).redemption.receipt_no
            )
        )

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
