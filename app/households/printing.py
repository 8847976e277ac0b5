"""Which cards go on a sheet: a grid's, or chosen households'."""

from collections.abc import Sequence

from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.households.cards import card_payload
from app.households.models import Household
from app.households.services import grid_households
from app.households.sheets import Card, render_card_sheet
from app.villages.models import Grid, Village
from app.villages.services import get_grid

MAX_CARDS = 2000


def card_sheet_pdf(
    village_id: int,
    *,
    grid_id: int | None = None,
    household_ids: Sequence[int] | None = None,
) -> tuple[bytes, str]:
    """Return the PDF of a grid's cards or of chosen households' cards, and a file name."""
    village = db.session.get(Village, village_id)
    assert village is not None
    if household_ids:
        households = list(
            db.session.scalars(
                select(Household)
                .where(Household.village_id == village_id, Household.id.in_(set(household_ids)))
                .order_by(Household.code)
            )
        )
        if len(households) != len(set(household_ids)):
            raise ValidationFailed(
                "Some of those households are not in this village.",
                errors={"ids": ["Unknown household ids."]},
            )
        name = f"cards-{village.code}.pdf"
    elif grid_id is not None:
        grid = get_grid(village_id, grid_id)
        households = grid_households(village_id, grid.id)
        name = f"cards-{village.code}-grid{grid.number:02d}.pdf"
    else:
        raise ValidationFailed(
            "Choose a grid or households to print.", errors={"grid_id": ["Give grid_id or ids."]}
        )
    if not households:
        raise ValidationFailed(
            "There are no households to print.",
            errors={"grid_id": ["This grid has no active households."]},
        )
    if len(households) > MAX_CARDS:
        raise ValidationFailed(f"At most {MAX_CARDS} cards at a time.")
    grids = {g.id: g for g in db.session.scalars(select(Grid).where(Grid.village_id == village_id))}
    sheet = [
        Card(
            village_name=village.name,
            household_code=h.code,
            address=h.address,
            grid_name=grids[h.grid_id].name,
            payload=card_payload(h),
        )
        for h in households
    ]
    return render_card_sheet(sheet, title=f"{village.name} 积分卡"), name
