"""Ledger API: adjustments and a household's statement (app/checks.py serves verification)."""

from flask import g
from flask_smorest import Blueprint

from app.actions import action, reading
from app.auth.models import ADMIN, HOUSEHOLD, STAFF
from app.errors import NotFound
from app.ledger import reads, services
from app.ledger.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    StatementOut,
    StatementQuery,
)
from app.scope import Scope

blp = Blueprint(
    "ledger_api", __name__, url_prefix="/api/v1", description="The points ledger (积分账本)."
)


@action(
    blp,
    "/adjustments",
    roles=(ADMIN,),
    schema=AdjustmentIn,
    out=AdjustmentOut,
    status=201,
    responses={
        404: "not_found: no such household in this village",
        409: "insufficient_points: it would go below zero",
    },
)
def create_adjustment(scope: Scope, data: dict) -> dict:
    """Correct a household's points by hand, with a reason."""
    household_id = data["household_id"]
    journal = services.adjust(
        scope.village_id,
        household_id,
        data["amount"],
        reason=data["reason"],
        actor_id=scope.user_id,
    )
    return {
        "transaction_id": journal.id,
        "household_id": household_id,
        "amount": data["amount"],
        "balance": reads.household_balance(household_id),
        "reason": journal.reason,
        "created_at": journal.created_at,
    }


@reading(
    blp,
    "/households/<id:household_id>/ledger",
    roles=(*STAFF, HOUSEHOLD),
    query=StatementQuery,
    out=StatementOut,
)
def household_ledger(args, household_id: int):
    """A household's movements, newest first, with the balance after each."""
    user = g.user
    if user.role == HOUSEHOLD and user.household_id != household_id:
        raise NotFound("No such household.")
    account = reads.household_account(household_id)
    if account.village_id != user.village_id:
        raise NotFound("No such household.")
    lines = reads.statement(
        account.id, limit=args["limit"], before_version=args.get("before_version")
    )
    more = len(lines) == args["limit"] and lines[-1].version > 1
    return {
        "items": lines,
        "balance": account.balance,
        "next_before_version": lines[-1].version if more else None,
    }
