"""Fairness API schemas: spot checks, the inspectors' figures, anomaly flags."""

from marshmallow import Schema, fields, validate

from app.fairness.spotchecks import MAX_SIZE
from app.figures import REPORT_DAY, RangeQuery
from app.schemas import Id, QueryId, Text, list_of


class SpotCheckIn(Schema):
    date = fields.Date(
        required=True, validate=REPORT_DAY, metadata={"description": "The village day drawn from."}
    )
    grid_id = Id(metadata={"description": "One grid; default: the whole village."})
    size = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_SIZE),
        metadata={"description": "How many inspections to draw (fewer if the day had fewer)."},
    )


class SpotCheckItemIn(Schema):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=8))
    note = Text(max_length=500, allow_none=True)


class SpotCheckItemOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    inspection_id = fields.Integer()
    inspector_id = fields.Integer()
    original_grade = fields.String(metadata={"description": "The grade the inspector gave."})
    grade = fields.String(allow_none=True, metadata={"description": "The checker's grade."})
    note = fields.String(allow_none=True)
    checked_by = fields.Integer(allow_none=True)
    checked_at = fields.DateTime(allow_none=True)
    agrees = fields.Function(
        lambda item: None if item.grade is None else item.grade == item.original_grade,
        metadata={"type": "boolean", "nullable": True},
    )


class SpotCheckOut(Schema):
    id = fields.Integer()
    date = fields.Date(attribute="local_date")
    grid_id = fields.Integer(allow_none=True)
    size = fields.Integer()
    seed = fields.String(metadata={"description": "The seed of the draw (random.Random(seed))."})
    population_count = fields.Integer()
    population = fields.List(
        fields.Integer(),
        metadata={"description": "The ids drawn from: the day's inspections not voided."},
    )
    chosen = fields.List(fields.Integer(), metadata={"description": "sample(population, size)."})
    items = fields.List(fields.Nested(SpotCheckItemOut))
    created_by = fields.Integer()
    created_at = fields.DateTime()


SpotCheckList = list_of(SpotCheckOut)


class FairnessQuery(RangeQuery):
    village_id = QueryId()


class FlagOut(Schema):
    kind = fields.String(
        metadata={"enum": ["top_grade_share", "too_fast", "favoured_household", "late_arrivals"]}
    )
    inspector_id = fields.Integer()
    inspector = fields.String()
    grid_id = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)
    evidence = fields.List(fields.Integer(), metadata={"description": "Inspection ids."})
    figures = fields.Dict()
    sentence = fields.String(metadata={"description": "The flag in the reader's language."})


class InspectorRow(Schema):
    inspector_id = fields.Integer()
    username = fields.String()
    inspections = fields.Integer()
    grades = fields.Dict(keys=fields.String(), values=fields.Integer())
    shares = fields.Dict(keys=fields.String(), values=fields.Float())
    late_arrivals = fields.Integer(metadata={"description": "Reached the server over 24 h late."})
    spot_checked = fields.Integer()
    agreed = fields.Integer()
    agreement_rate = fields.Float(allow_none=True)
    appeals = fields.Integer()
    overturned = fields.Integer()
    flags = fields.List(fields.Nested(FlagOut))


class InspectorsOut(Schema):
    day_from = fields.Date(data_key="from")
    day_to = fields.Date(data_key="to")
    items = fields.List(fields.Nested(InspectorRow))


class FlagCounts(Schema):
    top_grade_share = fields.Integer()
    too_fast = fields.Integer()
    favoured_household = fields.Integer()
    late_arrivals = fields.Integer()


class VillageFlags(Schema):
    village_id = fields.Integer()
    code = fields.String()
    counts = fields.Nested(FlagCounts)
    total = fields.Integer()


class AnomaliesOut(Schema):
    day_from = fields.Date(data_key="from")
    day_to = fields.Date(data_key="to")
    items = fields.List(
        fields.Nested(FlagOut), metadata={"description": "The flags (an admin; a township: none)."}
    )
    villages = fields.List(fields.Nested(VillageFlags), metadata={"description": "Counts only."})
