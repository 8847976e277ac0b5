"""The township's pages: its villages side by side, the board, the settlements, the export."""

import io
from datetime import date

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.styles import Font

from app.auth.decorators import role_required
from app.auth.models import TOWNSHIP
from app.auth.reach import reachable_villages
from app.catalogue.labels import yuan
from app.db import db, reads_may_lag
from app.errors import ValidationFailed
from app.fairness.counts import flag_counts_of
from app.reports import charts
from app.reports import settlement as settlements
from app.reports.board import percent
from app.reports.dashboard import month_bounds
from app.scope import current_scope, village_today
from app.townships import services
from app.townships.boards import render_township_board
from app.townships.months import Month, month_by_month
from app.villages.models import Township

bp = Blueprint("townships", __name__)


def _township() -> tuple[Township, list[int], date]:
    """The township user's township, its villages' ids, and the day it is there."""
    township = db.session.get_one(Township, g.user.township_id)
    village_ids = reachable_villages(g.user)
    today = village_today(village_ids[0]) if village_ids else date.today()
    return township, village_ids, today


def _month_arg(today: date) -> tuple[int, int]:
    """The month asked for (YYYY-MM), this month by default; a malformed one is refused."""
    text = (request.args.get("month") or "")[:20] or today.strftime("%Y-%m")
    return settlements.parse_month(text)


def _chart(months: list[Month]) -> Markup:
    labels = [m.label[2:] for m in months]
    chart = charts.line_chart(
        [
            (_("Participation %"), [round(m.participation * 100) for m in months]),
            (_("Sorting accuracy %"), [round(m.accuracy * 100) for m in months]),
        ],
        labels,
        ident="chart-township-months",
        title=_("Participation and sorting accuracy, month by month"),
        desc=_(
            "From %(first)s to %(last)s: participation %(p)s, accuracy %(a)s in the last month.",
            first=months[0].label,
            last=months[-1].label,
            p=percent(months[-1].participation),
            a=percent(months[-1].accuracy),
        ),
    )
    # Safe to inline: the chart module escapes every text it draws.
    return Markup(chart)


@bp.get("/township")
@role_required(TOWNSHIP)
@reads_may_lag
def dashboard_page():
    """The township's villages ranked by participation and accuracy, and this month's costs."""
    township, village_ids, today = _township()
    first = today.replace(day=1)
    rows = services.village_rows(village_ids, first, today)
    by_participation = sorted(rows, key=lambda r: (-r["participation_rate"], r["code"]))
    by_accuracy = sorted(rows, key=lambda r: (-r["accuracy"], r["code"]))
    by_village = services.village_settlements(village_ids, today.year, today.month)
    settled = [(row, by_village[row["village_id"]]) for row in rows]
    months = month_by_month(village_ids, today)
    counts = flag_counts_of(village_ids, first, today)
    flags = [(row, counts[row["village_id"]]) for row in rows]
    return render_template(
        "townships/dashboard.html",
        flags=flags,
        township=township,
        today=today,
        month=today.strftime("%Y-%m"),
        by_participation=by_participation,
        by_accuracy=by_accuracy,
        settled=settled,
        chart=_chart(months),
        months=months,
        percent=percent,
        yuan=yuan,
    )


@bp.get("/township/board.pdf")
@role_required(TOWNSHIP)
@reads_may_lag
def board_pdf():
    """The month's township board on A4: villages' participation, no household names."""
    township, village_ids, today = _township()
    try:
        year, month = _month_arg(today)
    except ValidationFailed:
        return render_template("townships/bad_month.html"), 400
    first, last = month_bounds(year, month)
    rows = services.village_rows(village_ids, first, min(last, max(first, today)), costs=False)
    pdf = render_township_board(township.name, f"{year:04d}-{month:02d}", rows)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="township-{township.code}-{year:04d}-'
            f'{month:02d}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/township/villages.xlsx")
@role_required(TOWNSHIP)
@reads_may_lag
def villages_xlsx():
    """This month's villages side by side as a spreadsheet."""
    township, village_ids, today = _township()
    rows = services.village_rows(village_ids, today.replace(day=1), today)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = _("Villages")
    header = [
        _("Village code"),
        _("Village"),
        _("Households"),
        _("Participation"),
        _("Sorting accuracy"),
        _("Inspections"),
        _("Points issued"),
        _("Points redeemed"),
        _("Points outstanding"),
        _("Goods cost (yuan)"),
        _("Outstanding in goods (yuan)"),
    ]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(
            [
                row["code"],
                row["name"],
                row["households"],
                row["participation_rate"],
                row["accuracy"],
                row["inspections"],
                row["points_issued"],
                row["points_redeemed"],
                row["outstanding"],
                row["goods_cost_cents"] / 100,
                row["outstanding_cost_cents"] / 100,
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    name = f"township-{township.code}-{today:%Y-%m}.xlsx"
    return Response(
        buffer.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/township/settlement.pdf")
@role_required(TOWNSHIP)
@reads_may_lag
def settlement_pdf():
    """One village's monthly settlement on A4, with lines to sign."""
    from app.reports.api import settlement_response

    raw = request.args.get("village_id", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return render_template("townships/bad_month.html"), 400
    scope = current_scope(int(raw))
    try:
        year, month = _month_arg(scope.today())
    except ValidationFailed:
        return render_template("townships/bad_month.html"), 400
    return settlement_response(
        settlements.settlement(scope.village_id, year, month),
        services.owed(scope.village_id, year, month),
    )
