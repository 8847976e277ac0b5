"""POST /api/v1/inspections/batch: a queue of inspections in one request (issues 17 and 21)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError
from testsupport import assert_problem, balance_of, inspection_journals, run_at_once

from app.db import db
from app.inspections import services as inspections
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")

BATCH = "/api/v1/inspections/batch"


@pytest.fixture
def batch(client, inspector_headers):
    def send(items, headers=None):
        return client.post(BATCH, json={"items": items}, headers=headers or inspector_headers)

    return send


def item(key, household, grade="A", **extra):
    return {"key": key, "household_id": household.id, "grade": grade, **extra}


def test_each_item_is_credited_in_order(batch, make_household):
    households = [make_household() for _ in range(3)]
    earlier = (datetime.now(UTC) - timedelta(hours=2)).isoformat()

    response = batch(
        [
            item("k1", households[0], "A"),
            item("k2", households[1], "B", note="纸箱没压扁"),
            item("k3", households[2], "C", inspected_at=earlier),
        ]
    )

    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [i["key"] for i in items] == ["k1", "k2", "k3"]
    assert [i["status"] for i in items] == [201, 201, 201]
    assert [i["inspection"]["points"] for i in items] == [3, 2, 1]
    assert [i["inspection"]["balance"] for i in items] == [3, 2, 1]
    assert items[1]["inspection"]["note"] == "纸箱没压扁"
    assert "recorded_at" in items[2]["inspection"]
    assert [balance_of(h.id) for h in households] == [3, 2, 1]


def test_one_items_refusal_changes_nothing_for_the_others(batch, inspect, make_household):
    households = [make_household() for _ in range(4)]
    assert inspect(households[1], "A").status_code == 201  # its slot of today is taken
    too_old = (datetime.now(UTC) - timedelta(hours=80)).isoformat()

    response = batch(
        [
            item("a", households[0], "A"),
            item("b", households[1], "A"),
            {"key": "c", "household_id": 999_999, "grade": "A"},
            item("d", households[2], "Z"),
            item("e", households[3], "A", inspected_at=too_old),
            item("f", households[3], "B"),
        ]
    )

    assert response.status_code == 200
    items = response.json["items"]
    assert [i["status"] for i in items] == [201, 409, 404, 422, 422, 201]
    assert [i.get("problem", {}).get("code") for i in items] == [
        None,
        "already_inspected_today",
        "not_found",
        "validation_error",
        "too_late",
        None,
    ]
    assert [balance_of(h.id) for h in households] == [3, 3, 0, 2]
    assert inspection_journals() == 3


def test_an_items_bad_field_is_refused_alone(batch, make_household):
    first, second = make_household(), make_household()

    response = batch(
        [
            {"key": "x1", "household_id": first.id, "grade": "A", "note": 5},
            item("x2", second, "A"),
        ]
    )

    assert response.status_code == 200
    bad, good = response.json["items"]
    assert bad["status"] == 422
    assert bad["problem"]["code"] == "validation_error"
    assert "note" in bad["problem"]["errors"]
    assert good["status"] == 201
    assert balance_of(first.id) == 0
    assert balance_of(second.id) == 3


def test_an_item_sent_alone_then_in_a_batch_credits_once(batch, inspect, household):
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    alone = inspect(household, "A", key="tap-1", note="好", inspected_at=at)

    again = batch([item("tap-1", household, "A", note="好", inspected_at=at)])

    assert alone.status_code == 201
    answer = again.json["items"][0]
    assert answer["status"] == 201
    assert answer["inspection"] == alone.json
    assert balance_of(household.id) == 3
    assert inspection_journals() == 1


def test_an_item_sent_in_a_batch_then_alone_credits_once(batch, inspect, household):
    first = batch([item("tap-2", household, "B")])

    alone = inspect(household, "B", key="tap-2")

    assert first.json["items"][0]["status"] == 201
    assert alone.status_code == 201
    assert alone.headers["Idempotent-Replayed"] == "true"
    assert alone.json == first.json["items"][0]["inspection"]
    assert alone.headers["Location"].endswith(f"/api/v1/inspections/{alone.json['id']}")
    assert balance_of(household.id) == 2
    assert inspection_journals() == 1


def test_a_batch_sent_twice_credits_once_and_answers_the_first_outcomes(
    batch, inspect, make_household
):
    households = [make_household() for _ in range(2)]
    inspect(households[1], "A")
    items = [item("q1", households[0], "A"), item("q2", households[1], "B")]

    first = batch(items)
    second = batch(items)

    assert second.json == first.json
    assert [i["status"] for i in second.json["items"]] == [201, 409]
    assert [balance_of(h.id) for h in households] == [3, 3]


def test_a_refusal_alone_is_replayed_in_a_batch(batch, inspect, household):
    inspect(household, "A")
    alone = inspect(household, "B", key="late-1")

    again = batch([item("late-1", household, "B")])

    assert_problem(alone, 409, "already_inspected_today")
    assert again.json["items"][0] == {"key": "late-1", "status": 409, "problem": alone.json}


def test_a_key_reused_with_another_body_is_a_conflict(batch, inspect, household):
    inspect(household, "A", key="same")

    response = batch([item("same", household, "B")])

    answer = response.json["items"][0]
    assert answer["status"] == 422
    assert answer["problem"]["code"] == "idempotency_conflict"
    assert balance_of(household.id) == 3


def test_the_same_key_twice_in_one_batch_credits_once(batch, make_household):
    household = make_household()

    response = batch([item("dup", household, "A"), item("dup", household, "A")])

    first, second = response.json["items"]
    assert first["status"] == second["status"] == 201
    assert first["inspection"] == second["inspection"]
    assert balance_of(household.id) == 3


@pytest.mark.parametrize(
    "body",
    [
        {"items": {"key": "k", "grade": "A"}},
        {"items": "k"},
        {},
        "items",
        {"items": [{"household_id": 1, "grade": "A"}]},
        {"items": [{"key": "", "household_id": 1, "grade": "A"}]},
        {"items": [{"key": "é", "household_id": 1, "grade": "A"}]},
        {"items": [3]},
        {"items": [{"key": f"k{i}", "grade": "A"} for i in range(101)]},
    ],
    ids=[
        "object",
        "string",
        "no items",
        "not an object",
        "missing key",
        "empty key",
        "key not ascii",
        "item not an object",
        "101 items",
    ],
)
def test_a_malformed_body_is_refused_whole(client, inspector_headers, household, body):
    good = {"key": "good", "household_id": household.id, "grade": "A"}
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        body["items"].insert(0, good)

    response = client.post(BATCH, json=body, headers=inspector_headers)

    assert_problem(response, 422, "validation_error")
    assert balance_of(household.id) == 0
    assert inspection_journals() == 0


def test_a_hundred_items_are_accepted(batch, make_household):
    households = [make_household() for _ in range(5)]
    items = [item(f"h{i}", households[i % 5], "A") for i in range(100)]

    response = batch(items)

    statuses = [i["status"] for i in response.json["items"]]
    assert statuses.count(201) == 5
    assert statuses.count(409) == 95
    assert [balance_of(h.id) for h in households] == [3] * 5


def test_only_inspectors_and_admins_send_batches(batch, storekeeper_headers, household):
    response = batch([item("s1", household)], headers=storekeeper_headers)

    assert_problem(response, 403)
    assert balance_of(household.id) == 0


def test_the_same_batch_from_many_connections_credits_once(app, inspector_headers, make_household):
    households = [make_household() for _ in range(3)]
    items = [item(f"race-{n}", h, "A") for n, h in enumerate(households)]

    def send(_index):
        response = app.test_client().post(BATCH, json={"items": items}, headers=inspector_headers)
        return response.status_code, response.get_json()

    results = run_at_once(app, 4, send)

    assert all(status == 200 for status, _ in results), results
    assert all(body == results[0][1] for _, body in results)
    assert [i["status"] for i in results[0][1]["items"]] == [201, 201, 201]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert [balance_of(h.id) for h in households] == [3, 3, 3]
    assert inspection_journals() == 3
    assert ledger.verify().ok


class TransientError(Exception):
    """What the driver raises for a serialization failure."""

    sqlstate = "40001"


def test_a_serialization_failure_runs_the_whole_batch_again(batch, make_household, monkeypatch):
    households = [make_household() for _ in range(3)]
    real = inspections.inspect_household
    calls = {"all": 0}

    def inspect_household(*args, **kwargs):
        calls["all"] += 1
        if calls["all"] == 2:  # the second item, the first time round
            raise OperationalError("UPDATE accounts ...", {}, TransientError())
        return real(*args, **kwargs)

    monkeypatch.setattr(inspections, "inspect_household", inspect_household)

    response = batch([item(f"s{n}", h, "A") for n, h in enumerate(households)])

    assert [i["status"] for i in response.json["items"]] == [201, 201, 201]
    assert calls["all"] == 5  # two items, then all three again
    assert [balance_of(h.id) for h in households] == [3, 3, 3]
    assert inspection_journals() == 3
