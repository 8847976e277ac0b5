"""Transient database errors are retried with the same request, never shown as a refusal."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.db import db
from app.ledger import services as ledger
from app.ledger.models import Journal


class TransientError(Exception):
    """What the driver raises for a serialization failure or a deadlock."""

    def __init__(self, sqlstate: str):
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def failing_post(monkeypatch, sqlstate: str, times: int):
    """Make the next `times` postings fail as the database would, then work again."""
    real_post = ledger.post
    calls = {"failed": 0, "all": 0}

    def post(*args, **kwargs):
        calls["all"] += 1
        if calls["failed"] < times:
            calls["failed"] += 1
            raise OperationalError("UPDATE accounts ...", {}, TransientError(sqlstate))
        return real_post(*args, **kwargs)

    monkeypatch.setattr(ledger, "post", post)
    return calls


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
def test_a_transient_failure_is_retried_and_posts_once(
    app, client, admin_headers, make_household, monkeypatch, sqlstate
):
    household = make_household(points=5)
    calls = failing_post(monkeypatch, sqlstate, times=2)
    response = client.post(
        "/api/v1/adjustments",
        headers=admin_headers,
        json={"household_id": household.id, "amount": -3, "reason": "retry me"},
    )
    assert response.status_code == 201, response.json
    assert response.json["balance"] == 2
    assert calls == {"failed": 2, "all": 3}
    db.session.rollback()
    assert db.session.scalar(select(func.count(Journal.id)).where(Journal.memo == "retry me")) == 1
    assert ledger.verify().ok


def test_failures_that_never_clear_answer_503_not_insufficient_points(
    app, client, admin_headers, make_household, monkeypatch
):
    household = make_household(points=5)
    failing_post(monkeypatch, "40001", times=1000)
    response = client.post(
        "/api/v1/adjustments",
        headers=admin_headers,
        json={"household_id": household.id, "amount": -3, "reason": "never"},
    )
    assert response.status_code == 503
    assert response.json["code"] == "unavailable"
    db.session.rollback()
    assert ledger.household_account(household.id).balance == 5


def test_a_retried_request_with_a_key_stores_one_outcome(
    app, client, admin_headers, make_household, monkeypatch
):
    household = make_household(points=5)
    failing_post(monkeypatch, "40001", times=1)
    body = {"household_id": household.id, "amount": 4, "reason": "keyed"}
    headers = {**admin_headers, "Idempotency-Key": "retry-key-1"}
    first = client.post("/api/v1/adjustments", headers=headers, json=body)
    again = client.post("/api/v1/adjustments", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_data() == again.get_data()
    db.session.rollback()
    assert ledger.household_account(household.id).balance == 9
