"""The storekeeper's pages: scan a card, pick goods, confirm, print the receipt."""

import uuid

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.decorators import role_required
from app.auth.models import ADMIN, STOREKEEPER, User
from app.catalogue.services import list_goods
from app.db import db, run_write
from app.errors import DomainError, InvalidQr, RevokedQr, page_message
from app.households.cards import resolve_card
from app.households.models import Household
from app.households.services import get_household
from app.ledger.services import household_balance
from app.redemptions import services
from app.schemas import MAX_INT
from app.villages.models import Village
from app.writes import fingerprint, page_key, run_idempotent

bp = Blueprint("shop", __name__)

# Page keys share the idempotency table with API keys; the prefix keeps them apart,
# and prefix and key together must fit its column.

REFUSALS = {
    "insufficient_points": lambda: _("Not enough points for these goods."),
    "out_of_stock": lambda: _("Some of these goods are no longer in stock."),
    "household_inactive": lambda: _("This household has moved away."),
    "already_reversed": lambda: _("This receipt was already cancelled."),
}


@bp.get("/shop")
@role_required(STOREKEEPER, ADMIN)
def counter():
    """Scan the household's card at the counter."""
    recent, _total = services.list_redemptions(g.user.village_id, limit=10)
    households = {
        h.id: h
        for h in db.session.scalars(
            select(Household).where(Household.id.in_({r.household_id for r in recent}))
        )
    }
    return render_template(
        "shop/counter.html", error=request.args.get("error"), recent=recent, households=households
    )


@bp.get("/shop/card")
@role_required(STOREKEEPER, ADMIN)
def scanned():
    """Open the basket for a scanned card."""
    payload = request.args.get("payload", "")[:2000]
    try:
        household = resolve_card(payload, g.user.village_id)
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
        goods=list_goods(g.user.village_id),
        balance=household_balance(household.id),
        key=uuid.uuid4().hex,
        message=message,
        chosen=chosen or {},
    ), status


@bp.get("/shop/household/<id:household_id>")
@role_required(STOREKEEPER, ADMIN)
def basket(household_id: int):
    """The household, its balance, and the goods to pick with + and −."""
    household = get_household(g.user.village_id, household_id)
    refused = request.args.get("refused")
    return _basket_page(household, message=REFUSALS[refused]() if refused in REFUSALS else None)


def _whole(text: str) -> int | None:
    # str.isdigit() alone also accepts "²", which int() refuses.
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _chosen_quantities() -> dict[int, int]:
    chosen = {}
    for name, value in request.form.items():
        good_id = _whole(name[4:]) if name.startswith("qty-") else None
        quantity = _whole(value)
        # An id beyond the database's integers names no good (and would not bind).
        if good_id is not None and 0 < good_id <= MAX_INT and quantity:
            chosen[good_id] = min(quantity, services.MAX_QUANTITY)
    return chosen


@bp.post("/shop/household/<id:household_id>")
@role_required(STOREKEEPER, ADMIN)
def confirm(household_id: int):
    """Redeem the chosen goods. The form's key makes a resent form count once."""
    household = get_household(g.user.village_id, household_id)
    key = page_key(request.form.get("key", ""))
    chosen = _chosen_quantities()
    if key is None:
        return _basket_page(
            household, message=_("The form expired; please choose again."), status=400
        )
    if not chosen:
        return _basket_page(household, message=_("Choose at least one good."), status=422)
    user = g.user
    village_id = user.village_id
    lines = [services.LineRequest(good_id, quantity) for good_id, quantity in chosen.items()]

    def produce():
        target = get_household(village_id, household_id)
        redemption = services.redeem(target, user, lines)
        return redirect(url_for("shop.receipt", redemption_id=redemption.id))

    def refused(error: DomainError):
        return redirect(url_for("shop.basket", household_id=household_id, refused=error.code))

    try:
        return run_idempotent(
            village_id,
            key,
            fingerprint(
                b"redeem",
                str(user.id).encode(),
                str(household_id).encode(),
                repr(sorted(chosen.items())).encode(),
            ),
            produce,
            on_refusal=refused,
        )
    except DomainError as error:
        if error.status >= 500:
            raise
        return _basket_page(
            household, message=page_message(error), status=error.status, chosen=chosen
        )


@bp.get("/shop/receipts/<id:redemption_id>")
@role_required(STOREKEEPER, ADMIN)
def receipt(redemption_id: int):
    """The receipt: prints on a 58 mm thermal printer and on A4."""
    redemption = services.get_redemption(g.user.village_id, redemption_id)
    household = db.session.get(Household, redemption.household_id)
    village = db.session.get(Village, redemption.village_id)
    storekeeper = db.session.get(User, redemption.storekeeper_id)
    return render_template(
        "shop/receipt.html",
        redemption=redemption,
        household=household,
        village=village,
        storekeeper=storekeeper,
        lines=services.lines_of(redemption),
        paper=request.args.get("paper", "58"),
    )


@bp.post("/shop/receipts/<id:redemption_id>/cancel")
@role_required(STOREKEEPER, ADMIN)
def cancel(redemption_id: int):
    """Cancel a redemption: points back, stock back."""
    reason = request.form.get("reason", "").strip()[:500]
    if not reason:
        return redirect(url_for("shop.receipt", redemption_id=redemption_id))
    user = g.user

    def work():
        redemption = services.get_redemption(user.village_id, redemption_id)
        services.cancel(redemption, actor=user, reason=reason)

    try:
        run_write(work)
    except DomainError:
        pass  # already cancelled: the receipt shows it
    return redirect(url_for("shop.receipt", redemption_id=redemption_id))
