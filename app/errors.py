"""Domain errors, and one place that turns every error into problem+json or a page."""

from typing import Any

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"

# Default code and title for plain HTTP errors (routing, smorest, abort()).
HTTP_CODES = {
    400: ("validation_error", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Validation error"),
    429: ("rate_limited", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


class DomainError(Exception):
    """A refusal by the business rules, with its HTTP status and API code."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_error", "Validation error"


class InsufficientPoints(DomainError):
    status, code, title = 409, "insufficient_points", "Insufficient points"


class AlreadyReversed(DomainError):
    status, code, title = 409, "already_reversed", "Already reversed"


class IdempotencyConflict(DomainError):
    status, code, title = 422, "idempotency_conflict", "Idempotency key reused"


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "Too many requests"


def wants_json() -> bool:
    """Tell whether the client of this request expects JSON rather than a page."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def problem(status: int, code: str, title: str, detail: str | None = None, **extra: Any):
    """Build a problem+json response (RFC 9457) carrying our API code."""
    body = {
        "type": f"https://greenpoints.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


PAGE_TITLES = {
    400: _l("The request could not be understood."),
    401: _l("Please log in first."),
    403: _l("You may not open this page."),
    404: _l("This page does not exist."),
    405: _l("This page does not accept that action."),
    409: _l("That could not be done."),
    413: _l("The upload is too large."),
    422: _l("Some of what was entered cannot be used."),
    429: _l("Too many tries. Please wait a moment."),
    500: _l("Something went wrong on our side."),
    503: _l("The service is busy. Please try again shortly."),
}


# What a page says about a business refusal, in the reader's language. Other errors
# (a field that did not validate) keep the detail the service wrote.
PAGE_REFUSALS = {
    "already_inspected_today": _l("This household was already inspected today."),
    "insufficient_points": _l("Not enough points."),
    "out_of_stock": _l("Some of these goods are no longer in stock."),
    "household_inactive": _l("This household has moved away."),
    "moved_out": _l("This household has moved out of the village."),
    "forfeit_passed": _l("The forfeit date has passed; the household cannot move back."),
    "already_reversed": _l("This was already undone."),
    "conflict_of_interest": _l("You may not inspect your own household."),
    "invalid_qr": _l("This card could not be read."),
    "revoked_qr": _l("This card was replaced by a new one."),
    "not_found": _l("It does not exist, or not in this village."),
    "forbidden": _l("You may not open this page."),
    "idempotency_conflict": _l("This form was already sent with other values; reload the page."),
    "not_own_inspection": _l("Only the inspector who gave this grade may change it."),
    "undo_window_closed": _l("It is too late to change this grade; ask the village admin."),
    "username_taken": _l("This username is taken; choose another."),
    "already_appealed": _l("This grade was already appealed."),
    "appeal_closed": _l("This appeal is closed."),
    "same_person": _l("Another person must decide this."),
}


def refusal_message(code: str | None) -> str | None:
    """The page text for a refusal named by its code (as in ?refused=), if it is one we know."""
    message = PAGE_REFUSALS.get(code or "")
    return str(message) if message is not None else None


def page_message(error: "DomainError") -> str:
    """What a page shows for a refused action: translated where the code is known."""
    message = PAGE_REFUSALS.get(error.code)
    if message is None:  # a refusal that brings its own words for pages (app/photos.py)
        message = getattr(error, "page_text", None)
    return str(message) if message is not None else error.detail


def error_page(status: int, detail: str | None = None):
    """Render the friendly page shown to browsers for an error."""
    message = PAGE_TITLES.get(status, PAGE_TITLES[500])
    try:
        return render_template(
            "errors/error.html", status=status, message=message, detail=detail
        ), status
    except Exception:  # a broken template must not hide the original error
        current_app.logger.exception("The error page failed to render")
        return f"{status} {message}", status, {"Content-Type": "text/plain; charset=utf-8"}


def _http_error(error: HTTPException):
    status = error.code or 500
    code, title = HTTP_CODES.get(status, ("error", error.name))
    if not wants_json():
        page = make_response(error_page(status))
        page.headers.extend(_own_headers(error))
        return page
    extra: dict[str, Any] = {}
    detail = error.description if status != 500 else None
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages:
        # webargs nests messages by location: {"json": {"field": [...]}}.
        errors: dict[str, Any] = {}
        for location_errors in messages.values():
            if isinstance(location_errors, dict):
                errors.update(location_errors)
            else:
                errors.setdefault("_schema", []).extend(location_errors)
        extra["errors"] = errors
        detail = "The request did not pass validation."
    response = problem(status, code, title, detail, **extra)
    response.headers.extend(_own_headers(error))
    return response


def _own_headers(error: HTTPException) -> list[tuple[str, str]]:
    """Return the headers the error itself carries (Allow on a 405, Retry-After, ...)."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def _domain_error(error: DomainError):
    if not wants_json():
        return error_page(error.status, page_message(error))
    extra = dict(error.extra)
    headers = extra.pop("headers", {})
    response = problem(error.status, error.code, error.title, error.detail, **extra)
    response.headers.update(headers)
    return response


def _database_unavailable(error: Exception):
    """The database is down, unreachable, full or read-only: say so, never a traceback."""
    from app.db import db

    current_app.logger.error("Database unavailable: %s", error)
    db.session.rollback()
    if not wants_json():
        response = error_page(503)
    else:
        response = problem(
            503,
            "unavailable",
            "Service unavailable",
            # Not "nothing was changed": a connection lost during COMMIT leaves that unknown.
            "The database is not available right now; try again shortly. A write sent "
            "again with the same Idempotency-Key is never applied twice.",
        )
    response = current_app.make_response(response)
    response.headers["Retry-After"] = "5"
    return response


def _database_error(error: Exception):
    """Any other database error: 503 when its connection was dropped (a demoted primary)."""
    if getattr(error, "connection_invalidated", False):
        return _database_unavailable(error)
    return _unexpected_error(error)


def _unexpected_error(error: Exception):
    current_app.logger.exception("Unhandled error", exc_info=error)
    if not wants_json():
        return error_page(500)
    return problem(
        500,
        "internal_error",
        "Internal server error",
        "An unexpected error occurred. It has been logged.",
    )


def register_error_handlers(app: Flask) -> None:
    """Route every error through problem+json (API) or the error page (browser)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected_error)


class InvalidQr(DomainError):
    status, code, title = 422, "invalid_qr", "Not a valid Green Points card"


class RevokedQr(DomainError):
    status, code, title = 410, "revoked_qr", "This card was replaced by a newer one"


class AlreadyInspectedToday(DomainError):
    status, code, title = 409, "already_inspected_today", "Already inspected today"


class ConflictOfInterest(DomainError):
    status, code, title = 403, "conflict_of_interest", "Conflict of interest"


class HouseholdInactive(DomainError):
    status, code, title = 409, "household_inactive", "The household has moved away"


class MovedOut(DomainError):
    """The household moved out of the village: no grade and no report credit from that day."""

    status, code, title = 409, "moved_out", "The household has moved out"


class ForfeitPassed(DomainError):
    """A move back asked for after the forfeit date: the points are already gone."""

    status, code, title = 409, "forfeit_passed", "The forfeit date has passed"


class OutOfStock(DomainError):
    status, code, title = 409, "out_of_stock", "Out of stock"


class NotOwnInspection(DomainError):
    """An inspector asked to undo or annotate a grade another inspector gave."""

    status, code, title = 403, "not_own_inspection", "Not your inspection"


class UndoWindowClosed(DomainError):
    """The inspector's time to undo or annotate his own grade is over (UNDO_MINUTES)."""

    status, code, title = 403, "undo_window_closed", "Too late to change this grade"


class TooLate(DomainError):
    """An inspection recorded offline arrived after the queue's limit (72 hours)."""

    status, code, title = 422, "too_late", "Recorded too long ago"


class ReadOnly(DomainError):
    """A township user asked to change a village's data: it reads and never writes."""

    status, code, title = 403, "read_only", "Read only"

    def __init__(self, detail: str = "A township reads its villages' figures and never writes."):
        super().__init__(detail)


class AlreadyAppealed(DomainError):
    status, code, title = 409, "already_appealed", "Already appealed"


class AppealClosed(DomainError):
    """An appeal asked after the rules' appeal_days, or a decision on one already decided."""

    status, code, title = 409, "appeal_closed", "Appeal closed"


class SamePerson(DomainError):
    """The second pair of eyes must be another person's."""

    status, code, title = 403, "same_person", "Same person"


class AlreadyDecided(DomainError):
    """An appeal or a pending adjustment that another decision got to first."""

    status, code, title = 409, "invalid_transition", "Already decided"
    page_text = _l("This was already decided; reload the page.")
