"""Reports API schemas."""

from marshmallow import Schema, fields

GRADES = {
    "description": "Inspections per grade: every grade of the rules in force, "
    "then any older grade seen in the range.",
    "example": {"A": 120, "B": 64, "C": 20, "D": 6},
}
ACCURACY = (
    "Sorting accuracy: the share (0..1, 4 places) of the inspections whose grade "
    "earned points (points > 0 under the rules it was scored by; with the default "
    "rules A, B and C count, D does not); 0 when there were none."
)
POINTS_ISSUED = (
    "Points credited to households by the range's inspections, minus the "
    "reversals of those credits: the points of its inspections not voided."
)


class Grading(Schema):
    """How a group of inspections graded: how many, by grade, how accurate, what they paid."""

    inspections = fields.Integer()
    grades = fields.Dict(keys=fields.String(), values=fields.Integer())
    accuracy = fields.Float(metadata={"description": ACCURACY})
    points_issued = fields.Integer()


class GridSummary(Grading):
    grid_id = fields.Integer()
    name = fields.String()
    households = fields.Integer(
        metadata={"description": "Households now in this grid counted for participation."}
    )
    households_inspected = fields.Integer(
        metadata={"description": "Of those, the ones inspected in the range."}
    )
    participation_rate = fields.Float()
    inspections = fields.Integer(
        metadata={"description": "Inspections recorded in this grid (the household's grid then)."}
    )


class InspectorSummary(Grading):
    inspector_id = fields.Integer()
    username = fields.String()


class GoodSummary(Schema):
    good_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    units = fields.Integer(metadata={"description": "Units redeemed, cancellations left out."})
    points = fields.Integer()


class SummaryOut(Schema):
    village_id = fields.Integer()
    day_from = fields.Date(data_key="from")
    day_to = fields.Date(data_key="to")
    days = fields.Integer()
    households = fields.Integer(
        metadata={
            "description": "The base of participation: the active households registered by "
            "the end of the range, plus every household inspected in it (also "
            "one registered later or since moved away)."
        }
    )
    households_active = fields.Integer(metadata={"description": "Active households now."})
    households_inspected = fields.Integer(
        metadata={
            "description": "Distinct households with at least one inspection in the range "
            "that was not voided."
        }
    )
    participation_rate = fields.Float(
        metadata={
            "description": "households_inspected / households, 0..1, 4 places; 0 when there "
            "are no households."
        }
    )
    inspections = fields.Integer(
        metadata={"description": "Inspections on the range's village days, not voided."}
    )
    inspections_voided = fields.Integer(
        metadata={"description": "Inspections on the range's days that were voided (not counted)."}
    )
    grades = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata=GRADES)
    accuracy = fields.Float(metadata={"description": ACCURACY})
    points_issued = fields.Integer(metadata={"description": POINTS_ISSUED})
    points_voided = fields.Integer(
        metadata={"description": "Points of the range's inspections taken back by voiding them."}
    )
    adjustments_net = fields.Integer(
        metadata={
            "description": "Points that manual adjustments posted in the range moved into "
            "households, minus those they took out (reversed ones left out)."
        }
    )
    redemptions = fields.Integer(
        metadata={"description": "Redemptions made in the range, cancelled ones left out."}
    )
    points_redeemed = fields.Integer(metadata={"description": "Total points of those redemptions."})
    points_expired = fields.Integer(
        metadata={
            "description": "Points that expired in the range (by the village's expiry policy): "
            "taken from households, so no longer owed."
        }
    )
    outstanding = fields.Integer(
        metadata={
            "description": "The sum of all household balances now: what the village still owes."
        }
    )
    per_grid = fields.List(fields.Nested(GridSummary))
    per_inspector = fields.List(fields.Nested(InspectorSummary))
    per_good = fields.List(fields.Nested(GoodSummary))
