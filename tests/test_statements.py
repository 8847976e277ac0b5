"""How many SQL statements one credit and one redemption cost (issue 21).

Each round trip to the database is time a request holds its connection and its
locks: the counts below are what bench/results.md was measured with, and a change
that adds a statement to the hot path fails here before it slows a morning round.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")

# Statements one request costs, BEGIN and savepoints aside, by engine: on SQLite the
# write transaction starts afresh after the token's read (BEGIN IMMEDIATE), and the
# user is read again. Before issue 21: 14 and 18 on PostgreSQL.
CREDIT_STATEMENTS = {"postgresql": 10, "sqlite": 11}
REDEMPTION_STATEMENTS = {"postgresql": 15, "sqlite": 16}
NOT_COUNTED = ("BEGIN", "SAVEPOINT", "RELEASE")


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the SQL statements sent to the database while the block runs."""
    sent: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many):
        sent.append(" ".join(statement.split())[:120])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


def shown(sent: list[str]) -> str:
    return "\n".join(f"{n}. {s}" for n, s in enumerate(sent, 1))


def test_one_credit_costs_few_statements(client, inspector_headers, make_household):
    warm, household = make_household().id, make_household().id
    # The first request of a process builds and caches its statements.
    client.post(
        "/api/v1/inspections",
        json={"household_id": warm, "grade": "A"},
        headers={**inspector_headers, "Idempotency-Key": "warm"},
    )
    db.session.expunge_all()  # as a server's request starts: nothing loaded

    with statements() as sent:
        response = client.post(
            "/api/v1/inspections",
            json={"household_id": household, "grade": "A"},
            headers={**inspector_headers, "Idempotency-Key": "credit-1"},
        )

    assert response.status_code == 201, response.json
    assert response.json["balance"] == 3
    counted = [s for s in sent if not s.upper().startswith(NOT_COUNTED)]
    assert len(counted) <= CREDIT_STATEMENTS[db.engine.dialect.name], shown(sent)


def test_one_redemption_costs_few_statements(client, storekeeper_headers, make_household, soap):
    warm, household = make_household(points=100).id, make_household(points=100).id
    good = soap.id
    client.post(
        "/api/v1/redemptions",
        json={"household_id": warm, "lines": [{"good_id": good, "quantity": 1}]},
        headers={**storekeeper_headers, "Idempotency-Key": "warm"},
    )
    db.session.expunge_all()  # as a server's request starts: nothing loaded

    with statements() as sent:
        response = client.post(
            "/api/v1/redemptions",
            json={"household_id": household, "lines": [{"good_id": good, "quantity": 1}]},
            headers={**storekeeper_headers, "Idempotency-Key": "redeem-1"},
        )

    assert response.status_code == 201, response.json
    assert response.json["balance"] == 100 - response.json["total_points"]
    counted = [s for s in sent if not s.upper().startswith(NOT_COUNTED)]
    assert len(counted) <= REDEMPTION_STATEMENTS[db.engine.dialect.name], shown(sent)
