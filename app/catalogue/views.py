"""The catalogue and stock pages for admins and storekeepers.

Every form here is the API's action behind it: the same schema checks its fields
and the same function runs, once per form key (made when the page was shown), so a
resent restock, count or write-off moves the stock once.
"""

from collections.abc import Mapping

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from app.actions import Action, FormInvalid, form_error_text, page_error, redirect_to, refused_to
from app.auth.decorators import role_required
from app.auth.models import ADMIN, STOREKEEPER
from app.catalogue import services
from app.catalogue.api import create_good, restock, stocktake, update_good, write_off
from app.catalogue.labels import movement_kind_label
from app.catalogue.models import Good
from app.errors import DomainError, NotFound, ValidationFailed, refusal_message
from app.scope import current_scope

bp = Blueprint("catalogue", __name__)

# The forms of the stock page, by the last part of their URL.
STOCK_ACTIONS: dict[str, Action] = {
    "restock": restock,
    "stocktake": stocktake,
    "writeoff": write_off,
    "active": update_good,
}

GOOD_FIELDS = {
    "name": _l("Name"),
    "unit": _l("Unit"),
    "price_points": _l("Price in points"),
    "stock": _l("Stock"),
    "category": _l("Category"),
    "low_stock": _l("Low-stock mark"),
    "supplier": _l("Supplier"),
}
STOCK_FIELDS = {
    "restock": {
        "quantity": _l("Units delivered"),
        "supplier": _l("Supplier"),
        "note": _l("Note"),
    },
    "stocktake": {"counted": _l("Units counted on the shelf"), "reason": _l("Reason")},
    "writeoff": {"quantity": _l("Damaged or expired units"), "reason": _l("Reason")},
    "active": {"active": _l("On sale")},
}

# What the stock page says about a refusal, where it can say more than the shared text.
STOCK_REFUSALS = {"out_of_stock": _l("There are not that many on the shelf.")}

# The services' own field messages, in the reader's language.
SERVICE_MESSAGES = {
    "This name is taken.": _l("This name is taken."),
    f"Stock is at most {services.MAX_STOCK}.": _l(
        "The stock would be more than %(max)d.", max=services.MAX_STOCK
    ),
}


def _message(error: DomainError, labels: Mapping[str, object]) -> str:
    """What a page says about a refused form: the fields to check, translated."""
    errors = error.extra.get("errors")
    if isinstance(error, ValidationFailed) and not isinstance(error, FormInvalid) and errors:
        translated = {
            name: [str(SERVICE_MESSAGES.get(m, m)) for m in messages]
            for name, messages in errors.items()
        }
        return form_error_text(translated, {k: str(v) for k, v in labels.items()})
    return page_error(error, {k: str(v) for k, v in labels.items()})


def _refusal(code: str | None) -> str | None:
    """The text for a ?refused= code; only codes we know, never the query's own text."""
    known = STOCK_REFUSALS.get(code or "")
    return str(known) if known is not None else refusal_message(code)


def _goods_page(*, message: str | None = None, status: int = 200):
    items = services.list_goods(current_scope().village_id, active_only=False)
    return render_template(
        "catalogue/goods.html",
        goods=items,
        message=message or _refusal(request.args.get("refused")),
        saved=request.args.get("saved") == "1",
        low=[good for good in items if good.active and good.is_low],
    ), status


@bp.route("/admin/goods", methods=["GET", "POST"])
@role_required(ADMIN, STOREKEEPER)
def goods():
    """The catalogue with low-stock warnings, and a form to add a good."""
    if request.method == "GET":
        return _goods_page()
    return create_good.submit(
        request.form,
        key=request.form.get("key"),
        done=redirect_to("catalogue.goods", saved=1),
        refused=refused_to("catalogue.goods"),
        invalid=lambda error: _goods_page(
            message=_message(error, GOOD_FIELDS), status=error.status
        ),
    )


def _stock_page(good: Good, *, message: str | None = None, status: int = 200):
    return render_template(
        "catalogue/stock.html",
        good=good,
        movements=services.movements(good, limit=200),
        movement_kind=movement_kind_label,
        message=message or _refusal(request.args.get("refused")),
        saved=request.args.get("saved") == "1",
    ), status


@bp.get("/admin/goods/<id:good_id>")
@role_required(ADMIN, STOREKEEPER)
def stock(good_id: int):
    """A good's stock and every movement, with restock, stocktake and write-off forms."""
    return _stock_page(services.get_good(current_scope().village_id, good_id))


@bp.post("/admin/goods/<id:good_id>/<action>")
@role_required(ADMIN, STOREKEEPER)
def stock_action(good_id: int, action: str):
    """Restock, count, write off, or put on or off sale: the API's action, once per form."""
    the_action = STOCK_ACTIONS.get(action)
    if the_action is None:
        raise NotFound("No such form.")
    good = services.get_good(current_scope().village_id, good_id)
    form: Mapping[str, str] = request.form
    if action == "active":
        # The form names the state it asks for, so a resent form asks the same again;
        # one that names none turns the good over.
        wanted = form.get("active") or ("false" if good.active else "true")
        form = {"active": wanted}
    return the_action.submit(
        form,
        key=request.form.get("key"),
        done=redirect_to("catalogue.stock", good_id=good_id, saved=1),
        refused=refused_to("catalogue.stock", good_id=good_id),
        invalid=lambda error: _stock_page(
            good, message=_message(error, STOCK_FIELDS[action]), status=error.status
        ),
        good_id=good_id,
    )
