"""Ledger API: adjustments, a household's statement, verification."""

from flask import g
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, STAFF
from app.errors import NotFound
from app.households.services import get_household
from app.ledger import services
from app.ledger.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    StatementOut,
    StatementQuery,
    VerifyOut,
)
from app.writes import IDEMPOTENCY_DOC, write_endpoint

blp = Blueprint(
    "ledger_api", __name__, url_prefix="/api/v1", description="The points ledger (积分账本)."
)


@blp.post("/adjustments")
@role_required(ADMIN)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(AdjustmentIn)
@blp.response(201, AdjustmentOut)
@blp.alt_response(404, description="not_found: no such household in this village")
@blp.alt_response(409, description="insufficient_points: it would go below zero")
def create_adjustment(args):
    """Correct a household's points by hand, with a reason."""
    household = get_household(g.user.village_id, args["household_id"])
    journal = services.adjust(
        g.user.village_id, household.id, args["amount"], reason=args["reason"], actor_id=g.user.id
    )
    return {
        "transaction_id": journal.id,
        "household_id": household.id,
        "amount": args["amount"],
        "balance": services.household_balance(household.id),
        "reason": journal.reason,
        "created_at": journal.created_at,
    }


@blp.get("/households/<id:household_id>/ledger")
@role_required(*STAFF, HOUSEHOLD)
@blp.arguments(StatementQuery, location="query")
@blp.response(200, StatementOut)
def household_ledger(args, household_id: int):
    """A household's movements, newest first, with the balance after each."""
    user = g.user
    if user.role == HOUSEHOLD and user.household_id != household_id:
        raise NotFound("No such household.")
    household = get_household(user.village_id, household_id)
    account = services.household_account(household.id)
    lines = services.statement(
        account.id, limit=args["limit"], before_version=args.get("before_version")
    )
    more = len(lines) == args["limit"] and lines[-1].version > 1
    return {
        "items": lines,
        "balance": account.balance,
        "next_before_version": lines[-1].version if more else None,
    }


@blp.get("/ledger/verify")
@role_required(ADMIN)
@blp.response(200, VerifyOut)
def verify_ledger():
    """Check every ledger rule for the village."""
    from app.checks import verify_all

    return verify_all(g.user.village_id)
