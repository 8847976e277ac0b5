"""Schema pieces shared by the features' API schemas."""

import unicodedata
from collections.abc import Callable

from marshmallow import Schema, ValidationError, fields, validate
from marshmallow.validate import Length as validate_length

MAX_INT = 2**31 - 1
# Refused in any text we store or show: control, format (zero-width, bidi overrides),
# surrogate and line/paragraph separator characters. Tab and line breaks may stand in
# a note; they are whitespace, not hidden marks.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
ALLOWED_CONTROLS = frozenset("\t\n\r")
CONTROL_MESSAGE = "Control and invisible formatting characters are not allowed."


def has_hidden_characters(value: str) -> bool:
    """Tell whether the text holds a character that is refused (see REFUSED_CATEGORIES)."""
    return not value.isprintable() and any(
        unicodedata.category(c) in REFUSED_CATEGORIES and c not in ALLOWED_CONTROLS for c in value
    )


def _no_control_characters(value: str) -> None:
    if has_hidden_characters(value):
        raise ValidationError(CONTROL_MESSAGE)


def Text(  # noqa: N802
    *, max_length: int, required: bool = False, min_length: int = 0, validate=None, **kwargs
):
    """A stripped string field with a length limit and no control characters."""
    checks: list[Callable] = [
        validate_length(min=min_length, max=max_length),
        _no_control_characters,
    ]
    if validate is not None:
        checks.append(validate)
    return TrimmedString(required=required, validate=checks, **kwargs)


class TrimmedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        return result.strip() if isinstance(result, str) else result


def Id(**kwargs):  # noqa: N802
    """A database id: a positive 32-bit integer."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_INT), **kwargs)


def QueryId():  # noqa: N802
    """A database id in a query string, where every value arrives as text."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_INT))


def Reason():  # noqa: N802
    """Why it was done: 1 to 500 characters, kept with the change (audit, ledger, stock)."""
    return Text(required=True, min_length=1, max_length=500)


def list_of(item: type[Schema]) -> type[Schema]:
    """A list answer's schema, {"items": [...], "total": n}: InspectionOut gives InspectionList."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item)), "total": fields.Integer()},
        name=item.__name__.removesuffix("Out") + "List",
    )


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class OffsetQuery(PageQuery):
    """A page of a long list: how many rows, and how many to skip."""

    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))
