"""The village's figures at a glance: every number is one aggregate query, never a row loop.

What the figures mean:
- an inspection counts on the village's day it happened (its local_date), unless voided;
- points issued are the points of those inspections (adjustments are corrections, not
  issuance, and a voided inspection issued nothing);
- points redeemed are the totals of the redemptions made that village day, unless
  cancelled;
- participation is the share of households inspected at least once in the period, out
  of the active households registered by its end plus every household inspected in it
  (one since moved away, or one registered later from paper records);
- outstanding points are what the households hold now: the sum of their balances.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, distinct, func, literal, or_, select

from app.auth.models import INSPECTOR, User, UserGrid
from app.catalogue.models import Good
from app.catalogue.services import low_stock
from app.db import db
from app.households.models import Household
from app.inspections.models import Inspection
from app.redemptions.models import Redemption
from app.reports.filters import (
    households_by_grid,
    kept_redemptions,
    present_during,
    standing_inspections,
)
from app.scope import day_start, village_zone
from app.villages.models import Grid

ACTIVE = "active"
SERIES_DAYS = 30


@dataclass(frozen=True)
class Figures:
    """What happened in a period of village days."""

    first: date
    last: date
    inspections: int
    households_inspected: int
    households: int
    points_issued: int
    points_redeemed: int

    @property
    def participation(self) -> float | None:
        """The share of households inspected, or None when there are none."""
        return self.households_inspected / self.households if self.households else None


@dataclass(frozen=True)
class Day:
    """One village day of the daily series."""

    day: date
    inspections: int
    points_issued: int
    points_redeemed: int


@dataclass(frozen=True)
class GridFigures:
    """One grid in a period: its households, who was inspected, how well they sorted."""

    grid_id: int
    number: int
    name: str
    households: int
    households_inspected: int
    inspections: int
    # Inspections that earned points: the household sorted well enough.
    inspections_with_points: int

    @property
    def participation(self) -> float | None:
        return self.households_inspected / self.households if self.households else None

    @property
    def accuracy(self) -> float | None:
        return self.inspections_with_points / self.inspections if self.inspections else None


@dataclass(frozen=True)
class HouseholdFigure:
    """A household on the board, with the number that put it there."""

    household_id: int
    code: str
    name: str
    grid_name: str
    value: int


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """Return the first and the last day of a month."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _inspected_households(village_id: int, first: date, last: date):
    return (
        select(Inspection.household_id)
        .where(standing_inspections(village_id, first, last))
        .group_by(Inspection.household_id)
    )


def _counted_households(village_id: int, first: date, last: date, zone: ZoneInfo):
    """The filter of the households a period's participation is measured against."""
    inspected = _inspected_households(village_id, first, last)
    # Every household inspected counts (also one entered later from paper records), so
    # the rate stays within 0..1; households that came after the period do not.
    return and_(
        Household.village_id == village_id,
        or_(
            and_(
                present_during(first),
                Household.created_at < day_start(zone, last + timedelta(days=1)),
            ),
            Household.id.in_(inspected),
        ),
    )


def figures(village_id: int, first: date, last: date) -> Figures:
    """Return the village's figures over the village days first..last."""
    zone = village_zone(village_id)
    inspections, inspected, issued = db.session.execute(
        select(
            func.count(Inspection.id),
            func.count(distinct(Inspection.household_id)),
            func.coalesce(func.sum(Inspection.points), 0),
        ).where(standing_inspections(village_id, first, last))
    ).one()
    households = (
        db.session.scalar(
            select(func.count(Household.id)).where(
                _counted_households(village_id, first, last, zone)
            )
        )
        or 0
    )
    redeemed = (
        db.session.scalar(
            select(func.coalesce(func.sum(Redemption.total_points), 0)).where(
                kept_redemptions(
                    village_id, day_start(zone, first), day_start(zone, last + timedelta(days=1))
                )
            )
        )
        or 0
    )
    return Figures(
        first, last, inspections or 0, inspected or 0, households, int(issued or 0), int(redeemed)
    )


def daily_series(village_id: int, last: date, days: int = SERIES_DAYS) -> list[Day]:
    """Return inspections, points issued and points redeemed for each of the last days."""
    first = last - timedelta(days=days - 1)
    zone = village_zone(village_id)
    by_day = {
        day: (count, int(points or 0))
        for day, count, points in db.session.execute(
            select(
                Inspection.local_date,
                func.count(Inspection.id),
                func.coalesce(func.sum(Inspection.points), 0),
            )
            .where(standing_inspections(village_id, first, last))
            .group_by(Inspection.local_date)
        )
    }
    # Redemptions keep a UTC moment: bucket them by where it falls among the village's
    # midnights, which holds in any time zone (daylight saving too) on both databases.
    starts = [day_start(zone, first + timedelta(days=n)) for n in range(days + 1)]
    bucket = case(
        *((Redemption.created_at < starts[n + 1], literal(n)) for n in range(days)),
        else_=literal(days),
    )
    # Grouped outside: PostgreSQL cannot match a GROUP BY full of bound parameters.
    bucketed = (
        select(bucket.label("bucket"), Redemption.total_points)
        .where(kept_redemptions(village_id, starts[0], starts[-1]))
        .subquery()
    )
    redeemed = {
        n: int(total or 0)
        for n, total in db.session.execute(
            select(bucketed.c.bucket, func.sum(bucketed.c.total_points)).group_by(bucketed.c.bucket)
        )
    }
    series = []
    for n in range(days):
        day = first + timedelta(days=n)
        count, points = by_day.get(day, (0, 0))
        series.append(Day(day, count, points, redeemed.get(n, 0)))
    return series


def grid_figures(village_id: int, first: date, last: date) -> list[GridFigures]:
    """Return each grid's participation and sorting accuracy over first..last, by number."""
    zone = village_zone(village_id)
    inspected = _inspected_households(village_id, first, last).subquery()
    counted = _counted_households(village_id, first, last, zone)
    households = households_by_grid(inspected, counted)
    # An inspection counts for the grid the household was in when it was inspected.
    inspections = {
        grid_id: (total, good)
        for grid_id, total, good in db.session.execute(
            select(
                Inspection.grid_id,
                func.count(Inspection.id),
                func.count(case((Inspection.points > 0, Inspection.id))),
            )
            .where(standing_inspections(village_id, first, last))
            .group_by(Inspection.grid_id)
        )
    }
    rows = []
    for grid in db.session.execute(
        select(Grid.id, Grid.number, Grid.name)
        .where(Grid.village_id == village_id)
        .order_by(Grid.number)
    ):
        total, seen = households.get(grid.id, (0, 0))
        count, good = inspections.get(grid.id, (0, 0))
        rows.append(GridFigures(grid.id, grid.number, grid.name, total, seen, count, good))
    return rows


def top_earners(village_id: int, first: date, last: date, limit: int = 10) -> list[HouseholdFigure]:
    """Return the households that earned the most points over first..last."""
    earned = func.sum(Inspection.points)
    return [
        HouseholdFigure(*row[:4], int(row[4]))
        for row in db.session.execute(
            select(Household.id, Household.code, Household.name, Grid.name, earned)
            .join(Inspection, Inspection.household_id == Household.id)
            .join(Grid, Grid.id == Household.grid_id)
            .where(standing_inspections(village_id, first, last))
            .group_by(Household.id, Household.code, Household.name, Grid.name)
            .having(earned > 0)
            .order_by(earned.desc(), Household.code)
            .limit(limit)
        )
    ]


def never_inspected(village_id: int, first: date, last: date) -> list[HouseholdFigure]:
    """Return the active households, there in the period, never inspected in it.

    A household registered during the period after its grid's last round (the last
    inspection there in the period, or with no round at all) had no chance to be
    inspected: it is not listed.
    """
    zone = village_zone(village_id)
    last_round = (
        select(Inspection.grid_id, func.max(Inspection.created_at).label("at"))
        .where(standing_inspections(village_id, first, last))
        .group_by(Inspection.grid_id)
        .subquery()
    )
    return [
        HouseholdFigure(*row, 0)
        for row in db.session.execute(
            select(Household.id, Household.code, Household.name, Grid.name)
            .join(Grid, Grid.id == Household.grid_id)
            .outerjoin(last_round, last_round.c.grid_id == Household.grid_id)
            .where(
                Household.village_id == village_id,
                Household.status == ACTIVE,
                Household.created_at < day_start(zone, last + timedelta(days=1)),
                or_(
                    Household.created_at < day_start(zone, first),
                    Household.created_at <= last_round.c.at,
                ),
                Household.id.not_in(_inspected_households(village_id, first, last)),
            )
            .order_by(Household.code)
        )
    ]


def often_zero(village_id: int, first: date, last: date, times: int = 3) -> list[HouseholdFigure]:
    """Return the households graded with a zero-point grade at least times in the period."""
    zeros = func.count(Inspection.id)
    return [
        HouseholdFigure(*row[:4], int(row[4]))
        for row in db.session.execute(
            select(Household.id, Household.code, Household.name, Grid.name, zeros)
            .join(Inspection, Inspection.household_id == Household.id)
            .join(Grid, Grid.id == Household.grid_id)
            .where(standing_inspections(village_id, first, last), Inspection.points == 0)
            .group_by(Household.id, Household.code, Household.name, Grid.name)
            .having(zeros >= times)
            .order_by(zeros.desc(), Household.code)
        )
    ]


def goods_running_low(village_id: int) -> list[Good]:
    """Return the active goods at or below their low-stock mark, emptiest first."""
    return low_stock(village_id)


@dataclass(frozen=True)
class InspectorFigures:
    """One inspector in a period: the grids they work and what they did."""

    user_id: int
    username: str
    active: bool
    # Their grids' names; empty: the whole village.
    grids: list[str]
    inspections: int
    households_inspected: int
    points_issued: int
    # Of the households they are to visit (their grids, or the whole village), how many
    # anyone inspected in the period.
    to_visit: int
    visited: int

    @property
    def coverage(self) -> float | None:
        return self.visited / self.to_visit if self.to_visit else None


def inspector_figures(
    village_id: int, first: date, last: date, grids: list[GridFigures], village: Figures
) -> list[InspectorFigures]:
    """Return each inspector's work over first..last, with the coverage of their grids.

    grids and village are the same period's figures: a grid's coverage is read from them.
    """
    done = {
        inspector_id: (count, households, int(points or 0))
        for inspector_id, count, households, points in db.session.execute(
            select(
                Inspection.inspector_id,
                func.count(Inspection.id),
                func.count(distinct(Inspection.household_id)),
                func.coalesce(func.sum(Inspection.points), 0),
            )
            .where(standing_inspections(village_id, first, last))
            .group_by(Inspection.inspector_id)
        )
    }
    assigned: dict[int, list[int]] = {}
    for user_id, grid_id in db.session.execute(
        select(UserGrid.user_id, UserGrid.grid_id)
        .join(User, User.id == UserGrid.user_id)
        .where(User.village_id == village_id)
    ):
        assigned.setdefault(user_id, []).append(grid_id)
    by_grid = {grid.grid_id: grid for grid in grids}
    rows = []
    for user in db.session.execute(
        select(User.id, User.username, User.active, User.role)
        .where(User.village_id == village_id, or_(User.role == INSPECTOR, User.id.in_(done)))
        .order_by(User.username)
    ):
        if user.role != INSPECTOR and user.id not in done:
            continue
        count, households, points = done.get(user.id, (0, 0, 0))
        mine = [by_grid[grid_id] for grid_id in assigned.get(user.id, []) if grid_id in by_grid]
        mine.sort(key=lambda grid: grid.number)
        if mine:
            to_visit = sum(grid.households for grid in mine)
            visited = sum(grid.households_inspected for grid in mine)
        else:
            to_visit, visited = village.households, village.households_inspected
        rows.append(
            InspectorFigures(
                user.id,
                user.username,
                user.active,
                [grid.name for grid in mine],
                count,
                households,
                points,
                to_visit,
                visited,
            )
        )
    return rows
