"""Auth API schemas."""

from collections.abc import Callable

from marshmallow import Schema, ValidationError, fields, validate

from app.auth.models import ROLES
from app.schemas import Id, Text


def _encodable(value: str) -> None:
    # A lone surrogate from a JSON escape cannot be hashed (nor stored).
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not valid text.") from None


PASSWORD: list[Callable[[str], object]] = [validate.Length(min=8, max=256), _encodable]


class StrictBoolean(fields.Boolean):
    """true or false, and nothing that merely looks like them (0, "no")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class LoginIn(Schema):
    username = Text(required=True, min_length=1, max_length=64)
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


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


class UserIn(Schema):
    username = Text(required=True, min_length=1, max_length=64, validate=_encodable)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    household_id = Id(
        allow_none=True,
        metadata={
            "description": "Required for the household role: a household of the village. "
            "For staff, the household they live in."
        },
    )


class UserPatch(Schema):
    active = StrictBoolean(
        metadata={"description": "false disables: its tokens stop at once."},
    )
    password = fields.String(validate=PASSWORD, load_only=True)


class UserDetailOut(UserOut):
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserList(Schema):
    items = fields.List(fields.Nested(UserDetailOut))
