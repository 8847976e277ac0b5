"""flask households ..."""

from pathlib import Path

import click
from flask.cli import AppGroup

from app.db import db
from app.errors import DomainError
from app.households.printing import card_sheet_pdf
from app.villages.models import Grid
from app.villages.services import village_by_code

households_cli = AppGroup("households", help="Households and their door cards.")


@households_cli.command("cards")
@click.option(
    "--village", "village_code", help="The village's code (needed when there are several villages)."
)
@click.option("--grid", "grid_number", type=int, help="The grid's number.")
@click.option(
    "--household",
    "household_ids",
    type=int,
    multiple=True,
    help="A household id; repeat for several.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the PDF.",
)
def cards(
    village_code: str | None, grid_number: int | None, household_ids: tuple[int, ...], output: Path
) -> None:
    """Print the door cards of a grid, or of chosen households, as an A4 PDF."""
    from sqlalchemy import select

    from app.villages.models import Village

    try:
        if village_code:
            village = village_by_code(village_code)
        else:
            villages = list(db.session.scalars(select(Village).limit(2)))
            if len(villages) != 1:
                raise click.ClickException("Name the village with --village CODE.")
            village = villages[0]
        grid_id = None
        if grid_number is not None:
            grid_id = db.session.scalar(
                select(Grid.id).where(Grid.village_id == village.id, Grid.number == grid_number)
            )
            if grid_id is None:
                raise click.ClickException(f"{village.code} has no grid {grid_number}.")
        pdf, _name = card_sheet_pdf(
            village.id, grid_id=grid_id, household_ids=list(household_ids) or None
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    output.write_bytes(pdf)
    click.echo(f"Wrote {output} ({len(pdf) // 1024} KB).")
