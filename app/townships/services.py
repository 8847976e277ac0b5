"""Townships, their villages and their users."""

from datetime import date

from sqlalchemy import func, select

from app.auth.models import TOWNSHIP, User
from app.auth.schemas import has_control_or_invisible
from app.auth.services import _check_password, hash_password
from app.cases.figures import village_case_rates
from app.db import db
from app.errors import ValidationFailed
from app.households.models import Household
from app.reports.services import ACTIVE, outstanding
from app.reports.settlement import cost_per_point, owed_cents
from app.scope import utc_bounds, zone
from app.townships import figures
from app.villages.models import Township, Village
from app.villages.services import by_code, check_code_free, checked_name_and_code


def create_township(name: str, code: str) -> Township:
    """Create a township."""
    name, code = checked_name_and_code("township", name, code, "HX")
    check_code_free(Township, "township", code)
    township = Township(name=name, code=code)
    db.session.add(township)
    db.session.flush()
    return township


def township_by_code(code: str) -> Township:
    """Return the township with this code."""
    return by_code(Township, "township", code)


def move_village(village: Village, township: Township | None) -> Village:
    """Put a village in a township (or in none)."""
    village.township_id = township.id if township is not None else None
    db.session.flush()
    return village


def township_villages(township_id: int) -> list[Village]:
    """Return the township's villages by code."""
    return list(
        db.session.scalars(
            select(Village).where(Village.township_id == township_id).order_by(Village.code)
        )
    )


def create_township_user(township: Township, username: str, password: str) -> User:
    """Create a user of the township: it reads its villages' figures and belongs to none."""
    username = username.strip()
    if not username or len(username) > 64 or has_control_or_invisible(username):
        raise ValidationFailed("A username has 1 to 64 characters, none of them invisible.")
    _check_password(password)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationFailed(f"The username {username!r} is taken.")
    user = User(
        village_id=None,
        township_id=township.id,
        username=username,
        password_hash=hash_password(password),
        role=TOWNSHIP,
    )
    db.session.add(user)
    db.session.flush()
    return user


def village_list(village_ids: list[int]) -> list[dict]:
    """Return the villages with their active households and outstanding points now."""
    if not village_ids:
        return []
    households = dict(
        db.session.execute(
            select(Household.village_id, func.count(Household.id))
            .where(Household.village_id.in_(village_ids), Household.status == ACTIVE)
            .group_by(Household.village_id)
        ).all()
    )
    return [
        {
            "id": village.id,
            "code": village.code,
            "name": village.name,
            "households": int(households.get(village.id, 0)),
            "outstanding": outstanding(village.id),
        }
        for village in db.session.scalars(
            select(Village).where(Village.id.in_(village_ids)).order_by(Village.code)
        )
    ]


def owed(village_id: int, year: int, month: int) -> dict:
    """Return the outstanding points and what they cost at the last three months' rate."""
    points = outstanding(village_id)
    per_point = cost_per_point(village_id, year, month)
    return {
        "outstanding": points,
        "cost_per_point_cents": round(per_point, 4),
        "outstanding_cost_cents": owed_cents(points, per_point),
    }


def village_rows(
    village_ids: list[int], day_from: date, day_to: date, *, costs: bool = True
) -> list[dict]:
    """Return one row per village: its own summary's figures, and what its goods cost.

    Set-based (app/townships/figures.py): the statements do not grow with the villages.
    """
    villages = list(
        db.session.scalars(
            select(Village).where(Village.id.in_(village_ids)).order_by(Village.code)
        )
    )
    zones = figures.by_zone(villages)
    summaries = figures.summary_figures(zones, day_from, day_to)
    case_rates = _case_rates(villages, day_from, day_to)
    prices = figures.cost_figures(zones, day_from, day_to) if costs else {}
    rows = []
    for village in villages:
        rows.append(
            {
                "village_id": village.id,
                "code": village.code,
                "name": village.name,
                **summaries[village.id],
                **case_rates[village.id],
                **prices.get(village.id, {}),
            }
        )
    return rows


def village_settlements(village_ids: list[int], year: int, month: int) -> dict:
    """Each village's settlement of the month, by village id: set-based, like village_rows."""
    villages = db.session.scalars(select(Village).where(Village.id.in_(village_ids)))
    return figures.settlements(figures.by_zone(villages), year, month)


def _case_rates(villages: list[Village], day_from: date, day_to: date) -> dict[int, dict]:
    """Each village's case completion and on-time rates: one query per time zone."""
    rates: dict[int, dict] = {}
    for name, ids in figures.by_zone(villages).items():
        start, end = utc_bounds(zone(name or None), day_from, day_to)
        rates.update(village_case_rates(ids, start, end))
    return rates
