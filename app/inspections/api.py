"""Inspections and rules API."""

from flask import g, url_for
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, STAFF
from app.db import db
from app.errors import Forbidden, NotFound
from app.households.cards import household_by_ref
from app.households.models import Household
from app.households.services import households_by_id
from app.inspections import services
from app.inspections.models import Inspection
from app.inspections.schemas import (
    InspectionIn,
    InspectionList,
    InspectionOut,
    InspectionQuery,
    PhotoIn,
    RulesHistory,
    RulesIn,
    RulesOut,
    VoidIn,
)
from app.ledger.services import household_balance, household_balances
from app.photos import photo_response, store_photo
from app.writes import IDEMPOTENCY_DOC, write_endpoint

blp = Blueprint(
    "inspections_api",
    __name__,
    url_prefix="/api/v1",
    description="Inspections (督导记录) and the village's scoring rules.",
)


def rules_out(rules: services.Rules) -> dict:
    return {
        "grades": {g.grade: g.points for g in rules.grades},
        "labels": {g.grade: g.label for g in rules.grades},
        "daily_limit": rules.daily_limit,
        "version": rules.version,
        "updated_at": rules.created_at,
        "updated_by": rules.actor_id,
    }


def inspection_out(
    inspection: Inspection, household: Household | None = None, balance: int | None = None
) -> dict:
    household = household or db.session.get(Household, inspection.household_id)
    if balance is None:
        balance = household_balance(inspection.household_id)
    return {
        "id": inspection.id,
        "household_id": inspection.household_id,
        "household_code": household.code if household else None,
        "grid_id": inspection.grid_id,
        "inspector_id": inspection.inspector_id,
        "grade": inspection.grade,
        "points": inspection.points,
        "note": inspection.note,
        "transaction_id": inspection.journal_id,
        "balance": balance,
        "inspected_at": inspection.created_at,
        "local_date": inspection.local_date,
        "has_photo": inspection.photo is not None,
        "voided": inspection.voided_at is not None,
        "void_reason": inspection.void_reason,
    }


@blp.get("/rules")
@role_required(*STAFF)
@blp.response(200, RulesOut)
def get_rules():
    """The scoring rules in force: points per grade and the daily limit."""
    return rules_out(services.current_rules(g.user.village_id))


@blp.put("/rules")
@role_required(ADMIN)
@write_endpoint
@blp.arguments(RulesIn)
@blp.response(200, RulesOut)
def put_rules(args):
    """Change the rules; inspections from now on are scored by them."""
    grades = [
        services.Grade(name, points, args["labels"].get(name, name))
        for name, points in args["grades"].items()
    ]
    return rules_out(
        services.set_rules(g.user.village_id, grades, args["daily_limit"], actor_id=g.user.id)
    )


@blp.get("/rules/history")
@role_required(ADMIN)
@blp.response(200, RulesHistory)
def rules_history():
    """Every version of the rules: who changed what, and when."""
    return {"items": [rules_out(r) for r in services.rules_history(g.user.village_id)]}


@blp.post("/inspections")
@role_required(INSPECTOR, ADMIN)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(InspectionIn)
@blp.response(201, InspectionOut)
@blp.alt_response(404, description="not_found: no such household in this village")
@blp.alt_response(409, description="already_inspected_today, or household_inactive")
@blp.alt_response(410, description="revoked_qr: the card was reissued")
def create_inspection(args):
    """Grade a household's sorting and credit its points by the rules."""
    household = household_by_ref(g.user.village_id, args)
    inspection = services.record_inspection(household, g.user, args["grade"], note=args.get("note"))
    return (
        inspection_out(inspection, household),
        201,
        {"Location": url_for("inspections_api.get_inspection", inspection_id=inspection.id)},
    )


@blp.get("/inspections")
@role_required(*STAFF)
@blp.arguments(InspectionQuery, location="query")
@blp.response(200, InspectionList)
def list_inspections(args):
    """The village's inspections, newest first, by date, grid, inspector or household."""
    day_from, day_to = args.get("date_from"), args.get("date_to")
    if args.get("date"):
        day_from = day_to = args["date"]
    rows, total = services.list_inspections(
        g.user.village_id,
        day_from=day_from,
        day_to=day_to,
        grid_id=args.get("grid_id"),
        inspector_id=args.get("inspector_id"),
        household_id=args.get("household_id"),
        limit=args["limit"],
        offset=args["offset"],
    )
    household_ids = {i.household_id for i in rows}
    households = households_by_id(household_ids)
    balances = household_balances(household_ids)
    items = [
        inspection_out(i, households.get(i.household_id), balances.get(i.household_id))
        for i in rows
    ]
    return {"items": items, "total": total}


@blp.get("/inspections/<id:inspection_id>")
@role_required(*STAFF)
@blp.response(200, InspectionOut)
def get_inspection(inspection_id: int):
    """One inspection."""
    return inspection_out(services.get_inspection(g.user.village_id, inspection_id))


@blp.post("/inspections/<id:inspection_id>/void")
@role_required(ADMIN)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(VoidIn)
@blp.response(200, InspectionOut)
@blp.alt_response(409, description="already_reversed, or insufficient_points if spent")
def void_inspection(args, inspection_id: int):
    """Void an inspection and take its points back."""
    inspection = services.get_inspection(g.user.village_id, inspection_id)
    services.void_inspection(inspection, actor=g.user, reason=args["reason"])
    return inspection_out(inspection)


@blp.post("/inspections/<id:inspection_id>/photo")
@role_required(INSPECTOR, ADMIN)
@write_endpoint
@blp.arguments(PhotoIn, location="files")
@blp.response(200, InspectionOut)
def upload_photo(files, inspection_id: int):
    """Attach a photo (JPEG or PNG) to an inspection; it is re-encoded without metadata."""
    inspection = services.get_inspection(g.user.village_id, inspection_id)
    if g.user.role == INSPECTOR and inspection.inspector_id != g.user.id:
        raise Forbidden("Only the inspector who made it, or an admin, adds its photo.")
    inspection.photo = store_photo(files["photo"].read())
    db.session.flush()
    return inspection_out(inspection)


@blp.get("/inspections/<id:inspection_id>/photo")
@role_required(*STAFF)
@blp.response(200, content_type="image/jpeg")
def get_photo(inspection_id: int):
    """An inspection's photo."""
    inspection = services.get_inspection(g.user.village_id, inspection_id)
    if inspection.photo is None:
        raise NotFound("This inspection has no photo.")
    return photo_response(inspection.photo)
