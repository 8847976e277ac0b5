"""flask ledger ..."""

import sys

import click
from flask.cli import AppGroup

ledger_cli = AppGroup("ledger", help="Check the points ledger.")


@ledger_cli.command("verify")
@click.option("--village", "village_code", help="Check one village only (its code).")
def verify_command(village_code: str | None) -> None:
    """Exit 0 when every rule holds; else print each problem and exit 1."""
    village_id = None
    if village_code:
        from app.villages.services import village_by_code

        village_id = village_by_code(village_code).id
    from app.checks import verify_all

    report = verify_all(village_id)
    for problem in report.problems:
        click.echo(f"PROBLEM [{problem['check']}] {problem['detail']}", err=True)
    summary = (
        f"{report.transactions} transactions, {report.postings} postings, "
        f"{len(report.problems)} problems"
    )
    if report.ok:
        click.echo(f"ledger OK: {summary}")
    else:
        click.echo(f"ledger BROKEN: {summary}", err=True)
        sys.exit(1)
