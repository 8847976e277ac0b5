"""Catalogue API: goods, stock movements, pictures."""

from flask_smorest import Blueprint

from app.actions import action, location_of, reading
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
from app.scope import Scope, current_scope

blp = Blueprint(
    "catalogue_api",
    __name__,
    url_prefix="/api/v1/goods",
    description="The points shop's catalogue (商品) and its stock.",
)
SHOPKEEPERS = (ADMIN, STOREKEEPER)


@reading(blp, "", roles=ROLES, query=GoodsQuery, out=GoodList)
def list_goods(args):
    """The catalogue; admins and storekeepers may ask for inactive goods too."""
    scope = current_scope()
    include_all = args["all"] and scope.user.role in SHOPKEEPERS
    return {"items": services.list_goods(scope.village_id, active_only=not include_all)}


@action(
    blp,
    "",
    roles=SHOPKEEPERS,
    schema=GoodIn,
    out=GoodOut,
    status=201,
    location=location_of("catalogue_api.get_good", good_id="id"),
)
def create_good(scope: Scope, data: dict) -> Good:
    """Add a good; its opening stock is recorded as a restock."""
    return services.create_good(scope.village_id, actor_id=scope.user_id, **data)


@reading(blp, "/<id:good_id>", roles=ROLES, out=GoodOut)
def get_good(good_id: int):
    """One good."""
    scope = current_scope()
    good = services.get_good(scope.village_id, good_id)
    if not good.active and scope.user.role not in SHOPKEEPERS:
        raise NotFound("No such good.")
    return good


@action(blp, "/<id:good_id>", method="PATCH", roles=SHOPKEEPERS, schema=GoodPatch, out=GoodOut)
def update_good(scope: Scope, data: dict, good_id: int) -> Good:
    """Change a good's name, unit, price, category, low-stock mark or active flag."""
    good = services.get_good(scope.village_id, good_id)
    return services.update_good(good, data, actor_id=scope.user_id)


@action(blp, "/<id:good_id>/restock", roles=SHOPKEEPERS, schema=RestockIn, out=GoodOut)
def restock(scope: Scope, data: dict, good_id: int) -> Good:
    """Add delivered units, recorded as a stock movement."""
    good = services.get_good(scope.village_id, good_id)
    services.restock(
        good,
        data["quantity"],
        note=data.get("note"),
        supplier=data.get("supplier"),
        actor_id=scope.user_id,
        unit_cost_cents=data.get("unit_cost_cents"),
    )
    return good


@action(blp, "/<id:good_id>/stocktake", roles=SHOPKEEPERS, schema=StocktakeIn, out=GoodOut)
def stocktake(scope: Scope, data: dict, good_id: int) -> Good:
    """Set the stock to what was counted; the difference is recorded with the reason."""
    good = services.get_good(scope.village_id, good_id)
    services.stocktake(good, data["counted"], reason=data["reason"], actor_id=scope.user_id)
    return good


@action(
    blp,
    "/<id:good_id>/writeoff",
    roles=SHOPKEEPERS,
    schema=WriteOffIn,
    out=GoodOut,
    responses={409: "out_of_stock: fewer units than that on the shelf"},
)
def write_off(scope: Scope, data: dict, good_id: int) -> Good:
    """Take damaged or expired units off the shelf, with the reason."""
    good = services.get_good(scope.village_id, good_id)
    services.write_off(good, data["quantity"], reason=data["reason"], actor_id=scope.user_id)
    return good


@reading(blp, "/<id:good_id>/movements", roles=STAFF, out=MovementList)
def movements(good_id: int):
    """The good's stock movements, newest first."""
    good = services.get_good(current_scope().village_id, good_id)
    return {"items": services.movements(good)}


@action(
    blp,
    "/<id:good_id>/picture",
    roles=SHOPKEEPERS,
    schema=PictureIn,
    out=GoodOut,
    arguments_location="files",
)
def upload_picture(scope: Scope, files: dict, good_id: int) -> Good:
    """Give a good a picture (JPEG or PNG), re-encoded without metadata."""
    good = services.get_good(scope.village_id, good_id)
    good.picture = store_photo(files["picture"].read(), field="picture")
    db.session.flush()
    return good


@reading(blp, "/<id:good_id>/picture", roles=ROLES, content_type="image/jpeg")
def get_picture(good_id: int):
    """A good's picture."""
    good = services.get_good(current_scope().village_id, good_id)
    if good.picture is None:
        raise NotFound("This good has no picture.")
    return photo_response(good.picture)
