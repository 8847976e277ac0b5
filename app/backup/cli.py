"""flask backup ..."""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.backup.services import (
    BackupFailed,
    backend,
    check_backup_file,
    create_backup,
    database_is_empty,
    restore_backup,
)
from app.db import db

backup_cli = AppGroup("backup", help="Back up and restore the database.")


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def create_command(path: Path, force: bool) -> None:
    """Write a consistent backup of the database to PATH."""
    try:
        size = create_backup(db.engine.url, path, force)
    except BackupFailed as error:
        raise click.ClickException(str(error)) from error
    kind = "SQLite copy" if backend(db.engine.url) == "sqlite" else "pg_dump custom archive"
    click.echo(f"wrote {path} ({kind}, {size:,} bytes)")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--yes",
    is_flag=True,
    help="Replace the data in the configured database (required unless it is "
    "an empty SQLite file).",
)
def restore_command(path: Path, yes: bool) -> None:
    """Replace the configured database with the backup at PATH, then check the ledger.

    Stop the server first. On PostgreSQL, restore into an empty or disposable
    database: every table in the backup is dropped and created again.
    """
    url = db.engine.url
    try:
        check_backup_file(url, path)
        if not yes and not database_is_empty(url):
            raise BackupFailed(
                f"This replaces all data in {url.render_as_string()}; pass --yes to go on."
            )
        # Pooled connections must not outlive the data they were opened on.
        db.session.remove()
        db.engine.dispose()
        restore_backup(url, path)
        db.engine.dispose()
    except BackupFailed as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"restored {path} into {url.render_as_string()}")

    from app.checks import echo_report, verify_all

    report = verify_all()
    echo_report(report)
    if not report.ok:
        sys.exit(1)
