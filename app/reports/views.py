"""The admin's report pages: the dashboard and the monthly public board."""

from datetime import timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from markupsafe import Markup

from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.db import db, reads_may_lag
from app.reports import board as boards
from app.reports import charts, dashboard, services
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
    return render_template(
        "reports/dashboard.html",
        village=db.session.get(Village, village_id),
        today=today,
        day=dashboard.figures(village_id, today, today),
        month=dashboard.figures(village_id, month_first, today),
        outstanding=services.outstanding(village_id),
        series=series,
        inspections_chart=inspections_chart,
        points_chart=points_chart,
        grids=dashboard.grid_figures(village_id, month_first, today),
        low=dashboard.goods_running_low(village_id),
        percent=boards.percent,
        board_month=(month_first - timedelta(days=1)).strftime("%Y-%m"),
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
