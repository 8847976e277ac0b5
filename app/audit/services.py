"""Recording admin actions in the audit log (the office reads it back: app/office)."""

from collections.abc import Mapping, Sequence
from typing import Any

from app.audit.models import AuditEvent
from app.db import db

# Action codes, in the order the admin's filter lists them.
RULES_CHANGED = "rules_changed"
CARD_REISSUED = "card_reissued"
POINTS_ADJUSTED = "points_adjusted"
INSPECTION_VOIDED = "inspection_voided"
INSPECTION_NOTED = "inspection_noted"
REDEMPTION_CANCELLED = "redemption_cancelled"
USER_CREATED = "user_created"
USER_DISABLED = "user_disabled"
USER_ENABLED = "user_enabled"
PASSWORD_RESET = "password_reset"
PASSWORD_CHANGED = "password_changed"
LOGIN_UNLOCKED = "login_unlocked"
USER_GRIDS_SET = "user_grids_set"
HOUSEHOLD_CREATED = "household_created"
HOUSEHOLD_UPDATED = "household_updated"
HOUSEHOLD_MOVED = "household_moved"
HOUSEHOLDS_IMPORTED = "households_imported"
HOUSEHOLD_SPLIT = "household_split"
HOUSEHOLD_MERGED = "household_merged"
HOUSEHOLD_MOVED_OUT = "household_moved_out"
HOUSEHOLD_MOVED_BACK = "household_moved_back"
GOOD_CREATED = "good_created"
GOOD_UPDATED = "good_updated"
STOCK_COUNTED = "stock_counted"
STOCK_WRITTEN_OFF = "stock_written_off"
STATION_CREATED = "station_created"
GRID_CREATED = "grid_created"
GRID_RENAMED = "grid_renamed"
SPOT_CHECK_DRAWN = "spot_check_drawn"
SPOT_CHECK_GRADED = "spot_check_graded"
CASE_SUPERVISED = "case_supervised"
APPEAL_DECIDED = "appeal_decided"
ADJUSTMENT_REQUESTED = "adjustment_requested"
ADJUSTMENT_APPROVED = "adjustment_approved"
ADJUSTMENT_REJECTED = "adjustment_rejected"
ACTIONS = (
    RULES_CHANGED,
    CARD_REISSUED,
    POINTS_ADJUSTED,
    INSPECTION_VOIDED,
    INSPECTION_NOTED,
    REDEMPTION_CANCELLED,
    USER_CREATED,
    USER_DISABLED,
    USER_ENABLED,
    PASSWORD_RESET,
    PASSWORD_CHANGED,
    LOGIN_UNLOCKED,
    USER_GRIDS_SET,
    HOUSEHOLD_CREATED,
    HOUSEHOLD_UPDATED,
    HOUSEHOLD_MOVED,
    HOUSEHOLDS_IMPORTED,
    HOUSEHOLD_SPLIT,
    HOUSEHOLD_MERGED,
    HOUSEHOLD_MOVED_OUT,
    HOUSEHOLD_MOVED_BACK,
    GOOD_CREATED,
    GOOD_UPDATED,
    STOCK_COUNTED,
    STOCK_WRITTEN_OFF,
    STATION_CREATED,
    GRID_CREATED,
    GRID_RENAMED,
    SPOT_CHECK_DRAWN,
    SPOT_CHECK_GRADED,
    CASE_SUPERVISED,
    APPEAL_DECIDED,
    ADJUSTMENT_REQUESTED,
    ADJUSTMENT_APPROVED,
    ADJUSTMENT_REJECTED,
)


def record(
    village_id: int | None,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent | None:
    """Add an audit event to the current transaction; it commits with the change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if village_id is None:
        # A township user's account (changed from the command line) has no village log.
        return None
    event = AuditEvent(
        village_id=village_id,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        reason=reason[:500] if reason else None,
    )
    db.session.add(event)
    # Flush now, so a savepoint rolled back by a refusal takes the event with it.
    db.session.flush()
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return {field: {"old", "new"}} for the fields whose value changed."""
    return {
        field: {"old": before.get(field), "new": value}
        for field, value in after.items()
        if before.get(field) != value
    }


def set_fields(
    row: Any, fields: Sequence[str], given: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Set the fields of row that given names, flush, and return what changed (changes())."""
    before = {field: getattr(row, field) for field in fields}
    for field in fields:
        if field in given:
            setattr(row, field, given[field])
    db.session.flush()
    return changes(before, {field: getattr(row, field) for field in fields})
