"""Catalogue API schemas."""

from flask import g
from marshmallow import Schema, fields, post_dump, validate

from app.auth.models import ADMIN, STOREKEEPER
from app.catalogue.services import MAX_COST_CENTS, MAX_PRICE, MAX_STOCK
from app.schemas import Reason, Text


class GoodIn(Schema):
    name = Text(required=True, min_length=1, max_length=100)
    unit = Text(required=True, min_length=1, max_length=20)
    price_points = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_PRICE))
    stock = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, MAX_STOCK))
    category = Text(max_length=50, allow_none=True)
    low_stock = fields.Integer(strict=True, load_default=5, validate=validate.Range(0, MAX_STOCK))
    supplier = Text(max_length=100, allow_none=True)
    cost_cents = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(0, MAX_COST_CENTS),
        metadata={"description": "What one unit cost the shop, in fen (分)."},
    )


class GoodPatch(Schema):
    name = Text(min_length=1, max_length=100)
    unit = Text(min_length=1, max_length=20)
    price_points = fields.Integer(strict=True, validate=validate.Range(1, MAX_PRICE))
    category = Text(max_length=50, allow_none=True)
    low_stock = fields.Integer(strict=True, validate=validate.Range(0, MAX_STOCK))
    active = fields.Boolean()
    cost_cents = fields.Integer(strict=True, validate=validate.Range(0, MAX_COST_CENTS))


class GoodOut(Schema):
    """Dumps a Good as it is in the session (its stock kept current by every movement)."""

    id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    category = fields.String(allow_none=True)
    price_points = fields.Integer()
    stock = fields.Integer()
    low_stock = fields.Integer()
    is_low = fields.Boolean()
    active = fields.Boolean()
    has_picture = fields.Boolean()
    cost_cents = fields.Integer(
        metadata={"description": "What one unit cost the shop, in fen; admin and storekeeper only."}
    )

    @post_dump
    def _cost_for_shopkeepers(self, data: dict, **kwargs) -> dict:
        """Show what the goods cost only to those who buy them in."""
        user = g.get("user")
        if user is None or user.role not in (ADMIN, STOREKEEPER):
            data.pop("cost_cents", None)
        return data


class GoodsQuery(Schema):
    all = fields.Boolean(
        load_default=False, metadata={"description": "Include inactive goods (admin, storekeeper)"}
    )


class GoodList(Schema):
    items = fields.List(fields.Nested(GoodOut))


class RestockIn(Schema):
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_STOCK))
    note = Text(max_length=500, allow_none=True)
    supplier = Text(max_length=100, allow_none=True)
    unit_cost_cents = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(0, MAX_COST_CENTS),
        metadata={"description": "What one delivered unit cost, in fen; becomes the good's cost."},
    )


class StocktakeIn(Schema):
    counted = fields.Integer(strict=True, required=True, validate=validate.Range(0, MAX_STOCK))
    reason = Reason()


class WriteOffIn(Schema):
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_STOCK))
    reason = Reason()


class MovementOut(Schema):
    id = fields.Integer()
    good_id = fields.Integer()
    kind = fields.String()
    quantity = fields.Integer()
    stock_after = fields.Integer()
    note = fields.String(allow_none=True)
    supplier = fields.String(allow_none=True)
    redemption_id = fields.Integer(allow_none=True)
    unit_cost_cents = fields.Integer(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class MovementList(Schema):
    items = fields.List(fields.Nested(MovementOut))


class PictureIn(Schema):
    picture = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
