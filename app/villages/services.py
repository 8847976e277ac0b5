"""Villages and their grids."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from app.db import db
from app.errors import NotFound, ValidationFailed
from app.inspections.services import create_default_rules
from app.ledger.services import open_village_accounts
from app.villages.models import DEFAULT_TIMEZONE, Grid, Village


def create_village(name: str, code: str, timezone: str = DEFAULT_TIMEZONE) -> Village:
    """Create a village with its system accounts."""
    name, code = name.strip(), code.strip().upper()
    if not name or len(name) > 100:
        raise ValidationFailed("A village name has 1 to 100 characters.")
    if not code.isascii() or not code.isalnum() or not 1 <= len(code) <= 16:
        raise ValidationFailed("A village code is 1 to 16 letters or digits, like MZ.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone {timezone!r}.") from None
    if db.session.scalar(select(Village.id).where(Village.code == code)) is not None:
        raise ValidationFailed(f"The village code {code} is taken.")
    village = Village(name=name, code=code, timezone=timezone)
    db.session.add(village)
    db.session.flush()
    open_village_accounts(village.id)

    create_default_rules(village.id)
    return village


def village_by_code(code: str) -> Village:
    """Return the village with this code."""
    village = db.session.scalar(select(Village).where(Village.code == code.strip().upper()))
    if village is None:
        raise NotFound(f"No village with code {code!r}.")
    return village


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
