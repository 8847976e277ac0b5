"""Reading cases as a viewer may: the village's; an inspector's grids first; a household's own."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app.auth.models import INSPECTOR, User
from app.cases import transitions
from app.cases.models import WORKING_STATES, Case, CaseEvent, CasePhoto
from app.db import db, utcnow


def list_cases(
    viewer: User,
    village_id: int,
    *,
    state: str | None = None,
    states: tuple[str, ...] | None = None,
    grid_id: int | None = None,
    assignee_id: int | None = None,
    overdue: bool | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Case], int]:
    """The cases a viewer may see, newest first; an inspector's own grids first."""
    query = select(Case).where(Case.village_id == village_id)
    if viewer.role == "household":
        query = query.where(
            (Case.reporter_id == viewer.id)
            | (Case.reporter_household_id == (viewer.household_id or -1))
        )
    if state:
        query = query.where(Case.state == state)
    if states:
        query = query.where(Case.state.in_(states))
    if grid_id:
        query = query.where(Case.grid_id == grid_id)
    if assignee_id:
        query = query.where(Case.assignee_id == assignee_id)
    if created_from:
        query = query.where(Case.created_at >= created_from)
    if created_to:
        query = query.where(Case.created_at < created_to)
    now = utcnow()
    if overdue is True:
        query = query.where(Case.state.in_(WORKING_STATES), Case.due_at < now)
    elif overdue is False:
        query = query.where(~(Case.state.in_(WORKING_STATES) & (Case.due_at < now)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order: list[Any] = [Case.created_at.desc(), Case.id.desc()]
    if viewer.role == INSPECTOR:
        mine = transitions.inspector_grids(viewer)
        if mine:
            order.insert(0, Case.grid_id.in_(mine).desc())
        order.insert(0, (Case.assignee_id == viewer.id).desc())
    rows = db.session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return list(rows), total


def events_of(case: Case) -> list[CaseEvent]:
    return list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


def photos_of(case: Case) -> list[CasePhoto]:
    return list(
        db.session.scalars(
            select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id)
        )
    )
