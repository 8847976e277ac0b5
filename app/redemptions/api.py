"""Redemptions API: goods for points at the counter, and cancellations."""

from flask_smorest import Blueprint

from app.actions import action, location_of
from app.auth.decorators import role_required
from app.auth.models import ADMIN, STAFF, STOREKEEPER
from app.db import db
from app.households.cards import household_by_ref
from app.households.models import Household
from app.households.services import codes_and_balances
from app.ledger.services import household_balance
from app.redemptions import services
from app.redemptions.models import Redemption
from app.redemptions.schemas import (
    CancelIn,
    RedemptionIn,
    RedemptionList,
    RedemptionOut,
    RedemptionQuery,
)
from app.scope import Scope, current_scope

blp = Blueprint(
    "redemptions_api",
    __name__,
    url_prefix="/api/v1/redemptions",
    description="Redemptions (兑换) at the points shop's counter.",
)


def read_back(redemption: Redemption) -> services.RedemptionResult:
    """A redemption read back, with its lines and the household's code and balance now."""
    household = db.session.get(Household, redemption.household_id)
    return services.RedemptionResult(
        redemption,
        household.code if household else None,
        household_balance(redemption.household_id),
        services.lines_of(redemption),
    )


@action(
    blp,
    "",
    roles=(STOREKEEPER, ADMIN),
    schema=RedemptionIn,
    out=RedemptionOut,
    status=201,
    location=location_of("redemptions_api.get_redemption", redemption_id="redemption.id"),
    responses={
        404: "not_found: no such household in this village",
        409: "insufficient_points (with required, balance and shortfall), out_of_stock (with "
        "good_id, name, unit, available and requested) or household_inactive; nothing changed",
        410: "revoked_qr: the card was reissued",
    },
)
def create_redemption(scope: Scope, data: dict) -> services.RedemptionResult:
    """Trade a household's points for goods; points and stock go down together."""
    household = household_by_ref(scope.village_id, data)
    return services.redeem_goods(
        household,
        scope.user,
        [services.LineRequest(line["good_id"], line["quantity"]) for line in data["lines"]],
        found_by="card" if "payload" in data else data["found_by"],
    )


@blp.get("")
@role_required(*STAFF)
@blp.arguments(RedemptionQuery(), location="query")
@blp.response(200, RedemptionList)
def list_redemptions(args):
    """The village's redemptions, newest first."""
    rows, total = services.list_redemptions(
        current_scope().village_id,
        household_id=args.get("household_id"),
        limit=args["limit"],
        offset=args["offset"],
    )
    known = codes_and_balances(r.household_id for r in rows)
    lines = services.lines_for(r.id for r in rows)
    items = [
        services.RedemptionResult(r, *known[r.household_id], lines.get(r.id, [])) for r in rows
    ]
    return {"items": items, "total": total}


@blp.get("/<id:redemption_id>")
@role_required(*STAFF)
@blp.response(200, RedemptionOut)
def get_redemption(redemption_id: int):
    """One redemption, with its receipt number and lines."""
    return read_back(services.get_redemption(current_scope().village_id, redemption_id))


@action(
    blp,
    "/<id:redemption_id>/cancel",
    roles=(STOREKEEPER, ADMIN),
    schema=CancelIn,
    out=RedemptionOut,
    responses={409: "already_reversed: it was cancelled before"},
)
def cancel_redemption(scope: Scope, data: dict, redemption_id: int) -> services.RedemptionResult:
    """Cancel a redemption: points back, stock back, once."""
    redemption = services.get_redemption(scope.village_id, redemption_id)
    return read_back(services.cancel(redemption, actor=scope.user, reason=data["reason"]))
