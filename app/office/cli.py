"""flask villages ... and flask users ...: founding a village, and its users."""

import sys

import click
from flask.cli import AppGroup

from app.auth.models import ROLES, TOWNSHIP
from app.auth.services import create_user, set_active, user_by_username
from app.db import db
from app.errors import DomainError
from app.households.services import get_household
from app.office.services import create_village
from app.townships.services import create_township_user, move_village, township_by_code
from app.villages.models import DEFAULT_TIMEZONE
from app.villages.services import village_by_code

villages_cli = AppGroup("villages", help="Manage villages.")


@villages_cli.command("create")
@click.argument("name")
@click.option("--code", required=True, help="Short code, printed on cards (e.g. MZ).")
@click.option(
    "--tz", "timezone", default=DEFAULT_TIMEZONE, show_default=True, help="The village's time zone."
)
@click.option("--township", "township_code", help="The code of the township it belongs to.")
def villages_create(name: str, code: str, timezone: str, township_code: str | None) -> None:
    """Create a village with its system accounts."""
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


users_cli = AppGroup("users", help="Manage users.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice((*ROLES, TOWNSHIP)))
@click.option("--village", "village_code", help="The village's code.")
@click.option("--township", "township_code", help="The township's code (township role only).")
@click.option(
    "--household",
    "household_id",
    type=int,
    help="The household id (required for the household role).",
)
def users_create(
    username: str,
    role: str,
    village_code: str | None,
    township_code: str | None,
    household_id: int | None,
) -> None:
    """Create a user; the password is read from standard input."""
    if (role == TOWNSHIP) != (township_code is not None) or (role == TOWNSHIP) == bool(
        village_code
    ):
        raise click.UsageError("A township user takes --township; every other role --village.")
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if township_code is not None:
        _create_township_user(username, township_code, password)
        return
    try:
        village = village_by_code(village_code or "")
        household = get_household(village.id, household_id) if household_id else None
        user = create_user(village, username, password, role, household=household)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Created {role} {user.username} in {village.code}, id {user.id}.")


def _create_township_user(username: str, township_code: str, password: str) -> None:
    try:
        township = township_by_code(township_code)
        user = create_township_user(township, username, password)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    click.echo(f"Created township {user.username} in {township.code}, id {user.id}.")


def _set_active(username: str, active: bool) -> None:
    try:
        user = set_active(user_by_username(username), active, actor_id=None)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.detail) from None
    state = "Enabled" if active else "Disabled"
    click.echo(f"{state} {user.role} {user.username}.")


@users_cli.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable a user: its logins and tokens stop working at once."""
    _set_active(username, False)


@users_cli.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Enable a disabled user again (it logs in afresh)."""
    _set_active(username, True)
