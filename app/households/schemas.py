"""Household API schemas."""

import re

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema
from webargs.fields import DelimitedList

from app.households.services import EDITABLE_STATUSES, STATUSES
from app.schemas import Id, QueryId, Text

PHONE_PATTERN = re.compile(r"^[0-9+\- ]{3,32}$")
PHONE = validate.Regexp(PHONE_PATTERN, error="Digits, +, - and spaces only.")


class HouseholdIn(Schema):
    name = Text(required=True, min_length=1, max_length=100)
    address = Text(required=True, min_length=1, max_length=200)
    grid_id = Id(required=True)
    phone = Text(max_length=32, allow_none=True, validate=PHONE)
    members = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 99))


class HouseholdPatch(Schema):
    name = Text(min_length=1, max_length=100)
    address = Text(min_length=1, max_length=200)
    grid_id = Id()
    phone = Text(max_length=32, allow_none=True, validate=PHONE)
    members = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 99))
    status = fields.String(validate=validate.OneOf(EDITABLE_STATUSES))

    @validates("phone")
    def _phone(self, value, **_kwargs):
        if value is not None and not value:
            raise ValidationError("Send null to clear the phone.")


class ExpiringOut(Schema):
    points = fields.Integer()
    on = fields.Date()


class HouseholdOut(Schema):
    """Dumps a HouseholdResult: the household with its balance and its card's payload."""

    id = fields.Integer(attribute="household.id")
    code = fields.String(attribute="household.code")
    name = fields.String(attribute="household.name")
    address = fields.String(attribute="household.address")
    grid_id = fields.Integer(attribute="household.grid_id")
    phone = fields.String(attribute="household.phone", allow_none=True)
    members = fields.Integer(attribute="household.members", allow_none=True)
    status = fields.String(attribute="household.status")
    card_version = fields.Integer(attribute="household.card_version")
    balance = fields.Integer()
    # Points that will expire within 60 days, and the day; null when none will.
    expiring = fields.Nested(ExpiringOut, allow_none=True)
    qr_payload = fields.String()
    # Households over time (app/households/changes.py): null unless moved out or merged.
    moved_out_on = fields.Date(attribute="household.moved_out_on", allow_none=True)
    forfeit_on = fields.Date(attribute="household.forfeit_on", allow_none=True)
    merged_into_id = fields.Integer(attribute="household.merged_into_id", allow_none=True)


class HouseholdQuery(Schema):
    grid_id = QueryId()
    q = Text(max_length=100)
    status = fields.String(validate=validate.OneOf(STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class HouseholdList(Schema):
    items = fields.List(fields.Nested(HouseholdOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class ReissueIn(Schema):
    reason = Text(min_length=1, max_length=500, load_default="补发积分卡")


class ScanIn(Schema):
    payload = fields.String(required=True, validate=validate.Length(max=2000))


class ScanOut(Schema):
    household = fields.Nested(HouseholdOut)
    inspected_today = fields.Boolean()


class ImportIn(Schema):
    file = Upload(required=True, metadata={"description": "The roster: CSV or XLSX"})


class HouseholdBrief(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    grid_id = fields.Integer()


class ImportOut(Schema):
    imported = fields.Integer()
    skipped = fields.Integer(
        metadata={"description": "Rows left out: households already in the village, examples"}
    )
    items = fields.List(fields.Nested(HouseholdBrief))


class CardsQuery(Schema):
    grid_id = QueryId()
    ids = DelimitedList(QueryId(), validate=validate.Length(min=1, max=2000))


class HouseholdRef(Schema):
    """Which household: by id, or by the payload of its scanned card (exactly one)."""

    OPENAPI = {"oneOf": [{"required": ["household_id"]}, {"required": ["payload"]}]}

    household_id = Id()
    payload = fields.String(
        validate=validate.Length(max=2000),  # an empty scan is an unreadable card: invalid_qr
        metadata={"description": "The scanned card (URL or token)"},
    )

    @validates_schema
    def _one_household(self, data, **_kwargs):
        if ("household_id" in data) == ("payload" in data):
            raise ValidationError(
                "Give household_id or payload (the scanned card), not both.", "household_id"
            )


REASON = {"description": "Why, for the audit log"}


class SplitIn(HouseholdIn):
    """A new household split off (分户), and how many points go with it."""

    points = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000_000))
    reason = Text(min_length=1, max_length=500, metadata=REASON)


class MergeIn(Schema):
    into = Id(required=True, metadata={"description": "The household it joins (合户)"})
    reason = Text(min_length=1, max_length=500, metadata=REASON)


class MoveOutIn(Schema):
    on = fields.Date(required=True, metadata={"description": "The day it moved out (迁出)"})
    forfeit_after_days = fields.Integer(
        strict=True, load_default=28, validate=validate.Range(0, 3650)
    )
    reason = Text(min_length=1, max_length=500, metadata=REASON)


class MoveBackIn(Schema):
    reason = Text(min_length=1, max_length=500, metadata=REASON)
