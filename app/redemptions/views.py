"""The storekeeper's pages: scan a card or find the household, pick goods, confirm, print."""

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from app.actions import page_error, refused_to, whole
from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER, User
from app.catalogue.services import list_goods
from app.db import db
from app.errors import DomainError, IdempotencyConflict, InvalidQr, RevokedQr, refusal_message
from app.households.cards import resolve_card
from app.households.models import Household
from app.households.services import get_household, households_by_id, search_households
from app.ledger.expiry import expiring
from app.ledger.services import household_balance
from app.masking import mask_name, mask_phone
from app.redemptions import services
from app.redemptions.api import cancel_redemption, create_redemption
from app.schemas import MAX_INT
from app.scope import current_scope
from app.villages.models import Village
from app.writes import page_key, stored_outcomes

bp = Blueprint("shop", __name__)

BASKET_FIELDS = {"lines": _l("Goods"), "household_id": _l("Household")}
CANCEL_FIELDS = {"reason": _l("Reason")}
ALREADY_REDEEMED = _l(
    "This basket was redeemed already: here is its receipt. Nothing more was charged."
)
# A search shows this many households at most: more means the text is too vague.
FOUND_AT_MOST = 20


@bp.get("/find")
@role_required(STOREKEEPER, INSPECTOR, ADMIN)
def find():
    """Find a household without its card: by name, pinyin, code, phone or address."""
    scope = current_scope()
    q = request.args.get("q", "").strip()[:100]
    role = scope.user.role
    asked = request.args.get("for")
    if role == STOREKEEPER or (role == ADMIN and asked != "inspect"):
        purpose = "shop"
    else:
        purpose = "inspect"
    found, total = (
        search_households(scope.village_id, q=q, per_page=FOUND_AT_MOST) if q else ([], 0)
    )
    return render_template(
        "shop/find.html",
        search_q=q,
        purpose=purpose,
        found=[household for household, _balance in found],
        total=total,
        at_most=FOUND_AT_MOST,
        mask_phone=mask_phone,
    )


@bp.get("/shop")
@role_required(STOREKEEPER, ADMIN)
def counter():
    """Scan the household's card at the counter."""
    recent, _total = services.list_redemptions(current_scope().village_id, limit=10)
    households = households_by_id({r.household_id for r in recent})
    return render_template(
        "shop/counter.html",
        error=request.args.get("error"),
        recent=recent,
        households=households,
        mask_name=mask_name,
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
    chosen: Mapping[int, int] | None = None,
    found_by: str = "card",
    spent_key: str | None = None,
):
    """The basket; spent_key names a form key whose outcome is kept, never to be sent again."""
    scope = current_scope()
    return render_template(
        "shop/basket.html",
        household=household,
        goods=list_goods(scope.village_id),
        balance=household_balance(household.id),
        expiring=expiring(household.id, scope.today()),
        message=message,
        chosen=chosen or {},
        found_by=found_by,
        spent_key=spent_key,
    ), status


def _found_by(values: Mapping[str, str]) -> str:
    return "search" if values.get("found_by") == "search" else "card"


def _refusal_text(code: str | None, household: Household, chosen: Mapping[int, int]) -> str | None:
    """Say what a refusal means for this basket: which good is short, by how many points.

    Worked out again from the basket and today's shelf and balance (never from text
    in the address), so the storekeeper sees what to take off.
    """
    general = refusal_message(code)
    if code not in ("insufficient_points", "out_of_stock") or not chosen:
        return general
    goods = {good.id: good for good in list_goods(household.village_id) if good.id in chosen}
    if code == "out_of_stock":
        short = [
            _("%(name)s: only %(n)d %(unit)s left", name=good.name, n=good.stock, unit=good.unit)
            for good_id, good in goods.items()
            if chosen[good_id] > good.stock
        ]
        return _("Not enough in stock: %(goods)s", goods="; ".join(short)) if short else general
    total = sum(good.price_points * chosen[good_id] for good_id, good in goods.items())
    shortfall = total - household_balance(household.id)
    if shortfall <= 0:
        return general
    return _("Not enough points: %(n)d more points needed.", n=shortfall)


def _quantities(values: Mapping[str, str]) -> dict[int, int]:
    """The basket's quantities by good, from its qty-<good id> fields."""
    chosen = {}
    for name, value in values.items():
        good_id = whole(name[4:]) if name.startswith("qty-") else None
        quantity = whole(value)
        # An id beyond the database's integers names no good (and would not bind).
        if isinstance(good_id, int) and 0 < good_id <= MAX_INT and isinstance(quantity, int):
            if quantity > 0:
                chosen[good_id] = min(quantity, services.MAX_QUANTITY)
    return dict(list(chosen.items())[: services.MAX_LINES])


@bp.get("/shop/household/<id:household_id>")
@role_required(STOREKEEPER, ADMIN)
def basket(household_id: int):
    """The household, its balance, and the goods to pick with + and −."""
    household = get_household(current_scope().village_id, household_id)
    chosen = _quantities(request.args)
    refused = request.args.get("refused")
    return _basket_page(
        household,
        message=_refusal_text(refused, household, chosen),
        chosen=chosen,
        found_by=_found_by(request.args),
        spent_key=request.args.get("basket", "")[:64] if refused else None,
    )


def _back_to_basket(household_id: int, chosen: Mapping[int, int], found_by: str, key: str):
    """A refused() that opens the basket again as it was, naming the refusal and its key."""

    def respond(error: DomainError):
        kept: dict[str, Any] = {f"qty-{good_id}": quantity for good_id, quantity in chosen.items()}
        if found_by != "card":
            kept["found_by"] = found_by
        return redirect(
            url_for(
                "shop.basket", household_id=household_id, refused=error.code, basket=key, **kept
            )
        )

    return respond


def _kept_receipt(key: str) -> str | None:
    """The receipt a basket's key already made (its kept answer points there), if any."""
    full_key = page_key(key)
    if full_key is None:
        return None
    kept = stored_outcomes(current_scope().village_id, [full_key]).get(full_key)
    if kept is None or not kept.location:
        return None
    path, _sep, query = kept.location.partition("?")
    try:
        endpoint, _values = current_app.url_map.bind("").match(path, method="GET")
    except HTTPException:
        return None
    return f"{path}?{query}&already=1" if endpoint == "shop.receipt" else None


@bp.post("/shop/household/<id:household_id>")
@role_required(STOREKEEPER, ADMIN)
def confirm(household_id: int):
    """Redeem the chosen goods. The form's key makes a resent form count once."""
    household = get_household(current_scope().village_id, household_id)
    chosen = _quantities(request.form)
    found_by = _found_by(request.form)
    if not chosen:
        return _basket_page(
            household, message=_("Choose at least one good."), status=422, found_by=found_by
        )
    lines = [{"good_id": good_id, "quantity": quantity} for good_id, quantity in chosen.items()]
    key = request.form.get("key", "")

    def invalid(error: DomainError):
        # The basket's key made a redemption already, of other goods (changed after a lost
        # answer): show what it made; the changes were not charged.
        made = _kept_receipt(key) if isinstance(error, IdempotencyConflict) else None
        if made is not None:
            return redirect(made)
        return _basket_page(
            household,
            message=page_error(error, BASKET_FIELDS),
            status=error.status,
            chosen=chosen,
            found_by=found_by,
            spent_key=key if isinstance(error, IdempotencyConflict) else None,
        )

    return create_redemption.submit(
        {"household_id": str(household_id), "lines": lines, "found_by": found_by},
        key=key,
        done=lambda result: redirect(
            url_for("shop.receipt", redemption_id=result.redemption.id, basket=key)
        ),
        refused=_back_to_basket(household_id, chosen, found_by, key),
        invalid=invalid,
    )


def _receipt_page(redemption_id: int, *, message: str | None = None, status: int = 200):
    redemption = services.get_redemption(current_scope().village_id, redemption_id)
    household = db.session.get(Household, redemption.household_id)
    return render_template(
        "shop/receipt.html",
        redemption=redemption,
        household=household,
        village=db.session.get(Village, redemption.village_id),
        storekeeper=db.session.get(User, redemption.storekeeper_id),
        lines=services.lines_of(redemption),
        paper="a4" if request.args.get("paper") == "a4" else "58",
        reprint=request.args.get("print") == "1",
        masked=mask_name(household.name) if household else "",
        message=message,
        basket_key=request.args.get("basket", "")[:64],
    ), status


@bp.get("/shop/receipts/<id:redemption_id>")
@role_required(STOREKEEPER, ADMIN)
def receipt(redemption_id: int):
    """The receipt: prints on a 58 mm thermal printer and on A4."""
    if request.args.get("already"):
        message: str | None = str(ALREADY_REDEEMED)
    else:
        message = refusal_message(request.args.get("refused"))
    return _receipt_page(redemption_id, message=message)


@bp.post("/shop/receipts/<id:redemption_id>/cancel")
@role_required(STOREKEEPER, ADMIN)
def cancel(redemption_id: int):
    """Cancel a redemption: points back, stock back."""
    back = url_for("shop.receipt", redemption_id=redemption_id)
    return cancel_redemption.submit(
        request.form,
        key=request.form.get("key"),
        done=lambda _result: redirect(back),
        refused=refused_to("shop.receipt", redemption_id=redemption_id),
        invalid=lambda error: _receipt_page(
            redemption_id, message=page_error(error, CANCEL_FIELDS), status=error.status
        ),
        redemption_id=redemption_id,
    )
