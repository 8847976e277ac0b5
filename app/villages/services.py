"""Villages and their grids."""

from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from app.db import db
from app.errors import NotFound, ValidationFailed
from app.ledger.services import open_village_accounts
from app.rules.services import create_default_rules
from app.townships.models import Township
from app.villages.models import DEFAULT_TIMEZONE, Grid, Village

# Villages and townships are both named by a short code, unique among their kind.
Coded = TypeVar("Coded", Village, Township)


def checked_name_and_code(kind: str, name: str, code: str, example: str) -> tuple[str, str]:
    """Return a new village's or township's name and code, trimmed; refuse a bad one."""
    name, code = name.strip(), code.strip().upper()
    if not name or len(name) > 100:
        raise ValidationFailed(f"A {kind} name has 1 to 100 characters.")
    if not code.isascii() or not code.isalnum() or not 1 <= len(code) <= 16:
        raise ValidationFailed(f"A {kind} code is 1 to 16 letters or digits, like {example}.")
    return name, code


def check_code_free(model: type[Coded], kind: str, code: str) -> None:
    """Refuse a code that another village (or township) already has."""
    if db.session.scalar(select(model.id).where(model.code == code)) is not None:
        raise ValidationFailed(f"The {kind} code {code} is taken.")


def by_code(model: type[Coded], kind: str, code: str) -> Coded:
    """Return the village (or township) with this code."""
    found = db.session.scalar(select(model).where(model.code == code.strip().upper()))
    if found is None:
        raise NotFound(f"No {kind} with code {code!r}.")
    return found


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


def village_by_code(code: str) -> Village:
    """Return the village with this code."""
    return by_code(Village, "village", code)


def create_grid(village_id: int, name: str) -> Grid:
    """Add a grid to the village, numbered after the last one."""
    if (
        db.session.scalar(select(Grid.id).where(Grid.village_id == village_id, Grid.name == name))
        is not None
    ):
        raise ValidationFailed(
            f"The village already has a grid named {name!r}.",
            errors={"name": ["This name is taken."]},
        )
    number = (
        db.session.scalar(select(func.max(Grid.number)).where(Grid.village_id == village_id)) or 0
    ) + 1
    grid = Grid(village_id=village_id, number=number, name=name)
    db.session.add(grid)
    db.session.flush()
    return grid


def list_grids(village_id: int) -> list[Grid]:
    """Return the village's grids in number order."""
    return list(
        db.session.scalars(select(Grid).where(Grid.village_id == village_id).order_by(Grid.number))
    )


def get_grid(village_id: int, grid_id: int) -> Grid:
    """Return one of the village's grids."""
    grid = db.session.get(Grid, grid_id)
    if grid is None or grid.village_id != village_id:
        raise NotFound("No such grid.")
    return grid
