"""Redemptions API: goods for points at the counter, and cancellations."""

from flask import g, url_for
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, STAFF, STOREKEEPER
from app.db import db
from app.households.cards import household_by_ref
from app.households.models import Household
from app.ledger.services import household_account
from app.redemptions import services
from app.redemptions.models import Redemption
from app.redemptions.schemas import (
    CancelIn,
    RedemptionIn,
    RedemptionList,
    RedemptionOut,
    RedemptionQuery,
)
from app.writes import IDEMPOTENCY_DOC, write_endpoint

blp = Blueprint(
    "redemptions_api",
    __name__,
    url_prefix="/api/v1/redemptions",
    description="Redemptions (兑换) at the points shop's counter.",
)


def redemption_out(redemption: Redemption) -> dict:
    household = db.session.get(Household, redemption.household_id)
    return {
        "id": redemption.id,
        "receipt_no": redemption.receipt_no,
        "household_id": redemption.household_id,
        "household_code": household.code if household else None,
        "storekeeper_id": redemption.storekeeper_id,
        "total_points": redemption.total_points,
        "balance_before": redemption.balance_before,
        "balance": redemption.balance_after,
        "current_balance": household_account(redemption.household_id).balance,
        "transaction_id": redemption.journal_id,
        "lines": services.lines_of(redemption),
        "created_at": redemption.created_at,
        "cancelled": redemption.cancelled_at is not None,
        "cancel_reason": redemption.cancel_reason,
    }


@blp.post("")
@role_required(STOREKEEPER, ADMIN)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(RedemptionIn)
@blp.response(201, RedemptionOut)
@blp.alt_response(409, description="insufficient_points or out_of_stock; nothing changed")
def create_redemption(args):
    """Trade a household's points for goods; points and stock go down together."""
    household = household_by_ref(g.user.village_id, args)
    redemption = services.redeem(
        household,
        g.user,
        [services.LineRequest(line["good_id"], line["quantity"]) for line in args["lines"]],
    )
    return (
        redemption_out(redemption),
        201,
        {"Location": url_for("redemptions_api.get_redemption", redemption_id=redemption.id)},
    )


@blp.get("")
@role_required(*STAFF)
@blp.arguments(RedemptionQuery, location="query")
@blp.response(200, RedemptionList)
def list_redemptions(args):
    """The village's redemptions, newest first."""
    rows, total = services.list_redemptions(
        g.user.village_id,
        household_id=args.get("household_id"),
        limit=args["limit"],
        offset=args["offset"],
    )
    return {"items": [redemption_out(r) for r in rows], "total": total}


@blp.get("/<int:redemption_id>")
@role_required(*STAFF)
@blp.response(200, RedemptionOut)
def get_redemption(redemption_id: int):
    """One redemption, with its receipt number and lines."""
    return redemption_out(services.get_redemption(g.user.village_id, redemption_id))


@blp.post("/<int:redemption_id>/cancel")
@role_required(STOREKEEPER, ADMIN)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(CancelIn)
@blp.response(200, RedemptionOut)
@blp.alt_response(409, description="already_reversed: it was cancelled before")
def cancel_redemption(args, redemption_id: int):
    """Cancel a redemption: points back, stock back, once."""
    redemption = services.get_redemption(g.user.village_id, redemption_id)
    return redemption_out(services.cancel(redemption, actor=g.user, reason=args["reason"]))
