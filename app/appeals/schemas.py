"""Appeals API schemas."""

from marshmallow import Schema, fields, validate

from app.appeals.models import DECISIONS, STATES
from app.schemas import Reason


class AppealIn(Schema):
    reason = Reason()


class DecideIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    note = Reason()
    grade = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=8),
        metadata={
            "description": "With an overturn: the corrected grade, credited at the "
            "original inspected_at."
        },
    )


class AppealPhotoIn(Schema):
    photo = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class AppealQuery(Schema):
    state = fields.String(validate=validate.OneOf(STATES))


class AppealOut(Schema):
    id = fields.Integer()
    inspection_id = fields.Integer()
    household_id = fields.Integer()
    inspector_id = fields.Integer()
    state = fields.String()
    reason = fields.String()
    has_photo = fields.Function(lambda appeal: appeal.photo is not None)
    created_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
    corrected_grade = fields.String(allow_none=True)
    corrected_inspection_id = fields.Integer(allow_none=True)


class AppealList(Schema):
    items = fields.List(fields.Nested(AppealOut))
