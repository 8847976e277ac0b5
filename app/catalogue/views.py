"""The catalogue and stock pages for admins and storekeepers.

Every form here is the API's action behind it: the same schema checks its fields
and the same function runs, once per form key (made when the page was shown), so a
resent restock, count or write-off moves the stock once.
"""

import io
import re
from collections.abc import Callable, Mapping

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.actions import Action, FormInvalid, form_error_text, page_error, redirect_to, refused_to
from app.auth.decorators import role_required
from app.auth.models import ADMIN, STOREKEEPER, User
from app.catalogue import services
from app.catalogue.api import (
    create_good,
    restock,
    stocktake,
    update_good,
    upload_picture,
    write_off,
)
from app.catalogue.labels import movement_kind_label, yuan
from app.catalogue.models import Good
from app.db import db
from app.errors import DomainError, NotFound, ValidationFailed, refusal_message
from app.scope import current_scope

bp = Blueprint("catalogue", __name__)

# The forms of the stock page, by the last part of their URL.
STOCK_ACTIONS: dict[str, Action] = {
    "restock": restock,
    "stocktake": stocktake,
    "writeoff": write_off,
    "active": update_good,
    "edit": update_good,
}

GOOD_FIELDS = {
    "name": _l("Name"),
    "unit": _l("Unit"),
    "price_points": _l("Price in points"),
    "stock": _l("Stock"),
    "category": _l("Category"),
    "low_stock": _l("Low-stock mark"),
    "supplier": _l("Supplier"),
    "cost_cents": _l("Cost of one unit (yuan)"),
    "picture": _l("Picture"),
}
STOCK_FIELDS = {
    "restock": {
        "quantity": _l("Units delivered"),
        "supplier": _l("Supplier"),
        "note": _l("Note"),
        "unit_cost_cents": _l("Cost of one unit (yuan)"),
    },
    "stocktake": {"counted": _l("Units counted on the shelf"), "reason": _l("Reason")},
    "writeoff": {"quantity": _l("Damaged or expired units"), "reason": _l("Reason")},
    "active": {"active": _l("On sale")},
    "edit": GOOD_FIELDS,
}
# The form fields typed in yuan, and the action's fields in fen they become.
YUAN_FIELDS = {"cost_yuan": "cost_cents", "unit_cost_yuan": "unit_cost_cents"}
YUAN = re.compile(r"([0-9]{1,6})(?:[.。]([0-9]{0,2}))?")
NOT_YUAN = _l("Enter an amount in yuan, such as 3.50.")
# Where a price or cost came from, on the good's page.
PRICE_SOURCES = {
    "created": _l("Added to the catalogue"),
    "edited": _l("Edited"),
    "restock": _l("Restock with a unit cost"),
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


def in_fen(form: Mapping[str, str]) -> dict[str, str]:
    """The form with its yuan fields as the action's fen fields ("3.5" becomes "350").

    An amount that is not yuan is refused with its field named, before the action runs.
    """
    fields = {name: value for name, value in form.items() if name not in YUAN_FIELDS}
    for typed, field in YUAN_FIELDS.items():
        text = (form.get(typed) or "").strip()
        if not text:
            continue
        match = YUAN.fullmatch(text)
        if match is None:
            raise FormInvalid({field: [str(NOT_YUAN)]})
        whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
        fields[field] = str(int(whole) * 100 + int(cents))
    return fields


def _message(error: DomainError, labels: Mapping[str, object]) -> str:
    """What a page says about a refused form: the fields to check, translated."""
    errors = error.extra.get("errors")
    if getattr(error, "page_text", None) is not None:  # a picture refused: it says why
        return page_error(error)
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


def _picture() -> bytes:
    """The picture the form uploaded, if any."""
    upload = request.files.get("picture")
    return upload.read() if upload is not None and upload.filename else b""


def _with_picture(picture: bytes) -> Callable[[Good], None]:
    """Give the good the uploaded picture through the API's action, in the same transaction."""

    def store(good: Good) -> None:
        if picture:
            upload_picture(current_scope(), {"picture": io.BytesIO(picture)}, good_id=good.id)

    return store


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

    def invalid(error: DomainError):
        return _goods_page(message=_message(error, GOOD_FIELDS), status=error.status)

    try:
        form = in_fen(request.form)
    except FormInvalid as error:
        return invalid(error)
    picture = _picture()
    store_picture = _with_picture(picture)

    def done(good: Good):
        store_picture(good)
        return redirect_to("catalogue.goods", saved=1)(good)

    return create_good.submit(
        form,
        key=request.form.get("key"),
        done=done,
        refused=refused_to("catalogue.goods"),
        invalid=invalid,
        attachments=[picture],
    )


def _stock_page(good: Good, *, message: str | None = None, status: int = 200):
    prices = services.price_history(good)
    actors = {change.actor_id for change in prices if change.actor_id is not None}
    names = dict(
        db.session.execute(select(User.id, User.username).where(User.id.in_(actors))).all()
    )
    return render_template(
        "catalogue/stock.html",
        good=good,
        movements=services.movements(good, limit=200),
        movement_kind=movement_kind_label,
        prices=prices,
        price_source=lambda source: str(PRICE_SOURCES.get(source, source)),
        who=names,
        yuan=yuan,
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

    def invalid(error: DomainError):
        return _stock_page(good, message=_message(error, STOCK_FIELDS[action]), status=error.status)

    try:
        form: Mapping[str, str] = in_fen(request.form)
    except FormInvalid as error:
        return invalid(error)
    if action == "active":
        # The form names the state it asks for, so a resent form asks the same again;
        # one that names none turns the good over.
        wanted = form.get("active") or ("false" if good.active else "true")
        form = {"active": wanted}
    picture = _picture() if action == "edit" else b""
    store_picture = _with_picture(picture)

    def done(changed: Good):
        store_picture(changed)
        return redirect_to("catalogue.stock", good_id=good_id, saved=1)(changed)

    return the_action.submit(
        form,
        key=request.form.get("key"),
        done=done,
        refused=refused_to("catalogue.stock", good_id=good_id),
        invalid=invalid,
        attachments=[picture],
        good_id=good_id,
    )
