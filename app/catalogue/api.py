"""Catalogue API: goods, stock movements, pictures."""

from flask import g, url_for
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, ROLES, STAFF, STOREKEEPER
from app.catalogue import services
from app.catalogue.models import Good
from app.catalogue.schemas import (
    GoodIn,
    GoodList,
    GoodOut,
    GoodPatch,
    GoodsQuery,
    MovementList,
    PictureIn,
    RestockIn,
    StocktakeIn,
    WriteOffIn,
)
from app.db import db
from app.errors import NotFound
from app.photos import photo_response, store_photo
from app.writes import IDEMPOTENCY_DOC, write_endpoint

blp = Blueprint(
    "catalogue_api",
    __name__,
    url_prefix="/api/v1/goods",
    description="The points shop's catalogue (商品) and its stock.",
)
SHOPKEEPERS = (ADMIN, STOREKEEPER)


def good_out(good: Good) -> dict:
    return {
        "id": good.id,
        "name": good.name,
        "unit": good.unit,
        "category": good.category,
        "price_points": good.price_points,
        "stock": good.stock,
        "low_stock": good.low_stock,
        "is_low": good.stock <= good.low_stock,
        "active": good.active,
        "has_picture": good.picture is not None,
    }


def _fresh(good: Good) -> dict:
    db.session.refresh(good)
    return good_out(good)


@blp.get("")
@role_required(*ROLES)
@blp.arguments(GoodsQuery, location="query")
@blp.response(200, GoodList)
def list_goods(args):
    """The catalogue; admins and storekeepers may ask for inactive goods too."""
    include_all = args["all"] and g.user.role in SHOPKEEPERS
    return {
        "items": [
            good_out(good)
            for good in services.list_goods(g.user.village_id, active_only=not include_all)
        ]
    }


@blp.post("")
@role_required(*SHOPKEEPERS)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(GoodIn)
@blp.response(201, GoodOut)
def create_good(args):
    """Add a good; its opening stock is recorded as a restock."""
    good = services.create_good(g.user.village_id, actor_id=g.user.id, **args)
    return good_out(good), 201, {"Location": url_for("catalogue_api.get_good", good_id=good.id)}


@blp.get("/<id:good_id>")
@role_required(*ROLES)
@blp.response(200, GoodOut)
def get_good(good_id: int):
    """One good."""
    good = services.get_good(g.user.village_id, good_id)
    if not good.active and g.user.role not in SHOPKEEPERS:
        raise NotFound("No such good.")
    return good_out(good)


@blp.patch("/<id:good_id>")
@role_required(*SHOPKEEPERS)
@write_endpoint
@blp.arguments(GoodPatch)
@blp.response(200, GoodOut)
def update_good(args, good_id: int):
    """Change a good's name, unit, price, category, low-stock mark or active flag."""
    good = services.get_good(g.user.village_id, good_id)
    return good_out(services.update_good(good, args, actor_id=g.user.id))


@blp.post("/<id:good_id>/restock")
@role_required(*SHOPKEEPERS)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(RestockIn)
@blp.response(200, GoodOut)
def restock(args, good_id: int):
    """Add delivered units, recorded as a stock movement."""
    good = services.get_good(g.user.village_id, good_id)
    services.restock(
        good,
        args["quantity"],
        note=args.get("note"),
        supplier=args.get("supplier"),
        actor_id=g.user.id,
    )
    return _fresh(good)


@blp.post("/<id:good_id>/stocktake")
@role_required(*SHOPKEEPERS)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(StocktakeIn)
@blp.response(200, GoodOut)
def stocktake(args, good_id: int):
    """Set the stock to what was counted; the difference is recorded with the reason."""
    good = services.get_good(g.user.village_id, good_id)
    services.stocktake(good, args["counted"], reason=args["reason"], actor_id=g.user.id)
    return _fresh(good)


@blp.post("/<id:good_id>/writeoff")
@role_required(*SHOPKEEPERS)
@write_endpoint
@blp.doc(**IDEMPOTENCY_DOC)
@blp.arguments(WriteOffIn)
@blp.response(200, GoodOut)
@blp.alt_response(409, description="out_of_stock: fewer units than that on the shelf")
def write_off(args, good_id: int):
    """Take damaged or expired units off the shelf, with the reason."""
    good = services.get_good(g.user.village_id, good_id)
    services.write_off(good, args["quantity"], reason=args["reason"], actor_id=g.user.id)
    return _fresh(good)


@blp.get("/<id:good_id>/movements")
@role_required(*STAFF)
@blp.response(200, MovementList)
def movements(good_id: int):
    """The good's stock movements, newest first."""
    return {"items": services.movements(services.get_good(g.user.village_id, good_id))}


@blp.post("/<id:good_id>/picture")
@role_required(*SHOPKEEPERS)
@write_endpoint
@blp.arguments(PictureIn, location="files")
@blp.response(200, GoodOut)
def upload_picture(files, good_id: int):
    """Give a good a picture (JPEG or PNG), re-encoded without metadata."""
    good = services.get_good(g.user.village_id, good_id)
    good.picture = store_photo(files["picture"].read(), field="picture")
    db.session.flush()
    return good_out(good)


@blp.get("/<id:good_id>/picture")
@role_required(*ROLES)
@blp.response(200, content_type="image/jpeg")
def get_picture(good_id: int):
    """A good's picture."""
    good = services.get_good(g.user.village_id, good_id)
    if good.picture is None:
        raise NotFound("This good has no picture.")
    return photo_response(good.picture)
