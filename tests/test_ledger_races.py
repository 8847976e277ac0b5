"""Concurrent requests with real connections: no overdraft, no double posting, no deadlock."""

import csv
import io
from collections import Counter

import pytest
from sqlalchemy import func, select
from testsupport import run_at_once

from app.db import db, run_write
from app.errors import AlreadyReversed, DomainError
from app.ledger import services as ledger
from app.ledger.models import Journal
from app.scope import village_today

# Up to 40 connections at once: one worker at a time runs the tests that open that many.
pytestmark = pytest.mark.xdist_group("many-connections")


def test_overdraft_race_through_the_api(app, make_household, admin_headers):
    household = make_household(points=5)
    household_id = household.id  # read here: the workers must not touch this session
    workers, price = 12, 2

    def spend(_index):
        response = app.test_client().post(
            "/api/v1/adjustments",
            headers=admin_headers,
            json={"household_id": household_id, "amount": -price, "reason": "race"},
        )
        return response.status_code, response.json["code"] if response.status_code >= 400 else None

    results = run_at_once(app, workers, spend)
    outcomes = Counter(results)
    assert outcomes == {(201, None): 5 // price, (409, "insufficient_points"): workers - 5 // price}
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert ledger.household_account(household.id).balance == 5 - price * (5 // price)
    assert ledger.verify().ok


def test_overdraft_race_on_the_service_layer(app, village, make_household):
    household = make_household(points=7)
    village_id, household_id = village.id, household.id
    workers = 16

    def spend(_index):
        return run_write(
            lambda: ledger.adjust(village_id, household_id, -1, reason="race", actor_id=None).id
        )

    results = run_at_once(app, workers, spend)
    succeeded = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(succeeded) == 7 and len(set(succeeded)) == 7
    assert len(refused) == workers - 7
    assert all(r.code == "insufficient_points" for r in refused)
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert ledger.household_account(household.id).balance == 0
    assert ledger.verify().ok


def test_the_same_key_from_many_connections_posts_once(app, make_household, admin_headers):
    household = make_household(points=1)
    workers = 8
    body = {"household_id": household.id, "amount": 3, "reason": "same key"}

    def send(_index):
        response = app.test_client().post(
            "/api/v1/adjustments",
            json=body,
            headers={**admin_headers, "Idempotency-Key": "race-key-1"},
        )
        return (
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Idempotent-Replayed"),
        )

    results = run_at_once(app, workers, send)
    assert {(status, text) for status, text, _ in results} == {(201, results[0][1])}
    assert sum(1 for *_, replayed in results if replayed is None) == 1
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert ledger.household_account(household.id).balance == 4
    journals = db.session.scalar(select(func.count(Journal.id)).where(Journal.memo == "same key"))
    assert journals == 1
    assert ledger.verify().ok


def test_a_refusal_under_the_same_key_is_replayed_to_every_copy(app, make_household, admin_headers):
    household = make_household(points=1)
    body = {"household_id": household.id, "amount": -3, "reason": "too much"}

    def send(_index):
        response = app.test_client().post(
            "/api/v1/adjustments",
            json=body,
            headers={**admin_headers, "Idempotency-Key": "race-key-2"},
        )
        return response.status_code, response.json["code"]

    assert set(run_at_once(app, 6, send)) == {(409, "insufficient_points")}
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert ledger.household_account(household.id).balance == 1


def test_two_reversals_of_one_journal_at_once_reverse_it_once(app, village, household):
    journal = ledger.credit(village.id, household.id, 5, kind="inspection", memo="A", actor_id=None)
    db.session.commit()
    journal_id, village_id = journal.id, village.id

    def void(_index):
        return run_write(
            lambda: (
                ledger.reverse(journal_id, village_id=village_id, actor_id=None, reason="race").id
            )
        )

    results = run_at_once(app, 4, void)
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, AlreadyReversed) for r in results) == 3
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert ledger.household_account(household.id).balance == 0
    assert ledger.verify().ok


def test_opposite_postings_in_a_tight_loop_never_deadlock(app, village, make_household):
    first = make_household(points=50)
    second = make_household(points=50, name="王建国")
    a = ledger.household_account(first.id).id
    b = ledger.household_account(second.id).id
    rounds = 40
    village_id = village.id

    def shuffle(index):
        legs = [ledger.Leg(a, b, 1)] if index == 0 else [ledger.Leg(b, a, 1)]
        for _ in range(rounds):
            # No retries: a deadlock or serialization failure would surface here.
            run_write(lambda: ledger.post(village_id, "adjustment", legs, memo="swap"), retries=0)
        return "done"

    assert run_at_once(app, 2, shuffle) == ["done", "done"]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert ledger.household_account(first.id).balance == 50
    assert ledger.household_account(second.id).balance == 50
    assert ledger.verify().ok


def test_a_statement_runs_in_posting_order_when_adjustments_race(
    app, client, village, make_household, admin_headers
):
    """Each row's balance follows from the row before, in the API and in the export.

    On PostgreSQL the order of posting is set by the account's lock, taken after the
    journal's id and time: read by time or journal id, the balances jumped.
    """
    household = make_household()
    household_id, code, workers = household.id, household.code, 40

    def adjust(index):
        response = app.test_client().post(
            "/api/v1/adjustments",
            headers=admin_headers,
            json={"household_id": household_id, "amount": index + 1, "reason": "race"},
        )
        return response.status_code

    assert run_at_once(app, workers, adjust) == [201] * workers
    db.session.rollback()  # end the test's snapshot; read what the workers wrote

    items = client.get(
        f"/api/v1/households/{household_id}/ledger?limit=100", headers=admin_headers
    ).json["items"]
    assert len(items) == workers
    oldest_first = [(item["amount"], item["balance_after"]) for item in reversed(items)]
    assert_running(oldest_first, total=workers * (workers + 1) // 2)

    today = village_today(village.id).isoformat()
    export = client.get(
        "/api/v1/reports/exports/ledger.csv",
        query_string={"from": today, "to": today},
        headers=admin_headers,
    )
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))[1:]
    assert_running([(int(row[5]), int(row[6])) for row in rows if row[2] == code], total=820)


def assert_running(rows: list[tuple[int, int]], *, total: int) -> None:
    """Each (amount, balance after) adds to the balance before; the last is the total."""
    balance = 0
    for amount, after in rows:
        assert after == balance + amount, rows
        balance = after
    assert balance == total
