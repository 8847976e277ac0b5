"""The places: villages, townships and grids, found by their codes and numbers.

Founding a village (its accounts and its rules too) is app/office/services.py's.
"""

from typing import TypeVar

from sqlalchemy import func, select

from app.audit.services import GRID_CREATED, GRID_RENAMED, record
from app.db import db
from app.errors import NotFound, ValidationFailed
from app.villages.models import Grid, Township, Village

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


def village_by_code(code: str) -> Village:
    """Return the village with this code."""
    return by_code(Village, "village", code)


def create_grid(village_id: int, name: str, *, actor_id: int | None = None) -> Grid:
    """Add a grid to the village, numbered after the last one."""
    _check_grid_name_free(village_id, name)
    number = (
        db.session.scalar(select(func.max(Grid.number)).where(Grid.village_id == village_id)) or 0
    ) + 1
    grid = Grid(village_id=village_id, number=number, name=name)
    db.session.add(grid)
    db.session.flush()
    if actor_id is not None:
        record(
            village_id, actor_id, GRID_CREATED, "grid", grid.id, {"name": name, "number": number}
        )
    return grid


def _check_grid_name_free(village_id: int, name: str, *, other_than: int | None = None) -> None:
    query = select(Grid.id).where(Grid.village_id == village_id, Grid.name == name)
    if other_than is not None:
        query = query.where(Grid.id != other_than)
    if db.session.scalar(query) is not None:
        raise ValidationFailed(
            f"The village already has a grid named {name!r}.",
            errors={"name": ["This name is taken."]},
        )


def rename_grid(grid: Grid, name: str, *, actor_id: int | None = None) -> Grid:
    """Give a grid a new name; its number, households and inspectors stay."""
    if name == grid.name:
        return grid
    _check_grid_name_free(grid.village_id, name, other_than=grid.id)
    old = grid.name
    grid.name = name
    db.session.flush()
    record(
        grid.village_id,
        actor_id,
        GRID_RENAMED,
        "grid",
        grid.id,
        {"name": name, "changes": {"name": {"old": old, "new": name}}},
    )
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
