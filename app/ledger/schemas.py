"""Ledger API schemas."""

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.ledger.models import ADJUSTMENT_STATES
from app.ledger.services import MAX_AMOUNT
from app.schemas import MAX_INT, Id, PageQuery, Reason


class AdjustmentIn(Schema):
    household_id = Id(required=True)
    amount = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=-MAX_AMOUNT, max=MAX_AMOUNT)
    )
    reason = Reason()

    @validates("amount")
    def _not_zero(self, value: int, **_kwargs) -> None:
        if value == 0:
            raise ValidationError("An adjustment moves at least one point.")


class AdjustmentOut(Schema):
    # A pending adjustment's id and state (202); none for one posted at once.
    id = fields.Integer()
    state = fields.String()
    transaction_id = fields.Integer()
    household_id = fields.Integer()
    amount = fields.Integer()
    balance = fields.Integer()
    reason = fields.String()
    created_at = fields.DateTime()


class StatementLineOut(Schema):
    transaction_id = fields.Integer()
    kind = fields.String()
    amount = fields.Integer()
    balance_after = fields.Integer()
    created_at = fields.DateTime()
    memo = fields.String()
    reason = fields.String(allow_none=True)
    reverses_id = fields.Integer(allow_none=True)


class StatementQuery(PageQuery):
    before_version = fields.Integer(validate=validate.Range(min=1, max=MAX_INT))


class StatementOut(Schema):
    items = fields.List(fields.Nested(StatementLineOut))
    balance = fields.Integer()
    next_before_version = fields.Integer(
        allow_none=True, metadata={"description": "Pass as before_version for the next page."}
    )


class NoFields(Schema):
    """A write that takes no fields (its path names what it acts on)."""


class RejectIn(Schema):
    reason = Reason()


class AdjustmentQuery(Schema):
    state = fields.String(validate=validate.OneOf(ADJUSTMENT_STATES))


class PendingAdjustmentOut(Schema):
    id = fields.Integer()
    state = fields.String()
    household_id = fields.Integer()
    amount = fields.Integer()
    reason = fields.String()
    requested_by = fields.Integer()
    created_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    transaction_id = fields.Integer(allow_none=True)


class AdjustmentList(Schema):
    items = fields.List(fields.Nested(PendingAdjustmentOut))
