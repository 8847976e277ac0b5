"""The village's summary: figures checked against plain Python over the seeded records."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update
from testsupport import assert_problem

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, User
from app.catalogue import services as catalogue
from app.db import db
from app.households.models import Household
from app.households.services import update_household
from app.inspections import services as inspections
from app.ledger import services as ledger
from app.redemptions import services as redemptions
from app.redemptions.services import LineRequest
from app.reports import services as reports

SHANGHAI = ZoneInfo("Asia/Shanghai")
POINTS = {"A": 3, "B": 2, "C": 1, "D": 0}
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
REGISTERED = datetime(2026, 9, 1, 8, 0, tzinfo=SHANGHAI)


def at(
    month: int,
    day: int,
    hour: int = 9,
    minute: int = 0,
    *,
    year: int = 2026,
    zone: ZoneInfo = SHANGHAI,
) -> datetime:
    """A moment on the village's clock."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


# What the test seeded, kept in plain Python -----------------------------------------------


@dataclass
class Seeded:
    """The seeded records as the test knows them, independent of the database."""

    zone: ZoneInfo
    households: dict[str, Household] = field(default_factory=dict)
    registered: dict[str, datetime] = field(default_factory=dict)
    grid_of: dict[str, int] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)
    inspections: list[dict] = field(default_factory=list)
    adjustments: list[dict] = field(default_factory=list)
    redemptions: list[dict] = field(default_factory=list)
    grids: list = field(default_factory=list)
    inspectors: dict[int, str] = field(default_factory=dict)
    goods: dict[int, tuple[str, str]] = field(default_factory=dict)

    def household(
        self, key: str, grid, *, registered: datetime | None = REGISTERED, make=None
    ) -> Household:
        household = make(in_grid=grid, name=f"户主{key}")
        if registered is not None:
            # Registered before the month being reported: set as the roster had it.
            db.session.execute(
                update(Household).where(Household.id == household.id).values(created_at=registered)
            )
            db.session.commit()
        self.households[key] = household
        self.registered[key] = registered or datetime.now(UTC)
        self.grid_of[key] = grid.id
        return household

    def inspect(self, key: str, inspector: User, grade: str, moment: datetime) -> int:
        household = self.households[key]
        inspection = inspections.record_inspection(household, inspector, grade, at=moment)
        self.inspections.append(
            {
                "id": inspection.id,
                "household": key,
                "grid_id": self.grid_of[key],
                "inspector_id": inspector.id,
                "grade": grade,
                "points": POINTS[grade],
                "day": moment.astimezone(self.zone).date(),
                "voided": False,
            }
        )
        self.inspectors[inspector.id] = inspector.username
        return inspection.id

    def void(self, inspection_id: int, admin: User) -> None:
        inspection = inspections.get_inspection(admin.village_id, inspection_id)
        inspections.void_inspection(inspection, actor=admin, reason="录错了")
        next(i for i in self.inspections if i["id"] == inspection_id)["voided"] = True

    def adjust(self, key: str, amount: int, moment: datetime, admin: User) -> int:
        journal = ledger.adjust(
            admin.village_id,
            self.households[key].id,
            amount,
            reason="纠正",
            actor_id=admin.id,
            at=moment,
        )
        self.adjustments.append(
            {
                "journal_id": journal.id,
                "household": key,
                "amount": amount,
                "moment": moment,
                "reversed": False,
            }
        )
        return journal.id

    def reverse_adjustment(self, journal_id: int, admin: User) -> None:
        ledger.reverse(
            journal_id, village_id=admin.village_id, actor_id=admin.id, reason="调整错了"
        )
        next(a for a in self.adjustments if a["journal_id"] == journal_id)["reversed"] = True

    def redeem(self, key: str, storekeeper: User, lines: list[tuple], moment: datetime) -> int:
        redemption = redemptions.redeem_goods(
            self.households[key],
            storekeeper,
            [LineRequest(good.id, quantity) for good, quantity in lines],
            at=moment,
        ).redemption
        for good, _ in lines:
            self.goods[good.id] = (good.name, good.unit)
        self.redemptions.append(
            {
                "id": redemption.id,
                "household": key,
                "moment": moment,
                "cancelled": False,
                "lines": [
                    (good.id, quantity, good.price_points * quantity) for good, quantity in lines
                ],
            }
        )
        return redemption.id

    def cancel(self, redemption_id: int, user: User) -> None:
        redemption = redemptions.get_redemption(user.village_id, redemption_id)
        redemptions.cancel(redemption, actor=user, reason="退货")
        next(r for r in self.redemptions if r["id"] == redemption_id)["cancelled"] = True


def share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def expected(seeded: Seeded, first: date, last: date) -> dict:
    """Compute the summary from the seeded records, in plain Python."""
    zone = seeded.zone
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)

    def in_range(moment: datetime) -> bool:
        return first <= moment.astimezone(zone).date() <= last

    standing = [i for i in seeded.inspections if first <= i["day"] <= last and not i["voided"]]
    voided = [i for i in seeded.inspections if first <= i["day"] <= last and i["voided"]]
    inspected = {i["household"] for i in standing}
    base = {
        key for key in seeded.households if key not in seeded.moved and seeded.registered[key] < end
    } | inspected

    def grades(rows) -> dict:
        counts = Counter(i["grade"] for i in rows)
        return {grade: counts.get(grade, 0) for grade in POINTS}

    def accuracy(rows) -> float:
        return share(sum(1 for i in rows if i["points"] > 0), len(rows))

    per_grid = []
    for grid in seeded.grids:
        households = {key for key in base if seeded.grid_of[key] == grid.id}
        seen = households & inspected
        rows = [i for i in standing if i["grid_id"] == grid.id]
        per_grid.append(
            {
                "grid_id": grid.id,
                "name": grid.name,
                "households": len(households),
                "households_inspected": len(seen),
                "participation_rate": share(len(seen), len(households)),
                "inspections": len(rows),
                "grades": grades(rows),
                "accuracy": accuracy(rows),
                "points_issued": sum(i["points"] for i in rows),
            }
        )
    per_inspector = []
    for inspector_id in {i["inspector_id"] for i in standing}:
        rows = [i for i in standing if i["inspector_id"] == inspector_id]
        per_inspector.append(
            {
                "inspector_id": inspector_id,
                "username": seeded.inspectors[inspector_id],
                "inspections": len(rows),
                "grades": grades(rows),
                "accuracy": accuracy(rows),
                "points_issued": sum(i["points"] for i in rows),
            }
        )
    per_inspector.sort(key=lambda row: (-row["inspections"], row["username"]))

    redeemed = [r for r in seeded.redemptions if in_range(r["moment"]) and not r["cancelled"]]
    goods: dict[int, list[int]] = {}
    for redemption in redeemed:
        for good_id, quantity, points in redemption["lines"]:
            tally = goods.setdefault(good_id, [0, 0])
            tally[0] += quantity
            tally[1] += points
    per_good = sorted(
        (
            {
                "good_id": good_id,
                "name": seeded.goods[good_id][0],
                "unit": seeded.goods[good_id][1],
                "units": units,
                "points": points,
            }
            for good_id, (units, points) in goods.items()
        ),
        key=lambda row: (-row["points"], row["name"]),
    )

    earned = sum(i["points"] for i in seeded.inspections if not i["voided"])
    adjusted = sum(a["amount"] for a in seeded.adjustments if not a["reversed"])
    spent = sum(
        sum(line[2] for line in r["lines"]) for r in seeded.redemptions if not r["cancelled"]
    )
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days": (last - first).days + 1,
        "households": len(base),
        "households_active": sum(1 for key in seeded.households if key not in seeded.moved),
        "households_inspected": len(inspected),
        "participation_rate": share(len(inspected), len(base)),
        "inspections": len(standing),
        "inspections_voided": len(voided),
        "grades": grades(standing),
        "accuracy": accuracy(standing),
        "points_issued": sum(i["points"] for i in standing),
        "points_voided": sum(i["points"] for i in voided),
        "adjustments_net": sum(
            a["amount"] for a in seeded.adjustments if in_range(a["moment"]) and not a["reversed"]
        ),
        "redemptions": len(redeemed),
        "points_redeemed": sum(sum(line[2] for line in r["lines"]) for r in redeemed),
        "outstanding": earned + adjusted - spent,
        "per_grid": per_grid,
        "per_inspector": per_inspector,
        "per_good": per_good,
    }


def compare(actual: dict, wanted: dict) -> None:
    for name, value in wanted.items():
        assert actual[name] == value, name


# Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def inspectors(make_user):
    return (
        make_user(INSPECTOR, username="wang_inspects"),
        make_user(INSPECTOR, username="li_inspects"),
    )


@pytest.fixture
def get_summary(client, admin_headers):
    def get(first: date | None = None, last: date | None = None, *, headers=None, **query):
        if first is not None:
            query["from"] = first.isoformat()
        if last is not None:
            query["to"] = last.isoformat()
        return client.get(
            "/api/v1/reports/summary", query_string=query, headers=headers or admin_headers
        )

    return get


@pytest.fixture
def october(app, village, grid, make_grid, make_household, inspectors, storekeeper, admin):
    """A month of a village: four grids, nine households, inspections, voids, the shop."""
    first, second = inspectors
    seeded = Seeded(SHANGHAI)
    west, south, empty = make_grid("西二网格"), make_grid("南三网格"), make_grid("北四网格")
    seeded.grids = [grid, west, south, empty]
    for key, in_grid in (
        ("h1", grid),
        ("h2", grid),
        ("h3", grid),
        ("h4", west),
        ("h5", west),
        ("h6", south),
        ("h7", west),
    ):
        seeded.household(key, in_grid, make=make_household)
    # Registered in November: not part of October's participation.
    seeded.household("h9", grid, registered=None, make=make_household)

    seeded.inspect("h1", first, "A", at(10, 1, 8))
    seeded.inspect("h1", first, "B", at(10, 2, 9))
    seeded.inspect("h1", second, "D", at(10, 15, 10))
    seeded.inspect("h1", first, "A", at(10, 31, 23, 30))  # late on the last day: counts
    seeded.inspect("h2", second, "C", at(10, 1, 8, 30))
    wrong_a = seeded.inspect("h2", second, "A", at(10, 10))
    seeded.inspect("h2", first, "B", at(10, 20))
    seeded.inspect("h4", second, "B", at(10, 5))
    wrong_d = seeded.inspect("h4", second, "D", at(10, 6))
    seeded.inspect("h5", first, "A", at(10, 7))
    seeded.inspect("h7", first, "C", at(10, 8))
    # The evening before the month and the first minutes after it, village time.
    seeded.inspect("h3", first, "A", at(9, 30, 23, 30))
    seeded.inspect("h3", second, "A", at(11, 1, 0, 10))
    seeded.inspect("h5", second, "B", at(11, 1, 8))
    seeded.void(wrong_a, admin)
    seeded.void(wrong_d, admin)  # a zero-point grade: nothing to reverse, still voided

    seeded.adjust("h1", 5, at(10, 3), admin)
    seeded.adjust("h5", -1, at(10, 12), admin)
    seeded.reverse_adjustment(seeded.adjust("h2", 4, at(10, 4), admin), admin)
    seeded.adjust("h5", 10, at(11, 2), admin)
    seeded.adjust("h3", 2, at(9, 30, 12), admin)

    soap = catalogue.create_good(village.id, name="肥皂", unit="块", price_points=2, stock=100)
    oil = catalogue.create_good(village.id, name="食用油", unit="瓶", price_points=5, stock=50)
    seeded.redeem("h1", storekeeper, [(soap, 2)], at(10, 9, 10))
    seeded.redeem("h1", storekeeper, [(oil, 1)], at(10, 31, 23, 30))
    # 00:30 on October 1st in the village is still September 30th in UTC: October.
    seeded.redeem("h2", storekeeper, [(soap, 1)], at(10, 1, 0, 30))
    seeded.cancel(seeded.redeem("h1", storekeeper, [(soap, 2)], at(10, 20, 15)), storekeeper)
    # 00:30 on November 1st in the village is still October 31st in UTC: November.
    seeded.redeem("h5", storekeeper, [(soap, 1), (oil, 1)], at(11, 1, 0, 30))
    update_household(seeded.households["h7"], {"status": "moved"})
    seeded.moved.add("h7")
    db.session.commit()
    return seeded


# The figures ------------------------------------------------------------------------------


def test_summary_of_a_month_matches_the_records(october, village):
    actual = reports.summary(village.id, *OCTOBER)

    wanted = expected(october, *OCTOBER)
    compare(
        {**actual, "from": actual["day_from"].isoformat(), "to": actual["day_to"].isoformat()},
        wanted,
    )
    # The seeding is what the figures were meant to exercise: spelled out once.
    assert (actual["households"], actual["households_inspected"]) == (7, 5)
    assert actual["participation_rate"] == 0.7143
    assert actual["grades"] == {"A": 3, "B": 3, "C": 2, "D": 1}
    assert actual["accuracy"] == 0.8889
    assert (actual["points_issued"], actual["points_voided"]) == (17, 3)
    assert (actual["adjustments_net"], actual["redemptions"]) == (4, 3)
    assert actual["points_redeemed"] == 11


def test_summary_through_the_api_matches_the_records(october, get_summary):
    response = get_summary(*OCTOBER)

    assert response.status_code == 200, response.get_data(as_text=True)
    compare(response.json, expected(october, *OCTOBER))
    assert [row["name"] for row in response.json["per_grid"]] == [
        "东一网格",
        "西二网格",
        "南三网格",
        "北四网格",
    ]


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 9, 1), date(2026, 11, 30)),
        (date(2026, 10, 31), date(2026, 10, 31)),
        (date(2026, 10, 1), date(2026, 10, 1)),
        (date(2026, 9, 30), date(2026, 9, 30)),
    ],
)
def test_summary_of_other_ranges_matches_the_records(october, get_summary, first, last):
    response = get_summary(first, last)

    assert response.status_code == 200
    compare(response.json, expected(october, first, last))


def test_the_last_day_counts_and_the_day_after_does_not(
    app, village, make_household, inspectors, get_summary
):
    household = make_household()
    late = inspections.record_inspection(household, inspectors[0], "A", at=at(10, 31, 23, 30))
    inspections.record_inspection(household, inspectors[0], "B", at=at(11, 1, 0, 5))
    db.session.commit()

    # 23:30 in Shanghai is 15:30 UTC: still October 31st, on the village's calendar too.
    assert late.local_date == date(2026, 10, 31)
    october_days = get_summary(*OCTOBER).json
    assert october_days["inspections"] == 1
    assert october_days["points_issued"] == 3
    assert get_summary(date(2026, 10, 1), date(2026, 10, 30)).json["inspections"] == 0
    assert get_summary(date(2026, 11, 1), date(2026, 11, 1)).json["grades"]["B"] == 1


def test_redemptions_count_on_the_village_day_of_another_time_zone(
    app, make_village, make_household, make_user, make_grid, token_for, client
):
    far = make_village("远村", "YC", timezone="America/New_York")
    household = make_household(of=far, in_grid=make_grid("一组", of=far), points=20)
    storekeeper = make_user(STOREKEEPER, of=far)
    soap = catalogue.create_good(far.id, name="肥皂", unit="块", price_points=3, stock=10)
    new_york = ZoneInfo("America/New_York")
    # 22:00 on October 31st in New York is already November 1st in UTC (and Shanghai).
    redemptions.redeem_goods(
        household, storekeeper, [LineRequest(soap.id, 1)], at=at(10, 31, 22, zone=new_york)
    )
    db.session.commit()
    headers = token_for(make_user(ADMIN, of=far))

    def redeemed(first: str, last: str) -> int:
        response = client.get(
            "/api/v1/reports/summary", headers=headers, query_string={"from": first, "to": last}
        )
        return response.json["points_redeemed"]

    assert redeemed("2026-10-31", "2026-10-31") == 3
    assert redeemed("2026-11-01", "2026-11-01") == 0


def test_grids_count_households_where_they_are_and_inspections_where_they_were(
    app, village, grid, make_grid, make_household, inspectors
):
    west = make_grid("西二网格")
    household = make_household()
    inspections.record_inspection(household, inspectors[0], "A", at=at(10, 5))
    update_household(household, {"grid_id": west.id})
    db.session.commit()

    rows = {row["name"]: row for row in reports.summary(village.id, *OCTOBER)["per_grid"]}

    assert (rows["东一网格"]["households"], rows["东一网格"]["inspections"]) == (0, 1)
    assert rows["东一网格"]["points_issued"] == 3
    assert (rows["西二网格"]["households"], rows["西二网格"]["households_inspected"]) == (1, 1)
    assert rows["西二网格"]["inspections"] == 0


def test_an_empty_village_has_zeros_not_errors(village, get_summary):
    body = get_summary(*OCTOBER).json

    assert body["households"] == 0
    assert body["participation_rate"] == 0
    assert body["accuracy"] == 0
    assert body["grades"] == {"A": 0, "B": 0, "C": 0, "D": 0}
    assert body["per_inspector"] == [] and body["per_good"] == []
    assert body["outstanding"] == 0


def test_summary_defaults_to_this_village_month(village, get_summary):
    today = inspections.village_today(village.id)

    body = get_summary().json

    assert body["to"] == today.isoformat()
    assert body["from"] == today.replace(day=1).isoformat()
    only_to = get_summary(last=date(2026, 2, 14)).json
    assert (only_to["from"], only_to["to"], only_to["days"]) == ("2026-02-01", "2026-02-14", 14)


def test_summary_reads_with_a_fixed_number_of_queries(october, village, make_village, app):
    """A year of data costs the same queries as none: aggregates, no per-row loop."""
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        reports.summary(village.id, *OCTOBER)
        seeded = len(statements)
        statements.clear()
        reports.summary(make_village().id, *OCTOBER)
        empty = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    # Only the inspectors' names depend on the data, and they are one query.
    assert seeded <= empty + 1
    assert seeded <= 15


# Who may read it, and what ----------------------------------------------------------------


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, HOUSEHOLD])
def test_only_the_admin_reads_the_summary(make_user, household, token_for, get_summary, role):
    user = make_user(role, household=household if role == HOUSEHOLD else None)

    assert_problem(get_summary(*OCTOBER, headers=token_for(user)), 403, "forbidden")


def test_no_token_is_401(client):
    assert_problem(client.get("/api/v1/reports/summary"), 401, "unauthorized")


def test_another_villages_admin_sees_only_its_own_figures(
    october, make_village, make_household, make_user, make_grid, token_for, get_summary
):
    other = make_village("李庄村", "LZ")
    household = make_household(of=other, in_grid=make_grid("一组", of=other), points=9)
    inspections.record_inspection(household, make_user(INSPECTOR, of=other), "B", at=at(10, 9))
    db.session.commit()

    body = get_summary(*OCTOBER, headers=token_for(make_user(ADMIN, of=other))).json

    assert (body["households"], body["inspections"], body["points_issued"]) == (1, 1, 2)
    assert body["grades"] == {"A": 0, "B": 1, "C": 0, "D": 0}
    assert body["outstanding"] == 11
    assert (body["redemptions"], body["per_good"]) == (0, [])
    assert [row["name"] for row in body["per_grid"]] == ["一组"]
    # And this village's figures do not see the other village's.
    compare(get_summary(*OCTOBER).json, expected(october, *OCTOBER))


# Bad ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-10-31", "to": "2026-10-01"},
        {"from": "2025-09-30", "to": "2026-10-01"},  # 367 days
        {"from": "2099-01-01"},  # after today, the default end
        {"from": "2026-13-01", "to": "2026-12-31"},
        {"from": "yesterday"},
        {"to": "2026-10-01T00:00:00"},
    ],
)
def test_bad_ranges_are_422(village, get_summary, query):
    body = assert_problem(get_summary(**query), 422, "validation_error")

    assert body["errors"]


def test_a_range_of_366_days_is_fine(village, get_summary):
    response = get_summary(date(2025, 10, 2), date(2026, 10, 2))

    assert response.status_code == 200
    assert response.json["days"] == 366


def test_the_openapi_document_defines_the_figures(client):
    spec = client.get("/api/v1/openapi.json").json

    operation = spec["paths"]["/api/v1/reports/summary"]["get"]
    # village_id: a township names one of its villages (issue 18).
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "village_id"}
    fields = spec["components"]["schemas"]["SummaryOut"]["properties"]
    assert "points > 0" in fields["accuracy"]["description"]
    assert "reversals" in fields["points_issued"]["description"]
    assert {
        "households",
        "households_inspected",
        "participation_rate",
        "points_redeemed",
        "outstanding",
        "adjustments_net",
        "per_grid",
        "per_inspector",
        "per_good",
    } <= set(fields)
    exports_path = spec["paths"]["/api/v1/reports/exports/{what}.{fmt}"]["get"]
    assert set(exports_path["responses"]["200"]["content"]) == {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
