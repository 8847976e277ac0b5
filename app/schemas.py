"""Schema pieces shared by the features' API schemas."""

import re
from collections.abc import Callable

from marshmallow import Schema, ValidationError, fields, validate
from marshmallow.validate import Length as validate_length

# Refuse control characters in any text we store or show.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_INT = 2**31 - 1


def _no_control_characters(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Control characters are not allowed.")


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
