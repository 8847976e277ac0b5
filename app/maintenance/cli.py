"""flask maintenance ..."""

import click
from flask.cli import AppGroup

from app.maintenance.services import BATCH, Pruned, prune

maintenance_cli = AppGroup("maintenance", help="Housekeeping to run from cron.")


@maintenance_cli.command("prune")
@click.option(
    "--batch-size",
    default=BATCH,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows deleted per transaction.",
)
def prune_command(batch_size: int) -> None:
    """Delete expired or revoked API tokens, old login failures and old idempotency records.

    Safe while the app serves: it deletes in small batches, one short transaction each.
    """

    def say(result: Pruned) -> None:
        click.echo(f"{result.table}: removed {result.removed:,} ({result.rule})")

    prune(batch=batch_size, report=say)
