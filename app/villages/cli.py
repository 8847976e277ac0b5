"""flask villages ..."""

import click
from flask.cli import AppGroup

from app.db import db
from app.errors import DomainError
from app.villages.models import DEFAULT_TIMEZONE
from app.villages.services import create_village

villages_cli = AppGroup("villages", help="Manage villages.")


@villages_cli.command("create")
@click.argument("name")
@click.option("--code", required=True, help="Short code, printed on cards (e.g. MZ).")
@click.option(
    "--tz", "timezone", default=DEFAULT_TIMEZONE, show_default=True, help="The village's time zone."
)
@click.option("--township", "township_code", help="The code of the township it belongs to.")
def create(name: str, code: str, timezone: str, township_code: str | None) -> None:
    """Create a village with its system accounts."""
    from app.townships.services import move_village, township_by_code

    try:
        township = township_by_code(township_code) if township_code else None
        village = create_village(name, code, timezone)
        if township is not None:
            move_village(village, township)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Created village {village.name} ({village.code}), id {village.id}.")
