"""Resident reports (随手拍) pages: report from /my or a collection point's QR, follow them.

Every write goes through the API's actions (report_case, add_event), so a page and
the API take the same path through the transition table; a form's key makes a
resent form count once. Photos are stored only once the case (or the move) is made.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from app.actions import FormExpired, FormInvalid, page_error
from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, ROLES, TOWNSHIP, User
from app.cases import reads, services, transitions
from app.cases.api import add_event, case_out, report_case, visible_case_photo
from app.cases.models import (
    BEFORE,
    CLOSED,
    RESOLVED,
    WORKING_STATES,
    Case,
    Station,
)
from app.cases.stations import add_reporters_photo, resolve_station
from app.db import db, utcnow
from app.errors import (
    DomainError,
    InvalidQr,
    RateLimited,
    RevokedQr,
    ValidationFailed,
    refusal_message,
)
from app.rules.cases import case_rules, category_name
from app.scope import current_scope
from app.villages.models import Grid
from app.writes import fingerprint, page_key, run_idempotent

bp = Blueprint("cases", __name__)

# Who reads a supervision (督办) note on a case's card: the village's workers and the township.
SUPERVISION_READERS = (ADMIN, INSPECTOR, TOWNSHIP)

# At most this many reports an hour at one collection point from people not logged in.
STATION_REPORTS_PER_HOUR = 30

STATE_WORDS = {
    "dispatched": _l("Sent to the grid worker"),
    "accepted": _l("Being fixed"),
    "resolved": _l("Fixed, waiting for confirmation"),
    "closed": _l("Closed"),
    "withdrawn": _l("Withdrawn"),
    "duplicate": _l("Already reported"),
    "invalid": _l("Not valid"),
}
ACTION_WORDS = {
    "report": _l("Reported"),
    "accept": _l("Accepted"),
    "resolve": _l("Fixed"),
    "confirm": _l("Confirmed fixed"),
    "auto_confirm": _l("Closed automatically"),
    "reopen": _l("Not fixed, sent back"),
    "withdraw": _l("Withdrawn"),
    "mark_duplicate": _l("Marked as already reported"),
    "mark_invalid": _l("Marked not valid"),
    "transfer": _l("Transferred to another grid"),
    "reassign": _l("Given to another worker"),
    "extend": _l("Time extended"),
    "comment": _l("Note"),
    "supervise": _l("Supervised"),
    "escalate": _l("Escalated"),
}
# What a page says about a refusal of a case action, by its code or by the field named.
CASE_REFUSALS = {
    "invalid_transition": _l("This cannot be done in the case's present state; reload the page."),
    "photo_required": _l("Take the after-photo first."),
    "rate_limited": _l("Too many reports from here just now. Please try again later."),
}
FIELD_WORDS = {
    "note": _l("Write a note."),
    "category": _l("Choose what the problem is."),
    "description": _l("The words are too long."),
    "duplicate_of": _l("Choose the case it repeats."),
    "grid_id": _l("Choose a grid."),
    "assignee_id": _l("Choose a worker."),
    "hours": _l("Extend by 1 to 360 hours in all."),
    "name": _l("Give the collection point a name of its own."),
}


def case_message(error: DomainError) -> str:
    """A refused case form's message, in the reader's language."""
    known = CASE_REFUSALS.get(error.code)
    if known is not None:
        return str(known)
    if isinstance(error, FormExpired) or getattr(error, "page_text", None):
        return page_error(error)
    errors = error.errors if isinstance(error, FormInvalid) else None
    if errors is None and isinstance(error, ValidationFailed):
        errors = error.extra.get("errors")
    for field in errors or {}:
        if field in FIELD_WORDS:
            return str(FIELD_WORDS[field])
    return page_error(error)


def case_refusal(code: str | None) -> str | None:
    """The page text of a refusal named in ?refused=."""
    known = CASE_REFUSALS.get(code or "")
    return str(known) if known is not None else refusal_message(code)


def upload(name: str = "photo") -> bytes:
    """A form's photo, or nothing."""
    sent = request.files.get(name)
    return sent.read() if sent is not None and sent.filename else b""


def categories(village_id: int) -> list[dict]:
    return [
        {"code": c.code, "name": category_name(c), "hours": c.hours}
        for c in case_rules(village_id).categories
    ]


def countdown(case: Case, now: datetime) -> dict | None:
    """Hours left before the case is due, or hours overdue; None once it is no longer open."""
    if case.state not in WORKING_STATES:
        return None
    seconds = (case.due_at - now).total_seconds()
    hours = int(abs(seconds) // 3600)
    return {"overdue": seconds < 0, "hours": hours}


def shown_case(case: Case, viewer: User, now: datetime) -> dict:
    """What a page shows of a case: case_out's view, the place in words, the countdown."""
    shown = case_out(case, viewer, now=now)
    station = db.session.get(Station, case.station_id) if case.station_id else None
    grid = db.session.get(Grid, case.grid_id)
    shown["station_name"] = station.name if station else None
    shown["grid_name"] = grid.name if grid else ""
    shown["address"] = case.address
    shown["state_words"] = str(STATE_WORDS.get(case.state, case.state))
    shown["countdown"] = countdown(case, now)
    for event in shown["events"]:
        event["words"] = str(ACTION_WORDS.get(event["action"], event["action"]))
    for photo in shown["photos"]:
        photo["page_url"] = url_for("cases.photo", case_id=case.id, photo_id=photo["id"])
    # The latest 督办 note, flagged for the worker; never shown to the reporter.
    notes = [e["note"] for e in shown["events"] if e["action"] == "supervise" and e["note"]]
    shown["supervise_note"] = notes[-1] if notes and viewer.role in SUPERVISION_READERS else None
    return shown


def open_cases_count(user: User) -> int:
    """The open cases on an inspector's list: its grids' (or the village's), or an admin's."""
    query = select(func.count(Case.id)).where(
        Case.village_id == user.village_id, Case.state.in_(WORKING_STATES)
    )
    if user.role == INSPECTOR:
        grids = transitions.inspector_grids(user)
        if grids:
            query = query.where(Case.grid_id.in_(grids) | (Case.assignee_id == user.id))
    return db.session.scalar(query) or 0


@bp.app_context_processor
def case_helpers() -> dict:
    return {"open_cases_count": open_cases_count}


@bp.get("/cases/<id:case_id>/photos/<id:photo_id>")
@role_required(*ROLES)
def photo(case_id: int, photo_id: int):
    """A case's photo for a page: the village's staff and the case's reporter."""
    return visible_case_photo(case_id, photo_id)


# The resident's report (随手拍) ---------------------------------------------------------


def _report_page(message: str | None = None, status: int = 200):
    scope = current_scope()
    return render_template(
        "cases/report.html",
        categories=categories(scope.village_id),
        message=message,
        action=url_for("cases.report_send"),
        station=None,
    ), status


@bp.get("/report")
@role_required(HOUSEHOLD)
def report_form():
    """随手拍: take a photo, optional words, tap what the problem is: sent."""
    return _report_page(case_refusal(request.args.get("refused")))


@bp.post("/report")
@role_required(HOUSEHOLD)
def report_send():
    """Report the problem; the photo is kept as its before-photo once the case exists."""
    scope = current_scope()
    photo = upload()

    def done(result: dict) -> Response:
        if photo:
            case = services.get_case(scope.village_id, result["id"])
            services.add_photo(scope.user, case, BEFORE, photo)
        return redirect(url_for("cases.my_reports", sent=result["id"]))

    form = {name: request.form.get(name, "") for name in ("category", "description", "anonymous")}
    return report_case.submit(
        form,
        key=request.form.get("key"),
        done=done,
        refused=lambda error: redirect(url_for("cases.report_form", refused=error.code)),
        invalid=lambda error: _report_page(case_message(error), error.status),
        attachments=[photo],
    )


# At a collection point's QR: anyone, no login --------------------------------------------


# The station's page carries a form key of its own: no cache may hand it to another phone.
NO_STORE = {"Cache-Control": "no-store"}


def _station_or_page(token: str) -> Station | tuple:
    try:
        return resolve_station(token)
    except RevokedQr:
        return render_template("cases/station_invalid.html", revoked=True), 410, NO_STORE
    except InvalidQr:
        return render_template("cases/station_invalid.html", revoked=False), 404, NO_STORE


def _station_page(station: Station, token: str, message: str | None = None, status: int = 200):
    sent = request.args.get("sent", type=int)
    sent_case = db.session.get(Case, sent) if sent else None
    if sent_case is not None and sent_case.station_id != station.id:
        sent_case = None
    return (
        render_template(
            "cases/report.html",
            categories=categories(station.village_id),
            message=message,
            action=url_for("cases.station_send", token=token),
            station=station,
            sent_code=services.case_code(sent_case) if sent_case else None,
        ),
        status,
        NO_STORE,
    )


@bp.get("/s/<token>")
def station_page(token: str):
    """A collection point's QR: its name and the report buttons, for anyone."""
    station = _station_or_page(token)
    if not isinstance(station, Station):
        return station
    return _station_page(station, token, case_refusal(request.args.get("refused")))


@bp.post("/s/<token>")
def station_send(token: str):
    """Report a problem at the collection point, with no reporter; once per form key."""
    station = _station_or_page(token)
    if not isinstance(station, Station):
        return station
    photo = upload()
    try:
        return _report_at_station(station, token, photo)
    except DomainError as error:
        if error.status >= 500 or error.code == "not_found":
            raise
        return _station_page(station, token, case_message(error), error.status)


def _report_at_station(station: Station, token: str, photo: bytes):
    key = page_key(request.form.get("key", ""))
    if key is None:
        raise FormExpired()
    form = {name: request.form.get(name, "") for name in ("category", "description")}
    data = report_case.load(form)
    village_id, station_id = station.village_id, station.id
    digest = fingerprint(
        b"station", token.encode(), repr(sorted(data.items())).encode(), photo or b"-"
    )

    def produce() -> Response:
        _station_limit(station_id)
        case = services.report_case(
            None,
            village_id,
            category=data["category"],
            description=data.get("description"),
            station_id=station_id,
            source="station",
        )
        if photo:
            add_reporters_photo(case, photo)
        return redirect(url_for("cases.station_page", token=token, sent=case.id))

    refused: Callable[[DomainError], Response] = lambda error: redirect(  # noqa: E731
        url_for("cases.station_page", token=token, refused=error.code)
    )
    return run_idempotent(
        village_id, key, digest, produce, on_refusal=refused, check_key_first=True
    )


def _station_limit(station_id: int) -> None:
    since = utcnow() - timedelta(hours=1)
    recent = db.session.scalar(
        select(func.count(Case.id)).where(
            Case.station_id == station_id,
            Case.reporter_id.is_(None),
            Case.created_at >= since,
        )
    )
    if (recent or 0) >= STATION_REPORTS_PER_HOUR:
        raise RateLimited("Too many reports at this collection point.")


# 我的上报: the household's own cases ------------------------------------------------------

RESIDENT_ACTIONS = ("confirm", "reopen", "withdraw")
# What the reporter reads of a case's history: the dispatch inside the village stays inside.
RESIDENT_EVENTS = {
    "report",
    "accept",
    "resolve",
    "confirm",
    "auto_confirm",
    "reopen",
    "withdraw",
    "mark_duplicate",
    "mark_invalid",
    "comment",
}


def _resident_view(case: Case, viewer: User, now: datetime) -> dict:
    shown = shown_case(case, viewer, now)
    shown["events"] = [e for e in shown["events"] if e["action"] in RESIDENT_EVENTS]
    return shown


def _my_reports_page(message: str | None = None, status: int = 200, failed: int | None = None):
    scope = current_scope()
    rows, total = reads.list_cases(scope.user, scope.village_id, limit=100)
    now = utcnow()
    return render_template(
        "cases/my_reports.html",
        cases=[_resident_view(case, scope.user, now) for case in rows],
        total=total,
        message=message,
        failed=failed,
        sent=request.args.get("sent", type=int),
        resolved=RESOLVED,
        closed=CLOSED,
    ), status


@bp.get("/my/reports")
@role_required(HOUSEHOLD)
def my_reports():
    """The household's reports: state, due time, the worker's notes, the after-photo, points."""
    return _my_reports_page(case_refusal(request.args.get("refused")))


@bp.post("/my/reports/<id:case_id>")
@role_required(HOUSEHOLD)
def my_report_act(case_id: int):
    """Confirm a fixed case, say it is not fixed (a note, a photo), or withdraw it."""
    scope = current_scope()
    services.visible_case(scope.user, scope.village_id, case_id)
    chosen = request.form.get("action", "")
    if chosen not in RESIDENT_ACTIONS:
        return _my_reports_page(_("That could not be done."), 422, case_id)
    photo = upload() if chosen == "reopen" else b""

    def done(result: dict) -> Response:
        if photo:
            case = services.get_case(scope.village_id, case_id)
            services.add_photo(scope.user, case, BEFORE, photo)
        return redirect(url_for("cases.my_reports", done=chosen))

    return add_event.submit(
        {"action": chosen, "note": request.form.get("note", "")},
        key=request.form.get("key"),
        done=done,
        refused=lambda error: redirect(url_for("cases.my_reports", refused=error.code)),
        invalid=lambda error: _my_reports_page(case_message(error), error.status, case_id),
        attachments=[photo],
        case_id=case_id,
    )
