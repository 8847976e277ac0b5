"""What the office does and reads: it founds a village, and reads the grids' overview and
the audit log (each event with who did it)."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import INSPECTOR, User, UserGrid
from app.db import db
from app.errors import ValidationFailed
from app.households.models import Household
from app.ledger.services import open_village_accounts
from app.rules.services import create_default_rules
from app.villages.models import DEFAULT_TIMEZONE, Grid, Village
from app.villages.services import check_code_free, checked_name_and_code, list_grids


def create_village(name: str, code: str, timezone: str = DEFAULT_TIMEZONE) -> Village:
    """Create a village with its system accounts."""
    name, code = checked_name_and_code("village", name, code, "MZ")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone {timezone!r}.") from None
    check_code_free(Village, "village", code)
    village = Village(name=name, code=code, timezone=timezone)
    db.session.add(village)
    db.session.flush()
    open_village_accounts(village.id)

    create_default_rules(village.id)
    return village


@dataclass(frozen=True)
class GridOverview:
    """A grid as the admin's grids page shows it."""

    grid: Grid
    inspectors: list[str]  # the usernames of the inspectors assigned to it
    households: int  # its households that have not moved away


def grid_overview(village_id: int) -> list[GridOverview]:
    """Return the village's grids with their assigned inspectors and household counts."""
    grids = list_grids(village_id)
    counts = dict(
        db.session.execute(
            select(Household.grid_id, func.count(Household.id))
            .where(Household.village_id == village_id, Household.status == "active")
            .group_by(Household.grid_id)
        ).all()
    )
    inspectors: dict[int, list[str]] = {}
    for grid_id, username in db.session.execute(
        select(UserGrid.grid_id, User.username)
        .join(User, User.id == UserGrid.user_id)
        .where(User.village_id == village_id, User.role == INSPECTOR, User.active.is_(True))
        .order_by(User.username)
    ):
        inspectors.setdefault(grid_id, []).append(username)
    return [GridOverview(g, inspectors.get(g.id, []), counts.get(g.id, 0)) for g in grids]


def whole_village_inspectors(village_id: int) -> list[str]:
    """Return the active inspectors assigned to no grid: they work the whole village."""
    assigned = select(UserGrid.user_id)
    return list(
        db.session.scalars(
            select(User.username)
            .where(
                User.village_id == village_id,
                User.role == INSPECTOR,
                User.active.is_(True),
                User.id.not_in(assigned),
            )
            .order_by(User.username)
        )
    )


@dataclass(frozen=True)
class AuditPage:
    items: list[tuple[AuditEvent, str | None]]
    total: int


def list_events(
    village_id: int,
    *,
    action: str | None = None,
    actor_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AuditPage:
    """Return one page of the village's audit events, newest first, with who did each."""
    query = select(AuditEvent).where(AuditEvent.village_id == village_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if start is not None:
        query = query.where(AuditEvent.created_at >= start)
    if end is not None:
        query = query.where(AuditEvent.created_at < end)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.execute(
        query.add_columns(User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return AuditPage([(event, username) for event, username in rows], total)
