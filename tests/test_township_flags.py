"""Issue 32: the /township page counts each village's anomaly flags for all its villages
at once, and shows for each the counts that the village's own inspectors page lists."""

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, insert
from testsupport import PASSWORD, log_in

from app.auth.models import ADMIN, INSPECTOR
from app.db import db, utcnow
from app.fairness.anomalies import FAST_SECONDS, KINDS, LATE_HOURS, counts, find_flags
from app.fairness.counts import flag_counts_of
from app.households.services import create_household
from app.inspections.models import Inspection
from app.rules.services import current_rules
from app.scope import village_today
from app.townships.services import create_township, create_township_user, move_village
from app.villages.services import create_grid

# What each village's inspectors did this month: (late rounds, fast runs).
PLANTED = {"V1": (1, 0), "V2": (0, 2), "V3": (1, 1), "V4": (0, 0)}


def _plant(village, make_user, late_rounds: int, fast_runs: int) -> None:
    """Grades that raise late_arrivals and too_fast flags: one inspector for each."""
    grid = create_grid(village.id, "一组")
    households = [create_household(village, grid, f"户{n}", f"{n}号") for n in range(20)]
    today, now = village_today(village.id), utcnow()
    rules_id = current_rules(village.id).id
    rows = []

    def grade(inspector, household, at, late=timedelta(seconds=5)):
        rows.append(
            {
                "village_id": village.id,
                "household_id": household.id,
                "grid_id": grid.id,
                "inspector_id": inspector.id,
                "grade": "B",
                "points": 2,
                "local_date": today,
                "slot": 1 + len(rows),
                "rules_id": rules_id,
                "created_at": at,
                "recorded_at": at + late,
            }
        )

    for _ in range(late_rounds):  # twenty grades, each reaching the server 30 hours later
        slow = make_user(INSPECTOR, of=village)
        for n, household in enumerate(households):
            grade(slow, household, now - timedelta(hours=40, minutes=5 * n), timedelta(hours=30))
    for run in range(fast_runs):  # five grades 10 s apart, the runs an hour apart
        fast = make_user(INSPECTOR, of=village)
        for n, household in enumerate(households[:5]):
            grade(fast, household, now - timedelta(hours=run + 2, seconds=-10 * n))
    if rows:
        db.session.execute(insert(Inspection), rows)
    db.session.commit()


@pytest.fixture
def township(make_village, make_user):
    town = create_township("东湖街道", "DH")
    villages = {}
    for code, (late, fast) in PLANTED.items():
        village = make_village(f"{code}村", code)
        move_village(village, town)
        make_user(ADMIN, of=village, username=f"admin-{code.lower()}")
        _plant(village, make_user, late, fast)
        villages[code] = village
    create_township_user(town, "dh-staff", PASSWORD)
    alone = create_township("西山镇", "XS")  # a township of one village, planted as V2
    village = make_village("V5村", "V5")
    move_village(village, alone)
    _plant(village, make_user, *PLANTED["V2"])
    create_township_user(alone, "xs-staff", PASSWORD)
    db.session.commit()
    return villages


def _township_counts(page: str) -> dict[str, list[int]]:
    """The flags table of the /township page: each village's four counts, by code."""
    table = page.split('data-table="flags"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-village="(\w+)">(.*?)</tr>', table, re.S)
    numbers = r'class="num">(\d+)<'
    return {code: [int(n) for n in re.findall(numbers, cells)] for code, cells in rows}


def _own_page_counts(page: str) -> list[int]:
    """The flags listed on a village's inspectors page, counted by kind."""
    kinds = re.findall(r'data-flag="(\w+)"', page)
    return [kinds.count(kind) for kind in KINDS]


def test_the_township_page_shows_each_villages_own_flag_counts(client, township):
    log_in(client, "dh-staff", english=True)
    shown = _township_counts(client.get("/township").get_data(as_text=True))

    own = {}
    for code in township:
        admin = client.application.test_client()
        log_in(admin, f"admin-{code.lower()}", english=True)
        own[code] = _own_page_counts(admin.get("/admin/inspectors").get_data(as_text=True))

    assert shown == own
    # The villages differ, so equal counts are not one village's counts four times.
    assert own["V1"] == [0, 0, 0, 1] and own["V2"] == [0, 2, 0, 0] and own["V4"] == [0, 0, 0, 0]


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent while the block runs, BEGIN and savepoints aside."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, _params, _context, _many):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_four_villages_flags_cost_as_many_statements_as_one(township):
    ids = [village.id for village in township.values()]
    today = village_today(ids[0])

    counts = {}
    for n in (1, 4):
        with statements() as sent:
            found = flag_counts_of(ids[:n], today.replace(day=1), today)
        assert len(found) == n
        counts[n] = len(sent)

    assert counts[1] == counts[4] == 5


def test_the_township_page_of_four_villages_costs_as_many_statements_as_of_one(app, township):
    counts = {}
    for user in ("dh-staff", "xs-staff"):
        client = app.test_client()
        log_in(client, user, english=True)
        client.get("/township")  # the first request builds and caches its statements
        with statements() as sent:
            assert client.get("/township").status_code == 200
        counts[user] = len(sent)

    assert counts["dh-staff"] == counts["xs-staff"]


FIRST_DAY = date(2026, 10, 1)
POINTS = {"A": 3, "B": 2, "C": 1, "D": 0}


def _bent_month(village, make_user, rng: random.Random) -> None:
    """A month of grades with every kind of flag likely: a generous inspector, a favoured
    household, late and fast rounds, and gaps at the thresholds' edges."""
    grid = create_grid(village.id, "一组")
    households = [create_household(village, grid, f"户{n}", f"{n}号") for n in range(40)]
    inspectors = [make_user(INSPECTOR, of=village) for _ in range(3)]
    rules_id = current_rules(village.id).id
    generous, late_share = rng.random() < 0.5, rng.choice((0.0, 0.1, 0.5))
    rows = []
    for offset in range(30):
        day = FIRST_DAY + timedelta(days=offset)
        clock = {i.id: datetime.combine(day, datetime.min.time(), UTC) for i in inspectors}
        for slot, household in enumerate(households, start=1):
            inspector = inspectors[0] if household is households[0] else rng.choice(inspectors)
            step = rng.choice((FAST_SECONDS - 1, FAST_SECONDS, FAST_SECONDS + 1, 90, 150))
            clock[inspector.id] += timedelta(seconds=step, microseconds=rng.choice((0, 1)))
            top = household is households[0] or (generous and inspector is inspectors[0])
            grade = "A" if top and rng.random() < 0.9 else rng.choice("ABCD")
            late = timedelta(hours=LATE_HOURS, microseconds=rng.choice((0, 1, 5_000_000)))
            at = clock[inspector.id]
            rows.append(
                {
                    "village_id": village.id,
                    "household_id": household.id,
                    "grid_id": grid.id,
                    "inspector_id": inspector.id,
                    "grade": grade,
                    "points": POINTS[grade],
                    "local_date": day,
                    "slot": slot,
                    "rules_id": rules_id,
                    "created_at": at,
                    "recorded_at": at + (late if rng.random() < late_share else timedelta(0)),
                }
            )
    db.session.execute(insert(Inspection), rows)
    db.session.commit()


@pytest.mark.parametrize("seed", range(3))
def test_the_set_based_counts_are_each_villages_own_flags_counted(make_village, make_user, seed):
    rng = random.Random(seed)
    villages = [make_village() for _ in range(3)]
    for village in villages:
        _bent_month(village, make_user, rng)
    ids = [village.id for village in villages]
    day_to = FIRST_DAY + timedelta(days=29)

    together = flag_counts_of(ids, FIRST_DAY, day_to)

    assert together == {v: counts(find_flags(v, FIRST_DAY, day_to)) for v in ids}
    assert sum(sum(found.values()) for found in together.values()) > 0
