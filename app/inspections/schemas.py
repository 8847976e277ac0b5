"""Inspection and rules API schemas."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.households.schemas import HouseholdRef
from app.rules.expiry import END_OF_NEXT_YEAR, IDLE_MONTHS, MAX_IDLE_MONTHS, NONE, POLICIES
from app.rules.fairness import MAX_AMOUNT, MAX_APPEAL_DAYS
from app.rules.services import MAX_DAILY_LIMIT, MAX_POINTS_PER_GRADE
from app.schemas import OffsetQuery, QueryId, Reason, Text, list_of


class ExpiryIn(Schema):
    policy = fields.String(
        required=True, validate=validate.OneOf(POLICIES), metadata={"example": END_OF_NEXT_YEAR}
    )
    months = fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_IDLE_MONTHS),
        metadata={"description": "Only for idle_months: months with no credit and no redemption."},
    )

    @validates_schema
    def _months_for_idle(self, data, **_kwargs):
        if data.get("policy") == IDLE_MONTHS and "months" not in data:
            raise ValidationError("idle_months needs months.", "months")
        if data.get("policy") != IDLE_MONTHS and "months" in data:
            raise ValidationError("Only idle_months takes months.", "months")


class ExpiryOut(Schema):
    policy = fields.String()
    months = fields.Integer()


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
    # When points expire; omitted: never (as daily_limit omitted is 1).
    expiry = fields.Nested(ExpiryIn, load_default=lambda: {"policy": NONE})
    cases = fields.Dict(
        load_default=None,
        metadata={
            "description": "Resident reports: {categories: [{code, name, hours}], points, "
            "daily_cap, confirm_days}; left out, the version before keeps its case rules.",
            "example": {"points": 2, "daily_cap": 2, "confirm_days": 3},
        },
    )

    # Left out, the version before keeps its value (defaults: 7 days; null, off).
    appeal_days = fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_APPEAL_DAYS),
        metadata={"description": "Days a household may appeal a grade (default 7)."},
    )
    adjustment_approval_over = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(0, MAX_AMOUNT),
        metadata={
            "description": "An adjustment of more points than this waits for another "
            "admin's approval; null: none waits (the default)."
        },
    )

    @validates_schema
    def _labels_name_grades(self, data, **_kwargs):
        unknown = set(data.get("labels", {})) - set(data.get("grades", {}))
        if unknown:
            raise ValidationError(f"Labels for unknown grades: {sorted(unknown)}.", "labels")


class CaseCategoryOut(Schema):
    code = fields.String()
    name = fields.String()
    hours = fields.Integer()


class CaseRulesOut(Schema):
    categories = fields.List(fields.Nested(CaseCategoryOut))
    points = fields.Integer()
    daily_cap = fields.Integer()
    confirm_days = fields.Integer()


class RulesOut(Schema):
    grades = fields.Dict(keys=fields.String(), values=fields.Integer())
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    daily_limit = fields.Integer()
    expiry = fields.Nested(ExpiryOut)
    cases = fields.Nested(CaseRulesOut)
    appeal_days = fields.Integer()
    adjustment_approval_over = fields.Integer(allow_none=True)
    version = fields.Integer()
    updated_at = fields.DateTime()
    updated_by = fields.Integer(allow_none=True)


class RulesHistory(Schema):
    items = fields.List(fields.Nested(RulesOut))


class InspectionIn(HouseholdRef):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=8))
    note = Text(max_length=500, allow_none=True)
    inspected_at = fields.AwareDateTime(
        metadata={
            "description": "When the grade was given, as the phone recorded it (ISO 8601 "
            "with offset; default: now). Its village day, daily limit and rules apply. "
            "More than 5 minutes ahead: validation_error; over 72 hours old: too_late."
        }
    )


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
    recorded_at = fields.DateTime(attribute="inspection.recorded_at")
    local_date = fields.Date(attribute="inspection.local_date")
    has_photo = fields.Boolean()
    voided = fields.Boolean()
    void_reason = fields.String(attribute="inspection.void_reason", allow_none=True)


class InspectionQuery(OffsetQuery):
    date = fields.Date(metadata={"description": "One village day (YYYY-MM-DD)"})
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    grid_id = QueryId()
    inspector_id = QueryId()
    household_id = QueryId()


InspectionList = list_of(InspectionOut)


class VoidIn(Schema):
    reason = Reason()


class NoteIn(Schema):
    note = Text(required=True, max_length=500, allow_none=True)


class PhotoIn(Schema):
    photo = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


MAX_BATCH = 100


class BatchKey(Schema):
    key = fields.String(
        required=True,
        validate=validate.Regexp(r"^[\x21-\x7e]{1,64}$", error="1 to 64 visible ASCII characters."),
        metadata={"description": "The Idempotency-Key the item would carry if sent alone."},
    )


_BATCH_KEY = BatchKey()  # made once: a batch has up to 100 items


class BatchItemIn(InspectionIn, BatchKey):
    """One queued inspection: the fields of POST /inspections, and its Idempotency-Key."""


class BatchItems(fields.List):
    """The batch's items: checked here only for what makes the whole body malformed.

    A list of at most MAX_BATCH objects, each with a valid key; each item's other
    fields are checked on their own, as if it were sent alone, so one bad item is
    refused by itself. The OpenAPI document shows the items' full schema.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        if len(value) > MAX_BATCH:
            raise ValidationError(f"At most {MAX_BATCH} items.")
        errors: dict[int, dict[str, list[str]]] = {}
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                errors[index] = {"_schema": ["Not a valid object."]}
                continue
            problems = _BATCH_KEY.validate({"key": item["key"]} if "key" in item else {})
            if problems:
                errors[index] = problems
        if errors:
            raise ValidationError(errors)
        return value


class BatchIn(Schema):
    items = BatchItems(
        fields.Nested(BatchItemIn),
        required=True,
        metadata={"maxItems": MAX_BATCH},
    )


class Dumped(fields.Nested):
    """An object already dumped (an answer kept with its key), documented by its schema."""

    def _serialize(self, nested_obj: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return nested_obj


class BatchItemOut(Schema):
    key = fields.String()
    status = fields.Integer(metadata={"description": "What the item alone would have got."})
    inspection = Dumped(InspectionOut)
    problem = fields.Dict(
        metadata={"description": "The problem+json the item alone would have got."}
    )


class BatchOut(Schema):
    items = fields.List(fields.Nested(BatchItemOut))
