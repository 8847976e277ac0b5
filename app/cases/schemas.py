"""Cases, collection points and case figures: API schemas."""

from marshmallow import Schema, fields, validate

from app.cases.models import STATES
from app.cases.transitions import ACTIONS
from app.schemas import Id, OffsetQuery, QueryId, Text, list_of

LATITUDE = validate.Range(-90, 90, error="A latitude from -90 to 90.")
LONGITUDE = validate.Range(-180, 180, error="A longitude from -180 to 180.")


class StationIn(Schema):
    name = Text(required=True, min_length=1, max_length=100)
    grid_id = Id(required=True)
    lat = fields.Float(allow_nan=False, validate=LATITUDE)
    lng = fields.Float(allow_nan=False, validate=LONGITUDE)


class StationOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    grid_id = fields.Integer()
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    qr_payload = fields.String(
        metadata={"description": "The URL the collection point's QR encodes: BASE_URL/s/<token>."}
    )


StationList = list_of(StationOut)


class CaseIn(Schema):
    category = fields.String(required=True, validate=validate.Length(1, 32))
    description = Text(max_length=1000)
    station_id = Id()
    grid_id = Id()
    lat = fields.Float(allow_nan=False, validate=LATITUDE)
    lng = fields.Float(allow_nan=False, validate=LONGITUDE)
    anonymous = fields.Boolean(
        load_default=False,
        metadata={"description": "Hide the reporter from the grid worker (admins still see)."},
    )


class CasePhotoIn(Schema):
    """The photo; its `stage` (before or after) comes as a form field beside it."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class PhotoPatch(Schema):
    public = fields.Boolean(
        required=True, metadata={"description": "Shown to the public (Open311 media_url)."}
    )


class EventIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    note = Text(max_length=1000)
    duplicate_of = Id()
    assignee_id = Id()
    grid_id = Id()
    hours = fields.Integer(strict=True, validate=validate.Range(1, 15 * 24))


class ReporterOut(Schema):
    user_id = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    name = fields.String(allow_none=True)


class EventOut(Schema):
    actor = fields.String(allow_none=True, metadata={"description": "username, or who it was"})
    action = fields.String()
    from_state = fields.String(data_key="from", allow_none=True)
    to_state = fields.String(data_key="to", allow_none=True)
    note = fields.String(allow_none=True)
    at = fields.DateTime()


class PhotoOut(Schema):
    id = fields.Integer()
    stage = fields.String()
    public = fields.Boolean()
    url = fields.String()
    created_at = fields.DateTime()


class CaseOut(Schema):
    id = fields.Integer()
    code = fields.String()
    category = fields.String()
    category_name = fields.String()
    description = fields.String(allow_none=True)
    state = fields.String()
    grid_id = fields.Integer()
    station_id = fields.Integer(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)
    due_at = fields.DateTime()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    escalated_to = fields.String(allow_none=True)
    supervised = fields.Boolean()
    reopened = fields.Integer()
    auto_confirmed = fields.Boolean()
    anonymous = fields.Boolean()
    duplicate_of = fields.Integer(allow_none=True)
    points = fields.Integer(metadata={"description": "Points the report earned its household."})
    lat = fields.Float(allow_none=True)
    lng = fields.Float(allow_none=True)
    reporter = fields.Nested(ReporterOut, allow_none=True)
    events = fields.List(fields.Nested(EventOut))
    photos = fields.List(fields.Nested(PhotoOut))


CaseList = list_of(CaseOut)


class CasesQuery(OffsetQuery):
    state = fields.String(validate=validate.OneOf(STATES))
    grid_id = QueryId()
    assignee_id = QueryId()
    overdue = fields.Boolean()
    day_from = fields.Date(data_key="from")
    day_to = fields.Date(data_key="to")
    village_id = QueryId()


class RatesOut(Schema):
    due = fields.Integer()
    completed = fields.Integer()
    completed_on_time = fields.Integer()
    completion_rate = fields.Float()
    on_time_rate = fields.Float()
    reopened = fields.Integer()
    rework_rate = fields.Float()


class GridRatesOut(RatesOut):
    grid_id = fields.Integer()
    name = fields.String()


class AssigneeRatesOut(RatesOut):
    assignee_id = fields.Integer(allow_none=True)
    username = fields.String(allow_none=True)


class ExcludedOut(Schema):
    invalid = fields.Integer()
    duplicate = fields.Integer()
    withdrawn = fields.Integer()


class CaseFiguresOut(RatesOut):
    village_id = fields.Integer()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    confirmed_by_reporter = fields.Integer()
    auto_confirmed = fields.Integer()
    excluded = fields.Nested(ExcludedOut)
    per_grid = fields.List(fields.Nested(GridRatesOut))
    per_assignee = fields.List(fields.Nested(AssigneeRatesOut))
