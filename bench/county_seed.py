"""Seed a county (issue 32): villages in townships, households, a year of ledger and grades.

The few rows (townships, villages, their staff, grids, goods) come from the app's
services; the many by set-based SQL over generate_series, PostgreSQL only. Every
household has the same history of M movements (three credits of 3, then a debit of 6:
bench/seed.py's closed form) spread evenly over the year before now, movement k of
every household of a village before movement k + 1 of any: so each village's
adjustment account takes its entries in time order too, numbered by (k, household),
and its balance after movement (k, i) is closed form as well. The grades are one
inspection per household every few days over the year (rows for the reports; their
points are not posted, the ledger's volume is the history's). `ledger verify` is the
proof that the ledger keeps its rules.
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

from sqlalchemy import text

from app.auth import services as auth_services
from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.auth.services import create_user
from app.catalogue.services import create_good
from app.db import db, utcnow
from app.ledger.models import ADJUSTMENT
from app.ledger.services import system_account_id
from app.office.services import create_village
from app.townships import services as township_services
from app.townships.services import create_township, create_township_user, move_village
from bench.seed import (
    CREDIT,
    DEBIT,
    PASSWORD,
    BenchVillage,
    _move_sequences,
    _next_id,
    _run,
    seed_households,
)

YEAR_SECONDS = 365 * 86400
GRADES = "ABCD"


@dataclass(frozen=True)
class County:
    villages: list[BenchVillage]
    households_per_village: int
    movements: int
    entries: int


def balance_after(k: int) -> int:
    """A household's balance after its movement k (1-based): the history's closed form."""
    return CREDIT * k - (CREDIT + DEBIT) * (k // 4)


def username(role: str, code: str) -> str:
    return f"{role}-{code.lower()}"


@contextmanager
def _one_password_hash() -> Iterator[None]:
    """Hash the bench's one password once: scrypt is most of a village's creation.

    The users are made by the app's service all the same; only the hash is reused.
    """
    cached = functools.cache(auth_services.hash_password)
    with (
        mock.patch.object(auth_services, "hash_password", cached),
        mock.patch.object(township_services, "hash_password", cached),
    ):
        yield


def create_county(villages: int, townships: int, grids: int) -> list[BenchVillage]:
    """The townships, their villages (staff, a good, grids), a township user each."""
    with _one_password_hash():
        return _create_county(villages, townships, grids)


def _create_county(villages: int, townships: int, grids: int) -> list[BenchVillage]:
    towns = [create_township(f"Bench township {t + 1}", f"T{t + 1:02d}") for t in range(townships)]
    for town in towns:
        create_township_user(town, username("township", town.code), PASSWORD)
    made = []
    for number in range(villages):
        code = f"V{number + 1:03d}"
        village = create_village(f"Bench village {number + 1}", code)
        move_village(village, towns[number * townships // villages])
        users = {
            role: create_user(village, username(role, code), PASSWORD, role)
            for role in (ADMIN, INSPECTOR, STOREKEEPER)
        }
        good = create_good(
            village.id,
            name="Bench good",
            unit="piece",
            price_points=5,
            stock=1000,
            actor_id=users[ADMIN].id,
        )
        made.append(BenchVillage(village.id, village.code, users[ADMIN].id, (good.id,)))
    db.session.commit()
    return made


def seed_county(
    villages: int,
    townships: int,
    households: int,
    movements: int,
    inspect_every: int,
    grids: int = 5,
) -> County:
    """The whole county; households are split evenly over the villages."""
    county = create_county(villages, townships, grids)
    per_village = max(1, households // villages)
    for village in county:
        seed_households(village, grids, per_village, opening=0)
    year_ago = utcnow().replace(microsecond=0)
    _run("UPDATE households SET created_at = :at - interval '366 days'", at=year_ago)
    _run(
        "UPDATE accounts SET created_at = :at - interval '366 days' WHERE kind = 'household'",
        at=year_ago,
    )
    db.session.commit()
    with _without_keys("journals", "transfers", "entries", "inspections"):
        entries = _seed_history(county, per_village, movements)
        _seed_grades(inspect_every)
    return County(county, per_village, movements, entries)


@contextmanager
def _without_keys(*tables: str) -> Iterator[None]:
    """Drop the tables' foreign keys, unique constraints and indexes (primary keys aside),
    and make them again after the block: one sort and one check of each over the whole
    table, not one index entry and one foreign-key lookup per row inserted."""
    names = ", ".join(f"'{table}'::regclass" for table in tables)
    constraints = db.session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
            f"FROM pg_constraint WHERE contype IN ('f', 'u') AND conrelid IN ({names}) "
            "ORDER BY contype DESC"  # unique constraints are made again before foreign keys
        )
    ).all()
    indexes = db.session.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            f"WHERE i.indrelid IN ({names}) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        )
    ).all()
    for table, name, _definition, _kind in sorted(constraints, key=lambda c: c[3]):
        db.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        db.session.execute(text(f'DROP INDEX "{name}"'))
    db.session.commit()
    yield
    db.session.execute(text("SET maintenance_work_mem = '512MB'"))
    for _name, definition in indexes:
        db.session.execute(text(definition))
    for table, name, definition, _kind in constraints:
        db.session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    db.session.execute(text("RESET maintenance_work_mem"))
    db.session.commit()


def _seed_history(county: list[BenchVillage], per_village: int, movements: int) -> int:
    """M movements a household, set-based over every village at once; returns entries."""
    if movements <= 0:
        return 0
    db.session.execute(
        text(
            "CREATE TEMP TABLE bench_households (g bigint PRIMARY KEY, account_id bigint, "
            "village_id bigint, i bigint, system_id bigint, balance0 bigint, version0 bigint) "
            "ON COMMIT DROP"
        )
    )
    # g: the household's place in the county (n / M of the series below), i in its village.
    for place, village in enumerate(county):
        db.session.execute(
            text(
                "INSERT INTO bench_households "
                "SELECT :g0 + row_number() OVER (ORDER BY a.id) - 1, a.id, a.village_id, "
                "row_number() OVER (ORDER BY a.id) - 1, s.id, s.balance, s.version "
                "FROM accounts a JOIN accounts s ON s.id = :system "
                "WHERE a.village_id = :village AND a.kind = 'household'"
            ).bindparams(
                g0=place * per_village,
                system=system_account_id(village.id, ADJUSTMENT),
                village=village.id,
            )
        )
    count = db.session.scalar(text("SELECT count(*) FROM bench_households")) or 0
    total = count * movements
    step = YEAR_SECONDS / (movements * per_village)
    j0, t0 = _next_id("journals"), _next_id("transfers")
    at = (
        f"(:at - ((({movements} - s.k) * {per_village} + ({per_village} - b.i)) * {step})"
        " * interval '1 second')"
    )
    series = f"""WITH s(n, g, k) AS (
        SELECT n, n / {movements}, n % {movements} + 1 FROM generate_series(0, {total - 1}) n
    )"""
    rows = "FROM s JOIN bench_households b ON b.g = s.g"
    delta = f"CASE WHEN s.k % 4 = 0 THEN -{DEBIT} ELSE {CREDIT} END"
    after = f"({CREDIT} * s.k - {CREDIT + DEBIT} * (s.k / 4))"
    before = f"({CREDIT} * (s.k - 1) - {CREDIT + DEBIT} * ((s.k - 1) / 4))"
    params = dict(j0=j0, t0=t0, at=utcnow())
    admins = {v.id: v.admin_id for v in county}
    db.session.execute(
        text("CREATE TEMP TABLE bench_admins (village_id bigint, admin_id bigint) ON COMMIT DROP")
    )
    db.session.execute(
        text(
            "INSERT INTO bench_admins VALUES " + ", ".join(f"({v}, {a})" for v, a in admins.items())
        )
    )
    _run(
        f"""{series}
        INSERT INTO journals (id, village_id, kind, memo, reason, actor_id, created_at)
        SELECT :j0 + s.n, b.village_id, 'adjustment',
            CASE WHEN s.k % 4 = 0 THEN 'Bench debit' ELSE 'Bench credit' END,
            'History (bench county)', a.admin_id, {at}
        {rows} JOIN bench_admins a ON a.village_id = b.village_id""",
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO transfers (id, journal_id, village_id, debit_account_id, credit_account_id,
            amount)
        SELECT :t0 + s.n, :j0 + s.n, b.village_id,
            CASE WHEN s.k % 4 = 0 THEN b.account_id ELSE b.system_id END,
            CASE WHEN s.k % 4 = 0 THEN b.system_id ELSE b.account_id END,
            abs({delta})
        {rows}""",
        **params,
    )
    _run(
        f"""{series}
        INSERT INTO entries (account_id, version, transfer_id, journal_id, village_id, delta,
            balance_after, created_at)
        SELECT b.account_id, s.k, :t0 + s.n, :j0 + s.n, b.village_id, {delta}, {after}, {at}
        {rows}""",
        **params,
    )
    # The village's account after movement (k, i): every household of the village has
    # made k - 1 movements, and households 0..i their k-th too.
    _run(
        f"""{series}
        INSERT INTO entries (account_id, version, transfer_id, journal_id, village_id, delta,
            balance_after, created_at)
        SELECT b.system_id, b.version0 + (s.k - 1) * {per_village} + b.i + 1, :t0 + s.n,
            :j0 + s.n, b.village_id, -({delta}),
            b.balance0 - ((b.i + 1) * {after} + ({per_village} - b.i - 1) * {before}), {at}
        {rows}""",
        **params,
    )
    per_household = balance_after(movements)
    _run(
        "UPDATE accounts SET balance = :balance, version = :movements "
        "WHERE id IN (SELECT account_id FROM bench_households)",
        balance=per_household,
        movements=movements,
    )
    _run(
        "UPDATE accounts SET balance = balance - :total, version = version + :count "
        "WHERE id IN (SELECT DISTINCT system_id FROM bench_households)",
        total=per_household * per_village,
        count=movements * per_village,
    )
    _move_sequences("journals", "transfers")
    db.session.commit()
    return 2 * total


def _seed_grades(every: int) -> int:
    """One inspection per household every `every` days over the year before today."""
    if every <= 0:
        return 0
    _run(
        f"""INSERT INTO inspections
            (village_id, household_id, grid_id, inspector_id, grade, points, local_date, slot,
             rules_id, created_at, recorded_at)
        SELECT h.village_id, h.id, h.grid_id, u.id,
            substr('{GRADES}', 1 + ((h.id + d) % 4)::int, 1), 3 - ((h.id + d) % 4)::int,
            (:at - d * interval '1 day')::date, 1, r.id,
            :at - d * interval '1 day', :at - d * interval '1 day'
        FROM households h
        JOIN (SELECT village_id, min(id) AS id FROM users WHERE role = 'inspector'
              GROUP BY village_id) u ON u.village_id = h.village_id
        JOIN (SELECT village_id, min(id) AS id FROM rule_sets GROUP BY village_id) r
            ON r.village_id = h.village_id
        CROSS JOIN generate_series(1, 365) d
        WHERE (h.id + d) % {every} = 0""",
        at=utcnow(),
    )
    db.session.commit()
    return int(db.session.scalar(text("SELECT count(*) FROM inspections")) or 0)
