"""Inspection and rules API schemas."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.households.schemas import HouseholdRef
from app.inspections.services import MAX_DAILY_LIMIT, MAX_POINTS_PER_GRADE
from app.schemas import PageQuery, QueryId, Text

GRADE_NAME = validate.Regexp(r"^[A-Z0-9]{1,8}$", error="1 to 8 capital letters or digits.")


class RulesIn(Schema):
    grades = fields.Dict(
        keys=fields.String(validate=GRADE_NAME),
        values=fields.Integer(strict=True, validate=validate.Range(0, MAX_POINTS_PER_GRADE)),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={
            "example": {"A": 3, "B": 2, "C": 1, "D": 0},
            "minProperties": 1,
            "maxProperties": 10,
        },
    )
    daily_limit = fields.Integer(
        strict=True, load_default=1, validate=validate.Range(1, MAX_DAILY_LIMIT)
    )
    labels = fields.Dict(
        keys=fields.String(validate=GRADE_NAME),
        values=Text(min_length=1, max_length=20),
        load_default=dict,
        validate=validate.Length(max=10),
        metadata={"example": {"A": "优", "B": "良", "C": "中", "D": "差"}, "maxProperties": 10},
    )

    @validates_schema
    def _labels_name_grades(self, data, **_kwargs):
        unknown = set(data.get("labels", {})) - set(data.get("grades", {}))
        if unknown:
            raise ValidationError(f"Labels for unknown grades: {sorted(unknown)}.", "labels")


class RulesOut(Schema):
    grades = fields.Dict(keys=fields.String(), values=fields.Integer())
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    daily_limit = fields.Integer()
    version = fields.Integer()
    updated_at = fields.DateTime()
    updated_by = fields.Integer(allow_none=True)


class RulesHistory(Schema):
    items = fields.List(fields.Nested(RulesOut))


class InspectionIn(HouseholdRef):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=8))
    note = Text(max_length=500, allow_none=True)


class InspectionOut(Schema):
    """Dumps an InspectionResult: the inspection with its household's code and balance."""

    id = fields.Integer(attribute="inspection.id")
    household_id = fields.Integer(attribute="inspection.household_id")
    household_code = fields.String()
    grid_id = fields.Integer(attribute="inspection.grid_id")
    inspector_id = fields.Integer(attribute="inspection.inspector_id")
    grade = fields.String(attribute="inspection.grade")
    points = fields.Integer(attribute="inspection.points")
    note = fields.String(attribute="inspection.note", allow_none=True)
    transaction_id = fields.Integer(attribute="inspection.journal_id", allow_none=True)
    balance = fields.Integer()
    inspected_at = fields.DateTime(attribute="inspection.created_at")
    local_date = fields.Date(attribute="inspection.local_date")
    has_photo = fields.Boolean()
    voided = fields.Boolean()
    void_reason = fields.String(attribute="inspection.void_reason", allow_none=True)


class InspectionQuery(PageQuery):
    date = fields.Date(metadata={"description": "One village day (YYYY-MM-DD)"})
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    grid_id = QueryId()
    inspector_id = QueryId()
    household_id = QueryId()
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class InspectionList(Schema):
    items = fields.List(fields.Nested(InspectionOut))
    total = fields.Integer()


class VoidIn(Schema):
    reason = Text(required=True, min_length=1, max_length=500)


class PhotoIn(Schema):
    photo = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
