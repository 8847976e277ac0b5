"""The one table of how a case moves: each action, who may take it, from which states, to which.

API.md (third part) is the contract. Who is checked before the state, so a role that
may never take an action hears 403, and one that may, but not now, 409.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STAFF, TOWNSHIP, User, UserGrid
from app.cases.models import (
    ACCEPTED,
    CLOSED,
    DISPATCHED,
    DUPLICATE,
    INVALID,
    RESOLVED,
    WITHDRAWN,
    WORKING_STATES,
    Case,
)
from app.db import db


def inspector_grids(user: User) -> set[int]:
    """The grids an inspector works; empty: the whole village."""
    return set(db.session.scalars(select(UserGrid.grid_id).where(UserGrid.user_id == user.id)))


def works_grid(user: User, grid_id: int) -> bool:
    """An inspector assigned to the grid, or one assigned to none (the whole village)."""
    if user.role != INSPECTOR:
        return False
    grids = inspector_grids(user)
    return not grids or grid_id in grids


def is_reporter(user: User, case: Case) -> bool:
    """The login that reported the case, or another login of the same household."""
    if case.reporter_id is not None and case.reporter_id == user.id:
        return True
    return (
        user.role == HOUSEHOLD
        and case.reporter_household_id is not None
        and user.household_id == case.reporter_household_id
    )


def is_worker(user: User, case: Case) -> bool:
    """The assignee, an inspector of the case's grid, or an admin."""
    if user.role == ADMIN:
        return True
    return user.role == INSPECTOR and (
        case.assignee_id == user.id or works_grid(user, case.grid_id)
    )


def is_admin(user: User, case: Case) -> bool:
    return user.role == ADMIN


def grid_inspector_or_admin(user: User, case: Case) -> bool:
    return user.role == ADMIN or works_grid(user, case.grid_id)


def reporter_or_admin(user: User, case: Case) -> bool:
    return user.role == ADMIN or is_reporter(user, case)


def may_see(user: User, case: Case) -> bool:
    """Staff and the township see the village's cases; a household its own."""
    if user.role in STAFF or user.role == TOWNSHIP:
        return True
    return is_reporter(user, case)


def admin_or_township(user: User, case: Case) -> bool:
    return user.role in (ADMIN, TOWNSHIP)


@dataclass(frozen=True)
class Move:
    """An action: who may take it, the states it starts from (None: any), where it leads."""

    who: Callable[[User, Case], bool]
    sources: tuple[str, ...] | None
    target: str | None  # None: the state stays


OPEN = (DISPATCHED, ACCEPTED)
TRANSITIONS: dict[str, Move] = {
    "accept": Move(is_worker, (DISPATCHED,), ACCEPTED),
    "resolve": Move(is_worker, (ACCEPTED,), RESOLVED),
    "confirm": Move(is_reporter, (RESOLVED,), CLOSED),
    # The reporter reopens what they were told was fixed; an admin, a closed case.
    "reopen": Move(reporter_or_admin, (RESOLVED, CLOSED), DISPATCHED),
    "withdraw": Move(is_reporter, (DISPATCHED,), WITHDRAWN),
    "mark_duplicate": Move(grid_inspector_or_admin, OPEN, DUPLICATE),
    "mark_invalid": Move(is_admin, (*OPEN, RESOLVED), INVALID),
    "transfer": Move(is_admin, OPEN, DISPATCHED),
    "reassign": Move(is_admin, WORKING_STATES, None),
    "extend": Move(is_admin, WORKING_STATES, None),
    "comment": Move(may_see, None, None),
    "supervise": Move(admin_or_township, WORKING_STATES, None),
}
ACTIONS = tuple(TRANSITIONS)
# The one write a read-only role (a township) takes: any other answers 403 read_only.
READ_ONLY_ACTIONS = frozenset({"supervise"})
