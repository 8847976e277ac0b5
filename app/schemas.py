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


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
