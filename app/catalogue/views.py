"""The catalogue and stock pages for admins and storekeepers."""

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.decorators import role_required
from app.auth.models import ADMIN, STOREKEEPER
from app.catalogue import services
from app.catalogue.services import MAX_PRICE, MAX_STOCK
from app.db import run_write
from app.errors import DomainError, page_message

bp = Blueprint("catalogue", __name__)

MOVEMENT_KINDS = {
    "restock": _l("Restock"),
    "redemption": _l("Redeemed"),
    "cancel": _l("Redemption cancelled"),
    "stocktake": _l("Stocktake"),
    "writeoff": _l("Written off"),
}


def _whole(value: str | None, low: int, high: int) -> int | None:
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if low <= number <= high else None


def _text(name: str, limit: int) -> str:
    value = request.form.get(name, "").strip()
    return value if len(value) <= limit and value.isprintable() else ""


@bp.route("/admin/goods", methods=["GET", "POST"])
@role_required(ADMIN, STOREKEEPER)
def goods():
    """The catalogue with low-stock warnings, and a form to add a good."""
    message = None
    status = 200
    if request.method == "POST":
        name, unit = _text("name", 100), _text("unit", 20)
        price = _whole(request.form.get("price_points"), 1, MAX_PRICE)
        stock = _whole(request.form.get("stock") or "0", 0, MAX_STOCK)
        category = _text("category", 50) or None
        if not name or not unit or price is None or stock is None:
            message, status = (
                _("Enter a name, a unit, a price of at least 1 point and a stock of 0 or more."),
                422,
            )
        else:
            user = g.user
            try:
                run_write(
                    lambda: services.create_good(
                        user.village_id,
                        name=name,
                        unit=unit,
                        price_points=price,
                        stock=stock,
                        category=category,
                        actor_id=user.id,
                    )
                )
                return redirect(url_for("catalogue.goods"))
            except DomainError as error:
                message, status = page_message(error), error.status
    items = services.list_goods(g.user.village_id, active_only=False)
    return render_template(
        "catalogue/goods.html",
        goods=items,
        message=message,
        low=[good for good in items if good.active and good.stock <= good.low_stock],
    ), status


@bp.get("/admin/goods/<id:good_id>")
@role_required(ADMIN, STOREKEEPER)
def stock(good_id: int):
    """A good's stock and every movement, with restock, stocktake and write-off forms."""
    good = services.get_good(g.user.village_id, good_id)
    return render_template(
        "catalogue/stock.html",
        good=good,
        movements=services.movements(good, limit=200),
        movement_kinds=MOVEMENT_KINDS,
        message=request.args.get("message"),
    )


@bp.post("/admin/goods/<id:good_id>/<action>")
@role_required(ADMIN, STOREKEEPER)
def stock_action(good_id: int, action: str):
    """Restock, count, or write off units of a good."""
    user = g.user
    quantity = _whole(request.form.get("quantity"), 0, MAX_STOCK)
    reason = _text("reason", 500)
    supplier = _text("supplier", 100) or None

    def work():
        good = services.get_good(user.village_id, good_id)
        if action == "restock" and quantity:
            services.restock(
                good, quantity, note=reason or None, supplier=supplier, actor_id=user.id
            )
        elif action == "stocktake" and quantity is not None and reason:
            services.stocktake(good, quantity, reason=reason, actor_id=user.id)
        elif action == "writeoff" and quantity and reason:
            services.write_off(good, quantity, reason=reason, actor_id=user.id)
        elif action == "active":
            services.update_good(good, {"active": not good.active}, actor_id=user.id)
        else:
            raise _Incomplete()

    try:
        run_write(work)
    except _Incomplete:
        return redirect(url_for("catalogue.stock", good_id=good_id, message="incomplete"))
    except DomainError as error:
        return redirect(url_for("catalogue.stock", good_id=good_id, message=error.code))
    return redirect(url_for("catalogue.stock", good_id=good_id, message="saved"))


class _Incomplete(Exception):
    """The form lacks a quantity or a reason."""
