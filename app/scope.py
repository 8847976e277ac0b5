"""Who acts, in which village, and what day it is there: decided here and nowhere else.

A view never reads `g.user.village_id`: it asks for the request's Scope, which
names the user, the village the user acts in, and the village's calendar. A row
is fetched "in my village or 404" through Scope.get(), so another village's
object answers exactly as a missing one does. Which villages a role reaches, and
whether it writes, is the one table of app/auth/reach.py (REACH).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from flask import g
from sqlalchemy import Connection, select

from app.auth.models import User
from app.auth.reach import reachable_villages
from app.db import db, utcnow
from app.errors import NotFound, Unauthorized
from app.villages.models import DEFAULT_TIMEZONE, Village


class VillageRow(Protocol):
    village_id: int


R = TypeVar("R", bound=VillageRow)


def zone(name: str | None) -> ZoneInfo:
    """Return a village's time zone from its stored name (the default when unset)."""
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def village_zone(village_id: int) -> ZoneInfo:
    """Return the time zone of a village."""
    return zone(db.session.scalar(select(Village.timezone).where(Village.id == village_id)))


def village_zones(village_ids: Iterable[int], connection: Connection | None = None) -> dict:
    """Return the time zone of each village, by id (read through connection if given)."""
    query = select(Village.id, Village.timezone).where(Village.id.in_(list(village_ids)))
    rows = (connection or db.session).execute(query)
    return {village_id: zone(name) for village_id, name in rows}


def local_date(moment: datetime, timezone: ZoneInfo) -> date:
    """Return the calendar date at a moment in a time zone."""
    return moment.astimezone(timezone).date()


def day_start(timezone: ZoneInfo, day: date) -> datetime:
    """Return the UTC moment a calendar day begins in a time zone."""
    return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)


def utc_bounds(timezone: ZoneInfo, day_from: date, day_to: date) -> tuple[datetime, datetime]:
    """Return the UTC moments [start, end) that the days day_from..day_to cover."""
    return day_start(timezone, day_from), day_start(timezone, day_to + timedelta(days=1))


def village_today(village_id: int, moment: datetime | None = None) -> date:
    """Return the village's calendar date at a moment (now by default)."""
    return local_date(moment or utcnow(), village_zone(village_id))


def in_village(model: type[R], village_id: int, row_id: int, message: str = "Not found.") -> R:
    """Return the row of this id if it belongs to the village; otherwise 404."""
    row = db.session.get(model, row_id)
    if row is None or row.village_id != village_id:
        raise NotFound(message)
    return row


@dataclass
class Scope:
    """The user of a request and the village it acts in."""

    user: User
    village_id: int
    _zone: ZoneInfo | None = field(default=None, repr=False)

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def zone(self) -> ZoneInfo:
        if self._zone is None:
            self._zone = village_zone(self.village_id)
        return self._zone

    def village(self) -> Village:
        """The village this scope acts in."""
        village = db.session.get(Village, self.village_id)
        if village is None:  # pragma: no cover - a scope names a village that exists
            raise NotFound("No such village.")
        return village

    def today(self) -> date:
        """The village's date now."""
        return local_date(utcnow(), self.zone)

    def own_household_id(self) -> int:
        """The household a resident's login belongs to (404 for a login of none)."""
        if self.user.household_id is None:
            raise NotFound("This login belongs to no household.")
        return self.user.household_id

    def get(self, model: type[R], row_id: int, message: str = "Not found.") -> R:
        """Return a row of this village, or answer 404."""
        return in_village(model, self.village_id, row_id, message)


def current_scope(village_id: int | None = None) -> Scope:
    """Return the scope of this request's user (role_required has loaded the user).

    village_id names one of the villages the user reaches (a township's user names
    one of its villages); another village answers 404, as a missing one does.
    """
    user = g.get("user")
    if user is None:
        raise Unauthorized("Log in first.")
    if village_id is None:
        village_id = user.village_id
        if village_id is None:
            raise NotFound("Name one of your villages: village_id.")
    elif village_id not in reachable_villages(user):
        raise NotFound("No such village.")
    scope = g.get("scope")
    if scope is None or scope.user is not user or scope.village_id != village_id:
        scope = g.scope = Scope(user, village_id)
    return scope
