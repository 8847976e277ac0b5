"""Households: creating them with their points account, finding them."""

from sqlalchemy import func, select

from app.db import db
from app.errors import NotFound, ValidationFailed
from app.households.models import Household
from app.ledger.services import open_household_account
from app.villages.models import Grid, Village

ACTIVE = "active"
MOVED = "moved"
STATUSES = (ACTIVE, MOVED)


def household_code(village: Village, grid: Grid, number: int) -> str:
    """Return the printed code of a household, like MZ-03-0127."""
    return f"{village.code}-{grid.number:02d}-{number:04d}"


def allocate_codes(village: Village, grid: Grid, count: int) -> list[str]:
    """Return the next count unused household codes of a grid, in order.

    Two writers allocating at once both pick the same code; the UNIQUE
    (village_id, code) constraint refuses the second, whose transaction is then
    retried or reported.
    """
    prefix = household_code(village, grid, 0)[:-4]
    last = db.session.scalar(
        select(func.max(Household.code)).where(
            Household.village_id == village.id, Household.code.like(f"{prefix}%"))
    )
    first = int(last[len(prefix):]) + 1 if last else 1
    return [household_code(village, grid, n) for n in range(first, first + count)]


def create_household(
    village: Village,
    grid: Grid,
    name: str,
    address: str,
    *,
    phone: str | None = None,
    members: int | None = None,
) -> Household:
    """Create a household in a grid, with its code and its points account."""
    if grid.village_id != village.id:
        raise ValidationFailed("The grid belongs to another village.",
                               errors={"grid_id": ["No such grid in this village."]})
    household = Household(
        village_id=village.id, grid_id=grid.id, code=allocate_codes(village, grid, 1)[0],
        name=name, address=address, phone=phone, members=members,
        status=ACTIVE, card_version=1,
    )
    db.session.add(household)
    db.session.flush()
    open_household_account(village.id, household.id)
    return household


def get_household(village_id: int, household_id: int) -> Household:
    """Return a household of the village, or NotFound (never another village's)."""
    household = db.session.get(Household, household_id)
    if household is None or household.village_id != village_id:
        raise NotFound("No such household.")
    return household
