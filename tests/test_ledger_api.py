"""A household's ledger and the ledger's verification through the JSON API."""

from datetime import datetime

import pytest
from testsupport import assert_problem

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR


def ledger(client, household, headers, **query):
    return client.get(
        f"/api/v1/households/{household.id}/ledger", headers=headers, query_string=query
    )


def test_ledger_lists_movements_newest_first_with_running_balance(
    client, adjust, household, admin_headers
):
    for amount in (10, 5, -3):
        adjust(household, amount, f"调整{amount}")

    response = ledger(client, household, admin_headers)

    assert response.status_code == 200
    items = response.json["items"]
    assert [i["amount"] for i in items] == [-3, 5, 10]
    assert [i["balance_after"] for i in items] == [12, 15, 10]
    assert [i["memo"] for i in items] == ["调整-3", "调整5", "调整10"]
    ids = [i["transaction_id"] for i in items]
    assert ids == sorted(ids, reverse=True)
    for item in items:
        assert {"transaction_id", "kind", "amount", "balance_after", "created_at", "memo"} <= set(
            item
        )
        assert item["kind"] == "adjustment"
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None


def test_ledger_pages_with_limit_and_next_before_version(client, adjust, household, admin_headers):
    for amount in range(1, 6):
        adjust(household, amount)

    amounts, query, pages = [], {"limit": 2}, 0
    while True:
        page = ledger(client, household, admin_headers, **query).json
        pages += 1
        assert len(page["items"]) <= 2
        amounts += [i["amount"] for i in page["items"]]
        if page["next_before_version"] is None:
            break
        query = {"limit": 2, "before_version": page["next_before_version"]}

    assert amounts == [5, 4, 3, 2, 1]
    assert pages == 3


def test_ledger_of_a_household_with_no_movements_is_empty(client, household, admin_headers):
    response = ledger(client, household, admin_headers)

    assert response.status_code == 200
    assert response.json["items"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"before_version": 0}, "before_version"),
    ],
)
def test_ledger_with_a_bad_page_query_is_422(client, household, admin_headers, query, field):
    body = assert_problem(
        ledger(client, household, admin_headers, **query), 422, "validation_error"
    )

    assert field in body["errors"]


def test_household_user_sees_its_own_ledger(client, make_household, make_user, token_for):
    household = make_household(points=8)
    resident = make_user(HOUSEHOLD, household=household)

    response = ledger(client, household, token_for(resident))

    assert response.status_code == 200
    assert [i["balance_after"] for i in response.json["items"]] == [8]


def test_household_user_gets_404_for_another_households_ledger(
    client, make_household, resident, token_for
):
    neighbour = make_household(name="王桂兰", points=8)

    assert_problem(ledger(client, neighbour, token_for(resident)), 404, "not_found")


def test_another_villages_admin_gets_404_for_the_ledger(
    client, make_village, make_user, token_for, make_household
):
    household = make_household(points=8)
    outsider = make_user(ADMIN, of=make_village())

    assert_problem(ledger(client, household, token_for(outsider)), 404, "not_found")


# Verification --------------------------------------------------------------------------


def test_admin_verifies_a_sound_ledger(client, adjust, household, admin_headers):
    adjust(household, 10)
    adjust(household, -4)

    response = client.get("/api/v1/ledger/verify", headers=admin_headers)

    assert response.status_code == 200
    assert response.json == {"ok": True, "transactions": 2, "postings": 4, "problems": []}


def test_inspector_may_not_verify_the_ledger(client, make_user, token_for):
    response = client.get("/api/v1/ledger/verify", headers=token_for(make_user(INSPECTOR)))

    assert_problem(response, 403, "forbidden")
