"""Unbound extension objects, bound to the app in create_app()."""

from flask_babel import Babel
from flask_migrate import Migrate
from flask_smorest import Api
from marshmallow import Schema, fields

from app.db import db

__all__ = ["api", "babel", "db", "migrate"]


class ProblemSchema(Schema):
    """An error, as application/problem+json (RFC 9457) with our API code."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String(metadata={"description": "Fixed snake_case error code"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"description": "Validation messages per field"},
    )


class GreenPointsApi(Api):
    ERROR_SCHEMA = ProblemSchema


api = GreenPointsApi()
babel = Babel()
migrate = Migrate()
