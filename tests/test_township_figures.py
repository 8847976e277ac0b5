"""The township's comparison is set-based (issue 32): the same figures as each village's
own summary and settlement, in as many SQL statements for five villages as for one."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.auth.models import INSPECTOR, STOREKEEPER
from app.catalogue.services import create_good
from app.db import db
from app.inspections.services import record_inspection
from app.redemptions.services import LineRequest, cancel, redeem_goods
from app.reports.services import summary
from app.reports.settlement import settlement
from app.scope import village_today
from app.townships.services import (
    create_township,
    move_village,
    owed,
    village_rows,
    village_settlements,
)

NOT_COUNTED = ("BEGIN", "SAVEPOINT", "RELEASE")


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent while the block runs, BEGIN and savepoints aside."""
    sent: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many):
        if not statement.lstrip().upper().startswith(NOT_COUNTED):
            sent.append(" ".join(statement.split())[:100])

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


@pytest.fixture
def county(make_village, make_household, make_user):
    """A township of five villages, each with its own grades, redemptions and a cancel."""
    town = create_township("东湖街道", "DH")
    ids = []
    for n in range(1, 6):
        village = make_village(f"村{n}", f"V{n}")
        move_village(village, town)
        inspector = make_user(INSPECTOR, of=village)
        storekeeper = make_user(STOREKEEPER, of=village)
        good = create_good(village.id, name=f"皂{n}", unit="块", price_points=2, stock=50)
        good.cost_cents = 100 + 10 * n
        for h in range(n + 1):
            household = make_household(
                of=village, name=f"家{n}-{h}", phone=f"139{n:04d}{h:04d}", points=20
            )
            if h < n:
                record_inspection(household, inspector, "ABCD"[(h + n) % 4])
            made = redeem_goods(household, storekeeper, [LineRequest(good.id, 1 + h % 2)])
            if h == 0:
                cancel(made.redemption, actor=storekeeper, reason="退货")
        db.session.commit()
        ids.append(village.id)
    return ids


def test_each_village_row_is_its_own_summary_and_settlement(county):
    today = village_today(county[0])
    first = today.replace(day=1)

    rows = {row["village_id"]: row for row in village_rows(county, first, today)}
    settled = village_settlements(county, today.year, today.month)

    assert sorted(rows) == sorted(county)
    for village_id in county:
        own = summary(village_id, first, today)
        for key in ("households", "participation_rate", "accuracy", "inspections"):
            assert rows[village_id][key] == own[key]
        assert rows[village_id]["points_issued"] == own["points_issued"]
        assert rows[village_id]["points_redeemed"] == own["points_redeemed"]
        assert rows[village_id]["outstanding"] == own["outstanding"]
        costs = owed(village_id, today.year, today.month)
        assert rows[village_id]["cost_per_point_cents"] == costs["cost_per_point_cents"]
        assert rows[village_id]["outstanding_cost_cents"] == costs["outstanding_cost_cents"]
        alone = settlement(village_id, today.year, today.month)
        assert settled[village_id] == alone
        assert rows[village_id]["goods_cost_cents"] == alone.total_cost_cents
    # The villages differ, so equal figures are not one village's figures five times.
    assert len({row["points_redeemed"] for row in rows.values()}) == 5
    assert all(row["inspections"] for row in rows.values())


def test_five_villages_cost_as_many_statements_as_one(county):
    today = village_today(county[0])
    first = today.replace(day=1)
    village_rows(county, first, today)  # the first call builds and caches its statements

    counts = {}
    for n in (1, 5):
        with statements() as sent:
            rows = village_rows(county[:n], first, today)
            village_settlements(county[:n], today.year, today.month)
        assert len(rows) == n
        counts[n] = len(sent)

    assert counts[1] == counts[5]
