"""flask demo"""

import sys

import click

from app.db import db
from app.demo.data import DEMO_LOGINS, database_is_empty, demo_village, load_demo


def print_logins() -> None:
    click.echo("Demo logins (username / password):")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.role:<12} {login.username:<12} {login.password}")


@click.command("demo")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Load only into an empty database; otherwise leave it as it is.",
)
def demo_command(if_empty: bool) -> None:
    """Load the demo village 马庄村; refuses a database that holds other data."""
    if not database_is_empty():
        if demo_village() is not None:
            click.echo("The demo village is already loaded.")
            print_logins()
            return
        if if_empty:
            click.echo("The database holds data: the demo village was not loaded.")
            return
        click.echo(
            "Refusing: this database already holds villages. Use an empty database.", err=True
        )
        sys.exit(1)
    village = load_demo()
    db.session.commit()
    click.echo(f"Loaded the demo village {village.name} ({village.code}).")
    print_logins()
