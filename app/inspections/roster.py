"""The inspector's app offline: its roster, its service worker, its bearer token.

The phone keeps the roster of the inspector's grids for lookups where the signal
drops, and sends its queue of grades through the API with a bearer token that the
logged-in page asks for here (DESIGN.md "At the bins, offline").
"""

import hashlib
import json

from flask import Blueprint, Response, jsonify, request, url_for
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import Schema, fields
from sqlalchemy import func, select

from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR
from app.auth.services import grid_ids_of, issue_token
from app.db import db, utcnow
from app.errors import AlreadyInspectedToday, IdempotencyConflict, RevokedQr, TooLate
from app.households.models import Household
from app.households.schemas import HouseholdBrief
from app.i18n import select_locale
from app.inspections.models import Inspection
from app.ledger.services import household_balances
from app.rules.services import current_rules
from app.scope import current_scope
from app.static_files import FOREVER, module_graph, module_source
from app.villages.services import list_grids
from app.writes import PAGE_KEY_PREFIX

bp = Blueprint("inspect_app", __name__)
blp = ApiBlueprint(
    "roster_api",
    __name__,
    url_prefix="/api/v1",
    description="The inspector's roster, for lookups offline.",
)

# The refusals the phone's queue tells apart, by code: each with the outcome it shows.
# idempotency_conflict: a grade form's key the server already holds from the page's own
# request, whose answer never came back.
QUEUE_OUTCOMES = {
    AlreadyInspectedToday.code: "already",
    RevokedQr.code: "revoked",
    TooLate.code: "toolate",
    IdempotencyConflict.code: "sent",
}

# What the service worker keeps for the scanner to work without a signal (each script
# with the modules it imports: module_graph()).
OFFLINE_ASSETS = (
    "css/app.css",
    "js/scanner.js",
    "js/queue.js",
    "js/inspect.js",
    "js/logout.js",
    # The 待办 list of resident reports, kept by the worker too (sw.js).
    "css/cases.css",
    "js/cases-offline.js",
    "app.webmanifest",
    "icons/icon-192.png",
    "icons/icon-512.png",
)
# Kept only when a page asks (inspect/scanning.js): the QR decoder (57 KB gzipped), which a phone
# with a native one (BarcodeDetector) never needs.
ON_DEMAND_ASSETS = ("vendor/jsqr/jsQR.js",)
# How long a phone takes its service worker as current without asking (seconds).
WORKER_MAX_AGE = 300


class RosterHousehold(HouseholdBrief):
    address = fields.String()
    balance = fields.Integer()
    last_inspected_on = fields.Date(allow_none=True)
    card_version = fields.Integer(metadata={"description": "The version of its current card"})


class RosterGrade(Schema):
    grade = fields.String()
    label = fields.String()
    points = fields.Integer()


class RosterOut(Schema):
    fetched_at = fields.DateTime()
    today = fields.Date(metadata={"description": "The village's date when fetched"})
    timezone = fields.String()
    village_id = fields.Integer()
    username = fields.String()
    grid_ids = fields.List(fields.Integer())
    grades = fields.List(fields.Nested(RosterGrade))
    daily_limit = fields.Integer()
    items = fields.List(fields.Nested(RosterHousehold))


def roster_etag(roster: dict) -> str:
    """The roster's validator: a hash of all it says but the moment it was fetched.

    Built from the content itself, every change that alters the roster (a name, an
    address, a balance, a grade, a card reissued, a grid assigned, the rules, the day)
    changes it, and nothing else does.
    """
    content = {name: value for name, value in roster.items() if name != "fetched_at"}
    text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@blp.get("/roster")
@role_required(INSPECTOR, ADMIN)
@blp.response(200, RosterOut, headers={"ETag": {"schema": {"type": "string"}}})
@blp.alt_response(304, description="Not modified: If-None-Match holds the roster's ETag")
def get_roster():
    """The active households of the caller's grids (the whole village if none), for offline use.

    It carries a (weak) ETag: sent back in If-None-Match, an unchanged roster answers
    304 with no body, so a phone that opens the app again spends almost no data.
    """
    roster = _roster()
    etag = roster_etag(roster)
    if request.if_none_match.contains_weak(etag):
        not_modified = Response(status=304)
        not_modified.set_etag(etag, weak=True)
        return not_modified
    return roster, {"ETag": f'W/"{etag}"'}


def _roster() -> dict:
    """The roster of the caller's grids, as GET /api/v1/roster answers it."""
    scope = current_scope()
    grid_ids = grid_ids_of(scope.user) or [g.id for g in list_grids(scope.village_id)]
    households = list(
        db.session.scalars(
            select(Household)
            .where(
                Household.village_id == scope.village_id,
                Household.grid_id.in_(grid_ids),
                Household.status == "active",
            )
            .order_by(Household.code)
        )
    )
    ids = {h.id for h in households}
    last = dict(
        db.session.execute(
            select(Inspection.household_id, func.max(Inspection.local_date))
            .where(
                Inspection.village_id == scope.village_id,
                Inspection.voided_at.is_(None),
                Inspection.household_id.in_(ids),
            )
            .group_by(Inspection.household_id)
        ).all()
    )
    balances = household_balances(ids)
    rules = current_rules(scope.village_id)
    return {
        "fetched_at": utcnow(),
        "today": scope.today(),
        "timezone": scope.zone.key,
        "village_id": scope.village_id,
        "username": scope.user.username,
        "grid_ids": grid_ids,
        "grades": [{"grade": g.grade, "label": g.label, "points": g.points} for g in rules.grades],
        "daily_limit": rules.daily_limit,
        "items": [
            {
                "id": h.id,
                "code": h.code,
                "name": h.name,
                "address": h.address,
                "grid_id": h.grid_id,
                "balance": balances.get(h.id, 0),
                "last_inspected_on": last.get(h.id),
                "card_version": h.card_version,
            }
            for h in households
        ],
    }


@bp.post("/inspect/token")
@role_required(INSPECTOR, ADMIN)
def page_token():
    """Give the logged-in page a bearer token for its queue (the API takes no cookies).

    The token ends with this page session (its session version): a logout on another
    device, or the login disabled, leaves it worthless on a phone that was not logged out.
    """
    scope = current_scope()
    issued = issue_token(scope.user, session_version=scope.user.session_version)
    db.session.commit()
    return jsonify(
        token=issued.token, expires_at=issued.expires_at.isoformat(), username=scope.user.username
    )


def _texts_script() -> str:
    """What the inspector app says (inspect.js), in this request's language, as a script."""
    from app.main.views import offline_texts, refusal_texts

    texts = {"msgs": offline_texts(), "refusals": refusal_texts()}
    return f"window.GPTexts = {json.dumps(texts, ensure_ascii=False, sort_keys=True)};\n"


@bp.app_template_global()
def queue_protocol() -> dict:
    """What the pages and the worker hand the phone's queue (static/js/queue.js,
    configure()): the page forms' key prefix (a tap queued after its page answer was lost
    goes under the page's own key), and the refusal codes it tells apart."""
    return {"pageKeyPrefix": PAGE_KEY_PREFIX, "outcomes": QUEUE_OUTCOMES}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@bp.app_template_global()
def inspector_texts_url() -> str:
    """The address of the app's words in the page's language, named by their content.

    The same on every page of the app, they are downloaded once and kept (by the browser
    and the service worker) instead of travelling inside each page.
    """
    return url_for("inspect_app.texts", lang=select_locale(), v=_digest(_texts_script()))


@bp.get("/inspect/texts.js")
def texts() -> Response:
    """The inspector app's words in the language asked (?lang=); kept for good under ?v=."""
    body = _texts_script()
    response = Response(body, mimetype="text/javascript")
    kept = request.args.get("v") == _digest(body) and request.args.get("lang") == select_locale()
    response.headers["Cache-Control"] = FOREVER if kept else "no-cache"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, at the root so that its scope covers /inspect.

    The page registers it with updateViaCache "all": the browser's update checks, made
    after each page of the app, use its HTTP cache for WORKER_MAX_AGE, then ask again
    with the ETag (304 when the worker has not changed). A new worker reaches the phones
    within that time.
    """
    # A module worker: its import of queue.js is linked to the hashed URL.
    body = module_source("js/sw.js")
    # The asset lists change the worker's bytes when an asset's URL does: it updates.
    for marker, names in (
        ("ASSETS", module_graph(OFFLINE_ASSETS)),
        ("ON_DEMAND", ON_DEMAND_ASSETS),
    ):
        urls = [url_for("static", filename=name) for name in names]
        body = body.replace(f"/*{marker}*/[]", json.dumps(urls))
    protocol = json.dumps(queue_protocol(), sort_keys=True)
    body = body.replace("/*PROTOCOL*/{}", protocol)
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = f"max-age={WORKER_MAX_AGE}"
    response.headers["Service-Worker-Allowed"] = "/"
    response.set_etag(hashlib.sha256(body.encode()).hexdigest()[:32])
    response.make_conditional(request)
    return response
