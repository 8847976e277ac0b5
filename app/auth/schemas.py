"""Auth API schemas."""

from marshmallow import Schema, fields

from app.schemas import Text


class LoginIn(Schema):
    username = Text(required=True, min_length=1, max_length=64)
    password = fields.String(required=True, validate=lambda s: 0 < len(s) <= 256)


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    village_id = fields.Integer()
    household_id = fields.Integer(allow_none=True)


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserOut)
