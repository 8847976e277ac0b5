"""The summary of a range of village days: every figure is a GROUP BY, never a row loop.

What the figures mean (the OpenAPI description of the summary says the same):
- an inspection counts on its village day (local_date), unless it was voided;
- a redemption, a ledger entry or a stock movement counts on the village day of its
  timestamp in the village's time zone; a redemption counts unless it was cancelled;
- households, the base of participation: the active households registered by the end
  of the range, plus every household inspected in the range (also one registered
  later, from paper records, or one that has since moved away), so the rate stays in
  0..1 and a past month is not diluted by households that came after it;
- sorting accuracy: the share of the counted inspections whose grade earned points
  (points > 0 under the rules the inspection was scored by); with the default rules,
  A, B and C count and D does not;
- points issued: the points of the counted inspections, that is the points credited
  to households by inspections in the range minus the reversals of those credits
  (voiding an inspection takes its points out of the range it belongs to, whenever
  the void happens); adjustments are reported apart, as adjustments_net;
- outstanding: what the households hold now, the points the village still owes.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.catalogue.models import Good
from app.db import db
from app.figures import rate
from app.households.models import Household
from app.inspections.models import Inspection
from app.ledger.expiry import expired_between
from app.ledger.models import ADJUSTMENT, HOUSEHOLD, Account, Entry, Journal
from app.redemptions.models import Redemption, RedemptionLine
from app.reports.filters import (
    households_by_grid,
    kept_redemptions,
    present_during,
    standing_inspections,
)
from app.rules.services import current_rules
from app.scope import utc_bounds, village_zone
from app.villages.models import Grid

ACTIVE = "active"


@dataclass
class _Tally:
    """Inspections of one group (the village, a grid, an inspector) by grade."""

    inspections: int = 0
    with_points: int = 0
    points: int = 0
    grades: Counter = field(default_factory=Counter)

    def add(self, grade: str, count: int, with_points: int, points: int) -> None:
        self.inspections += count
        self.with_points += with_points
        self.points += points
        self.grades[grade] += count

    def accuracy(self) -> float:
        return rate(self.with_points, self.inspections)

    def grade_counts(self, order: list[str]) -> dict[str, int]:
        """Every grade of the rules in force (0 when unseen), then any older grade seen."""
        counts = {grade: self.grades.get(grade, 0) for grade in order}
        counts.update({g: c for g, c in sorted(self.grades.items()) if g not in counts})
        return counts


def summary(village_id: int, day_from: date, day_to: date) -> dict:
    """Return the village's figures over the village days day_from..day_to inclusive."""
    zone = village_zone(village_id)
    start, end = utc_bounds(zone, day_from, day_to)
    standing = standing_inspections(village_id, day_from, day_to)
    grade_order = [g.grade for g in current_rules(village_id).grades]

    village, by_grid, by_inspector = _tallies(standing)
    voided_count, voided_points = _voided(village_id, day_from, day_to)
    households = _households_counted(village_id, day_from, end, standing)
    active_now = (
        db.session.scalar(
            select(func.count(Household.id)).where(
                Household.village_id == village_id, Household.status == ACTIVE
            )
        )
        or 0
    )

    redemptions, redeemed = db.session.execute(
        select(
            func.count(Redemption.id), func.coalesce(func.sum(Redemption.total_points), 0)
        ).where(kept_redemptions(village_id, start, end))
    ).one()

    total_households = sum(total for total, _ in households.values())
    total_inspected = sum(seen for _, seen in households.values())
    return {
        "village_id": village_id,
        "day_from": day_from,
        "day_to": day_to,
        "days": (day_to - day_from).days + 1,
        "households": total_households,
        "households_active": active_now,
        "households_inspected": total_inspected,
        "participation_rate": rate(total_inspected, total_households),
        "inspections": village.inspections,
        "inspections_voided": voided_count,
        "grades": village.grade_counts(grade_order),
        "accuracy": village.accuracy(),
        "points_issued": village.points,
        "points_voided": voided_points,
        "adjustments_net": adjustments_net(village_id, start, end),
        "redemptions": redemptions,
        "points_redeemed": int(redeemed),
        "points_expired": expired_between(village_id, start, end),
        "outstanding": outstanding(village_id),
        "per_grid": _per_grid(village_id, by_grid, households, grade_order),
        "per_inspector": _per_inspector(by_inspector, grade_order),
        "per_good": per_good(village_id, start, end),
    }


def _tallies(standing) -> tuple[_Tally, dict[int, _Tally], dict[int, _Tally]]:
    """One pass over the range's standing inspections, grouped finely, folded three ways:
    the village's, each grid's and each inspector's."""
    village = _Tally()
    by_grid: defaultdict[int, _Tally] = defaultdict(_Tally)
    by_inspector: defaultdict[int, _Tally] = defaultdict(_Tally)
    for grid_id, inspector_id, grade, count, with_points, points in db.session.execute(
        select(
            Inspection.grid_id,
            Inspection.inspector_id,
            Inspection.grade,
            func.count(Inspection.id),
            func.count(case((Inspection.points > 0, Inspection.id))),
            func.coalesce(func.sum(Inspection.points), 0),
        )
        .where(standing)
        .group_by(Inspection.grid_id, Inspection.inspector_id, Inspection.grade)
    ):
        for tally in (village, by_grid[grid_id], by_inspector[inspector_id]):
            tally.add(grade, count, with_points, int(points))
    return village, by_grid, by_inspector


def _voided(village_id: int, day_from: date, day_to: date) -> tuple[int, int]:
    """How many of the range's grades were voided, and the points they had given."""
    count, points = db.session.execute(
        select(func.count(Inspection.id), func.coalesce(func.sum(Inspection.points), 0)).where(
            Inspection.village_id == village_id,
            Inspection.local_date >= day_from,
            Inspection.local_date <= day_to,
            Inspection.voided_at.is_not(None),
        )
    ).one()
    return count, int(points)


def _households_counted(
    village_id: int, day_from: date, end: datetime, standing
) -> dict[int, tuple[int, int]]:
    """Participation: households by their current grid, inspected in any grid; a household
    counts if it lived here during the range or was inspected in it."""
    inspected = (
        select(Inspection.household_id).where(standing).group_by(Inspection.household_id).subquery()
    )
    counted = and_(
        Household.village_id == village_id,
        or_(
            and_(present_during(day_from), Household.created_at < end),
            inspected.c.household_id.is_not(None),
        ),
    )
    return households_by_grid(inspected, counted)


def _per_grid(
    village_id: int,
    by_grid: dict[int, _Tally],
    households: dict[int, tuple[int, int]],
    grade_order: list[str],
) -> list[dict]:
    rows = []
    for grid_id, name in db.session.execute(
        select(Grid.id, Grid.name).where(Grid.village_id == village_id).order_by(Grid.number)
    ):
        tally = by_grid.get(grid_id, _Tally())
        total, seen = households.get(grid_id, (0, 0))
        rows.append(
            {
                "grid_id": grid_id,
                "name": name,
                "households": total,
                "households_inspected": seen,
                "participation_rate": rate(seen, total),
                "inspections": tally.inspections,
                "grades": tally.grade_counts(grade_order),
                "accuracy": tally.accuracy(),
                "points_issued": tally.points,
            }
        )
    return rows


def _per_inspector(by_inspector: dict[int, _Tally], grade_order: list[str]) -> list[dict]:
    if not by_inspector:
        return []
    names = dict(
        db.session.execute(
            select(User.id, User.username).where(User.id.in_(list(by_inspector)))
        ).all()
    )
    rows: list[dict[str, Any]] = [
        {
            "inspector_id": inspector_id,
            "username": names.get(inspector_id, ""),
            "inspections": tally.inspections,
            "grades": tally.grade_counts(grade_order),
            "accuracy": tally.accuracy(),
            "points_issued": tally.points,
        }
        for inspector_id, tally in by_inspector.items()
    ]
    rows.sort(key=lambda row: (-row["inspections"], row["username"]))
    return rows


def per_good(village_id: int, start: datetime, end: datetime) -> list[dict]:
    """Return the units and points of each good redeemed in [start, end), not cancelled."""
    units = func.sum(RedemptionLine.quantity)
    points = func.sum(RedemptionLine.line_points)
    return [
        {"good_id": good_id, "name": name, "unit": unit, "units": int(count), "points": int(total)}
        for good_id, name, unit, count, total in db.session.execute(
            select(Good.id, Good.name, Good.unit, units, points)
            .join(RedemptionLine, RedemptionLine.good_id == Good.id)
            .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
            .where(kept_redemptions(village_id, start, end))
            .group_by(Good.id, Good.name, Good.unit)
            .order_by(points.desc(), Good.name)
        )
    ]


def adjustments_net(village_id: int, start: datetime, end: datetime) -> int:
    """Return the points adjustments in [start, end) moved into households, net.

    An adjustment that was itself reversed counts for nothing, like a voided inspection.
    """
    reversal = aliased(Journal)
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Entry.delta), 0))
            .select_from(Journal)
            .join(Entry, Entry.journal_id == Journal.id)
            .join(Account, Account.id == Entry.account_id)
            .outerjoin(reversal, reversal.reverses_id == Journal.id)
            .where(
                Journal.village_id == village_id,
                Journal.kind == ADJUSTMENT,
                Journal.created_at >= start,
                Journal.created_at < end,
                Account.kind == HOUSEHOLD,
                reversal.id.is_(None),
            )
        )
        or 0
    )


def outstanding(village_id: int) -> int:
    """Return the points the village's households hold now: what the village still owes."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(Account.balance), 0)).where(
                Account.village_id == village_id, Account.kind == HOUSEHOLD
            )
        )
        or 0
    )
