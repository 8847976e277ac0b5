"""Reports API: the village's figures over a range of days, and spreadsheet exports."""

from functools import partial

from flask import Response, g
from flask_smorest import Blueprint

from app.actions import reading
from app.auth.models import ADMIN, STOREKEEPER, TOWNSHIP
from app.auth.reach import reachable_villages
from app.db import db
from app.figures import (
    BAD_RANGE,
    OTHER_VILLAGE,
    RangeQuery,
    SummaryQuery,
    resolve_villages_range,
    village_and_range,
)
from app.reports import export_files, exports, services
from app.reports import settlement as settlements
from app.reports.schemas import SummaryOut
from app.scope import current_scope
from app.townships import services as township_services
from app.townships.schemas import (
    SettlementOut,
    SettlementQuery,
    VillageRows,
    VillagesQuery,
)
from app.villages.models import Township, Village

blp = Blueprint(
    "reports_api",
    __name__,
    url_prefix="/api/v1/reports",
    description="What the village sees: figures and exports (报表).",
)

EXPORT_PATH = (
    f"/exports/<any({', '.join(exports.EXPORTS)}):what>.<any({', '.join(exports.FORMATS)}):fmt>"
)
EXPORT_DOC = {
    "responses": {
        "200": {
            "description": "The file, as an attachment: CSV (UTF-8 with a BOM) or XLSX.",
            "content": {
                exports.MIMETYPES["csv"]: {"schema": {"type": "string"}},
                exports.MIMETYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
}

# The settlement's refusal, as the OpenAPI document names it (the ranges' are in app/figures.py).
BAD_MONTH = {422: "validation_error: a month not YYYY-MM"}
SETTLEMENT_PDF_DOC = {
    "responses": {
        "200": {
            "description": "The settlement on A4, with lines to sign.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@reading(
    blp,
    "/summary",
    roles=(ADMIN, TOWNSHIP),
    query=SummaryQuery,
    out=SummaryOut,
    responses={**BAD_RANGE, **OTHER_VILLAGE},
    may_lag=True,
)
def summary(args):
    """The village's figures over village days from..to: participation, accuracy, points.

    Inspections count on their village day, unless voided; redemptions on the village
    day of their time, unless cancelled. `households` is the base of participation: the
    active households registered by the end of the range plus every household inspected
    in it. Sorting accuracy is the share of inspections whose grade earned points
    (points > 0; with the default rules A, B and C count, D does not). Points issued
    are the points credited by the range's inspections minus the reversals of those
    credits; adjustments are apart (`adjustments_net`). `outstanding` is what all
    households hold now. Per grid, households count in their grid now and inspections
    in the grid they were recorded in. A township names one of its villages with
    `village_id` (another village answers 404).
    """
    scope, day_from, day_to = village_and_range(args)
    return services.summary(scope.village_id, day_from, day_to)


@reading(
    blp,
    "/villages",
    roles=(ADMIN, TOWNSHIP),
    query=VillagesQuery,
    out=VillageRows,
    responses=BAD_RANGE,
    may_lag=True,
)
def villages(args):
    """One row per village of the township (an admin: its own) over village days from..to.

    Each row's figures are the village's own summary's; `goods_cost_cents` is the
    cost kept on the lines of the goods redeemed in the range (cancellations left
    out); `outstanding_cost_cents` prices the outstanding points at the cost per
    point of the three months ending with `to`'s month.
    """
    village_ids = reachable_villages(g.user)
    day_from, day_to = resolve_villages_range(village_ids, args.get("day_from"), args.get("day_to"))
    return {
        "day_from": day_from,
        "day_to": day_to,
        "items": township_services.village_rows(village_ids, day_from, day_to),
    }


def _settlement(args: dict) -> tuple[settlements.Settlement, dict]:
    scope = current_scope(args.get("village_id"))
    year, month = settlements.parse_month(
        args.get("month") or settlements.this_month(scope.village_id)
    )
    return settlements.settlement(scope.village_id, year, month), township_services.owed(
        scope.village_id, year, month
    )


# The settlement is one read answered twice: as JSON and as a PDF to sign.
settlement_reading = partial(
    reading,
    blp,
    roles=(ADMIN, STOREKEEPER, TOWNSHIP),
    query=SettlementQuery,
    responses={**BAD_MONTH, **OTHER_VILLAGE},
    may_lag=True,
)


@settlement_reading("/settlement", out=SettlementOut)
def settlement(args):
    """The shop's monthly settlement: goods redeemed by good, cancellations netted out.

    Lines count at the points and the cost they kept when redeemed; a cancellation
    in the month takes its lines back out. A township names one of its villages
    with `village_id`.
    """
    settled, owed = _settlement(args)
    return {
        "month": settled.month,
        "village_id": settled.village_id,
        "items": settled.items,
        "total_units": settled.total_units,
        "total_points": settled.total_points,
        "total_cost_cents": settled.total_cost_cents,
        **owed,
    }


@settlement_reading("/settlement.pdf", doc=SETTLEMENT_PDF_DOC)
def settlement_pdf(args):
    """The monthly settlement printed on A4 for the storekeeper, village and township to sign."""
    settled, owed = _settlement(args)
    return settlement_response(settled, owed)


def settlement_response(settled: settlements.Settlement, owed: dict) -> Response:
    """Answer the settlement's PDF, shown in the browser."""
    village = db.session.get_one(Village, settled.village_id)
    township = db.session.get(Township, village.township_id) if village.township_id else None
    pdf = settlements.render_settlement_pdf(
        settled,
        village_name=village.name,
        township_name=township.name if township else None,
        owed=owed,
    )
    name = f"settlement-{village.code}-{settled.month}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@reading(
    blp,
    EXPORT_PATH,
    roles=(ADMIN,),
    query=RangeQuery,
    doc=EXPORT_DOC,
    responses=BAD_RANGE,
    may_lag=True,
)
def export(args, what: str, fmt: str):
    """Download inspections, redemptions, ledger, households or stock_movements.

    Chinese column headers, one row per record of the village days from..to
    (redemptions: one row per receipt line; ledger: every entry of a household
    account; households: every household, with its balance now and its figures over
    the range). CSV is UTF-8 with a byte order mark so that Excel opens it.
    """
    scope, day_from, day_to = village_and_range(args)
    village = db.session.get_one(Village, scope.village_id)
    return export_files.download(what, fmt, village.id, village.code, day_from, day_to)
