"""Reports API: the village's figures over a range of days, and spreadsheet exports."""

from tempfile import SpooledTemporaryFile

from flask import Response, stream_with_context
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.db import db, reads_may_lag
from app.reports import exports, services
from app.reports.schemas import RangeQuery, SummaryOut
from app.scope import current_scope
from app.villages.models import Village

blp = Blueprint(
    "reports_api",
    __name__,
    url_prefix="/api/v1/reports",
    description="What the village sees: figures and exports (报表).",
)

# Past this size the XLSX being built moves from memory to a file on disk.
XLSX_SPOOL_BYTES = 4 * 1024 * 1024
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


@blp.get("/summary")
@role_required(ADMIN)
@blp.arguments(RangeQuery, location="query")
@blp.response(200, SummaryOut)
@blp.alt_response(422, description="validation_error: from after to, or over 366 days")
@reads_may_lag
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
    in the grid they were recorded in.
    """
    day_from, day_to = services.resolve_range(
        current_scope().village_id, args.get("day_from"), args.get("day_to")
    )
    return services.summary(current_scope().village_id, day_from, day_to)


@blp.get(EXPORT_PATH)
@role_required(ADMIN)
@blp.arguments(RangeQuery, location="query")
@blp.response(200)
@blp.doc(**EXPORT_DOC)
@blp.alt_response(422, description="validation_error: from after to, or over 366 days")
@reads_may_lag
def export(args, what: str, fmt: str):
    """Download inspections, redemptions, ledger, households or stock_movements.

    Chinese column headers, one row per record of the village days from..to
    (redemptions: one row per receipt line; ledger: every entry of a household
    account; households: every household, with its balance now and its figures over
    the range). CSV is UTF-8 with a byte order mark so that Excel opens it.
    """
    day_from, day_to = services.resolve_range(
        current_scope().village_id, args.get("day_from"), args.get("day_to")
    )
    village = db.session.get_one(Village, current_scope().village_id)
    name = exports.file_name(what, village.code, day_from, day_to, fmt)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    rows = exports.table(what, village.id, day_from, day_to)
    if fmt == "csv":
        return Response(
            stream_with_context(exports.csv_chunks(rows)),
            mimetype=exports.MIMETYPES["csv"],
            headers=headers,
        )
    spool = SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)
    try:
        exports.write_xlsx(what, rows, spool)
        headers["Content-Length"] = str(spool.tell())
    except BaseException:
        spool.close()
        raise
    response = Response(exports.chunks(spool), mimetype=exports.MIMETYPES["xlsx"], headers=headers)
    # The client may leave before the body is read: close (and delete) the file anyway.
    response.call_on_close(spool.close)
    return response
