"""Every check of a village in one place: the ledger's rules, then each business total;
and the `flask ledger` commands (verify, expire), which name villages and households.

The ledger knows nothing of inspections, redemptions or stock, and they all post to
it; what checks them together sits above both, here: verify_all(), the one printer
of a report, `flask ledger verify` and `GET /api/v1/ledger/verify`.
"""

import sys
import time
from datetime import datetime

import click
from flask.cli import AppGroup
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.catalogue.services import verify_stock
from app.db import db, utcnow
from app.households.changes import Forfeited, forfeit_due
from app.households.models import Household
from app.inspections.services import verify_inspections
from app.ledger.expiry import Expired, expire, verify_expiries
from app.ledger.models import VerifyRun
from app.ledger.verify import ROW_IDS, VerifyReport, verify
from app.redemptions.services import verify_redemptions
from app.scope import current_scope, local_date, village_zone
from app.villages.models import Village
from app.villages.services import village_by_code


def verify_all(village_id: int | None = None) -> VerifyReport:
    """Check the ledger's rules, then inspections, redemptions and stock against it."""
    report = verify(village_id)
    return VerifyReport(
        transactions=report.transactions,
        postings=report.postings,
        problems=[
            *report.problems,
            *verify_inspections(village_id),
            *verify_redemptions(village_id),
            *verify_stock(village_id),
            *verify_expiries(village_id),
        ],
    )


def record_verify_run(village_id: int | None, report: VerifyReport, seconds: float) -> None:
    """Keep the outcome where the monitoring reads it (GET /metrics), in its own transaction."""
    db.session.rollback()  # end verify's read snapshot
    db.session.add(
        VerifyRun(
            village_id=village_id,
            ok=report.ok,
            problems=len(report.problems),
            transactions=report.transactions,
            postings=report.postings,
            seconds=round(seconds, 3),
        )
    )
    db.session.commit()


def echo_report(report: VerifyReport) -> None:
    """Print each problem, then one line that says whether the ledger holds."""
    for problem in report.problems:
        click.echo(f"PROBLEM [{problem.check}] {problem.detail}", err=True)
    summary = (
        f"{report.transactions} transactions, {report.postings} postings, "
        f"{len(report.problems)} problems"
    )
    if report.ok:
        click.echo(f"ledger OK: {summary}")
    else:
        click.echo(f"ledger BROKEN: {summary}", err=True)


ledger_cli = AppGroup("ledger", help="Check the points ledger.")


@ledger_cli.command("verify")
@click.option("--village", "village_code", help="Check one village only (its code).")
def verify_command(village_code: str | None) -> None:
    """Exit 0 when every rule holds; else print each problem and exit 1."""
    village_id = village_by_code(village_code).id if village_code else None
    started = time.perf_counter()
    report = verify_all(village_id)
    echo_report(report)
    record_verify_run(village_id, report, time.perf_counter() - started)
    if not report.ok:
        sys.exit(1)


@ledger_cli.command("expire")
@click.option("--village", "village_code", help="One village only (its code); default every one.")
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Post what is due on or before this day (YYYY-MM-DD); default today, village time.",
)
def expire_command(village_code: str | None, at: datetime | None) -> None:
    """Post every expiry and forfeit due on or before the day; a second run posts nothing."""
    if village_code:
        village_ids = [village_by_code(village_code).id]
    else:
        village_ids = list(db.session.scalars(select(Village.id).order_by(Village.id)))
    db.session.rollback()
    expired: list[Expired] = []
    forfeited: list[Forfeited] = []
    for village_id in village_ids:
        day = at.date() if at else local_date(utcnow(), village_zone(village_id))
        db.session.rollback()
        expired.extend(expire(village_id, day, between_chunks=print_expired_lines))
        # Households that moved out: what is left on the forfeit date, in the same run.
        done = forfeit_due(village_id, day)
        print_expired_lines([Expired(f.household_id, f.on, f.points) for f in done])
        forfeited.extend(done)
    click.echo(
        f"expired {sum(item.points for item in expired)} points "
        f"from {len({item.household_id for item in expired})} households"
    )
    if forfeited:
        click.echo(
            f"forfeited {sum(item.points for item in forfeited)} points "
            f"from {len(forfeited)} households that moved out"
        )
    sys.stdout.flush()


def print_expired_lines(expired: list[Expired]) -> None:
    """Print a chunk's expiries (by household code) as soon as they are committed."""
    codes = dict(
        db.session.execute(
            select(Household.id, Household.code).where(
                Household.id.in_([item.household_id for item in expired])
            )
        ).all()
    )
    db.session.rollback()
    for item in expired:
        click.echo(f"{codes[item.household_id]}\t{item.on.isoformat()}\t{item.points}")


ProblemOut = Schema.from_dict(
    {
        "check": fields.String(),
        "detail": fields.String(),
        **{name: fields.Integer() for name in ROW_IDS},
        "expected": fields.Integer(),
        "actual": fields.Integer(),
    },
    name="ProblemOut",
)


class VerifyOut(Schema):
    ok = fields.Boolean()
    transactions = fields.Integer()
    postings = fields.Integer()
    problems = fields.List(fields.Nested(ProblemOut))


blp = Blueprint(
    "checks_api",
    __name__,
    url_prefix="/api/v1",
    description="Every rule of the ledger, and each business total against it (核对).",
)


@blp.get("/ledger/verify")
@role_required(ADMIN)
@blp.response(200, VerifyOut)
def verify_ledger():
    """Check every ledger rule for the village."""
    return verify_all(current_scope().village_id).to_dict()
