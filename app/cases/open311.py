"""Open311 GeoReport v2: the public face of cases, for any Open311 client.

    GET  /open311/v2/services.(json|xml)
    GET  /open311/v2/requests.(json|xml)        (filters: service_request_id, service_code,
                                                 start_date, end_date, status)
    GET  /open311/v2/requests/<id>.(json|xml)   (a list of one)
    POST /open311/v2/requests.(json|xml)        (form-encoded, with an api_key)

`jurisdiction_id` is the village code; it may be left out when the server holds one
village. Nothing personal is ever in a GET: no reporter, no contact, and a
resident's own words only for a report that came in through this public door; a
case reported in the app shows its public form (category and place).
"""

import hashlib
import math
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, json, request, url_for
from sqlalchemy import func, select

from app.cases import services
from app.cases.models import (
    CLOSED,
    DUPLICATE,
    INVALID,
    RESOLVED,
    WITHDRAWN,
    Case,
    CasePhoto,
    Open311Key,
    Station,
)
from app.db import db, run_write, utcnow
from app.errors import DomainError
from app.photos import photo_response
from app.rules.cases import case_rules
from app.villages.models import Grid, Village

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
CLOSED_STATES = (RESOLVED, CLOSED, WITHDRAWN, DUPLICATE, INVALID)
MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
STATUS_NOTES = {
    RESOLVED: "Fixed; waiting for the reporter to confirm.",
    CLOSED: "Fixed.",
    WITHDRAWN: "Withdrawn by the reporter.",
    DUPLICATE: "Duplicate of another report.",
    INVALID: "Not a valid report.",
}
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def _answer(payload: list[dict], fmt: str, root: str, item: str, status: int = 200) -> Response:
    if fmt == "json":
        return Response(
            json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json"
        )
    top = ET.Element(root)
    for entry in payload:
        element = ET.SubElement(top, item)
        for name, value in entry.items():
            child = ET.SubElement(element, name)
            if value is not None:
                child.text = str(value).lower() if isinstance(value, bool) else str(value)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(body, status=status, mimetype="text/xml")


@bp.errorhandler(Open311Error)
def _error(error: Open311Error) -> Response:
    fmt = "xml" if request.path.endswith(".xml") else "json"
    payload = [{"code": error.status, "description": error.description}]
    return _answer(payload, fmt, "errors", "error", status=error.status)


def _village() -> Village:
    code = (request.values.get("jurisdiction_id") or "").strip()
    if code:
        village = db.session.scalar(select(Village).where(Village.code == code))
        if village is None:
            raise Open311Error(404, "No such jurisdiction_id.")
        return village
    villages = list(db.session.scalars(select(Village).limit(2)))
    if len(villages) != 1:
        raise Open311Error(400, "jurisdiction_id (the village code) is required.")
    return villages[0]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


@bp.get("/services.<any(json, xml):fmt>")
def services_list(fmt: str) -> Response:
    """The village's categories as Open311 services."""
    village = _village()
    rules = case_rules(village.id)
    payload = [
        {
            "service_code": category.code,
            "service_name": category.name,
            "description": f"{category.name}（{category.hours} 小时内处理）",
            "metadata": False,
            "type": "realtime",
            "keywords": category.code,
            "group": "垃圾分类",
        }
        for category in rules.categories
    ]
    return _answer(payload, fmt, "services", "service")


def _public(case: Case, village: Village, names: dict, places: dict) -> dict:
    category = case_rules(village.id).category(case.category)
    category_name = category.name if category else case.category
    place = places.get(case.station_id) if case.station_id else None
    grid = names.get(case.grid_id, "")
    address = case.address if case.source == "open311" else None
    photo = db.session.scalar(
        select(CasePhoto.id)
        .where(CasePhoto.case_id == case.id, CasePhoto.public.is_(True))
        .order_by(CasePhoto.id.desc())
        .limit(1)
    )
    lat, lng = case.lat, case.lng
    if lat is None and place is not None:
        lat, lng = place.lat, place.lng
    return {
        "service_request_id": str(case.id),
        "status": "closed" if case.state in CLOSED_STATES else "open",
        "status_notes": STATUS_NOTES.get(case.state),
        "service_name": category_name,
        "service_code": case.category,
        # A resident's own words only where they were sent to this public door.
        "description": case.description if case.source == "open311" else category_name,
        "agency_responsible": f"{village.name} {grid}".strip(),
        "service_notice": None,
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.due_at),
        "address": address or (place.name if place else grid),
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lng,
        "media_url": url_for("open311.media", photo_id=photo, _external=True) if photo else None,
    }


def _moment(name: str) -> datetime | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C date and time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _listed(village: Village, query) -> list[dict]:
    cases = list(db.session.scalars(query.order_by(Case.created_at.desc()).limit(MAX_REQUESTS)))
    names = dict(
        db.session.execute(select(Grid.id, Grid.name).where(Grid.village_id == village.id)).all()
    )
    places = {
        s.id: s for s in db.session.scalars(select(Station).where(Station.village_id == village.id))
    }
    return [_public(case, village, names, places) for case in cases]


@bp.get("/requests.<any(json, xml):fmt>")
def requests_list(fmt: str) -> Response:
    """Reports of the village, newest first, at most 1000."""
    village = _village()
    query = select(Case).where(Case.village_id == village.id)
    ids = request.args.get("service_request_id")
    if ids:
        wanted = [int(part) for part in ids.split(",") if part.strip().isdigit()][:MAX_REQUESTS]
        query = query.where(Case.id.in_(wanted))
    else:
        end = _moment("end_date") or utcnow()
        start = _moment("start_date") or end - timedelta(days=DEFAULT_DAYS)
        query = query.where(Case.created_at >= start, Case.created_at <= end)
        if codes := request.args.get("service_code"):
            query = query.where(Case.category.in_(codes.split(",")))
        status = request.args.get("status")
        if status == "open":
            query = query.where(Case.state.not_in(CLOSED_STATES))
        elif status == "closed":
            query = query.where(Case.state.in_(CLOSED_STATES))
        elif status:
            raise Open311Error(400, "status is open or closed.")
    return _answer(_listed(village, query), fmt, "service_requests", "request")


@bp.get("/requests/<id:case_id>.<any(json, xml):fmt>")
def request_one(case_id: int, fmt: str) -> Response:
    """One report, as a list of one."""
    village = _village()
    found = _listed(village, select(Case).where(Case.village_id == village.id, Case.id == case_id))
    if not found:
        raise Open311Error(404, "No such service request.")
    return _answer(found, fmt, "service_requests", "request")


@bp.get("/media/<id:photo_id>.jpg")
def media(photo_id: int) -> Response:
    """A photo an admin made public; every other answers 404."""
    photo = db.session.get(CasePhoto, photo_id)
    if photo is None or not photo.public:
        raise Open311Error(404, "No such media.")
    return photo_response(photo.filename)


def _key_village(village: Village) -> None:
    key = request.form.get("api_key", "")
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = db.session.scalar(
        select(func.count(Open311Key.id)).where(
            Open311Key.key_hash == digest,
            Open311Key.village_id == village.id,
            Open311Key.revoked_at.is_(None),
        )
    )
    if not key or not found:
        raise Open311Error(403, "A valid api_key for this jurisdiction is required.")


def _nearest_grid(village: Village, lat: float | None, lng: float | None) -> int:
    """The grid of the nearest collection point with a position; else the village's first grid."""
    points = [
        (s.grid_id, (s.lat, s.lng))
        for s in db.session.scalars(select(Station).where(Station.village_id == village.id))
        if s.lat is not None and s.lng is not None
    ]
    if lat is not None and lng is not None and points:
        here = (lat, lng)
        return min(points, key=lambda point: math.dist(point[1], here))[0]  # type: ignore[arg-type]
    grid = db.session.scalar(
        select(Grid.id).where(Grid.village_id == village.id).order_by(Grid.number).limit(1)
    )
    if grid is None:
        raise Open311Error(400, "The village has no grid to send the report to.")
    return grid


def _coordinate(name: str, low: float, high: float) -> float | None:
    text = request.form.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number.") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise Open311Error(400, f"{name} is out of range.")
    return value


@bp.post("/requests.<any(json, xml):fmt>")
def create_request(fmt: str) -> Response:
    """Take a report from an Open311 client; its contact details are kept private."""

    def work() -> int:
        village = _village()
        _key_village(village)
        code = request.form.get("service_code", "")
        if case_rules(village.id).category(code) is None:
            raise Open311Error(400, "service_code is not one of GET services.")
        lat, lng = _coordinate("lat", -90, 90), _coordinate("long", -180, 180)
        address = (request.form.get("address_string") or "").strip()[:200] or None
        if (lat is None or lng is None) and not address:
            raise Open311Error(400, "lat and long, or address_string, are required.")
        description = (request.form.get("description") or "").strip()[:1000] or None
        contact = {
            name: request.form[name][:200] for name in CONTACT_FIELDS if request.form.get(name)
        }
        try:
            case = services.report_case(
                None,
                village.id,
                category=code,
                description=description,
                grid_id=_nearest_grid(village, lat, lng),
                lat=lat,
                lng=lng,
                source="open311",
                address=address,
                contact=json.dumps(contact, ensure_ascii=False) if contact else None,
            )
        except DomainError as error:
            raise Open311Error(400, error.detail) from None
        return case.id

    case_id = run_write(work)
    return _answer([{"service_request_id": str(case_id)}], fmt, "service_requests", "request")
