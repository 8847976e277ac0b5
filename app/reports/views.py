"""The admin's report pages: the dashboard, the monthly public board, the reports and exports."""

from datetime import date, timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app.appeals.views import dashboard_panel as fairness_panel
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.db import db, reads_may_lag
from app.errors import DomainError
from app.fairness.reports import village_agreement
from app.figures import MAX_RANGE_DAYS, resolve_range
from app.reports import board as boards
from app.reports import charts, dashboard, export_files, exports, services
from app.reports.expiry_views import expiring_this_month
from app.scope import current_scope
from app.villages.models import Village

bp = Blueprint("reports", __name__)


def _charts(series: list[dashboard.Day]) -> tuple[Markup, Markup]:
    """Draw the last days: inspections as bars, points issued and redeemed as lines."""
    short = [day.day.strftime("%m-%d") for day in series]
    full = [format_date(day.day, "medium") for day in series]
    first, last = full[0], full[-1]
    inspections = charts.bar_chart(
        [day.inspections for day in series],
        short,
        names=full,
        ident="chart-inspections",
        tick_every=7,
        title=_("Inspections per day, last %(n)d days", n=len(series)),
        desc=_(
            "%(total)d inspections from %(first)s to %(last)s; most in a day: %(most)d.",
            total=sum(d.inspections for d in series),
            first=first,
            last=last,
            most=max(d.inspections for d in series),
        ),
    )
    points = charts.line_chart(
        [
            (_("Issued"), [day.points_issued for day in series]),
            (_("Redeemed"), [day.points_redeemed for day in series]),
        ],
        short,
        ident="chart-points",
        tick_every=7,
        title=_("Points issued and redeemed per day, last %(n)d days", n=len(series)),
        desc=_(
            "From %(first)s to %(last)s: %(issued)d points issued, %(redeemed)d redeemed.",
            first=first,
            last=last,
            issued=sum(d.points_issued for d in series),
            redeemed=sum(d.points_redeemed for d in series),
        ),
    )
    # Safe to inline: the chart module escapes every text it draws.
    return Markup(inspections), Markup(points)


@bp.get("/admin/dashboard")
@role_required(ADMIN)
@reads_may_lag
def dashboard_page():
    """Today and this month at a glance, the last 30 days in charts, grids, low stock."""
    scope = current_scope()
    village_id, today = scope.village_id, scope.today()
    month_first = today.replace(day=1)
    series = dashboard.daily_series(village_id, today)
    inspections_chart, points_chart = _charts(series)
    month = dashboard.figures(village_id, month_first, today)
    grids = dashboard.grid_figures(village_id, month_first, today)
    return render_template(
        "reports/dashboard.html",
        village=db.session.get(Village, village_id),
        today=today,
        day=dashboard.figures(village_id, today, today),
        month=month,
        outstanding=services.outstanding(village_id),
        expiring=expiring_this_month(village_id, today),
        series=series,
        inspections_chart=inspections_chart,
        points_chart=points_chart,
        grids=grids,
        inspectors=dashboard.inspector_figures(village_id, month_first, today, grids, month),
        low=dashboard.goods_running_low(village_id),
        spot_agreement=village_agreement(village_id, month_first, today),
        percent=boards.percent,
        board_month=(month_first - timedelta(days=1)).strftime("%Y-%m"),
        fairness=fairness_panel(village_id),
    )


def _board_or_refusal():
    """Return the asked month's board, or the page that says why there is none."""
    village = db.session.get(Village, current_scope().village_id)
    assert village is not None  # a user's village exists: users.village_id is a foreign key
    month = request.args.get("month") or boards.current_month(village.id)
    try:
        year, number = boards.parse_month(month[:20], village.id)
    except boards.BadMonth as error:
        return None, (
            render_template(
                "reports/bad_month.html", message=str(error), month=boards.current_month(village.id)
            ),
            400,
        )
    return boards.build_board(village.id, village.name, year, number), None


@bp.get("/admin/board")
@role_required(ADMIN)
@reads_may_lag
def board_page():
    """The month's public board, printable from the browser."""
    board, refusal = _board_or_refusal()
    if refusal:
        return refusal
    following: str | None = boards.shift_month(board.month, 1)
    if board.month >= boards.current_month(current_scope().village_id):
        following = None  # no board for a month that has not begun
    return render_template(
        "reports/board.html",
        board=board,
        percent=boards.percent,
        zero_times=boards.ZERO_TIMES,
        previous=boards.shift_month(board.month, -1),
        following=following,
    )


@bp.get("/admin/board.pdf")
@role_required(ADMIN)
@reads_may_lag
def board_pdf():
    """The month's public board as an A4 PDF for the notice board."""
    board, refusal = _board_or_refusal()
    if refusal:
        return refusal
    return Response(
        boards.render_board_pdf(board),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="board-{board.month}.pdf"'},
    )


# What each export holds, as the reports page names it.
EXPORT_LABELS = {
    "summary": _l("Summary: the village and each grid"),
    "inspections": _l("Inspections"),
    "redemptions": _l("Redemptions"),
    "ledger": _l("Points ledger"),
    "households": _l("Households"),
    "stock_movements": _l("Stock movements"),
}
EXPORT_RULE = (
    f"/admin/reports/export/<any({', '.join(exports.PAGE_EXPORTS)}):what>"
    f".<any({', '.join(exports.FORMATS)}):fmt>"
)


def _day(text: str | None) -> date | None:
    """A YYYY-MM-DD from the query; anything else counts as not given."""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _range(village_id: int) -> tuple[date, date]:
    """The range the query asks for (default: this month so far), checked as the API checks it."""
    return resolve_range(village_id, _day(request.args.get("from")), _day(request.args.get("to")))


@bp.get("/admin/reports")
@role_required(ADMIN)
@reads_may_lag
def reports_page():
    """The month's (or a range's) figures, with Excel and CSV exports of every report."""
    scope = current_scope()
    today = scope.today()
    this_month = today.replace(day=1)
    last_month_end = this_month - timedelta(days=1)
    months = {
        "this": (this_month, today),
        "last": (last_month_end.replace(day=1), last_month_end),
    }
    try:
        day_from, day_to = _range(scope.village_id)
    except DomainError as error:
        return render_template(
            "reports/reports.html",
            # The service says it in English; the page says what to choose instead.
            message=_(
                "Choose a range that starts on or before its last day and covers at most "
                "%(n)d days.",
                n=MAX_RANGE_DAYS,
            ),
            day_from=_day(request.args.get("from")) or this_month,
            day_to=_day(request.args.get("to")) or today,
            months=months,
            figures=None,
            exports=EXPORT_LABELS,
        ), error.status
    return render_template(
        "reports/reports.html",
        message=None,
        day_from=day_from,
        day_to=day_to,
        months=months,
        figures=services.summary(scope.village_id, day_from, day_to),
        exports=EXPORT_LABELS,
    )


@bp.get(EXPORT_RULE)
@role_required(ADMIN)
@reads_may_lag
def export_download(what: str, fmt: str):
    """Download one report of the chosen range as Excel or CSV (CSV streams as it is read)."""
    scope = current_scope()
    day_from, day_to = _range(scope.village_id)
    village = db.session.get_one(Village, scope.village_id)
    return export_files.download(what, fmt, village.id, village.code, day_from, day_to)
