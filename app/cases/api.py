"""Resident reports API: collection points, cases, their photos and events, and the figures."""

from datetime import datetime

from flask import Response, request, url_for
from flask_smorest import Blueprint

from app.actions import action, reading
from app.auth.models import ADMIN, ROLES, STAFF, TOWNSHIP, User
from app.cases import figures, reads, services, stations
from app.cases.models import PHOTO_STAGES, Case, CaseEvent, CasePhoto, Station
from app.cases.schemas import (
    CaseFiguresOut,
    CaseIn,
    CaseList,
    CaseOut,
    CasePhotoIn,
    CasesQuery,
    EventIn,
    PhotoPatch,
    StationIn,
    StationList,
    StationOut,
)
from app.db import db, utcnow
from app.errors import NotFound, ValidationFailed
from app.figures import BAD_RANGE, OTHER_VILLAGE, SummaryQuery, resolve_range, village_and_range
from app.households.cards import qr_png
from app.households.models import Household
from app.photos import photo_response
from app.rules.cases import case_rules, category_name
from app.scope import Scope, current_scope, utc_bounds
from app.villages.models import Village

blp = Blueprint(
    "cases_api",
    __name__,
    url_prefix="/api/v1",
    description="Resident reports (随手拍): collection points, cases, dispatch and their figures.",
)
NO_CASE = {404: "not_found: no such case, or one the caller may not see"}


def station_out(station: Station) -> dict:
    village = db.session.get(Village, station.village_id)
    return {
        "id": station.id,
        "code": stations.station_code(station, village.code if village else ""),
        "name": station.name,
        "grid_id": station.grid_id,
        "lat": station.lat,
        "lng": station.lng,
        "qr_payload": stations.station_payload(station),
    }


@action(
    blp,
    "/stations",
    roles=(ADMIN,),
    schema=StationIn,
    out=StationOut,
    status=201,
    location=lambda shown: url_for("cases_api.station_qr", station_id=shown["id"]),
)
def create_station(scope: Scope, data: dict) -> dict:
    """Add a collection point (收集点) with its own QR card: BASE_URL/s/<token>."""
    return station_out(stations.create_station(scope.village_id, actor_id=scope.user_id, **data))


@reading(blp, "/stations", roles=ROLES, out=StationList)
def list_stations():
    """The village's collection points."""
    items = [station_out(s) for s in stations.list_stations(current_scope().village_id)]
    return {"items": items, "total": len(items)}


@reading(
    blp,
    "/stations/<id:station_id>/qr.png",
    roles=STAFF,
    content_type="image/png",
    responses={404: "not_found: no such collection point"},
)
def station_qr(station_id: int):
    """The collection point's QR as a PNG; it encodes BASE_URL/s/<token>."""
    return station_qr_png(station_id)


def station_qr_png(station_id: int) -> Response:
    """Answer a collection point of the caller's village as its QR card's PNG, kept by no cache.

    The API and the admin's page of collection points both serve it.
    """
    station = stations.get_station(current_scope().village_id, station_id)
    return Response(
        qr_png(stations.station_payload(station)),
        mimetype="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


def case_out(case: Case, viewer: User, *, now: datetime | None = None) -> dict:
    """A case as this viewer may see it: the reporter only where allowed, never to the public."""
    now = now or utcnow()
    rules = case_rules(case.village_id)
    category = rules.category(case.category)
    show_reporter = services.reporter_visible(viewer, case)
    return {
        "id": case.id,
        "code": services.case_code(case),
        "category": case.category,
        "category_name": category_name(category) if category else case.category,
        "description": case.description,
        "state": case.state,
        "grid_id": case.grid_id,
        "station_id": case.station_id,
        "assignee_id": case.assignee_id,
        "due_at": case.due_at,
        "created_at": case.created_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "overdue": services.is_overdue(case, now),
        "escalated_to": services.escalation(case, now),
        "supervised": case.supervised,
        "reopened": case.reopened,
        "auto_confirmed": case.auto_confirmed,
        "anonymous": case.anonymous,
        "duplicate_of": case.duplicate_of_id,
        "points": case.reward_points if case.reward_journal_id else 0,
        "lat": case.lat,
        "lng": case.lng,
        "reporter": _reporter(case) if show_reporter else None,
        "events": [_event_out(e, case, show_reporter) for e in reads.events_of(case)],
        "photos": [_photo_out(p) for p in reads.photos_of(case)],
    }


def _reporter(case: Case) -> dict | None:
    if case.reporter_id is None and case.reporter_household_id is None:
        return None
    household = (
        db.session.get(Household, case.reporter_household_id)
        if case.reporter_household_id
        else None
    )
    user = db.session.get(User, case.reporter_id) if case.reporter_id else None
    return {
        "user_id": case.reporter_id,
        "household_id": case.reporter_household_id,
        "name": household.name if household else (user.username if user else None),
    }


def _event_out(event: CaseEvent, case: Case, show_reporter: bool) -> dict:
    actor = db.session.get(User, event.actor_id) if event.actor_id else None
    by_reporter = actor is not None and case.reporter_id == actor.id
    if actor is None:
        name = None
    elif by_reporter and not show_reporter:
        name = "reporter"
    else:
        name = actor.username
    return {
        "actor": name,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "note": event.note,
        "at": event.created_at,
    }


def _photo_out(photo: CasePhoto) -> dict:
    return {
        "id": photo.id,
        "stage": photo.stage,
        "public": photo.public,
        "url": url_for("cases_api.case_photo", case_id=photo.case_id, photo_id=photo.id),
        "created_at": photo.created_at,
    }


@action(
    blp,
    "/cases",
    roles=ROLES,
    schema=CaseIn,
    out=CaseOut,
    status=201,
    location=lambda shown: url_for("cases_api.get_case", case_id=shown["id"]),
)
def report_case(scope: Scope, data: dict):
    """Report a problem (随手拍); it is dispatched at once to its grid's worker.

    The grid comes from the collection point, or the given grid, or the reporter's
    own household's grid. `due_at` is the creation time plus the category's hours,
    on the server's clock.
    """
    case = services.report_case(scope.user, scope.village_id, **data)
    return case_out(case, scope.user)


@action(
    blp,
    "/cases/<id:case_id>/photos",
    roles=ROLES,
    schema=CasePhotoIn,
    out=CaseOut,
    status=201,
    arguments_location="files",
    responses={**NO_CASE, 403: "forbidden: only the reporter, the grid's worker or an admin"},
)
def add_photo(scope: Scope, files: dict, case_id: int):
    """Add a photo before or after the fix (form field `stage`: before or after)."""
    case = services.visible_case(scope.user, scope.village_id, case_id)
    stage = request.form.get("stage", "")
    if stage not in PHOTO_STAGES:
        raise ValidationFailed(
            "Say which photo: stage=before or after.", errors={"stage": ["One of before, after."]}
        )
    services.add_photo(scope.user, case, stage, files["file"].read())
    return case_out(case, scope.user)


@action(
    blp,
    "/cases/<id:case_id>/events",
    roles=(*ROLES, TOWNSHIP),
    schema=EventIn,
    out=CaseOut,
    status=201,
    responses={
        **NO_CASE,
        403: "forbidden: a role that may not take this action; read_only: a township, but "
        "for supervise",
        409: "invalid_transition, or insufficient_points / already_reversed (mark_invalid)",
        422: "validation_error, or photo_required (resolve)",
    },
    township_village=services.township_case_village,
)
def add_event(scope: Scope, data: dict, case_id: int):
    """Move the case or note on it; the actions and who may take them are in API.md.

    A township's user supervises (督办) a case of one of its villages, and takes no
    other action; the assignee sees the case flagged.
    """
    request = services.EventRequest(**data)
    case = services.act(scope.user, scope.village_id, case_id, request)
    return case_out(case, scope.user)


@reading(
    blp,
    "/cases",
    roles=(*ROLES, TOWNSHIP),
    query=CasesQuery,
    out=CaseList,
    responses={**OTHER_VILLAGE, **BAD_RANGE},
)
def list_cases(args):
    """Cases: staff see the village's (an inspector's own grids first); a household its own."""
    scope = current_scope(args.pop("village_id", None))
    start = end = None
    if args.get("day_from") or args.get("day_to"):
        day_from, day_to = resolve_range(scope.village_id, args.get("day_from"), args.get("day_to"))
        start, end = utc_bounds(scope.zone, day_from, day_to)
    rows, total = reads.list_cases(
        scope.user,
        scope.village_id,
        state=args.get("state"),
        grid_id=args.get("grid_id"),
        assignee_id=args.get("assignee_id"),
        overdue=args.get("overdue"),
        created_from=start,
        created_to=end,
        limit=args["limit"],
        offset=args["offset"],
    )
    now = utcnow()
    return {"items": [case_out(c, scope.user, now=now) for c in rows], "total": total}


@reading(blp, "/cases/<id:case_id>", roles=ROLES, out=CaseOut, responses=NO_CASE)
def get_case(case_id: int):
    """One case with its events and photos."""
    scope = current_scope()
    return case_out(services.visible_case(scope.user, scope.village_id, case_id), scope.user)


@reading(
    blp,
    "/cases/<id:case_id>/photos/<id:photo_id>",
    roles=ROLES,
    content_type="image/jpeg",
    responses=NO_CASE,
)
def case_photo(case_id: int, photo_id: int):
    """A case's photo, for the village's staff and the reporter."""
    return visible_case_photo(case_id, photo_id)


def visible_case_photo(case_id: int, photo_id: int) -> Response:
    """Answer a photo of a case the caller may see (the API and the pages both serve it)."""
    scope = current_scope()
    case = services.visible_case(scope.user, scope.village_id, case_id)
    photo = db.session.get(CasePhoto, photo_id)
    if photo is None or photo.case_id != case.id:
        raise NotFound("No such photo.")
    return photo_response(photo.filename)


@action(
    blp,
    "/cases/<id:case_id>/photos/<id:photo_id>",
    method="PATCH",
    roles=(ADMIN,),
    schema=PhotoPatch,
    out=CaseOut,
    responses=NO_CASE,
)
def publish_photo(scope: Scope, data: dict, case_id: int, photo_id: int):
    """Make a case's photo public (Open311 media_url) or private again: admins only."""
    case = services.visible_case(scope.user, scope.village_id, case_id)
    services.set_photo_public(case, photo_id, data["public"])
    return case_out(case, scope.user)


figures_blp = Blueprint(
    "case_figures_api",
    __name__,
    url_prefix="/api/v1/reports",
    description="Case figures: every rate with its denominator.",
)


@reading(
    figures_blp,
    "/cases",
    roles=(ADMIN, TOWNSHIP),
    query=SummaryQuery,
    out=CaseFiguresOut,
    responses=OTHER_VILLAGE,
    may_lag=True,
)
def case_figures(args):
    """Cases due in the range: completed, on time, reworked, and what was excluded and why."""
    scope, day_from, day_to = village_and_range(args)
    start, end = utc_bounds(scope.zone, day_from, day_to)
    return {
        "village_id": scope.village_id,
        "date_from": day_from,
        "date_to": day_to,
        **figures.case_figures(scope.village_id, start, end),
    }
