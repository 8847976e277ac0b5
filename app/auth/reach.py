"""What each role reaches: the villages whose figures it reads, and whether it writes.

app/scope.py builds a request's Scope on it; role_required refuses a read-only role's
writes with it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, TOWNSHIP, User
from app.db import db
from app.villages.models import Village


def _own_village(user: User) -> list[int]:
    return [user.village_id] if user.village_id is not None else []


def _township_villages(user: User) -> list[int]:
    if user.township_id is None:
        return []
    return list(
        db.session.scalars(
            select(Village.id).where(Village.township_id == user.township_id).order_by(Village.id)
        )
    )


@dataclass(frozen=True)
class Reach:
    """What a role's users reach: the villages they may read, and whether they write."""

    villages: Callable[[User], list[int]]
    writes: bool


# The one table of who reaches what: a new role is a row here, not a change in every view.
REACH: dict[str, Reach] = {
    ADMIN: Reach(_own_village, writes=True),
    INSPECTOR: Reach(_own_village, writes=True),
    STOREKEEPER: Reach(_own_village, writes=True),
    HOUSEHOLD: Reach(_own_village, writes=True),
    # A township reads its villages' figures and never changes them.
    TOWNSHIP: Reach(_township_villages, writes=False),
}


def reachable_villages(user: User) -> list[int]:
    """Return the ids of the villages whose figures the user may read."""
    reach = REACH.get(user.role)
    return reach.villages(user) if reach is not None else []


def may_write(user: User) -> bool:
    """Tell whether the user's role may change a village's data at all."""
    reach = REACH.get(user.role)
    return reach is not None and reach.writes
