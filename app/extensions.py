"""Unbound extension objects, bound to the app in create_app().

The API object also carries the API's conventions: errors documented per
operation as problem+json, ids in paths that never overflow, JSON bodies that
can be read before anything reads them.
"""

import http
import json
from typing import Any

from apispec import BasePlugin
from flask import Flask, request
from flask_babel import Babel
from flask_compress import Compress
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from werkzeug.routing import IntegerConverter

from app.db import db
from app.errors import DomainError
from app.schemas import MAX_INT

__all__ = ["api", "babel", "compress", "db", "migrate"]

PROBLEM_JSON = "application/problem+json"
BODY_METHODS = ("POST", "PUT", "PATCH")

# What each error means, the same for every operation that can answer it.
ERROR_DESCRIPTIONS = {
    400: "validation_error: the body is not well-formed (bad JSON, bad Idempotency-Key)",
    401: "unauthorized: no bearer token, or an expired or revoked one",
    403: "forbidden: this role may not do this",
    404: "not_found: no such object in this village",
    409: "A business refusal (see code)",
    410: "revoked_qr: the card was replaced by a newer one",
    413: "payload_too_large: the body is over the size limit",
    422: "validation_error, with errors per field; or idempotency_conflict",
    429: "rate_limited: too many tries; see Retry-After",
    503: "unavailable: the database does not answer (a write may or may not have been "
    "made: send it again with the same Idempotency-Key). See Retry-After.",
}


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
    good_id = fields.Integer(metadata={"description": "out_of_stock: the good that ran short"})
    available = fields.Integer(metadata={"description": "out_of_stock: the units left"})
    name = fields.String(metadata={"description": "out_of_stock: the good's name"})
    unit = fields.String(metadata={"description": "out_of_stock: the good's unit"})
    requested = fields.Integer(metadata={"description": "out_of_stock: the units asked"})
    required = fields.Integer(metadata={"description": "insufficient_points: the points asked"})
    balance = fields.Integer(metadata={"description": "insufficient_points: the balance now"})
    shortfall = fields.Integer(
        metadata={"description": "insufficient_points: the points still missing"}
    )


class IdConverter(IntegerConverter):
    """A database id in a path: documented as 1 to 2**31 - 1.

    A number no row can have (0, or one past a 32-bit integer) becomes 0, so the view
    answers 404 as for any missing id: it never reaches the database as an overflow,
    and never turns into a 405 (Werkzeug answers 405 when a converter refuses a value
    on a path that another method's rule also matched).
    """

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_INT)

    def to_python(self, value: str) -> int:
        number = int(value) if len(value) <= len(str(MAX_INT)) else 0
        return number if 1 <= number <= MAX_INT else 0


class UnreadableJson(DomainError):
    status, code, title = 400, "validation_error", "Bad request"

    def __init__(self) -> None:
        super().__init__(
            "The request did not pass validation.", errors={"_schema": ["Invalid JSON body."]}
        )


def refuse_unreadable_json() -> None:
    """Answer 400 for an API body sent as JSON that cannot be read or could not be stored.

    Checked before anything else reads it (the idempotency fingerprint, webargs),
    since json.loads raises more than JSONDecodeError: RecursionError on deep
    nesting, ValueError on an integer of thousands of digits; and "\\ud800" decodes
    to an unpaired surrogate that no database can store.
    """
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return
    if not request.is_json:
        return
    body = request.get_data(cache=True)
    if not body:
        return
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        raise UnreadableJson() from None


class GreenPointsDocs(BasePlugin):
    """Document every error an operation can answer, as problem+json.

    401 and 403 where a role is required, 404 where the path names an object,
    400, 413 and 422 where there is a body, 503 everywhere (the database may be
    down); an error response documented by hand (409, 410) gets the problem body.
    A schema may add what marshmallow cannot say (a oneOf) in its OPENAPI attribute.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def schema_helper(self, name, definition, **kwargs: Any) -> dict | None:
        return getattr(kwargs.get("schema"), "OPENAPI", None)

    def operation_helper(self, path=None, operations=None, **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        roles = getattr(view, "required_roles", None)
        for operation in (operations or {}).values():
            statuses = {503}
            if roles is not None:
                statuses.add(401)
                if roles:
                    statuses.add(403)
            if rule is not None and rule.arguments:
                statuses.add(404)
            if "requestBody" in operation:
                statuses.update((400, 413, 422))
            responses = operation.setdefault("responses", {})
            documented = {int(code) for code in responses if str(code).isdigit()}
            for status in sorted(statuses - documented):
                responses[status] = http.HTTPStatus(status).name
            for code, response in responses.items():
                is_error = str(code).isdigit() and int(code) >= 400
                if is_error and isinstance(response, dict) and "content" not in response:
                    response["content"] = {PROBLEM_JSON: {"schema": "Problem"}}


class GreenPointsApi(Api):
    ERROR_SCHEMA = ProblemSchema
    # Every error an operation answers is listed by its status: no catch-all default.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_converter(IdConverter, integerconverter2paramschema)

    def init_app(self, app: Flask, *, spec_kwargs: dict | None = None) -> None:
        """Bind to the app: its <id:...> path converter, the JSON check, the problem docs."""
        app.url_map.converters["id"] = IdConverter
        app.before_request(refuse_unreadable_json)
        spec_kwargs = dict(spec_kwargs or {})
        spec_kwargs["extra_plugins"] = [
            *spec_kwargs.get("extra_plugins", ()),
            GreenPointsDocs(app),
        ]
        super().init_app(app, spec_kwargs=spec_kwargs)

    def _register_responses(self) -> None:
        """Describe the error responses as problem+json, with their API codes."""
        self.spec.components.schema("Problem", schema=self.ERROR_SCHEMA)
        for status in http.HTTPStatus:
            response: dict[str, Any] = {
                "description": ERROR_DESCRIPTIONS.get(status, status.phrase)
            }
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)


api = GreenPointsApi()
babel = Babel()
# Pages and JSON go compressed (brotli where the browser takes it, else gzip), so the
# one-machine setup without nginx is as light on a phone's data as the nginx one.
# Static files compress themselves (app/static_files.py); streamed answers stay as
# they are (COMPRESS_STREAMS, config.py).
compress = Compress()
migrate = Migrate()
