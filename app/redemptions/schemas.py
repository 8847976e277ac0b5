"""Redemption API schemas."""

from marshmallow import Schema, fields, validate

from app.households.schemas import HouseholdRef
from app.redemptions.services import FOUND_BY, MAX_LINES, MAX_QUANTITY
from app.schemas import Id, OffsetQuery, QueryId, Reason, list_of


class LineIn(Schema):
    good_id = Id(required=True)
    quantity = fields.Integer(strict=True, required=True, validate=validate.Range(1, MAX_QUANTITY))


class RedemptionIn(HouseholdRef):
    lines = fields.List(
        fields.Nested(LineIn), required=True, validate=validate.Length(min=1, max=MAX_LINES)
    )
    found_by = fields.String(
        load_default="card",
        validate=validate.OneOf(FOUND_BY),
        metadata={
            "description": "How the counter found the household: card (scanned) or search "
            "(by name, without the card). A payload always counts as card."
        },
    )


class LineOut(Schema):
    good_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    quantity = fields.Integer()
    price_points = fields.Integer()
    line_points = fields.Integer()


class RedemptionOut(Schema):
    """Dumps a RedemptionResult: the redemption with its lines and the household's balance."""

    id = fields.Integer(attribute="redemption.id")
    receipt_no = fields.String(attribute="redemption.receipt_no")
    household_id = fields.Integer(attribute="redemption.household_id")
    household_code = fields.String()
    storekeeper_id = fields.Integer(attribute="redemption.storekeeper_id")
    total_points = fields.Integer(attribute="redemption.total_points")
    balance_before = fields.Integer(attribute="redemption.balance_before")
    balance = fields.Integer(
        attribute="redemption.balance_after",
        metadata={"description": "The household's balance after it"},
    )
    current_balance = fields.Integer(metadata={"description": "The household's balance now"})
    transaction_id = fields.Integer(attribute="redemption.journal_id")
    lines = fields.List(fields.Nested(LineOut))
    created_at = fields.DateTime(attribute="redemption.created_at")
    cancelled = fields.Boolean()
    cancel_reason = fields.String(attribute="redemption.cancel_reason", allow_none=True)
    found_by = fields.String(attribute="redemption.found_by")


class RedemptionQuery(OffsetQuery):
    household_id = QueryId()


RedemptionList = list_of(RedemptionOut)


class CancelIn(Schema):
    reason = Reason()
