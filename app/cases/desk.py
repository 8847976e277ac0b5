"""The grid worker's 待办 list and case page, the admin's desk of cases, collection points.

The forms a case page offers are the transition table's (transitions.py): an action
is shown to whoever may take it from the case's present state, and posted through
the API's add_event action, once per form key.
"""

from datetime import datetime

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as AnyResponse

from app.actions import Action, redirect_to
from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, User
from app.cases import reads, services, stations, transitions
from app.cases.api import add_event, create_station, publish_photo, station_qr_png
from app.cases.figures import case_figures
from app.cases.models import AFTER, CLOSED, RESOLVED, STATES, WORKING_STATES, Case
from app.cases.schemas import EventIn
from app.cases.views import (
    ACTION_WORDS,
    STATE_WORDS,
    bp,
    case_message,
    case_refusal,
    shown_case,
    upload,
)
from app.db import db, utcnow
from app.scope import Scope, current_scope, utc_bounds
from app.villages.services import list_grids

# The order a case page offers its actions in.
PAGE_ACTIONS = (
    "accept",
    "resolve",
    "comment",
    "mark_duplicate",
    "reopen",
    "supervise",
    "extend",
    "reassign",
    "transfer",
    "mark_invalid",
)
# The admin's less common actions, folded under "More actions".
MORE_ACTIONS = ("supervise", "extend", "reassign", "transfer", "mark_invalid")


def offered(user: User, case: Case) -> list[str]:
    """The actions the transition table lets this user take on the case now."""
    names = []
    for name in PAGE_ACTIONS:
        move = transitions.TRANSITIONS[name]
        if not move.who(user, case):
            continue
        if move.sources is not None and case.state not in move.sources:
            continue
        if name == "reopen" and case.state != CLOSED:
            continue  # staff reopen a closed case; a resolved one is the reporter's to send back
        names.append(name)
    return names


def _case_page(case_id: int, *, message: str | None = None, status: int = 200):
    scope = current_scope()
    case = services.visible_case(scope.user, scope.village_id, case_id)
    now = utcnow()
    admin = scope.user.role == ADMIN and request.path.startswith("/admin")
    others, _total = reads.list_cases(
        scope.user, scope.village_id, states=WORKING_STATES, grid_id=case.grid_id, limit=30
    )
    workers = db.session.scalars(
        select(User)
        .where(User.village_id == scope.village_id, User.role.in_((ADMIN, INSPECTOR)))
        .where(User.active.is_(True))
        .order_by(User.username)
    )
    duplicates = [c for c in others if c.id != case.id]
    actions = [a for a in offered(scope.user, case) if a != "mark_duplicate" or duplicates]
    more = [a for a in actions if a in MORE_ACTIONS]
    return render_template(
        "cases/case.html",
        case=shown_case(case, scope.user, now),
        actions=actions,
        first_more=more[0] if more else None,
        more_open=message is not None,
        words=ACTION_WORDS,
        post_to=url_for(
            "cases.admin_case_act" if admin else "cases.worker_case_act", case_id=case.id
        ),
        back=url_for("cases.admin_desk" if admin else "cases.worker_list"),
        duplicates=duplicates,
        code_of=services.case_code,
        grids=list_grids(scope.village_id),
        workers=list(workers),
        message=message or case_refusal(request.args.get("refused")),
        done=request.args.get("done"),
        admin=admin,
    ), status


def _act(case_id: int, page_endpoint: str):
    """Post one action of a case page; the resolve form stores its after-photo first."""
    scope = current_scope()
    services.visible_case(scope.user, scope.village_id, case_id)
    chosen = request.form.get("action", "")
    photo = upload() if chosen == "resolve" else b""
    form = {
        name: request.form.get(name, "")
        for name in ("action", "note", "duplicate_of", "assignee_id", "grid_id", "hours")
    }
    page = url_for(page_endpoint, case_id=case_id)

    def done(_result: dict) -> AnyResponse:
        return redirect(f"{page}?done={chosen}")

    action = _resolve_with_photo(photo) if chosen == "resolve" else add_event
    return action.submit(
        form,
        key=request.form.get("key"),
        done=done,
        refused=lambda error: redirect(f"{page}?refused={error.code}"),
        invalid=lambda error: _case_page(case_id, message=case_message(error), status=error.status),
        attachments=[photo],
        case_id=case_id,
    )


def _resolve_with_photo(photo: bytes) -> Action:
    """The resolve action of the page: keep the after-photo, then resolve, in one write."""

    def resolve(scope: Scope, data: dict, case_id: int) -> dict:
        if photo:
            case = services.visible_case(scope.user, scope.village_id, case_id)
            services.add_photo(scope.user, case, AFTER, photo)
        return add_event(scope, data, case_id=case_id)

    return Action("resolve_with_photo", resolve, EventIn, add_event.roles)


# The grid worker's 待办 -------------------------------------------------------------------


@bp.get("/inspect/cases")
@role_required(INSPECTOR, ADMIN)
def worker_list():
    """Open cases, the worker's own and its grids' first, each with its countdown."""
    scope = current_scope()
    rows, total = reads.list_cases(scope.user, scope.village_id, states=WORKING_STATES, limit=200)
    now = utcnow()
    resolved, _count = reads.list_cases(scope.user, scope.village_id, state=RESOLVED, limit=20)
    return render_template(
        "cases/worker_list.html",
        cases=[_listed(case, scope.user, now) for case in rows],
        total=total,
        resolved=[shown_case(case, scope.user, now) for case in resolved],
    )


def _listed(case: Case, user: User, now: datetime) -> dict:
    """A case of the 待办 list, with the accept and resolve it offers there (offline too)."""
    shown = shown_case(case, user, now)
    shown["quick"] = [a for a in offered(user, case) if a in ("accept", "resolve")]
    return shown


@bp.get("/inspect/cases/<id:case_id>")
@role_required(INSPECTOR, ADMIN)
def worker_case(case_id: int):
    """A case: the before-photo, the words, the place; accept, note, fix with a photo."""
    return _case_page(case_id)


@bp.post("/inspect/cases/<id:case_id>")
@role_required(INSPECTOR, ADMIN)
def worker_case_act(case_id: int):
    return _act(case_id, "cases.worker_case")


# The admin's desk -------------------------------------------------------------------------

FIGURE_LABELS = {
    "completion": _l("Completed"),
    "on_time": _l("Completed on time"),
    "rework": _l("Sent back (rework)"),
}


def month_figures(scope: Scope) -> dict:
    """This month's case figures (reports/cases), every rate beside its counts."""
    today = scope.today()
    start, end = utc_bounds(scope.zone, today.replace(day=1), today)
    return case_figures(scope.village_id, start, end)


def _desk_filters() -> dict:
    state = request.args.get("state") or None
    overdue = request.args.get("overdue") == "1"
    return {
        "state": state if state in STATES else None,
        "grid_id": request.args.get("grid_id", type=int),
        "overdue": True if overdue else None,
    }


@bp.get("/admin/cases")
@role_required(ADMIN)
def admin_desk():
    """Every case, filtered by state, grid and overdue; this month's figures above."""
    scope = current_scope()
    filters = _desk_filters()
    rows, total = reads.list_cases(scope.user, scope.village_id, limit=200, **filters)
    now: datetime = utcnow()
    return render_template(
        "cases/desk.html",
        cases=[shown_case(case, scope.user, now) for case in rows],
        total=total,
        figures=month_figures(scope),
        grids=list_grids(scope.village_id),
        states=[(state, STATE_WORDS[state]) for state in STATES],
        filters=filters,
    )


@bp.get("/admin/cases/<id:case_id>")
@role_required(ADMIN)
def admin_case(case_id: int):
    """A case on the desk: every action the table allows an admin now."""
    return _case_page(case_id)


@bp.post("/admin/cases/<id:case_id>")
@role_required(ADMIN)
def admin_case_act(case_id: int):
    return _act(case_id, "cases.admin_case")


@bp.post("/admin/cases/<id:case_id>/photos/<id:photo_id>")
@role_required(ADMIN)
def admin_photo_public(case_id: int, photo_id: int):
    """Publish a case's photo (Open311 media_url), or make it private again."""
    page = url_for("cases.admin_case", case_id=case_id)
    public = request.form.get("public") == "true"
    return publish_photo.submit(
        {"public": "true" if public else "false"},
        key=request.form.get("key"),
        done=lambda _result: redirect(f"{page}?done={'published' if public else 'hidden'}"),
        refused=lambda error: redirect(f"{page}?refused={error.code}"),
        invalid=lambda error: _case_page(case_id, message=case_message(error), status=error.status),
        case_id=case_id,
        photo_id=photo_id,
    )


# Collection points -------------------------------------------------------------------------


def _stations_page(message: str | None = None, status: int = 200):
    scope = current_scope()
    grids = list_grids(scope.village_id)
    return render_template(
        "cases/stations.html",
        stations=stations.list_stations(scope.village_id),
        grids=grids,
        grid_names={grid.id: grid.name for grid in grids},
        message=message or case_refusal(request.args.get("refused")),
        added=request.args.get("added"),
        payload=stations.station_payload,
    ), status


@bp.get("/admin/stations")
@role_required(ADMIN)
def stations_page():
    """The collection points, each with its QR card; add one to a grid."""
    return _stations_page()


@bp.post("/admin/stations")
@role_required(ADMIN)
def station_add():
    return create_station.submit(
        {name: request.form.get(name, "") for name in ("name", "grid_id")},
        key=request.form.get("key"),
        done=redirect_to("cases.stations_page", added=1),
        refused=lambda error: redirect(url_for("cases.stations_page", refused=error.code)),
        invalid=lambda error: _stations_page(case_message(error), error.status),
    )


@bp.get("/admin/stations/<id:station_id>/qr.png")
@role_required(ADMIN)
def station_qr(station_id: int):
    """The collection point's QR, to print on its card."""
    return station_qr_png(station_id)


@bp.get("/admin/stations/cards")
@role_required(ADMIN)
def station_cards():
    """Every collection point's card on A4, to print and put up at the point."""
    scope = current_scope()
    grids = {grid.id: grid.name for grid in list_grids(scope.village_id)}
    return render_template(
        "cases/station_cards.html",
        stations=stations.list_stations(scope.village_id),
        grid_names=grids,
    )
