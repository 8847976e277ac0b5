"""POST /api/v1/inspections/batch: a queue of inspections in one request (issues 17 and 21).

Every test that sends through the `batch` fixture runs both ways a queue is decided
(app/inspections/batch.py): at once, and item by item, the way taken when another
request took a slot or a key meanwhile.
"""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import jsonify
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, OperationalError
from testsupport import assert_problem, balance_of, inspection_journals, run_at_once

from app.auth.models import INSPECTOR
from app.db import db
from app.households.cards import card_payload
from app.households.models import Household
from app.households.services import reissue_card
from app.inspections import batch as queues
from app.ledger import services as ledger
from app.rules.models import RuleSet

pytestmark = pytest.mark.usefixtures("photo_folder")

BATCH = "/api/v1/inspections/batch"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def taken(*args, **kwargs):
    raise IntegrityError("INSERT INTO inspections ...", {}, Exception("slot taken meanwhile"))


@pytest.fixture(params=["at once", "each"])
def way(request, monkeypatch):
    """Decide the queue at once, or (as if a slot was taken meanwhile) item by item."""
    if request.param == "each":
        monkeypatch.setattr(queues, "decide_all", taken)
    return request.param


@pytest.fixture
def batch(client, inspector_headers, way):
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


@pytest.mark.parametrize("debug", [False, True], ids=["compact", "debug"])
def test_an_item_replayed_alone_answers_the_bytes_the_single_request_would(
    app, batch, inspect, make_household, debug
):
    """The body kept with a batch item's key is written as jsonify() writes a 201."""
    alone_first, queued_first = make_household(), make_household()
    app.debug = debug
    try:
        single = inspect(alone_first, "B", key="alone-1")
        batch([item("queued-1", queued_first, "B")])
        replays = {
            "alone": inspect(alone_first, "B", key="alone-1"),
            "queued": inspect(queued_first, "B", key="queued-1"),
        }
    finally:
        app.debug = False

    assert single.status_code == 201
    assert [r.headers["Idempotent-Replayed"] for r in replays.values()] == ["true", "true"]
    assert replays["alone"].get_data() == single.get_data()
    with app.app_context():
        app.debug = debug
        try:
            written_as_jsonify = jsonify(replays["queued"].json).get_data()
        finally:
            app.debug = False
    assert replays["queued"].get_data() == written_as_jsonify


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


@pytest.mark.usefixtures("way")
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


def test_a_serialization_failure_runs_the_whole_batch_again(
    batch, way, make_household, monkeypatch
):
    households = [make_household() for _ in range(3)]
    calls = {"all": 0}
    # At once, the credits are posted in one call; item by item, one call each.
    module, name = (queues, "post_many") if way == "at once" else (queues, "credit_queue")
    real = getattr(module, name)

    def fails_once(*args, **kwargs):
        calls["all"] += 1
        if calls["all"] == 2 - (way == "at once"):  # the second item, the first time round
            raise OperationalError("UPDATE accounts ...", {}, TransientError())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, fails_once)

    response = batch([item(f"s{n}", h, "A") for n, h in enumerate(households)])

    assert [i["status"] for i in response.json["items"]] == [201, 201, 201]
    assert calls["all"] == (2 if way == "at once" else 5)  # then all three again
    assert [balance_of(h.id) for h in households] == [3, 3, 3]
    assert inspection_journals() == 3


def ago(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_cards_are_read_as_the_single_request_reads_them(batch, make_household, admin):
    current, replaced_after, replaced_before = (make_household() for _ in range(3))
    after_card, before_card = card_payload(replaced_after), card_payload(replaced_before)
    graded = ago(minutes=30)
    reissue_card(replaced_after, actor_id=admin.id, reason="丢失")
    reissue_card(replaced_before, actor_id=admin.id, reason="丢失")
    db.session.commit()

    response = batch(
        [
            {"key": "c1", "payload": card_payload(current), "grade": "A"},
            {"key": "c2", "payload": after_card, "grade": "B", "inspected_at": graded},
            {"key": "c3", "payload": before_card, "grade": "A", "inspected_at": ago(seconds=0)},
            {"key": "c4", "payload": "GP1:not-a-card", "grade": "A"},
        ]
    )

    items = response.json["items"]
    assert [i["status"] for i in items] == [201, 201, 410, 422]
    assert [i.get("problem", {}).get("code") for i in items[2:]] == ["revoked_qr", "invalid_qr"]
    assert items[1]["inspection"]["household_id"] == replaced_after.id
    assert [balance_of(h.id) for h in (current, replaced_after, replaced_before)] == [3, 2, 0]


def test_a_queue_over_days_and_rules_is_decided_by_each_grades_moment(
    batch, put_rules, make_household, village
):
    household = make_household()
    assert put_rules({"grades": {"A": 5, "B": 2, "D": 0}, "daily_limit": 2}).status_code == 200
    db.session.execute(
        update(RuleSet)
        .where(RuleSet.village_id == village.id, RuleSet.version == 2)
        .values(created_at=datetime.now(UTC) - timedelta(days=2))
    )
    db.session.commit()
    assert put_rules({"grades": {"A": 9, "D": 0}, "daily_limit": 1}).status_code == 200
    now_local = datetime.now(SHANGHAI)
    yesterday = datetime.combine(
        now_local.date() - timedelta(days=1), datetime.min.time().replace(hour=12), SHANGHAI
    )

    def at(hours: int) -> str:
        return (yesterday + timedelta(hours=hours)).isoformat()

    response = batch(
        [
            item("y1", household, "A", inspected_at=at(0)),  # yesterday, version 2: 5
            item("y2", household, "D", inspected_at=at(1)),  # 0 points; the balance is 5
            item("y3", household, "B", inspected_at=at(2)),  # over yesterday's 2 a day
            item("t1", household, "D"),  # today, version 3: 0 points
            item("t2", household, "A"),  # over today's 1 a day
        ]
    )

    items = response.json["items"]
    assert [i["status"] for i in items] == [201, 201, 409, 201, 409]
    assert [items[n]["inspection"]["points"] for n in (0, 1, 3)] == [5, 0, 0]
    assert [items[n]["inspection"]["balance"] for n in (0, 1, 3)] == [5, 5, 5]
    assert items[0]["inspection"]["local_date"] == yesterday.date().isoformat()
    assert balance_of(household.id) == 5
    assert ledger.verify().ok


def test_a_grade_of_no_points_shows_the_balance_after_the_credits_before_it(
    batch, put_rules, make_household
):
    household = make_household(points=10)
    assert put_rules({"grades": {"A": 3, "D": 0}, "daily_limit": 3}).status_code == 200

    response = batch(
        [item("z1", household, "D"), item("z2", household, "A"), item("z3", household, "D")]
    )

    assert [i["inspection"]["balance"] for i in response.json["items"]] == [10, 13, 13]
    assert balance_of(household.id) == 13


def test_a_household_moved_away_is_refused_and_the_refusal_kept(batch, inspect, make_household):
    moved, staying = make_household(), make_household()
    db.session.execute(update(Household).where(Household.id == moved.id).values(status="moved"))
    db.session.commit()

    first = batch([item("m1", moved), item("m2", staying)])
    alone = inspect(moved, "A", key="m1")

    assert [i["status"] for i in first.json["items"]] == [409, 201]
    assert first.json["items"][0]["problem"]["code"] == "household_inactive"
    assert alone.headers["Idempotent-Replayed"] == "true"
    assert balance_of(staying.id) == 3


def test_a_door_graded_before_the_queue_arrives_is_refused_alone(
    client, inspect, inspector_headers, make_household
):
    graded, fresh = make_household(), make_household()
    assert inspect(graded, "A").status_code == 201

    response = client.post(
        BATCH, json={"items": [item("l1", graded), item("l2", fresh)]}, headers=inspector_headers
    )

    assert [i["status"] for i in response.json["items"]] == [409, 201]
    assert response.json["items"][0]["problem"]["code"] == "already_inspected_today"
    assert [balance_of(h.id) for h in (graded, fresh)] == [3, 3]
    assert inspection_journals() == 2
    assert ledger.verify().ok


@pytest.mark.usefixtures("way")
def test_two_queues_for_the_same_doors_at_once_credit_each_door_once(
    app, inspector_headers, make_household
):
    households = [make_household() for _ in range(4)]
    doors = [SimpleNamespace(id=h.id) for h in households]  # read here, not in the threads

    def send(index):
        items = [item(f"phone{index}-{n}", h, "A") for n, h in enumerate(doors)]
        response = app.test_client().post(BATCH, json={"items": items}, headers=inspector_headers)
        return response.status_code, [i["status"] for i in response.get_json()["items"]]

    results = run_at_once(app, 3, send)

    assert all(isinstance(r, tuple) and r[0] == 200 for r in results), results
    # Each door credited by exactly one phone; the others were told it was done.
    for door in range(len(households)):
        assert sorted(statuses[door] for _, statuses in results) == [201, 409, 409], results
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert [balance_of(h.id) for h in households] == [3] * 4
    assert inspection_journals() == 4
    assert ledger.verify().ok


@pytest.mark.usefixtures("way")
def test_doors_the_inspector_may_not_grade_are_refused_alone(
    client, make_village, make_household, make_user, token_for
):
    other_village = make_village("李庄村", "LZ")
    elsewhere = make_household(of=other_village)
    own, neighbour = make_household(), make_household()
    headers = token_for(make_user(INSPECTOR, household=own))

    response = client.post(
        BATCH,
        json={
            "items": [
                item("o1", elsewhere),
                {"key": "o2", "payload": card_payload(elsewhere), "grade": "A"},
                item("o3", own),
                item("o4", neighbour),
            ]
        },
        headers=headers,
    )

    items = response.json["items"]
    assert [i["status"] for i in items] == [404, 422, 403, 201]
    assert [i.get("problem", {}).get("code") for i in items] == [
        "not_found",
        "invalid_qr",
        "conflict_of_interest",
        None,
    ]
    assert [balance_of(h.id) for h in (elsewhere, own, neighbour)] == [0, 0, 3]


@pytest.mark.parametrize(
    "extreme", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"], ids=["year 1", "9999"]
)
def test_an_item_graded_at_the_ends_of_time_is_refused_alone(
    batch, inspect, make_household, extreme
):
    """Its moment has no UTC form: refused as the single request refuses it, the others credited."""
    first, odd, last = make_household(), make_household(), make_household()
    alone = inspect(odd, "A", inspected_at=extreme)

    response = batch(
        [item("e1", first, "A"), item("e2", odd, "A", inspected_at=extreme), item("e3", last, "B")]
    )

    assert alone.status_code == 422
    assert response.status_code == 200
    items = response.json["items"]
    assert [i["status"] for i in items] == [201, 422, 201]
    assert items[1]["problem"]["code"] == alone.json["code"]
    assert [balance_of(h.id) for h in (first, odd, last)] == [3, 0, 2]
    assert inspection_journals() == 2
