"""The inspector's app offline: its roster, its service worker, its bearer token.

The phone keeps the roster of the inspector's grids for lookups where the signal
drops, and sends its queue of grades through the API with a bearer token that the
logged-in page asks for here (DESIGN.md "At the bins, offline").
"""

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, url_for
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import Schema, fields
from sqlalchemy import func, select

from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR
from app.auth.services import grid_ids_of, issue_token
from app.db import db, utcnow
from app.households.models import Household
from app.households.schemas import HouseholdBrief
from app.inspections.models import Inspection
from app.ledger.services import household_balances
from app.rules.services import current_rules
from app.scope import current_scope
from app.villages.services import list_grids

bp = Blueprint("inspect_app", __name__)
blp = ApiBlueprint(
    "roster_api",
    __name__,
    url_prefix="/api/v1",
    description="The inspector's roster, for lookups offline.",
)

# What the service worker keeps for the scanner to work without a signal.
OFFLINE_ASSETS = (
    "css/app.css",
    "js/scanner.js",
    "js/queue.js",
    "js/inspect.js",
    "js/logout.js",
    "vendor/jsqr/jsQR.js",
    "app.webmanifest",
    "icons/icon-192.png",
    "icons/icon-512.png",
)


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


@blp.get("/roster")
@role_required(INSPECTOR, ADMIN)
@blp.response(200, RosterOut)
def get_roster():
    """The active households of the caller's grids (the whole village if none), for offline use."""
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
    """Give the logged-in page a bearer token for its queue (the API takes no cookies)."""
    scope = current_scope()
    issued = issue_token(scope.user)
    db.session.commit()
    return jsonify(
        token=issued.token, expires_at=issued.expires_at.isoformat(), username=scope.user.username
    )


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, at the root so that its scope covers /inspect."""
    assets = [url_for("static", filename=name) for name in OFFLINE_ASSETS]
    body = Path(current_app.static_folder or "", "js", "sw.js").read_text(encoding="utf-8")
    # The asset list changes the worker's bytes when an asset's URL does: it updates.
    body = body.replace("/*ASSETS*/[]", repr(assets).replace("'", '"'))
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
