"""What the reports count, written once: the filters and the per-grid query they share."""

from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from app.db import db
from app.households.models import Household
from app.inspections.models import Inspection
from app.redemptions.models import Redemption


def standing_inspections(village_id: int, first: date, last: date) -> ColumnElement[bool]:
    """The filter of the village's inspections on the days first..last that were not voided."""
    return and_(
        Inspection.village_id == village_id,
        Inspection.local_date >= first,
        Inspection.local_date <= last,
        Inspection.voided_at.is_(None),
    )


def kept_redemptions(village_id: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    """The filter of the village's redemptions made in [start, end) that were not cancelled."""
    return and_(
        Redemption.village_id == village_id,
        Redemption.cancelled_at.is_(None),
        Redemption.created_at >= start,
        Redemption.created_at < end,
    )


def households_by_grid(inspected, counted: ColumnElement[bool]) -> dict[int, tuple[int, int]]:
    """Return, per grid, the counted households and how many of them were inspected.

    inspected: a subquery of the inspected households' ids (household_id); counted: the
    filter of the households participation is measured against.
    """
    return {
        grid_id: (total, seen)
        for grid_id, total, seen in db.session.execute(
            select(
                Household.grid_id, func.count(Household.id), func.count(inspected.c.household_id)
            )
            .outerjoin(inspected, inspected.c.household_id == Household.id)
            .where(counted)
            .group_by(Household.grid_id)
        )
    }


def present_during(first: date) -> ColumnElement[bool]:
    """Households that count for a period from its first day: active, or moved out after it.

    A household that moved out leaves the figures from the day it left; a merged one
    from its merge (its points and grades live on in the household it joined).
    """
    return or_(
        Household.status == "active",
        and_(Household.status == "moved_out", Household.moved_out_on > first),
    )
