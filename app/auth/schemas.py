"""Auth API schemas."""

import unicodedata
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


def has_control(value: str) -> bool:
    """Tell whether the text holds a control character (NUL, newline, escape ...)."""
    return any(unicodedata.category(char) == "Cc" for char in value)


def has_control_or_invisible(value: str) -> bool:
    """Tell whether the text holds a control or an invisible formatting character.

    Format characters (category Cf) are the bidi overrides and isolates
    (U+202A-U+202E, U+2066-U+2069), the zero-width ones (U+200B-U+200F, U+2060,
    U+FEFF) and the like: in a name they make two different names look the same.
    """
    return any(unicodedata.category(char) in ("Cc", "Cf") for char in value)


def _no_control(value: str) -> None:
    if has_control(value):
        raise ValidationError("Control characters are not allowed.")


def _no_control_or_invisible(value: str) -> None:
    if has_control_or_invisible(value):
        raise ValidationError("Control and invisible characters are not allowed.")


def _plain_name(value: str) -> None:
    _encodable(value)
    _no_control_or_invisible(value)


PASSWORD: list[Callable[[str], object]] = [
    validate.Length(min=8, max=256),
    _encodable,
    _no_control_or_invisible,
]


class StrictBoolean(fields.Boolean):
    """true or false, and nothing that merely looks like them (0, "no")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class LoginIn(Schema):
    # No username holds a control character, so such a login is malformed (422),
    # never a query the database refuses (PostgreSQL cannot store NUL).
    username = Text(required=True, min_length=1, max_length=64, validate=_no_control)
    password = fields.String(
        required=True, validate=[validate.Length(min=1, max=256), _encodable, _no_control]
    )


class UserOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    village_id = fields.Integer(allow_none=True)
    household_id = fields.Integer(allow_none=True)


class TokenUserOut(UserOut):
    # A township user's township (its village_id is null); null for everyone else.
    township_id = fields.Integer(allow_none=True)


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(TokenUserOut)


class UserIn(Schema):
    username = Text(
        required=True,
        min_length=1,
        max_length=64,
        validate=_plain_name,
    )
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
    grid_ids = fields.List(
        Id(),
        validate=validate.Length(max=1000),
        metadata={"description": "The grids the inspector works; [] means the whole village."},
    )


class UserDetailOut(UserOut):
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserGridsOut(UserDetailOut):
    grid_ids = fields.List(fields.Integer())


class UnlockIn(Schema):
    """Nothing to send: unlocking forgets the user's failed logins."""


class UserList(Schema):
    items = fields.List(fields.Nested(UserDetailOut))
