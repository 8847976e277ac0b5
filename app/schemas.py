"""Schema pieces shared by the features' API schemas."""

import re

from marshmallow import Schema, ValidationError, fields, validate

# Refuse control characters in any text we store or show.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_INT = 2**31 - 1


def _no_control_characters(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Control characters are not allowed.")


def Text(*, max_length: int, required: bool = False, min_length: int = 0, **kwargs):  # noqa: N802
    """A stripped string field with a length limit and no control characters."""
    return TrimmedString(
        required=required,
        validate=[validate.Length(min=min_length, max=max_length), _no_control_characters],
        **kwargs,
    )


class TrimmedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        return result.strip() if isinstance(result, str) else result


def Id(**kwargs):  # noqa: N802
    """A database id: a positive 32-bit integer."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_INT), **kwargs)


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
