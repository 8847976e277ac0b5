"""Ledger API: adjustments and a household's statement (app/checks.py serves verification)."""

from flask import g
from flask_smorest import Blueprint

from app.actions import action, reading
from app.auth.models import ADMIN, HOUSEHOLD, STAFF
from app.errors import NotFound
from app.ledger import approvals, reads, services
from app.ledger.models import PENDING, PendingAdjustment
from app.ledger.schemas import (
    AdjustmentIn,
    AdjustmentList,
    AdjustmentOut,
    AdjustmentQuery,
    NoFields,
    PendingAdjustmentOut,
    RejectIn,
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
    status_of=lambda result: 202 if result.get("state") == PENDING else 201,
    responses={
        202: "pending: more than the rules' adjustment_approval_over; "
        "nothing moves until another admin approves it",
        404: "not_found: no such household in this village",
        409: "insufficient_points: it would go below zero",
    },
)
def create_adjustment(scope: Scope, data: dict) -> dict:
    """Correct a household's points by hand, with a reason.

    An adjustment of more points than the rules' `adjustment_approval_over` (either
    way) answers 202 `{"id", "state": "pending"}` and waits for another admin.
    """
    household_id = data["household_id"]
    if approvals.needs_approval(scope.village_id, data["amount"]):
        pending = approvals.request(
            scope.village_id,
            household_id,
            data["amount"],
            reason=data["reason"],
            actor_id=scope.user_id,
        )
        return pending_out(pending)
    journal = services.adjust(
        scope.village_id,
        household_id,
        data["amount"],
        reason=data["reason"],
        actor_id=scope.user_id,
    )
    return posted_out(journal, household_id, data["amount"])


def posted_out(journal: services.Posted, household_id: int, amount: int) -> dict:
    return {
        "transaction_id": journal.id,
        "household_id": household_id,
        "amount": amount,
        "balance": reads.household_balance(household_id),
        "reason": journal.reason,
        "created_at": journal.created_at,
    }


def pending_out(pending: PendingAdjustment) -> dict:
    return {
        "id": pending.id,
        "state": pending.state,
        "household_id": pending.household_id,
        "amount": pending.amount,
        "reason": pending.reason,
        "requested_by": pending.requested_by,
        "created_at": pending.created_at,
        "decided_by": pending.decided_by,
        "decided_at": pending.decided_at,
        "reject_reason": pending.reject_reason,
        "transaction_id": pending.journal_id,
    }


@reading(
    blp,
    "/adjustments",
    roles=(ADMIN,),
    query=AdjustmentQuery,
    out=AdjustmentList,
)
def list_adjustments(args):
    """Adjustments that wait (or waited) for a second admin, newest first."""
    rows = approvals.list_adjustments(g.user.village_id, args.get("state"))
    return {"items": [pending_out(p) for p in rows]}


@action(
    blp,
    "/adjustments/<id:adjustment_id>/approve",
    roles=(ADMIN,),
    schema=NoFields,
    out=AdjustmentOut,
    status=201,
    responses={
        403: "same_person: the admin who asked for it may not approve it",
        404: "not_found: no such adjustment in this village",
        409: "invalid_transition: already decided; insufficient_points",
    },
)
def approve_adjustment(scope: Scope, data: dict, adjustment_id: int) -> dict:
    """Post a pending adjustment: another admin than the one who asked for it."""
    journal = approvals.approve(scope.village_id, adjustment_id, actor_id=scope.user_id)
    pending = approvals.get_pending(scope.village_id, adjustment_id)
    return {
        **posted_out(journal, pending.household_id, pending.amount),
        "id": pending.id,
        "state": pending.state,
    }


@action(
    blp,
    "/adjustments/<id:adjustment_id>/reject",
    roles=(ADMIN,),
    schema=RejectIn,
    out=PendingAdjustmentOut,
    status=200,
    responses={
        403: "same_person: the admin who asked for it may not reject it",
        404: "not_found: no such adjustment in this village",
        409: "invalid_transition: already decided",
    },
)
def reject_adjustment(scope: Scope, data: dict, adjustment_id: int) -> dict:
    """Refuse a pending adjustment, with a reason: nothing moves."""
    pending = approvals.reject(
        scope.village_id, adjustment_id, actor_id=scope.user_id, reason=data["reason"]
    )
    return pending_out(pending)


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
