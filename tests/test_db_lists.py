"""OneOf, the "one of these values" condition every queue's reads use, on both engines."""

from sqlalchemy import event, not_, select

from app.db import ContainsText, OneOf, db
from app.households.models import Household


def test_one_of_finds_exactly_the_rows_named(make_household):
    households = [make_household(name=f"户{n}") for n in range(4)]
    named = [households[1].id, households[3].id]

    found = db.session.scalars(
        select(Household.id).where(OneOf(Household.id, "ids")).order_by(Household.id),
        {"ids": named},
    ).all()
    left = db.session.scalars(
        select(Household.id).where(not_(OneOf(Household.id, "ids"))).order_by(Household.id),
        {"ids": named},
    ).all()

    assert found == named
    assert left == [households[0].id, households[2].id]


def test_one_of_is_served_by_the_index_on_sqlite(app, make_household):
    """A credit reads its household and its day's grades through OneOf: a plain IN on
    SQLite, which the primary key serves, not (x IN (...)) = 1, which scans the table."""
    household = make_household(name="王户")
    statement = select(Household.id).where(
        Household.village_id == household.village_id,
        OneOf(Household.id, "ids"),
        ContainsText(Household.name, "王"),
    )
    sent = []
    connection = db.session.connection()
    listen = lambda *args: sent.append((args[2], args[3]))  # noqa: E731
    event.listen(connection, "before_cursor_execute", listen)
    try:
        found = connection.execute(statement, {"ids": [household.id, household.id + 1]}).all()
    finally:
        event.remove(connection, "before_cursor_execute", listen)

    assert [row.id for row in found] == [household.id]
    sql, parameters = sent[-1]
    assert "= 1" not in sql
    if app.config["TEST_BACKEND"] == "sqlite":
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters).all()
        details = " ".join(row[-1] for row in plan)
        assert "SEARCH households USING INTEGER PRIMARY KEY" in details, details
