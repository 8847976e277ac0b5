"""flask townships ..."""

import time

import click
from flask.cli import AppGroup

from app.db import db
from app.errors import DomainError
from app.townships.months import CHART_MONTHS, count_months
from app.townships.services import create_township, move_village, township_by_code
from app.villages.services import village_by_code

townships_cli = AppGroup("townships", help="Manage townships.")


@townships_cli.command("create")
@click.argument("name")
@click.option("--code", required=True, help="Short code (e.g. HX).")
def create(name: str, code: str) -> None:
    """Create a township."""
    try:
        township = create_township(name, code)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Created township {township.name} ({township.code}), id {township.id}.")


@townships_cli.command("move-village")
@click.argument("village_code")
@click.option("--township", "township_code", help="The township's code.")
@click.option("--none", "to_none", is_flag=True, help="Take the village out of its township.")
def move(village_code: str, township_code: str | None, to_none: bool) -> None:
    """Put a village in a township (or, with --none, in none)."""
    if (township_code is None) == (not to_none):
        raise click.UsageError("Give either --township CODE or --none.")
    try:
        village = village_by_code(village_code)
        township = township_by_code(township_code) if township_code else None
        move_village(village, township)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    where = f"township {township.code}" if township else "no township"
    click.echo(f"Village {village.code} is now in {where}.")


@townships_cli.command("count-months")
@click.option(
    "--months",
    type=click.IntRange(1, 24),
    default=CHART_MONTHS - 1,
    show_default=True,
    help="How many months before this one to count.",
)
def count(months: int) -> None:
    """Keep every village's figures of the months before this one (run nightly)."""
    started = time.perf_counter()
    villages = count_months(months)
    db.session.commit()
    click.echo(
        f"Counted the {months} months before this one for {villages} villages "
        f"in {time.perf_counter() - started:.1f} s."
    )
