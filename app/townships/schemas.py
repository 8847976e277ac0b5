"""Township API schemas: villages side by side, and the monthly settlement."""

from marshmallow import Schema, fields, validate

from app.figures import RangeQuery
from app.schemas import QueryId

MONTH_PATTERN = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="A month as YYYY-MM.")


class VillageOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    households = fields.Integer(metadata={"description": "Active households now."})
    outstanding = fields.Integer(metadata={"description": "Points the households hold now."})


class VillageList(Schema):
    items = fields.List(fields.Nested(VillageOut))


class VillagesQuery(RangeQuery):
    pass


class Owed(Schema):
    """What a village owes in goods: the points its households hold, at what a point cost."""

    outstanding = fields.Integer(metadata={"description": "Points the households hold now."})
    cost_per_point_cents = fields.Float(
        metadata={"description": "Fen a redeemed point cost over the last three months."}
    )
    outstanding_cost_cents = fields.Integer(
        metadata={"description": "The outstanding points at that cost: what the village owes."}
    )


class VillageRow(Owed):
    village_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    households = fields.Integer()
    participation_rate = fields.Float()
    accuracy = fields.Float()
    inspections = fields.Integer()
    points_issued = fields.Integer()
    points_redeemed = fields.Integer()
    goods_cost_cents = fields.Integer(
        metadata={"description": "What the goods redeemed in the range cost, in fen."}
    )
    case_completion_rate = fields.Float(
        metadata={"description": "Resident reports due in the range that were completed (0..1)."}
    )
    case_on_time_rate = fields.Float(
        metadata={"description": "Resident reports due in the range completed on time (0..1)."}
    )


class VillageRows(Schema):
    day_from = fields.Date(data_key="from")
    day_to = fields.Date(data_key="to")
    items = fields.List(fields.Nested(VillageRow))


class SettlementQuery(Schema):
    month = fields.String(
        validate=MONTH_PATTERN, metadata={"description": "YYYY-MM; the village's month now."}
    )
    village_id = QueryId()


class SettlementLineOut(Schema):
    good_id = fields.Integer()
    name = fields.String()
    units = fields.Integer()
    points = fields.Integer()
    cost_cents = fields.Integer()


class SettlementOut(Owed):
    month = fields.String()
    village_id = fields.Integer()
    items = fields.List(fields.Nested(SettlementLineOut))
    total_units = fields.Integer()
    total_points = fields.Integer()
    total_cost_cents = fields.Integer()
