"""The admin's printable list of the points that expire soon, for the notice board."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, render_template
from sqlalchemy import select

from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.db import db, reads_may_lag
from app.households.models import Household
from app.ledger.expiry import WARNING_DAYS, Expired, expiring_in
from app.masking import mask_name
from app.scope import current_scope
from app.villages.models import Grid, Village

bp = Blueprint("expiry", __name__)


@dataclass(frozen=True)
class Notice:
    """One line of the notice: who (masked, as the public board shows them) and what."""

    masked_name: str
    grid_name: str
    points: int
    on: date


def month_end(today: date) -> date:
    """Return the last day of today's month."""
    return today.replace(day=calendar.monthrange(today.year, today.month)[1])


def expiring_this_month(village_id: int, today: date) -> list[Expired]:
    """Return what expires from today to the end of the month, household by household."""
    return expiring_in(village_id, today, month_end(today).toordinal())


@bp.get("/admin/expiring")
@role_required(ADMIN)
@reads_may_lag
def expiring_page():
    """The households whose points expire in the next 60 days (as they are warned), printable."""
    scope = current_scope()
    today = scope.today()
    last = today + timedelta(days=WARNING_DAYS)
    expired = expiring_in(scope.village_id, today, last.toordinal())
    names = {
        row.id: (row.name, row.grid_name)
        for row in db.session.execute(
            select(Household.id, Household.name, Grid.name.label("grid_name"))
            .join(Grid, Grid.id == Household.grid_id)
            .where(Household.id.in_([item.household_id for item in expired]))
        )
    }
    notices = sorted(
        (
            Notice(
                mask_name(names[item.household_id][0]),
                names[item.household_id][1],
                item.points,
                item.on,
            )
            for item in expired
        ),
        key=lambda notice: (notice.on, notice.grid_name, notice.masked_name),
    )
    return render_template(
        "ledger/expiring.html",
        village=db.session.get(Village, scope.village_id),
        today=today,
        last=last,
        days=WARNING_DAYS,
        notices=notices,
        total=sum(notice.points for notice in notices),
    )
