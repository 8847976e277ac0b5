"""How many SQL statements one credit and one redemption cost (issue 21).

Each round trip to the database is time a request holds its connection and its
locks: the counts below are what bench/results.md was measured with, and a change
that adds a statement to the hot path fails here before it slows a morning round.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from app.catalogue.models import StockMovement
from app.db import db, insert_many

pytestmark = pytest.mark.usefixtures("photo_folder")

# Statements one request costs, BEGIN and savepoints aside, by engine. Both engines
# send the same statements (issue 28: one engine-neutral path per write): a posting is
# four (the journals, the accounts' one UPDATE, the transfers, the entries), a basket's
# stock two (the goods' one UPDATE, the movements). Before issue 28 PostgreSQL sent 5
# and 7, with a data-modifying CTE a write; before issue 21, 14 and 18. A credit is
# decided as a queue of one: the caller, the household with its points account locked
# and the rules in force (one read), the day's slots, the posting's four, the inspection
# and its key: 9 (10 before the rules joined the household's read).
CREDIT_STATEMENTS = {"postgresql": 9, "sqlite": 9}
REDEMPTION_STATEMENTS = {"postgresql": 13, "sqlite": 13}
NOT_COUNTED = ("BEGIN", "SAVEPOINT", "RELEASE")


@contextmanager
def statements(length: int | None = 120) -> Iterator[list[str]]:
    """Collect the SQL statements sent to the database while the block runs (cut to length)."""
    sent: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many):
        sent.append(" ".join(statement.split())[:length])

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


# A queue of credits costs a few statements whatever its length (app/inspections/batch.py):
# the token, the keys seen before, the households with their accounts and the rules in
# force (one read), the day's slots; then the journals, the accounts, the transfers, the
# entries, the inspections and the keys: 10. Before issue 28 SQLite sent four more an
# item; before the rules joined the households' read, one more (the pin was 12).
BATCH_STATEMENTS = {"postgresql": 10, "sqlite": 10}


def test_a_batch_commits_once_and_costs_a_few_statements_whatever_its_length(
    client, inspector_headers, make_household
):
    warm = make_household().id
    households = [make_household().id for _ in range(10)]
    client.post(
        "/api/v1/inspections",
        json={"household_id": warm, "grade": "A"},
        headers={**inspector_headers, "Idempotency-Key": "warm"},
    )
    db.session.expunge_all()
    commits: list[int] = []

    def count_commit(_conn):
        commits.append(1)

    event.listen(db.engine, "commit", count_commit)
    try:
        with statements() as sent:
            response = client.post(
                "/api/v1/inspections/batch",
                json={
                    "items": [
                        {"key": f"b{n}", "household_id": h, "grade": "A"}
                        for n, h in enumerate(households)
                    ]
                },
                headers=inspector_headers,
            )
    finally:
        event.remove(db.engine, "commit", count_commit)

    assert response.status_code == 200, response.json
    assert [i["status"] for i in response.json["items"]] == [201] * 10
    assert len(commits) == 1
    counted = [s for s in sent if not s.upper().startswith(NOT_COUNTED)]
    assert len(counted) <= BATCH_STATEMENTS[db.engine.dialect.name], shown(sent)
    assert not [s for s in sent if s.upper().startswith("SAVEPOINT")], shown(sent)


def test_a_batch_sends_the_same_statements_whatever_its_length(
    client, inspector_headers, make_household
):
    """On PostgreSQL a list goes as one array, so each statement is parsed once.

    A statement whose text changes with the queue's length (a placeholder a value) is
    parsed again, and never prepared, for every queue. SQLite has no arrays: there
    the lists differ only in their placeholders.
    """
    households = {length: [make_household().id for _ in range(length)] for length in (3, 7)}
    sent_by_length = {}
    for length, ids in households.items():
        items = [{"key": f"q{length}-{h}", "household_id": h, "grade": "A"} for h in ids]
        db.session.expunge_all()
        with statements(length=None) as sent:
            response = client.post(
                "/api/v1/inspections/batch", json={"items": items}, headers=inspector_headers
            )
        assert response.status_code == 200, response.json
        assert [i["status"] for i in response.json["items"]] == [201] * length
        sent_by_length[length] = sent

    if db.engine.dialect.name == "postgresql":
        assert sent_by_length[3] == sent_by_length[7]
    else:

        def shape(sent: list[str]) -> set[str]:
            return {re.sub(r"\?(, \?)*", "?", s) for s in sent}

        assert shape(sent_by_length[3]) == shape(sent_by_length[7])


def test_many_rows_go_in_one_statement_and_come_back_in_order(village, soap):
    """insert_many() (JsonRows in app/db.py): the one place each engine has its own SQL."""
    table = StockMovement.__table__
    moment = datetime(2026, 10, 5, 8, 30, 15, 123456, tzinfo=UTC)
    village_id, good_id = village.id, soap.id

    def rows(count: int) -> list[dict]:
        return [
            {
                "village_id": village_id,
                "good_id": good_id,
                "kind": "restock",
                "quantity": n + 1,
                "stock_after": n + 1,
                "note": None if n % 2 else f'第{n}批 "肥皂" \\ 50%',
                "created_at": moment + timedelta(minutes=n),
            }
            for n in range(count)
        ]

    sent_by_count = {}
    for count in (2, 5):
        with statements(length=None) as sent:
            ids = insert_many(table, rows(count), ids=True)
        sent_by_count[count] = [s for s in sent if not s.upper().startswith(NOT_COUNTED)]
        stored = db.session.execute(
            select(StockMovement.quantity, StockMovement.note, StockMovement.created_at)
            .where(StockMovement.id.in_(ids))
            .order_by(StockMovement.id)
        ).all()
        assert [tuple(row) for row in stored] == [
            (row["quantity"], row["note"], row["created_at"]) for row in rows(count)
        ]
        assert ids == sorted(ids)
    assert len(sent_by_count[2]) == 1
    assert sent_by_count[2] == sent_by_count[5]
