"""Grid API schemas."""

from marshmallow import Schema, fields

from app.schemas import Text


class GridIn(Schema):
    name = Text(required=True, min_length=1, max_length=100)


class GridPatch(Schema):
    name = Text(required=True, min_length=1, max_length=100)


class GridOut(Schema):
    id = fields.Integer()
    number = fields.Integer()
    name = fields.String()


class GridList(Schema):
    items = fields.List(fields.Nested(GridOut))
