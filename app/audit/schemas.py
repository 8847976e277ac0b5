"""Audit API schemas."""

from datetime import date

from marshmallow import Schema, fields, validate

from app.audit.services import ACTIONS
from app.schemas import OffsetQuery, QueryId

# Days a village could have acted on; far dates would overflow on the way to UTC.
DAYS = validate.Range(min=date(2000, 1, 1), max=date(2999, 12, 31))


class AuditQuery(OffsetQuery):
    action = fields.String(validate=validate.OneOf(ACTIONS))
    actor_id = QueryId()
    day_from = fields.Date(
        data_key="from",
        validate=DAYS,
        metadata={"description": "First village day (YYYY-MM-DD), inclusive."},
    )
    day_to = fields.Date(
        data_key="to",
        validate=DAYS,
        metadata={"description": "Last village day (YYYY-MM-DD), inclusive."},
    )


class AuditEventOut(Schema):
    id = fields.Integer()
    action = fields.String(metadata={"description": "What was done: a snake_case code."})
    actor_id = fields.Integer(
        allow_none=True, metadata={"description": "Who did it; null: the command line."}
    )
    actor = fields.String(allow_none=True, metadata={"description": "Their username."})
    target_type = fields.String(metadata={"description": "What it was done to."})
    target_id = fields.Integer(allow_none=True)
    details = fields.Dict(
        allow_none=True, metadata={"description": "What changed: before and after, amounts."}
    )
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()


class AuditList(Schema):
    items = fields.List(fields.Nested(AuditEventOut))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
