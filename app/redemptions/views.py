"""The storekeeper's pages: scan a card, pick goods, confirm, print the receipt."""

import uuid

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.actions import page_error, refused_to, whole
from app.auth.decorators import role_required
from app.auth.models import ADMIN, STOREKEEPER, User
from app.catalogue.services import list_goods
from app.db import db
from app.errors import DomainError, InvalidQr, RevokedQr, refusal_message
from app.households.cards import resolve_card
from app.households.models import Household
from app.households.services import get_household, households_by_id
from app.ledger.services import household_balance
from app.redemptions import services
from app.redemptions.api import cancel_redemption, create_redemption
from app.schemas import MAX_INT
from app.scope import current_scope
from app.villages.models import Village

bp = Blueprint("shop", __name__)

BASKET_FIELDS = {"lines": _l("Goods"), "household_id": _l("Household")}
CANCEL_FIELDS = {"reason": _l("Reason")}


@bp.get("/shop")
@role_required(STOREKEEPER, ADMIN)
def counter():
    """Scan the household's card at the counter."""
    recent, _total = services.list_redemptions(current_scope().village_id, limit=10)
    households = households_by_id({r.household_id for r in recent})
    return render_template(
        "shop/counter.html", error=request.args.get("error"), recent=recent, households=households
    )


@bp.get("/shop/card")
@role_required(STOREKEEPER, ADMIN)
def scanned():
    """Open the basket for a scanned card."""
    payload = request.args.get("payload", "")[:2000]
    try:
        household = resolve_card(payload, current_scope().village_id)
    except RevokedQr:
        return redirect(url_for("shop.counter", error="revoked"))
    except InvalidQr:
        return redirect(url_for("shop.counter", error="invalid"))
    return redirect(url_for("shop.basket", household_id=household.id))


def _basket_page(
    household: Household,
    *,
    message: str | None = None,
    status: int = 200,
    chosen: dict[int, int] | None = None,
):
    return render_template(
        "shop/basket.html",
        household=household,
        goods=list_goods(current_scope().village_id),
        balance=household_balance(household.id),
        key=uuid.uuid4().hex,
        message=message,
        chosen=chosen or {},
    ), status


@bp.get("/shop/household/<id:household_id>")
@role_required(STOREKEEPER, ADMIN)
def basket(household_id: int):
    """The household, its balance, and the goods to pick with + and −."""
    household = get_household(current_scope().village_id, household_id)
    return _basket_page(household, message=refusal_message(request.args.get("refused")))


def _chosen_quantities() -> dict[int, int]:
    """The basket's quantities by good, from its qty-<good id> fields."""
    chosen = {}
    for name, value in request.form.items():
        good_id = whole(name[4:]) if name.startswith("qty-") else None
        quantity = whole(value)
        # An id beyond the database's integers names no good (and would not bind).
        if isinstance(good_id, int) and 0 < good_id <= MAX_INT and isinstance(quantity, int):
            if quantity > 0:
                chosen[good_id] = min(quantity, services.MAX_QUANTITY)
    return chosen


@bp.post("/shop/household/<id:household_id>")
@role_required(STOREKEEPER, ADMIN)
def confirm(household_id: int):
    """Redeem the chosen goods. The form's key makes a resent form count once."""
    household = get_household(current_scope().village_id, household_id)
    chosen = _chosen_quantities()
    if not chosen:
        return _basket_page(household, message=_("Choose at least one good."), status=422)
    lines = [{"good_id": good_id, "quantity": quantity} for good_id, quantity in chosen.items()]
    try:
        return create_redemption.submit(
            {"household_id": str(household_id), "lines": lines},
            key=request.form.get("key"),
            done=lambda result: redirect(
                url_for("shop.receipt", redemption_id=result.redemption.id)
            ),
            refused=refused_to("shop.basket", household_id=household_id),
        )
    except DomainError as error:
        if error.status >= 500:
            raise
        return _basket_page(
            household,
            message=page_error(error, BASKET_FIELDS),
            status=error.status,
            chosen=chosen,
        )


def _receipt_page(redemption_id: int, *, message: str | None = None, status: int = 200):
    redemption = services.get_redemption(current_scope().village_id, redemption_id)
    return render_template(
        "shop/receipt.html",
        redemption=redemption,
        household=db.session.get(Household, redemption.household_id),
        village=db.session.get(Village, redemption.village_id),
        storekeeper=db.session.get(User, redemption.storekeeper_id),
        lines=services.lines_of(redemption),
        paper=request.args.get("paper", "58"),
        key=uuid.uuid4().hex,
        message=message,
    ), status


@bp.get("/shop/receipts/<id:redemption_id>")
@role_required(STOREKEEPER, ADMIN)
def receipt(redemption_id: int):
    """The receipt: prints on a 58 mm thermal printer and on A4."""
    return _receipt_page(redemption_id, message=refusal_message(request.args.get("refused")))


@bp.post("/shop/receipts/<id:redemption_id>/cancel")
@role_required(STOREKEEPER, ADMIN)
def cancel(redemption_id: int):
    """Cancel a redemption: points back, stock back."""
    back = url_for("shop.receipt", redemption_id=redemption_id)
    try:
        return cancel_redemption.submit(
            request.form,
            key=request.form.get("key"),
            done=lambda _result: redirect(back),
            refused=refused_to("shop.receipt", redemption_id=redemption_id),
            redemption_id=redemption_id,
        )
    except DomainError as error:
        if error.status >= 500 or error.code == "not_found":
            raise
        return _receipt_page(
            redemption_id, message=page_error(error, CANCEL_FIELDS), status=error.status
        )
