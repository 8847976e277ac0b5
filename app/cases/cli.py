"""`flask cases tick` and `flask cases api-key`."""

import hashlib
import secrets
from datetime import UTC, datetime
from functools import partial

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.cases import clock
from app.cases.models import Open311Key
from app.db import db, run_write, utcnow
from app.errors import DomainError
from app.villages.models import Village

cases_cli = AppGroup("cases", help="Resident reports: the clock's work, Open311 keys.")


def _moment(text: str | None) -> datetime:
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("an ISO 8601 time, such as 2027-01-06T08:00:00+08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cases_cli.command("tick")
@click.option("--at", "at_text", help="Act as if it were this time (ISO 8601); default now.")
def tick_command(at_text: str | None) -> None:
    """Close what nobody confirmed in time and record escalations; safe to run twice or at once."""
    at = _moment(at_text)
    closed = escalated = 0
    for village_id, case_id in run_write(lambda: clock.due_to_close(at)):
        # Each case in a transaction of its own: one refusal never stops the night's run.
        try:
            if run_write(partial(clock.auto_confirm, village_id, case_id, at)):
                closed += 1
        except DomainError as error:
            click.echo(f"Case {case_id}: not closed ({error.code}: {error.detail})", err=True)
    for village_id, case_id in run_write(lambda: clock.due_to_escalate(at)):
        levels = run_write(partial(clock.record_escalation, village_id, case_id, at))
        escalated += len(levels)
    click.echo(
        f"Closed {closed} resolved case(s) nobody confirmed; recorded {escalated} escalation(s)."
    )


@cases_cli.command("api-key")
@click.option("--village", "village_code", required=True, help="The village's code.")
def api_key_command(village_code: str) -> None:
    """Make an Open311 api_key for the village; it is printed once, alone on the last line."""
    village = db.session.scalar(select(Village).where(Village.code == village_code))
    if village is None:
        raise click.ClickException(f"No village with the code {village_code}.")
    key = secrets.token_urlsafe(24)
    db.session.add(
        Open311Key(village_id=village.id, key_hash=hashlib.sha256(key.encode()).hexdigest())
    )
    db.session.commit()
    click.echo(f"Open311 api_key for {village.name} ({village.code}); keep it secret:")
    click.echo(key)
