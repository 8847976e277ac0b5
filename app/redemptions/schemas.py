"""Redemption API schemas."""

from marshmallow import Schema, fields, validate

from app.households.schemas import HouseholdRef
from app.redemptions.services import MAX_LINES, MAX_QUANTITY
from app.schemas import Id, PageQuery, QueryId, Text


class LineIn(Schema):
    good_id = Id(required=True)
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_QUANTITY))


class RedemptionIn(HouseholdRef):
    lines = fields.List(
        fields.Nested(LineIn), required=True, validate=validate.Length(min=1, max=MAX_LINES)
    )


class LineOut(Schema):
    good_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    quantity = fields.Integer()
    price_points = fields.Integer()
    line_points = fields.Integer()


class RedemptionOut(Schema):
    id = fields.Integer()
    receipt_no = fields.String()
    household_id = fields.Integer()
    household_code = fields.String()
    storekeeper_id = fields.Integer()
    total_points = fields.Integer()
    balance_before = fields.Integer()
    balance = fields.Integer(metadata={"description": "The household's balance after it"})
    current_balance = fields.Integer(metadata={"description": "The household's balance now"})
    transaction_id = fields.Integer()
    lines = fields.List(fields.Nested(LineOut))
    created_at = fields.DateTime()
    cancelled = fields.Boolean()
    cancel_reason = fields.String(allow_none=True)


class RedemptionQuery(PageQuery):
    household_id = QueryId()
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class RedemptionList(Schema):
    items = fields.List(fields.Nested(RedemptionOut))
    total = fields.Integer()


class CancelIn(Schema):
    reason = Text(required=True, min_length=1, max_length=500)
