"""One way to declare a write: a schema, a service call, served to the API and to pages.

    @action(blp, "/inspections", roles=(INSPECTOR, ADMIN), schema=InspectionIn,
            out=InspectionOut, status=201, location=inspection_location)
    def create_inspection(scope: Scope, data: dict) -> Inspection:
        return services.record(scope, **data)

declares the API endpoint (roles, the write transaction with its retries and
Idempotency-Key, the input and output schemas, the OpenAPI text) in one place.
The page that offers the same action posts the same fields; its view calls
`create_inspection.submit(...)`, which checks them with the same schema, runs the
same function in the same transaction under the form's key (made when the form
was shown), and turns a refusal into the same code, which the page translates.

A read is declared the same way, in one call, over the function that answers it:

    @reading(blp, "/summary", roles=(ADMIN, TOWNSHIP), query=SummaryQuery,
             out=SummaryOut, responses={**BAD_RANGE, **OTHER_VILLAGE}, may_lag=True)
    def summary(args): ...
"""

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from flask import g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields
from werkzeug.wrappers import Response

from app.auth.decorators import role_required
from app.db import reads_may_lag
from app.errors import DomainError, ValidationFailed, page_message
from app.schemas import CONTROL_MESSAGE
from app.scope import Scope, current_scope
from app.writes import IDEMPOTENCY_DOC, fingerprint, page_key, run_idempotent, write_endpoint

__all__ = [
    "Action",
    "FormExpired",
    "FormInvalid",
    "action",
    "form_key",
    "location_of",
    "page_error",
    "reading",
    "redirect_to",
    "refused_to",
    "int_or_text",
    "whole",
]


class FormExpired(DomainError):
    """A page form came back without the key it was shown with."""

    status, code, title = 400, "validation_error", "The form expired"

    def __init__(self):
        super().__init__("The form expired; please choose again.")


class FormInvalid(ValidationFailed):
    """A page form's fields did not pass the action's schema."""

    def __init__(self, errors: dict[str, Any]):
        super().__init__("The form did not pass validation.", errors=errors)
        self.errors = errors


# What a page says about the schema's messages, in the reader's language.
FIELD_MESSAGES = {
    "Missing data for required field.": _l("This is required."),
    "Field may not be null.": _l("This is required."),
    "Not a valid integer.": _l("Enter a whole number."),
    "Not a valid string.": _l("Enter text."),
    CONTROL_MESSAGE: _l("Remove the control or invisible characters."),
}


def field_message(message: str) -> str:
    """Translate one of the schema's messages where we know it."""
    known = FIELD_MESSAGES.get(message)
    if known is not None:
        return str(known)
    if message.startswith(("Length must be", "Shorter than", "Longer than")):
        return _("The text is too long or too short.")
    if message.startswith(("Must be greater", "Must be less", "Must be between")):
        return _("The number is out of range.")
    return message


def form_error_text(errors: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> str:
    """One sentence for a page: which fields to check, and why."""
    parts = []
    for name, messages in errors.items():
        flat = _flatten(messages)
        label = (labels or {}).get(name, name)
        parts.append(f"{label}: {field_message(flat[0])}" if flat else label)
    return _("Please check: %(fields)s", fields="; ".join(parts))


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, Iterable):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def form_input(schema: Schema, form: Mapping[str, Any]) -> dict[str, Any]:
    """Shape a page form's text fields as the schema's JSON would be.

    Empty fields count as not given (so a default applies); whole numbers become
    integers (a strict Integer field refuses text); text is passed as it was typed
    (the schema's own fields trim what they trim, and never a password).
    """
    data: dict[str, Any] = {}
    for name, declared in schema.fields.items():
        key = declared.data_key or name
        if key not in form:
            continue
        value = form[key]
        if isinstance(value, str):
            if value.strip() == "":
                continue
            if isinstance(declared, fields.Integer):
                value = int_or_text(value)
            elif isinstance(declared, fields.Boolean):
                value = value.strip().lower() in ("1", "on", "true", "yes")
        data[key] = value
    return data


def int_or_text(text: str) -> int | str:
    """A form's whole number as an int; any other text as it came, for the schema to refuse."""
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    # str.isdigit() alone also accepts "²", which int() refuses.
    if digits.isascii() and digits.isdigit() and len(digits) <= 12:
        return int(text)
    return text


# The old name, for app/redemptions/views.py until it takes the new one.
whole = int_or_text


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


@dataclass
class Action:
    """A declared write: what it takes, who may do it, and the function that does it."""

    name: str
    func: Callable[..., Any]
    schema: type[Schema]
    roles: tuple[str, ...]
    # A write a township's user may make too: the village of the row the path names.
    township_village: Callable[..., int] | None = None

    def __call__(self, scope: Scope, data: dict, **view_args: Any) -> Any:
        return self.func(scope, data, **view_args)

    def scope(self, **view_args: Any) -> Scope:
        """The caller's scope: its village, or for a township's user the row's village."""
        user = g.get("user")
        if self.township_village is not None and user is not None and user.village_id is None:
            return current_scope(self.township_village(user, **view_args))
        return current_scope()

    def load(self, form: Mapping[str, Any]) -> dict:
        """Check a page form's fields with the action's schema."""
        try:
            return self.schema().load(form_input(self.schema(), form))
        except ValidationError as error:
            raise FormInvalid(error.normalized_messages()) from None

    def submit(
        self,
        form: Mapping[str, Any],
        *,
        key: str | None,
        done: Callable[[Any], Response],
        refused: Callable[[DomainError], Response],
        invalid: Callable[[DomainError], Response | tuple] | None = None,
        data: dict | None = None,
        attachments: Iterable[bytes] = (),
        **view_args: Any,
    ) -> Response | tuple:
        """Run the action for a page form, once per form key; answer what done() or refused() make.

        form is checked with the schema (or data, already loaded, is used as it is);
        done(result) and refused(error) build the response that is kept with the key,
        so a resent form gets it again and changes nothing. What is refused before the
        action runs (FormInvalid, FormExpired, a key sent again with other fields)
        goes to invalid(error), which shows the form again; a 404 or a 5xx is raised
        for the error pages, as is everything when there is no invalid().
        """
        try:
            return self._submit(form, key, done, refused, data, attachments, view_args)
        except DomainError as error:
            if invalid is None or error.status >= 500 or error.code == "not_found":
                raise
            return invalid(error)

    def _submit(
        self,
        form: Mapping[str, Any],
        key: str | None,
        done: Callable[[Any], Response],
        refused: Callable[[DomainError], Response],
        data: dict | None,
        attachments: Iterable[bytes],
        view_args: dict[str, Any],
    ) -> Response:
        full_key = page_key(key or "")
        if full_key is None:
            raise FormExpired()
        if data is None:
            data = self.load(form)
        scope = self.scope(**view_args)
        digest = fingerprint(
            b"page",
            self.name.encode(),
            str(scope.user_id).encode(),
            json.dumps(view_args, sort_keys=True, default=_canonical).encode(),
            json.dumps(data, sort_keys=True, default=_canonical, ensure_ascii=False).encode(),
            *attachments,
        )
        return run_idempotent(
            scope.village_id,
            full_key,
            digest,
            lambda: done(self.func(scope, data, **view_args)),
            on_refusal=refused,
            check_key_first=True,  # a resent form is common, and a form may carry a photo
        )


def form_key() -> str:
    """A new key for a page form that writes, made when the form is shown (templates call it)."""
    return uuid.uuid4().hex


def location_of(endpoint: str, **arguments: str) -> Callable[[Any], str]:
    """A location= for @action: endpoint's URL, each argument read off the result by its path.

    location_of("households_api.get_household", household_id="household.id")
    """
    getters = {name: attrgetter(path) for name, path in arguments.items()}
    return lambda result: url_for(endpoint, **{name: get(result) for name, get in getters.items()})


def redirect_to(endpoint: str, **values: Any) -> Callable[[Any], Response]:
    """A done() that answers a redirect to an endpoint."""

    def respond(_result: Any = None) -> Response:
        return redirect(url_for(endpoint, **values))

    return respond


def refused_to(endpoint: str, **values: Any) -> Callable[[DomainError], Response]:
    """A refused() that answers a redirect to an endpoint, naming the refusal's code."""

    def respond(error: DomainError) -> Response:
        return redirect(url_for(endpoint, refused=error.code, **values))

    return respond


def page_error(error: DomainError, labels: Mapping[str, str] | None = None) -> str:
    """What a page says about a refused form, in the reader's language."""
    if isinstance(error, FormInvalid):
        return form_error_text(error.errors, labels)
    if isinstance(error, FormExpired):
        return _("The form expired; please choose again.")
    return page_message(error)


def action(
    blp: Blueprint,
    rule: str,
    *,
    roles: Iterable[str],
    schema: type[Schema],
    out: type[Schema] | Schema,
    method: str = "POST",
    status: int = 200,
    location: Callable[[Any], str] | None = None,
    arguments_location: str = "json",
    responses: Mapping[int, str] | None = None,
    township_village: Callable[..., int] | None = None,
    status_of: Callable[[Any], int] | None = None,
    guard: Callable[[Callable], Callable] | None = None,
) -> Callable[[Callable[..., Any]], Action]:
    """Declare a write served at rule on the API blueprint; return it as an Action for pages.

    The decorated function takes (scope, data, **path arguments) and returns what
    `out` dumps. roles are checked first, then the write runs in one retried
    transaction honouring Idempotency-Key, which the OpenAPI document describes.

    township_village(user, **path arguments) opens the write to a read-only role (a
    township, listed in roles): it names the village of the row the path names, and
    answers 404 for a row of none of the user's villages. The function itself
    refuses the township every request but the ones it may make.

    status_of, if given, chooses the success status from the result (an adjustment
    that waits for approval answers 202 where one posted answers 201).

    guard, if given, wraps the API view outside its write transaction, after the role
    check: what it writes stays whatever the write does (a try limit's count).
    """
    allowed = tuple(roles)

    def decorator(func: Callable[..., Any]) -> Action:
        declared = Action(func.__name__, func, schema, allowed, township_village)

        def view(args: dict, **kwargs: Any):
            result = func(declared.scope(**kwargs), args, **kwargs)
            headers = {"Location": location(result)} if location is not None else {}
            return result, status_of(result) if status_of is not None else status, headers

        view.__name__ = func.__name__
        view.__doc__ = func.__doc__
        wrapped: Callable = blp.response(status, out)(view)
        for code, description in (responses or {}).items():
            wrapped = blp.alt_response(code, description=description)(wrapped)
        # An instance, made once: given the class, webargs makes one for every request.
        wrapped = blp.arguments(schema(), location=arguments_location)(wrapped)
        wrapped = blp.doc(**IDEMPOTENCY_DOC)(wrapped)
        wrapped = write_endpoint(wrapped, village=lambda **path: declared.scope(**path).village_id)
        if guard is not None:
            wrapped = guard(wrapped)
        wrapped = role_required(*allowed, read_only_may=township_village is not None)(wrapped)
        blp.route(rule, methods=[method])(wrapped)
        return declared

    return decorator


def reading(
    blp: Blueprint,
    rule: str,
    *,
    roles: Iterable[str],
    out: type[Schema] | Schema | None = None,
    query: type[Schema] | None = None,
    content_type: str | None = None,
    doc: Mapping[str, Any] | None = None,
    responses: Mapping[int, str] | None = None,
    may_lag: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a read served by GET at rule on the API blueprint.

    roles are checked first; query (a schema of the query string) is passed to the
    function as its first argument; out (or a bare content_type) documents and dumps
    the 200 answer, doc adds to its OpenAPI text, responses documents the refusals
    by status; may_lag lets the read come from DATABASE_READ_URL's standby.
    """
    allowed = tuple(roles)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        # The order of a decorator stack written out: route, roles, query, 200, doc,
        # refusals (first listed on top), reads_may_lag next to the function.
        wrapped = reads_may_lag(func) if may_lag else func
        for code, description in reversed(list((responses or {}).items())):
            wrapped = blp.alt_response(code, description=description)(wrapped)
        if doc is not None:
            wrapped = blp.doc(**doc)(wrapped)
        wrapped = blp.response(200, out, content_type=content_type)(wrapped)
        if query is not None:
            wrapped = blp.arguments(query(), location="query")(wrapped)
        wrapped = role_required(*allowed)(wrapped)
        return blp.route(rule, methods=["GET"])(wrapped)

    return decorator
