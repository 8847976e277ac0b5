"""Seed a benchmark village fast: the app's services for the few rows, set-based SQL for
the many.

The bulk rows (households, their accounts, opening balances, the heavy households'
histories) are written with INSERT ... SELECT over a number series and keep every
ledger rule that `ledger verify` checks: one journal and one transfer per movement,
two mirror entries per transfer, each account's entries numbered 1..n with
balance_after adding up, and the cached balance and version on every account,
system accounts included. Ids are given explicitly from the table's current maximum,
so that journals, transfers and entries can refer to each other without a round trip;
PostgreSQL's sequences are moved past them afterwards.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, UserGrid
from app.auth.services import create_user
from app.catalogue.services import create_good
from app.db import db, utcnow
from app.households.models import Household
from app.ledger.models import ADJUSTMENT, Account
from app.ledger.services import system_account_id
from app.office.services import create_village
from app.types import UTCDateTime
from app.villages.models import Village
from app.villages.services import create_grid

PASSWORD = "bench-password"
USERS = {ADMIN: "bench-admin", INSPECTOR: "bench-inspector", STOREKEEPER: "bench-storekeeper"}
# Cases (issue 29): a household's login and its grid's worker, for the in-process profile.
CASE_USERS = {"resident": "bench-resident", "worker": "bench-worker"}
CASE_CATEGORY = "bench_bin"
# PUT /api/v1/rules: each household inspected 10 times a day; a case category of the bench.
RULES = {
    "grades": {"A": 3, "B": 2, "C": 1, "D": 0},
    "daily_limit": 10,
    "cases": {
        "categories": [{"code": CASE_CATEGORY, "name": "垃圾桶满溢", "hours": 24}],
        "points": 1,
        "daily_cap": 2,
    },
}
GOOD_PRICE = 5
GOOD_STOCK = 1_000_000  # the catalogue's maximum
# The heavy households' history: three credits of 3, then a debit of 6, over and over,
# so the balance after movement k is 3k - 9*(k div 4), never below zero.
CREDIT, DEBIT = 3, 6


@dataclass(frozen=True)
class BenchVillage:
    id: int
    code: str
    admin_id: int
    good_ids: tuple[int, ...]


@dataclass(frozen=True)
class Households:
    first_id: int
    count: int
    first_account_id: int


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _series(count: int) -> str:
    """A CTE s(n) holding 0..count-1, for INSERT ... SELECT ... FROM s."""
    if _dialect() == "postgresql":
        return f"WITH s(n) AS (SELECT generate_series(0, {count - 1}))"
    return f"WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1})"


def _pad(expression: str, width: int) -> str:
    if _dialect() == "postgresql":
        return f"lpad(({expression})::text, {width}, '0')"
    return f"printf('%0{width}d', {expression})"


def _next_id(table: str) -> int:
    return (db.session.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1


def _move_sequences(*tables: str) -> None:
    if _dialect() != "postgresql":
        return  # SQLite's INTEGER PRIMARY KEY continues from the largest id by itself
    for table in tables:
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        )


def _run(sql: str, **params) -> None:
    statement = text(sql)
    if re.search(r":at\b", sql):
        statement = statement.bindparams(bindparam("at", type_=UTCDateTime()))
    db.session.execute(statement, params)


def create_bench_village(goods: int) -> BenchVillage:
    """The village with its system accounts and rules, three staff users, a catalogue."""
    village = create_village("Bench village", "BV")
    users = {
        role: create_user(village, username, PASSWORD, role) for role, username in USERS.items()
    }
    good_ids = tuple(
        create_good(
            village.id,
            name=f"Bench good {number:02d}",
            unit="piece",
            price_points=GOOD_PRICE,
            stock=GOOD_STOCK,
            actor_id=users[ADMIN].id,
        ).id
        for number in range(1, goods + 1)
    )
    db.session.commit()
    return BenchVillage(village.id, village.code, users[ADMIN].id, good_ids)


def seed_households(
    village: BenchVillage, grids: int, count: int, *, opening: int, grid_prefix: str = "Grid"
) -> Households:
    """Add count households over new grids, each with its account and opening balance."""
    v = db.session.get(Village, village.id)
    assert v is not None
    made = [create_grid(village.id, f"{grid_prefix} {number}") for number in range(1, grids + 1)]
    first_grid = made[0]
    assert [g.id for g in made] == list(range(first_grid.id, first_grid.id + grids))
    per_grid = -(-count // grids)
    assert per_grid <= 9999, "household numbers have four digits"
    h0, a0 = _next_id("households"), _next_id("accounts")
    at = utcnow()
    series = _series(count)
    grid_number = f"(n / {per_grid} + {first_grid.number})"
    _run(
        f"""{series}
        INSERT INTO households
            (id, village_id, grid_id, code, name, address, status, card_version, created_at)
        SELECT :h0 + n, :village, :g0 + n / {per_grid},
            :code || '-' || {_pad(grid_number, 2)} || '-' || {_pad(f"n % {per_grid} + 1", 4)},
            'Bench household ' || (:h0 + n), 'Lane ' || (n / 20 + 1) || ', door ' || (n % 20 + 1),
            'active', 1, :at
        FROM s""",
        h0=h0,
        village=village.id,
        g0=first_grid.id,
        code=v.code,
        at=at,
    )
    # The grids' counters, so that a household added later gets the next number.
    _run(
        """UPDATE grids SET household_seq =
            (SELECT count(*) FROM households WHERE households.grid_id = grids.id)
        WHERE id BETWEEN :g0 AND :g1""",
        g0=first_grid.id,
        g1=first_grid.id + grids - 1,
    )
    _run(
        f"""{series}
        INSERT INTO accounts (id, village_id, kind, household_id, balance, version, created_at)
        SELECT :a0 + n, :village, 'household', :h0 + n, 0, 0, :at FROM s""",
        a0=a0,
        h0=h0,
        village=village.id,
        at=at,
    )
    _move_sequences("households", "accounts")
    if opening:
        _open_balances(village, a0, count, opening, at)
    db.session.commit()
    return Households(h0, count, a0)


def seed_yesterday(village: BenchVillage, households: Households) -> None:
    """Give each household yesterday's inspection: grade D, no points, so no journal.

    A village that is being benchmarked has a history of inspections; an empty table
    would also let PostgreSQL cache, for a connection's life, plans made for an empty
    table (a scan of the whole table), which then slow every credit as the table grows.
    """
    at = utcnow() - timedelta(days=1)
    rules_id = db.session.scalar(
        text("SELECT min(id) FROM rule_sets WHERE village_id = :village"), {"village": village.id}
    )
    _run(
        """INSERT INTO inspections
            (village_id, household_id, grid_id, inspector_id, grade, points, local_date, slot,
             rules_id, created_at, recorded_at)
        SELECT :village, id, grid_id, :inspector, 'D', 0, :day, 1, :rules, :at, :at
        FROM households WHERE id BETWEEN :h0 AND :h1""",
        village=village.id,
        inspector=village.admin_id,
        day=at.date(),
        rules=rules_id,
        at=at,
        h0=households.first_id,
        h1=households.first_id + households.count - 1,
    )
    db.session.commit()


def _system_state(account_id: int) -> tuple[int, int]:
    row = db.session.execute(
        select(Account.balance, Account.version).where(Account.id == account_id)
    ).one()
    return row.balance, row.version


def _open_balances(village: BenchVillage, a0: int, count: int, opening: int, at: datetime) -> None:
    """Give each new account an opening balance: one adjustment journal each."""
    system = system_account_id(village.id, ADJUSTMENT)
    balance0, version0 = _system_state(system)
    j0, t0 = _next_id("journals"), _next_id("transfers")
    series = _series(count)
    params = dict(village=village.id, a0=a0, j0=j0, t0=t0, system=system, amount=opening, at=at)
    _run(
        f"""{series}
        INSERT INTO journals (id, village_id, kind, memo, reason, actor_id, created_at)
        SELECT :j0 + n, :village, 'adjustment', 'Opening balance', 'Opening balance (bench)',
            :actor, :at
        FROM s""",
        actor=village.admin_id,
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO transfers (id, journal_id, village_id, debit_account_id, credit_account_id,
            amount)
        SELECT :t0 + n, :j0 + n, :village, :system, :a0 + n, :amount FROM s""",
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO entries (account_id, version, transfer_id, journal_id, village_id, delta,
            balance_after, created_at)
        SELECT :a0 + n, 1, :t0 + n, :j0 + n, :village, :amount, :amount, :at FROM s""",
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO entries (account_id, version, transfer_id, journal_id, village_id, delta,
            balance_after, created_at)
        SELECT :system, :version0 + n + 1, :t0 + n, :j0 + n, :village, -:amount,
            :balance0 - :amount * (n + 1), :at
        FROM s""",
        version0=version0,
        balance0=balance0,
        **params,
    )
    _run(
        "UPDATE accounts SET balance = :amount, version = 1 WHERE id BETWEEN :a0 AND :a1",
        amount=opening,
        a0=a0,
        a1=a0 + count - 1,
    )
    _run(
        "UPDATE accounts SET balance = balance - :total, version = version + :count "
        "WHERE id = :system",
        total=opening * count,
        count=count,
        system=system,
    )
    _move_sequences("journals", "transfers")


def seed_history(village: BenchVillage, households: Households, movements: int) -> int:
    """Give each of these fresh households `movements` adjustments; PostgreSQL only.

    Returns the number of entries written (two per movement).
    """
    assert _dialect() == "postgresql", "the history seed uses PostgreSQL's interval arithmetic"
    count, a0 = households.count, households.first_account_id
    fresh = db.session.scalar(
        text("SELECT count(*) FROM accounts WHERE id BETWEEN :a0 AND :a1 AND version = 0"),
        {"a0": a0, "a1": a0 + count - 1},
    )
    assert fresh == count, "the history seed starts from accounts with no entries"
    system = system_account_id(village.id, ADJUSTMENT)
    balance0, version0 = _system_state(system)
    j0, t0 = _next_id("journals"), _next_id("transfers")
    total = count * movements
    per_household = CREDIT * movements - (CREDIT + DEBIT) * (movements // 4)
    # n runs over every movement; household i = n / M takes its movement k = n % M + 1.
    # Times rise with n, a microsecond apart, ending now: each account's entries are
    # in time order, system account included.
    series = f"""WITH s(n, i, k) AS (
        SELECT n, n / {movements}, n % {movements} + 1 FROM generate_series(0, {total - 1}) n
    )"""
    delta = f"CASE WHEN k % 4 = 0 THEN -{DEBIT} ELSE {CREDIT} END"
    after = f"({CREDIT} * k - {CREDIT + DEBIT} * (k / 4))"
    at = f"(:at - ({total} - n) * interval '1 microsecond')"
    params = dict(village=village.id, a0=a0, j0=j0, t0=t0, system=system, at=utcnow())
    # PostgreSQL's advice for bulk loads ("Populating a Database"): drop the foreign keys
    # and the plain indexes, load, then add them back. Each key is then checked over every
    # row in one pass, and each index built in one sort. All one transaction: a failure
    # leaves the schema as it was. Unique indexes and primary keys stay, and check as usual.
    ledger_tables = "('journals'::regclass, 'transfers'::regclass, 'entries'::regclass)"
    foreign_keys = db.session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            f"FROM pg_constraint WHERE contype = 'f' AND conrelid IN {ledger_tables}"
        )
    ).all()
    indexes = db.session.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            f"WHERE i.indrelid IN {ledger_tables} AND NOT i.indisunique"
        )
    ).all()
    for table, name, _definition in foreign_keys:
        db.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        db.session.execute(text(f'DROP INDEX "{name}"'))
    _run(
        f"""{series}
        INSERT INTO journals (id, village_id, kind, memo, reason, actor_id, created_at)
        SELECT :j0 + n, :village, 'adjustment',
            CASE WHEN k % 4 = 0 THEN 'Bench debit' ELSE 'Bench credit' END,
            'History (bench)', :actor, {at}
        FROM s""",
        actor=village.admin_id,
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO transfers (id, journal_id, village_id, debit_account_id, credit_account_id,
            amount)
        SELECT :t0 + n, :j0 + n, :village,
            CASE WHEN k % 4 = 0 THEN :a0 + i ELSE :system END,
            CASE WHEN k % 4 = 0 THEN :system ELSE :a0 + i END,
            abs({delta})
        FROM s""",
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO entries (account_id, version, transfer_id, journal_id, village_id, delta,
            balance_after, created_at)
        SELECT :a0 + i, k, :t0 + n, :j0 + n, :village, {delta}, {after}, {at} FROM s""",
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO entries (account_id, version, transfer_id, journal_id, village_id, delta,
            balance_after, created_at)
        SELECT :system, :version0 + n + 1, :t0 + n, :j0 + n, :village, -({delta}),
            :balance0 - (i * {per_household} + {after}), {at}
        FROM s""",
        version0=version0,
        balance0=balance0,
        **params,
    )
    _run(
        "UPDATE accounts SET balance = :balance, version = :movements WHERE id BETWEEN :a0 AND :a1",
        balance=per_household,
        movements=movements,
        a0=a0,
        a1=a0 + count - 1,
    )
    _run(
        "UPDATE accounts SET balance = balance - :total, version = version + :count "
        "WHERE id = :system",
        total=per_household * count,
        count=total,
        system=system,
    )
    _move_sequences("journals", "transfers")
    db.session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _name, definition in indexes:
        db.session.execute(text(definition))
    for table, name, definition in foreign_keys:
        db.session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    db.session.commit()
    return 2 * total


def seed_case_users(households: Households) -> None:
    """A login for the first household, and a worker assigned to that household's grid."""
    first = db.session.get(Household, households.first_id)
    assert first is not None
    village = db.session.get(Village, first.village_id)
    assert village is not None
    create_user(village, CASE_USERS["resident"], PASSWORD, HOUSEHOLD, household=first)
    worker = create_user(village, CASE_USERS["worker"], PASSWORD, INSPECTOR)
    db.session.add(UserGrid(user_id=worker.id, grid_id=first.grid_id))
    db.session.commit()
