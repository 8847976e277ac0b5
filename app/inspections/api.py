"""Inspections and rules API."""

from collections.abc import Callable

from flask import url_for
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from app.actions import action, location_of
from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, STAFF
from app.db import db, run_write
from app.errors import DomainError, Forbidden, NotFound
from app.households.models import Household
from app.households.services import codes_and_balances
from app.inspections import batch, services
from app.inspections.models import Inspection, InspectionResult
from app.inspections.schemas import (
    BatchIn,
    BatchOut,
    InspectionIn,
    InspectionList,
    InspectionOut,
    InspectionQuery,
    NoteIn,
    PhotoIn,
    RulesHistory,
    RulesIn,
    RulesOut,
    VoidIn,
)
from app.ledger.services import household_balance
from app.photos import photo_response, store_photo
from app.rules import services as village_rules
from app.rules.cases import make_case_rules
from app.rules.expiry import make_policy
from app.rules.fairness import make_fairness
from app.rules.services import Grade, Rules, current_rules, set_rules
from app.scope import Scope, current_scope
from app.writes import begins_write

blp = Blueprint(
    "inspections_api",
    __name__,
    url_prefix="/api/v1",
    description="Inspections (督导记录) and the village's scoring rules.",
)


FAIRNESS_KEYS = ("appeal_days", "adjustment_approval_over")


def rules_out(rules: Rules) -> dict:
    return {
        **rules.summary(),
        "version": rules.version,
        "updated_at": rules.created_at,
        "updated_by": rules.actor_id,
    }


inspection_location = location_of("inspections_api.get_inspection", inspection_id="inspection.id")


def with_balance(inspection: Inspection) -> InspectionResult:
    """An inspection read back, with its household's code and current balance."""
    household = db.session.get(Household, inspection.household_id)
    return InspectionResult(
        inspection,
        household.code if household else None,
        household_balance(inspection.household_id),
    )


@blp.get("/rules")
@role_required(*STAFF)
@blp.response(200, RulesOut)
def get_rules():
    """The scoring rules in force: points per grade and the daily limit."""
    return rules_out(current_rules(current_scope().village_id))


@action(blp, "/rules", method="PUT", roles=(ADMIN,), schema=RulesIn, out=RulesOut)
def put_rules(scope: Scope, data: dict) -> dict:
    """Change the rules; inspections from now on are scored by them."""
    grades = [
        Grade(name, points, data["labels"].get(name, name))
        for name, points in data["grades"].items()
    ]
    expiry = make_policy(data["expiry"]["policy"], data["expiry"].get("months"))
    cases = make_case_rules(data["cases"]) if data.get("cases") is not None else None
    given = {k: data[k] for k in FAIRNESS_KEYS if k in data}
    fairness = make_fairness(current_rules(scope.village_id).fairness, given) if given else None
    return rules_out(
        set_rules(
            scope.village_id,
            grades,
            data["daily_limit"],
            actor_id=scope.user_id,
            expiry=expiry,
            cases=cases,
            fairness=fairness,
        )
    )


@blp.get("/rules/history")
@role_required(ADMIN)
@blp.response(200, RulesHistory)
def rules_history():
    """Every version of the rules: who changed what, and when."""
    return {
        "items": [rules_out(r) for r in village_rules.rules_history(current_scope().village_id)]
    }


@action(
    blp,
    "/inspections",
    roles=(INSPECTOR, ADMIN),
    schema=InspectionIn,
    out=InspectionOut,
    status=201,
    location=inspection_location,
    responses={
        404: "not_found: no such household in this village",
        409: "already_inspected_today, household_inactive, or moved_out (from the day it left)",
        410: "revoked_qr: the card was reissued before inspected_at",
        422: "validation_error (inspected_at more than 5 minutes ahead), or too_late "
        "(inspected_at over 72 hours ago)",
    },
)
def create_inspection(scope: Scope, data: dict) -> InspectionResult:
    """Grade a household's sorting and credit its points by the rules.

    A grade given offline carries `inspected_at`, and the phone's `Idempotency-Key`
    made at the tap: the village day, the daily limit and the rules are those of
    that moment, and a queue sent twice credits once. Its photo goes up after the
    201, by `POST /api/v1/inspections/{id}/photo` with the id of the answer (the
    queue keeps the photo until then; the inspection counts without it).
    """
    (outcome,) = batch.credit_queue(scope.user, [data])  # a queue of one
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


@blp.post("/inspections/batch")
@role_required(INSPECTOR, ADMIN)
@blp.arguments(BatchIn())
@blp.response(200, BatchOut)
@begins_write
def create_inspections(args: dict) -> dict:
    """Send a queue of inspections at once: each item decided alone, in order.

    Each item is what `POST /api/v1/inspections` would take, with its
    `Idempotency-Key` as `key`, and gets what that request would have got: `status`
    201 with the `inspection`, or the `problem`. One item's refusal changes nothing
    for the others. An item's outcome is kept under its key exactly as the single
    request keeps it, so a key seen before (alone or in a batch) answers its first
    outcome again and credits nothing twice. A malformed body (not a list, over 100
    items, an item without a valid key) is refused whole, and nothing is done.
    Photos go up afterwards, one by one, with `POST /api/v1/inspections/{id}/photo`.
    """
    scope = current_scope()
    path = url_for("inspections_api.create_inspection")
    items = args["items"]
    try:
        # The items with new keys decided in order through credit_queue(), written at once.
        return run_write(
            lambda: {"items": batch.decide_all(scope, path, items, inspection_location)}
        )
    except IntegrityError:
        # A key was kept meanwhile by another request: each item alone, in a savepoint
        # of its own, one commit for all. A serialization failure runs the queue again.
        return run_write(
            lambda: {
                "items": batch.decide_each(
                    scope, path, items, create_inspection, inspection_location
                )
            }
        )


@blp.get("/inspections")
@role_required(*STAFF)
@blp.arguments(InspectionQuery(), location="query")
@blp.response(200, InspectionList)
def list_inspections(args):
    """The village's inspections, newest first, by date, grid, inspector or household."""
    day_from, day_to = args.get("date_from"), args.get("date_to")
    if args.get("date"):
        day_from = day_to = args["date"]
    rows, total = services.list_inspections(
        current_scope().village_id,
        day_from=day_from,
        day_to=day_to,
        grid_id=args.get("grid_id"),
        inspector_id=args.get("inspector_id"),
        household_id=args.get("household_id"),
        limit=args["limit"],
        offset=args["offset"],
    )
    known = codes_and_balances(i.household_id for i in rows)
    items = [InspectionResult(i, *known[i.household_id]) for i in rows]
    return {"items": items, "total": total}


@blp.get("/inspections/<id:inspection_id>")
@role_required(*STAFF)
@blp.response(200, InspectionOut)
def get_inspection(inspection_id: int):
    """One inspection."""
    return with_balance(services.get_inspection(current_scope().village_id, inspection_id))


def undo_window_doc(func: Callable) -> Callable:
    """Add the inspector's undo window, from its constant, to an action's OpenAPI text."""
    func.__doc__ = (func.__doc__ or "").rstrip() + (
        f"\n\nThe inspector who gave the grade may do it within {services.UNDO_MINUTES} "
        "minutes of its inspected_at (UNDO_MINUTES in app/inspections/services.py); "
        "another inspector's grade answers 403 not_own_inspection, a later try 403 "
        "undo_window_closed, and then only the admin voids it."
    )
    return func


@action(
    blp,
    "/inspections/<id:inspection_id>/void",
    roles=(INSPECTOR, ADMIN),
    schema=VoidIn,
    out=InspectionOut,
    responses={
        403: "not_own_inspection, or undo_window_closed (an inspector's undo)",
        409: "already_reversed, or insufficient_points if spent",
    },
)
@undo_window_doc
def void_inspection(scope: Scope, data: dict, inspection_id: int) -> InspectionResult:
    """Void an inspection and take its points back, with its reason (audited).

    The admin voids any inspection of the village. An inspector undoes a mis-tapped
    grade of his own through this same void, the same ledger reversal.
    """
    inspection = services.get_inspection(scope.village_id, inspection_id)
    if scope.user.role == INSPECTOR:
        services.check_own_recent(inspection, scope.user)
    return with_balance(
        services.void_inspection(inspection, actor=scope.user, reason=data["reason"])
    )


@action(
    blp,
    "/inspections/<id:inspection_id>/note",
    roles=(INSPECTOR, ADMIN),
    schema=NoteIn,
    out=InspectionOut,
    responses={
        403: "not_own_inspection, or undo_window_closed",
        409: "already_reversed: the inspection was voided",
    },
)
@undo_window_doc
def note_inspection(scope: Scope, data: dict, inspection_id: int) -> InspectionResult:
    """Add or change the note of a grade after it was given (an empty note removes it).

    As a photo can follow the grade, so can its note, shown to the household on its own
    page (never at the door); audited.
    """
    inspection = services.get_inspection(scope.village_id, inspection_id)
    return with_balance(services.set_note(inspection, actor=scope.user, note=data["note"]))


@action(
    blp,
    "/inspections/<id:inspection_id>/photo",
    roles=(INSPECTOR, ADMIN),
    schema=PhotoIn,
    out=InspectionOut,
    arguments_location="files",
)
def upload_photo(scope: Scope, files: dict, inspection_id: int) -> InspectionResult:
    """Attach a photo (JPEG or PNG) to an inspection; it is re-encoded without metadata."""
    inspection = services.get_inspection(scope.village_id, inspection_id)
    if scope.user.role == INSPECTOR and inspection.inspector_id != scope.user_id:
        raise Forbidden("Only the inspector who made it, or an admin, adds its photo.")
    inspection.photo = store_photo(files["photo"].read())
    db.session.flush()
    return with_balance(inspection)


@blp.get("/inspections/<id:inspection_id>/photo")
@role_required(*STAFF)
@blp.response(200, content_type="image/jpeg")
def get_photo(inspection_id: int):
    """An inspection's photo."""
    inspection = services.get_inspection(current_scope().village_id, inspection_id)
    if inspection.photo is None:
        raise NotFound("This inspection has no photo.")
    return photo_response(inspection.photo)
