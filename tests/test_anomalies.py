"""Anomaly flags: each pattern planted in generated grades is found, fair grades find nothing.

Every world is a grid of 40 households graded once a day for 30 days by three
inspectors, at a walking pace, the grades drawn from one fair distribution by a seeded
generator. A test plants one pattern in it and asks GET /api/v1/reports/anomalies.
"""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from testsupport import PASSWORD, assert_problem, bearer, log_in

from app.auth.models import INSPECTOR
from app.auth.services import issue_token
from app.db import db
from app.fairness import anomalies
from app.households.services import create_household
from app.inspections.models import Inspection
from app.rules.services import current_rules
from app.townships.services import create_township, create_township_user, move_village

FIRST_DAY = date(2026, 10, 1)
DAYS = 30
RANGE = {"from": "2026-10-01", "to": "2026-10-30"}
POINTS = {"A": 3, "B": 2, "C": 1, "D": 0}
FAIR = (("A", 0.4), ("B", 0.3), ("C", 0.2), ("D", 0.1))


def fair_grade(rng: random.Random) -> str:
    return rng.choices([g for g, _ in FAIR], weights=[w for _, w in FAIR])[0]


class Grades:
    """A month of generated grades of one grid, to bend before it is written."""

    def __init__(self, village, grid, inspectors, households, seed=7):
        self.rng = random.Random(seed)
        self.village, self.grid = village, grid
        self.inspectors, self.households = inspectors, households
        self.rows: list[dict] = []
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            # 08:00 in the village (UTC+8); each inspector walks their own round.
            clock = {i.id: datetime.combine(day, datetime.min.time(), UTC) for i in inspectors}
            for household in households:
                inspector = self.rng.choice(inspectors)
                clock[inspector.id] += timedelta(seconds=self.rng.randint(60, 180))
                self.add(household, inspector, fair_grade(self.rng), day, clock[inspector.id])

    def add(self, household, inspector, grade, day, at, late=timedelta(seconds=5)):
        self.rows.append(
            {
                "household_id": household.id,
                "inspector_id": inspector.id,
                "grade": grade,
                "local_date": day,
                "created_at": at,
                "recorded_at": at + late,
            }
        )

    def write(self):
        rules_id = current_rules(self.village.id).id
        db.session.execute(
            insert(Inspection),
            [
                {
                    **row,
                    "village_id": self.village.id,
                    "grid_id": self.grid.id,
                    "points": POINTS[row["grade"]],
                    "slot": 1,
                    "rules_id": rules_id,
                }
                for row in self.rows
            ],
        )
        db.session.commit()


@pytest.fixture
def month(village, grid, make_user):
    inspectors = [make_user(INSPECTOR, username=name) for name in ("wang", "li", "zhao")]
    households = [create_household(village, grid, f"户{n}", f"马庄村{n}号") for n in range(40)]
    db.session.commit()
    return Grades(village, grid, inspectors, households)


def flags_of(client, admin_headers, **query):
    response = client.get(
        "/api/v1/reports/anomalies", query_string={**RANGE, **query}, headers=admin_headers
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_fair_grades_raise_no_flag(client, admin_headers, month):
    month.write()
    found = flags_of(client, admin_headers)
    assert found["items"] == []
    assert found["villages"][0]["total"] == 0
    report = client.get("/api/v1/reports/inspectors", query_string=RANGE, headers=admin_headers)
    rows = {row["username"]: row for row in report.get_json()["items"]}
    assert sum(rows[name]["inspections"] for name in ("wang", "li", "zhao")) == 40 * DAYS
    assert all(rows[name]["flags"] == [] for name in rows)


def test_an_inspector_generous_with_the_top_grade_is_flagged(client, admin_headers, month):
    wang = month.inspectors[0]
    for row in month.rows:
        if row["inspector_id"] == wang.id:
            row["grade"] = "A" if month.rng.random() < 0.8 else fair_grade(month.rng)
    month.write()
    (flag,) = flags_of(client, admin_headers)["items"]
    assert flag["kind"] == "top_grade_share"
    assert flag["inspector"] == "wang"
    assert flag["figures"]["share"] > 0.8 and flag["figures"]["others_share"] < 0.5
    evidence = db.session.scalars(
        select(Inspection).where(Inspection.id.in_(flag["evidence"]))
    ).all()
    assert len(evidence) == len(flag["evidence"]) > 30
    assert {(i.inspector_id, i.grade) for i in evidence} == {(wang.id, "A")}
    assert "wang" in flag["sentence"] and "%" in flag["sentence"]


def test_fewer_than_thirty_grades_are_not_judged(client, admin_headers, month):
    wang = month.inspectors[0]
    kept = [r for r in month.rows if r["inspector_id"] != wang.id]
    theirs = [r for r in month.rows if r["inspector_id"] == wang.id][:29]
    for row in theirs:
        row["grade"] = "A"
    month.rows = kept + theirs
    month.write()
    assert flags_of(client, admin_headers)["items"] == []


def test_a_run_of_grades_faster_than_walking_is_flagged(client, admin_headers, month):
    li = month.inspectors[1]
    day = FIRST_DAY + timedelta(days=12)
    moved = [r for r in month.rows if r["inspector_id"] == li.id and r["local_date"] == day][:6]
    start = moved[0]["created_at"]
    for n, row in enumerate(moved):
        row["created_at"] = row["recorded_at"] = start + timedelta(seconds=12 * n)
    # Four quick ones in a row are not yet a run.
    other_day = FIRST_DAY + timedelta(days=20)
    four = [r for r in month.rows if r["inspector_id"] == li.id and r["local_date"] == other_day]
    for n, row in enumerate(four[:4]):
        row["created_at"] = row["recorded_at"] = four[0]["created_at"] + timedelta(seconds=12 * n)
    month.write()
    (flag,) = flags_of(client, admin_headers)["items"]
    assert flag["kind"] == "too_fast" and flag["inspector"] == "li"
    assert len(flag["evidence"]) == 6
    assert flag["figures"] == {"grades": 6, "seconds": 60}


def test_a_household_favoured_by_one_inspector_is_flagged(client, admin_headers, month):
    zhao = month.inspectors[2]
    favoured = month.households[3]
    for row in month.rows:
        if row["household_id"] == favoured.id:
            # Zhao comes every third day and gives A; the others see a poor sorter.
            if row["local_date"].day % 3 == 0:
                row["inspector_id"], row["grade"] = zhao.id, "A"
            else:
                row["inspector_id"] = month.inspectors[row["local_date"].day % 2].id
                row["grade"] = month.rng.choice("CD")
    month.write()
    (flag,) = flags_of(client, admin_headers)["items"]
    assert flag["kind"] == "favoured_household"
    assert flag["inspector"] == "zhao" and flag["household_id"] == favoured.id
    assert len(flag["evidence"]) == 10
    assert favoured.code in flag["sentence"]


def test_many_grades_arriving_a_day_late_are_flagged(client, admin_headers, month):
    wang = month.inspectors[0]
    theirs = [r for r in month.rows if r["inspector_id"] == wang.id]
    for row in theirs[::3]:
        row["recorded_at"] = row["created_at"] + timedelta(hours=30)
    # Another inspector's few late grades stay under the share.
    li_rows = [r for r in month.rows if r["inspector_id"] == month.inspectors[1].id]
    for row in li_rows[:4]:
        row["recorded_at"] = row["created_at"] + timedelta(hours=30)
    month.write()
    (flag,) = flags_of(client, admin_headers)["items"]
    assert flag["kind"] == "late_arrivals" and flag["inspector"] == "wang"
    assert flag["figures"]["late"] == len(theirs[::3])
    report = client.get("/api/v1/reports/inspectors", query_string=RANGE, headers=admin_headers)
    rows = {row["username"]: row for row in report.get_json()["items"]}
    assert rows["wang"]["late_arrivals"] == len(theirs[::3])
    assert rows["li"]["late_arrivals"] == 4
    assert [f["kind"] for f in rows["wang"]["flags"]] == ["late_arrivals"]


def test_a_flag_speaks_the_readers_language(client, admin_headers, month):
    for row in month.rows:
        if row["inspector_id"] == month.inspectors[0].id:
            row["recorded_at"] = row["created_at"] + timedelta(hours=30)
    month.write()
    chinese = client.get(
        "/api/v1/reports/anomalies",
        query_string=RANGE,
        headers=admin_headers,
    ).get_json()["items"][0]["sentence"]
    english = client.get(
        "/api/v1/reports/anomalies",
        query_string={**RANGE, "lang": "en"},
        headers=admin_headers,
    ).get_json()["items"][0]["sentence"]
    assert "小时" in chinese and "hours" in english


def test_a_township_reads_counts_and_no_names(client, village, month):
    for row in month.rows:
        if row["inspector_id"] == month.inspectors[0].id:
            row["recorded_at"] = row["created_at"] + timedelta(hours=30)
    month.write()
    town = create_township("东湖街道", "DH")
    move_village(village, town)
    user = create_township_user(town, "dh-staff", PASSWORD)
    headers = bearer(issue_token(user).token)
    db.session.commit()
    response = client.get("/api/v1/reports/anomalies", query_string=RANGE, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["items"] == []
    assert body["villages"] == [
        {
            "village_id": village.id,
            "code": village.code,
            "counts": {
                "top_grade_share": 0,
                "too_fast": 0,
                "favoured_household": 0,
                "late_arrivals": 1,
            },
            "total": 1,
        }
    ]
    assert "wang" not in response.get_data(as_text=True)
    refused = client.get("/api/v1/reports/inspectors", query_string=RANGE, headers=headers)
    assert_problem(refused, 403, "forbidden")
    # The township's page counts this month's flags per village (none in this month).
    log_in(client, "dh-staff", english=True)
    page = client.get("/township").get_data(as_text=True)
    assert 'data-table="flags"' in page and "Many grades arriving late" in page
    assert "wang" not in page


def test_the_thresholds_are_the_documented_ones():
    doc = anomalies.__doc__ or ""
    for figure in ("(30)", "(3.09", "(5)", "(20 s)", "(24 h)", "(20 %)"):
        assert figure in doc
    assert (anomalies.MIN_GRADES, anomalies.FAST_SECONDS, anomalies.LATE_HOURS) == (30, 20, 24)


def fair_month(seed: int) -> list[anomalies.Graded]:
    """A fair month as the flags read it: the same shape as the worlds above, no database."""
    rng = random.Random(seed)
    graded = []
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        clock = dict.fromkeys(range(3), datetime.combine(day, datetime.min.time(), UTC))
        for household in range(40):
            inspector = rng.randrange(3)
            clock[inspector] += timedelta(seconds=rng.randint(60, 180))
            grade = fair_grade(rng)
            at = clock[inspector]
            late = timedelta(hours=30) if rng.random() < 0.05 else timedelta(seconds=5)
            graded.append(
                anomalies.Graded(
                    len(graded) + 1, inspector, household, 1, grade, POINTS[grade], at, at + late
                )
            )
    return graded


@pytest.mark.parametrize("seed", range(20))
def test_twenty_fair_months_raise_no_flag(seed):
    graded = fair_month(seed)
    assert anomalies.top_grade_share(graded, "A") == []
    assert anomalies.too_fast(graded) == []
    assert anomalies.favoured_household(graded) == []
    assert anomalies.late_arrivals(graded) == []
