"""Households: creating them with their points account, finding them."""

from sqlalchemy import func, select

from app.db import db
from app.errors import NotFound, ValidationFailed
from app.households.models import Household
from app.ledger.services import open_household_account
from app.villages.models import Grid, Village


def household_code(village: Village, grid: Grid, number: int) -> str:
    """Return the printed code of a household, like MZ-03-0127."""
    return f"{village.code}-{grid.number:02d}-{number:04d}"


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
    prefix = household_code(village, grid, 0)[:-4]
    last = db.session.scalar(
        select(func.max(Household.code)).where(
            Household.village_id == village.id, Household.code.like(f"{prefix}%"))
    )
    number = int(last[len(prefix):]) + 1 if last else 1
    household = Household(
        village_id=village.id, grid_id=grid.id, code=household_code(village, grid, number),
        name=name, address=address, phone=phone, members=members,
        status="active", card_version=1,
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
