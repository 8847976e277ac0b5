"""Which cards go on a sheet: a grid's, or chosen households'."""

from collections.abc import Sequence

from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.households.cards import card_payload, printable_card_address
from app.households.models import Household
from app.households.services import ACTIVE, grid_households
from app.households.sheets import Card, render_card_sheet
from app.villages.models import Grid, Village
from app.villages.services import get_grid

MAX_CARDS = 2000


def card_sheet_pdf(
    village_id: int,
    *,
    grid_id: int | None = None,
    household_ids: Sequence[int] | None = None,
    reissued_only: bool = False,
) -> tuple[bytes, str]:
    """Return the PDF of a grid's cards or of chosen households' cards, and a file name.

    reissued_only keeps the cards that were reissued (version 2 or later): of the
    grid, or of the whole village when no grid is chosen. An unset or loopback
    BASE_URL is refused first: no phone could open such cards.
    """
    address = printable_card_address()
    village = db.session.get(Village, village_id)
    assert village is not None
    if reissued_only and not household_ids:
        query = select(Household).where(
            Household.village_id == village_id,
            Household.status == ACTIVE,
            Household.card_version > 1,
        )
        if grid_id is not None:
            query = query.where(Household.grid_id == get_grid(village_id, grid_id).id)
        households = list(db.session.scalars(query.order_by(Household.code)))
        if not households:
            raise ValidationFailed(
                "No card has been reissued here.",
                errors={"reissued": ["No reissued cards."]},
            )
        name = f"cards-{village.code}-reissued.pdf"
    elif household_ids:
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
            version=h.card_version,
        )
        for h in households
    ]
    pdf = render_card_sheet(sheet, title=f"{village.name} 积分卡", address=address.url)
    return pdf, name
