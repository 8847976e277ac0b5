"""The admin's page of the audit log."""

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from app.audit import services
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.scope import current_scope

bp = Blueprint("audit", __name__)

PER_PAGE = 50

ACTION_LABELS = {
    services.RULES_CHANGED: _l("Scoring rules changed"),
    services.CARD_REISSUED: _l("Card reissued"),
    services.POINTS_ADJUSTED: _l("Points adjusted"),
    services.INSPECTION_VOIDED: _l("Inspection voided"),
    services.REDEMPTION_CANCELLED: _l("Redemption cancelled"),
    services.USER_CREATED: _l("User created"),
    services.USER_DISABLED: _l("User disabled"),
    services.USER_ENABLED: _l("User enabled"),
    services.PASSWORD_RESET: _l("Password reset"),
    services.HOUSEHOLD_CREATED: _l("Household added"),
    services.HOUSEHOLD_UPDATED: _l("Household edited"),
    services.HOUSEHOLD_MOVED: _l("Household moved away"),
    services.HOUSEHOLDS_IMPORTED: _l("Roster imported"),
    services.GOOD_CREATED: _l("Good added"),
    services.GOOD_UPDATED: _l("Good edited"),
    services.STOCK_COUNTED: _l("Stocktake"),
    services.STOCK_WRITTEN_OFF: _l("Stock written off"),
}

TARGET_LABELS = {
    "rules": _l("Scoring rules"),
    "household": _l("Household"),
    "village": _l("Village"),
    "inspection": _l("Inspection"),
    "redemption": _l("Redemption"),
    "user": _l("User"),
    "good": _l("Good"),
}


def _value(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return f"{_value(value['old'])} → {_value(value['new'])}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    if value is None:
        return "—"
    return str(value)


def describe(details: dict | None) -> list[tuple[str, str]]:
    """Return the details of an event as (field, text) pairs to show."""
    return [(key, _value(value)) for key, value in (details or {}).items()]


@bp.get("/admin/audit")
@role_required(ADMIN)
def audit_page():
    """Every admin action of the village, newest first, filtered by action."""
    action = request.args.get("action", "")
    if action not in ACTION_LABELS:
        action = ""
    page = max(1, min(request.args.get("page", 1, type=int), 100_000))
    result = services.list_events(
        current_scope().village_id,
        action=action or None,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    return render_template(
        "audit/events.html",
        rows=result.items,
        total=result.total,
        page=page,
        pages=max(1, -(-result.total // PER_PAGE)),
        action=action,
        actions=ACTION_LABELS,
        targets=TARGET_LABELS,
        describe=describe,
    )
