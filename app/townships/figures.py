"""The township's comparison, set-based: every village's figures by GROUP BY village_id.

A village's row holds the same figures as its own summary (app/reports/services.py) and
settlement (app/reports/settlement.py), computed once for all the villages: the
statements sent do not grow with the number of villages, only with the number of time
zones among them (a day's bounds in UTC depend on the village's zone), which is one in
every county so far. The filters are the reports' own (app/reports/filters.py), so a
row cannot drift from the village's summary.
"""

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from app.db import db
from app.figures import rate
from app.households.models import Household
from app.inspections.models import Inspection
from app.ledger.models import HOUSEHOLD, Account
from app.redemptions.models import Redemption, RedemptionLine
from app.reports.dashboard import month_bounds
from app.reports.services import ACTIVE
from app.reports.settlement import COST_MONTHS, Settlement, SettlementLine, owed_cents, shift
from app.scope import utc_bounds, zone

Zones = dict[str, list[int]]


def by_zone(villages: Iterable) -> Zones:
    """The villages' ids by the name of their time zone ("" for the default)."""
    zones: Zones = {}
    for village in villages:
        zones.setdefault(village.timezone or "", []).append(village.id)
    return zones


def _standing(village_ids: list[int], first: date, last: date) -> ColumnElement[bool]:
    """standing_inspections over many villages: local days need no time zone."""
    return and_(
        Inspection.village_id.in_(village_ids),
        Inspection.local_date >= first,
        Inspection.local_date <= last,
        Inspection.voided_at.is_(None),
    )


def _kept(village_ids: list[int], start: datetime, end: datetime) -> ColumnElement[bool]:
    """kept_redemptions over many villages."""
    return and_(
        Redemption.village_id.in_(village_ids),
        Redemption.cancelled_at.is_(None),
        Redemption.created_at >= start,
        Redemption.created_at < end,
    )


def inspections(village_ids: list[int], first: date, last: date) -> dict[int, tuple[int, int, int]]:
    """Per village: the standing inspections, those that earned points, their points."""
    return {
        village_id: (int(count), int(with_points), int(points))
        for village_id, count, with_points, points in db.session.execute(
            select(
                Inspection.village_id,
                func.count(Inspection.id),
                func.count(case((Inspection.points > 0, Inspection.id))),
                func.coalesce(func.sum(Inspection.points), 0),
            )
            .where(_standing(village_ids, first, last))
            .group_by(Inspection.village_id)
        )
    }


def participation(zones: Zones, first: date, last: date) -> dict[int, tuple[int, int]]:
    """Per village: the households participation counts against, and those inspected."""
    result: dict[int, tuple[int, int]] = {}
    for name, ids in zones.items():
        _, end = utc_bounds(zone(name or None), first, last)
        inspected = (
            select(Inspection.household_id)
            .where(_standing(ids, first, last))
            .group_by(Inspection.household_id)
            .subquery()
        )
        counted = and_(
            Household.village_id.in_(ids),
            or_(
                and_(Household.status == ACTIVE, Household.created_at < end),
                inspected.c.household_id.is_not(None),
            ),
        )
        for village_id, total, seen in db.session.execute(
            select(
                Household.village_id,
                func.count(Household.id),
                func.count(inspected.c.household_id),
            )
            .outerjoin(inspected, inspected.c.household_id == Household.id)
            .where(counted)
            .group_by(Household.village_id)
        ):
            result[village_id] = (int(total), int(seen))
    return result


def redeemed(zones: Zones, first: date, last: date) -> dict[int, int]:
    """Per village: the points of the redemptions kept over the days."""
    result: dict[int, int] = {}
    for name, ids in zones.items():
        start, end = utc_bounds(zone(name or None), first, last)
        result.update(
            (village_id, int(points))
            for village_id, points in db.session.execute(
                select(Redemption.village_id, func.coalesce(func.sum(Redemption.total_points), 0))
                .where(_kept(ids, start, end))
                .group_by(Redemption.village_id)
            )
        )
    return result


def goods_costs(zones: Zones, first: date, last: date) -> dict[int, int]:
    """Per village: the kept cost, in fen, of the goods redeemed over the days."""
    result: dict[int, int] = {}
    cost = func.coalesce(func.sum(RedemptionLine.cost_cents * RedemptionLine.quantity), 0)
    for name, ids in zones.items():
        start, end = utc_bounds(zone(name or None), first, last)
        result.update(
            (village_id, int(cents))
            for village_id, cents in db.session.execute(
                select(Redemption.village_id, cost)
                .select_from(RedemptionLine)
                .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
                .where(_kept(ids, start, end))
                .group_by(Redemption.village_id)
            )
        )
    return result


def outstanding(village_ids: list[int]) -> dict[int, int]:
    """Per village: the points its households hold now."""
    return {
        village_id: int(points)
        for village_id, points in db.session.execute(
            select(Account.village_id, func.coalesce(func.sum(Account.balance), 0))
            .where(Account.village_id.in_(village_ids), Account.kind == HOUSEHOLD)
            .group_by(Account.village_id)
        )
    }


def costs_per_point(zones: Zones, year: int, month: int) -> dict[int, float]:
    """Per village: cost_per_point, the fen a redeemed point cost over COST_MONTHS months.

    The settlements of contiguous months sum to one over their whole span: lines made
    in it, less the lines of redemptions cancelled in it.
    """
    first, _ = month_bounds(*shift(year, month, -(COST_MONTHS - 1)))
    _, last = month_bounds(year, month)
    points: dict[int, int] = {}
    cost: dict[int, int] = {}
    for name, ids in zones.items():
        start, end = utc_bounds(zone(name or None), first, last)
        for moment, sign in ((Redemption.created_at, 1), (Redemption.cancelled_at, -1)):
            for village_id, p, c in db.session.execute(
                select(
                    Redemption.village_id,
                    func.sum(RedemptionLine.line_points),
                    func.sum(RedemptionLine.cost_cents * RedemptionLine.quantity),
                )
                .select_from(RedemptionLine)
                .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
                .where(Redemption.village_id.in_(ids), moment >= start, moment < end)
                .group_by(Redemption.village_id)
            ):
                points[village_id] = points.get(village_id, 0) + sign * int(p or 0)
                cost[village_id] = cost.get(village_id, 0) + sign * int(c or 0)
    return {
        village_id: cost.get(village_id, 0) / p if (p := points.get(village_id, 0)) > 0 else 0.0
        for ids in zones.values()
        for village_id in ids
    }


def together(zones: Zones, first: date, last: date) -> tuple[float, float]:
    """The villages' participation and sorting accuracy over these days, all of them as one:
    two of summary_figures()'s statements, for the township's month-on-month chart."""
    ids = [village_id for group in zones.values() for village_id in group]
    tallies = inspections(ids, first, last).values()
    households = participation(zones, first, last).values()
    total, seen = sum(t for t, _ in households), sum(s for _, s in households)
    count, good = sum(c for c, _, _ in tallies), sum(w for _, w, _ in tallies)
    return (seen / total if total else 0.0, good / count if count else 0.0)


def summary_figures(zones: Zones, first: date, last: date) -> dict[int, dict]:
    """Per village: the summary's households, participation, accuracy, inspections, points."""
    ids = [village_id for group in zones.values() for village_id in group]
    tallies = inspections(ids, first, last)
    households = participation(zones, first, last)
    points_redeemed = redeemed(zones, first, last)
    figures = {}
    for village_id in ids:
        count, with_points, points = tallies.get(village_id, (0, 0, 0))
        total, seen = households.get(village_id, (0, 0))
        figures[village_id] = {
            "households": total,
            "participation_rate": rate(seen, total),
            "accuracy": rate(with_points, count),
            "inspections": count,
            "points_issued": points,
            "points_redeemed": points_redeemed.get(village_id, 0),
        }
    return figures


def cost_figures(zones: Zones, first: date, last: date) -> dict[int, dict]:
    """Per village: the goods' cost over the days and what its outstanding points cost."""
    ids = [village_id for group in zones.values() for village_id in group]
    costs = goods_costs(zones, first, last)
    held = outstanding(ids)
    per_point = costs_per_point(zones, last.year, last.month)
    return {
        village_id: {
            "goods_cost_cents": costs.get(village_id, 0),
            "outstanding": held.get(village_id, 0),
            "cost_per_point_cents": round(per_point[village_id], 4),
            "outstanding_cost_cents": owed_cents(held.get(village_id, 0), per_point[village_id]),
        }
        for village_id in ids
    }


def settlements(zones: Zones, year: int, month: int) -> dict[int, Settlement]:
    """Per village: settlement(village_id, year, month), for all of them at once."""
    first, last = month_bounds(year, month)
    made: dict[int, dict] = {}
    cancelled: dict[int, dict] = {}
    for name, ids in zones.items():
        start, end = utc_bounds(zone(name or None), first, last)
        for moment, into in ((Redemption.created_at, made), (Redemption.cancelled_at, cancelled)):
            for village_id, good_id, good, u, p, c in db.session.execute(
                select(
                    Redemption.village_id,
                    RedemptionLine.good_id,
                    func.min(RedemptionLine.name),
                    func.sum(RedemptionLine.quantity),
                    func.sum(RedemptionLine.line_points),
                    func.sum(RedemptionLine.cost_cents * RedemptionLine.quantity),
                )
                .select_from(RedemptionLine)
                .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
                .where(Redemption.village_id.in_(ids), moment >= start, moment < end)
                .group_by(Redemption.village_id, RedemptionLine.good_id)
            ):
                into.setdefault(village_id, {})[good_id] = (good, int(u), int(p), int(c))
    result = {}
    for village_id in (village_id for ids in zones.values() for village_id in ids):
        settled = Settlement(f"{year:04d}-{month:02d}", village_id)
        ins, outs = made.get(village_id, {}), cancelled.get(village_id, {})
        for good_id in sorted(ins.keys() | outs.keys()):
            good, units, points, cost = ins.get(good_id, (None, 0, 0, 0))
            other, back_units, back_points, back_cost = outs.get(good_id, (None, 0, 0, 0))
            line = SettlementLine(
                good_id,
                good or other or "",
                units - back_units,
                points - back_points,
                cost - back_cost,
            )
            if line.units or line.points or line.cost_cents:
                settled.items.append(line)
        settled.items.sort(key=lambda line: (-line.cost_cents, line.name))
        result[village_id] = settled
    return result
