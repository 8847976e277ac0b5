"""Redemptions API: goods for points at the counter, and cancellations."""

from flask import g, url_for
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, STAFF, STOREKEEPER
from app.db import db
from app.households.cards import household_by_ref
from app.households.models import Household
from app.households.services import households_by_id
from app.ledger.services import household_balance, household_balances
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


def redemption_out(
    redemption: Redemption,
    *,
    household: Household | None = None,
    current_balance: int | None = None,
    lines: list | None = None,
) -> dict:
    """The redemption as the API shows it.

    A list passes what it read for all its rows at once (household, balance, lines).
    """
    household = household or db.session.get(Household, redemption.household_id)
    if current_balance is None:
        current_balance = household_balance(redemption.household_id)
    return {
        "id": redemption.id,
        "receipt_no": redemption.receipt_no,
        "household_id": redemption.household_id,
        "household_code": household.code if household else None,
        "storekeeper_id": redemption.storekeeper_id,
        "total_points": redemption.total_points,
        "balance_before": redemption.balance_before,
        "balance": redemption.balance_after,
        "current_balance": current_balance,
        "transaction_id": redemption.journal_id,
        "lines": services.lines_of(redemption) if lines is None else lines,
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
@blp.alt_response(404, description="not_found: no such household in this village")
@blp.alt_response(
    409, description="insufficient_points, out_of_stock or household_inactive; nothing changed"
)
@blp.alt_response(410, description="revoked_qr: the card was reissued")
def create_redemption(args):
    """Trade a household's points for goods; points and stock go down together."""
    household = household_by_ref(g.user.village_id, args)
    redemption = services.redeem(
        household,
        g.user,
        [services.LineRequest(line["good_id"], line["quantity"]) for line in args["lines"]],
    )
    return (
        redemption_out(redemption, current_balance=redemption.balance_after),
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
    household_ids = {r.household_id for r in rows}
    households = households_by_id(household_ids)
    balances = household_balances(household_ids)
    lines = services.lines_for(r.id for r in rows)
    items = [
        redemption_out(
            r,
            household=households.get(r.household_id),
            current_balance=balances.get(r.household_id),
            lines=lines.get(r.id, []),
        )
        for r in rows
    ]
    return {"items": items, "total": total}


@blp.get("/<id:redemption_id>")
@role_required(*STAFF)
@blp.response(200, RedemptionOut)
def get_redemption(redemption_id: int):
    """One redemption, with its receipt number and lines."""
    return redemption_out(services.get_redemption(g.user.village_id, redemption_id))


@blp.post("/<id:redemption_id>/cancel")
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
