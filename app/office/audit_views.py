"""The admin's page of the audit log: each event as a sentence, its details labelled."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from app.audit import services
from app.audit.models import AuditEvent
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.db import db
from app.households.models import Household
from app.office.services import list_events
from app.scope import current_scope
from app.villages.models import Grid

bp = Blueprint("audit", __name__)

PER_PAGE = 50

ACTION_LABELS = {
    services.RULES_CHANGED: _l("Scoring rules changed"),
    services.CARD_REISSUED: _l("Card reissued"),
    services.POINTS_ADJUSTED: _l("Points adjusted"),
    services.INSPECTION_VOIDED: _l("Inspection voided"),
    services.INSPECTION_NOTED: _l("Inspection note changed"),
    services.REDEMPTION_CANCELLED: _l("Redemption cancelled"),
    services.USER_CREATED: _l("User created"),
    services.USER_DISABLED: _l("User disabled"),
    services.USER_ENABLED: _l("User enabled"),
    services.PASSWORD_RESET: _l("Password reset"),
    services.PASSWORD_CHANGED: _l("Own password changed"),
    services.LOGIN_UNLOCKED: _l("Login unlocked"),
    services.USER_GRIDS_SET: _l("Inspector's grids set"),
    services.HOUSEHOLD_CREATED: _l("Household added"),
    services.HOUSEHOLD_UPDATED: _l("Household edited"),
    services.HOUSEHOLD_MOVED: _l("Household moved away"),
    services.HOUSEHOLDS_IMPORTED: _l("Roster imported"),
    services.HOUSEHOLD_SPLIT: _l("Household split"),
    services.HOUSEHOLD_MERGED: _l("Households merged"),
    services.HOUSEHOLD_MOVED_OUT: _l("Household moved out"),
    services.HOUSEHOLD_MOVED_BACK: _l("Household moved back"),
    services.GOOD_CREATED: _l("Good added"),
    services.GOOD_UPDATED: _l("Good edited"),
    services.STOCK_COUNTED: _l("Stocktake"),
    services.STOCK_WRITTEN_OFF: _l("Stock written off"),
    services.STATION_CREATED: _l("Collection point added"),
    services.GRID_CREATED: _l("Grid added"),
    services.GRID_RENAMED: _l("Grid renamed"),
    services.SPOT_CHECK_DRAWN: _l("Spot check drawn"),
    services.SPOT_CHECK_GRADED: _l("Spot check graded"),
    services.CASE_SUPERVISED: _l("Case supervised"),
    services.APPEAL_DECIDED: _l("Appeal decided"),
    services.ADJUSTMENT_REQUESTED: _l("Adjustment awaiting approval"),
    services.ADJUSTMENT_APPROVED: _l("Adjustment approved"),
    services.ADJUSTMENT_REJECTED: _l("Adjustment rejected"),
}

# What happened, as a sentence about its target (%(target)s: a household, a user, a good).
SENTENCES = {
    services.RULES_CHANGED: _l("Changed the scoring rules."),
    services.CARD_REISSUED: _l("Reissued the door card of %(target)s."),
    services.POINTS_ADJUSTED: _l("Adjusted the points of %(target)s."),
    services.INSPECTION_VOIDED: _l("Voided an inspection of %(target)s."),
    services.INSPECTION_NOTED: _l("Changed the note on an inspection of %(target)s."),
    services.REDEMPTION_CANCELLED: _l("Cancelled a redemption of %(target)s."),
    services.USER_CREATED: _l("Created the user %(target)s."),
    services.USER_DISABLED: _l("Disabled the user %(target)s."),
    services.USER_ENABLED: _l("Enabled the user %(target)s."),
    services.PASSWORD_RESET: _l("Set a new password for %(target)s."),
    services.PASSWORD_CHANGED: _l("Changed the own password of %(target)s."),
    services.LOGIN_UNLOCKED: _l("Unlocked the login of %(target)s."),
    services.USER_GRIDS_SET: _l("Set the grids %(target)s works."),
    services.HOUSEHOLD_CREATED: _l("Added the household %(target)s."),
    services.HOUSEHOLD_UPDATED: _l("Edited the household %(target)s."),
    services.HOUSEHOLD_MOVED: _l("Marked the household %(target)s as moved away."),
    services.HOUSEHOLDS_IMPORTED: _l("Imported households from a roster."),
    services.HOUSEHOLD_SPLIT: _l("Split a new household off %(target)s."),
    services.HOUSEHOLD_MERGED: _l("Merged the household %(target)s into another."),
    services.HOUSEHOLD_MOVED_OUT: _l("Recorded that %(target)s moved out."),
    services.HOUSEHOLD_MOVED_BACK: _l("Recorded that %(target)s moved back."),
    services.GOOD_CREATED: _l("Added the good %(target)s."),
    services.GOOD_UPDATED: _l("Edited the good %(target)s."),
    services.STOCK_COUNTED: _l("Counted the stock of %(target)s."),
    services.STOCK_WRITTEN_OFF: _l("Wrote off stock of %(target)s."),
    services.STATION_CREATED: _l("Added the collection point %(target)s."),
    services.GRID_CREATED: _l("Added the grid %(target)s."),
    services.GRID_RENAMED: _l("Renamed the grid %(target)s."),
    services.SPOT_CHECK_DRAWN: _l("Drew a spot check of a day's inspections."),
    services.SPOT_CHECK_GRADED: _l("Graded an inspection again in a spot check."),
    services.CASE_SUPERVISED: _l("Supervised the case %(target)s."),
    services.APPEAL_DECIDED: _l("Decided an appeal of %(target)s."),
    services.ADJUSTMENT_REQUESTED: _l("Asked to adjust the points of %(target)s."),
    services.ADJUSTMENT_APPROVED: _l("Approved an adjustment of %(target)s."),
    services.ADJUSTMENT_REJECTED: _l("Rejected an adjustment of %(target)s."),
}

TARGET_LABELS = {
    "rules": _l("Scoring rules"),
    "household": _l("Household"),
    "village": _l("Village"),
    "inspection": _l("Inspection"),
    "redemption": _l("Redemption"),
    "user": _l("User"),
    "good": _l("Good"),
    "station": _l("Collection point"),
    "grid": _l("Grid"),
    "spot_check": _l("Spot check"),
    "case": _l("Case"),
}

# The name of each detail an event may keep (app/*/services.py's record() calls).
DETAIL_LABELS = {
    "code": _l("Household code"),
    "name": _l("Name"),
    "username": _l("Username"),
    "role": _l("Role"),
    "household_id": _l("Household"),
    "grid_id": _l("Grid"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "members": _l("Members"),
    "status": _l("Status"),
    "changes": _l("Changes"),
    "old_version": _l("Old card version"),
    "new_version": _l("New card version"),
    "amount": _l("Points added (+) or taken (−)"),
    "transaction_id": _l("Ledger entry"),
    "balance_after": _l("Balance after the adjustment"),
    "count": _l("Households imported"),
    "skipped": _l("Rows skipped"),
    "version": _l("Rules version"),
    "before": _l("Before"),
    "after": _l("After"),
    "grades": _l("Points per grade"),
    "labels": _l("Grade names"),
    "daily_limit": _l("Inspections that earn points, per household per day"),
    "expiry": _l("Expiry of points"),
    "cases": _l("Resident reports"),
    "policy": _l("Rule"),
    "months": _l("Months"),
    "grade": _l("Grade"),
    "note": _l("Note"),
    "original_grade": _l("Grade given"),
    "inspection_id": _l("Inspection"),
    "date": _l("Day"),
    "seed": _l("Seed of the draw"),
    "population_count": _l("Inspections drawn from"),
    "drawn": _l("Inspections drawn"),
    "points": _l("Points"),
    "reversal_id": _l("Reversing ledger entry"),
    "unit": _l("Unit"),
    "price_points": _l("Price in points"),
    "stock": _l("Stock"),
    "counted": _l("Counted"),
    "movement_id": _l("Stock movement"),
    "quantity": _l("Quantity"),
    "stock_after": _l("Stock after"),
    "category": _l("Category"),
    "low_stock": _l("Reorder at"),
    "active": _l("On sale"),
    "cost_cents": _l("Cost (fen)"),
    "receipt_no": _l("Receipt number"),
    "total_points": _l("Total points"),
    "tokens_revoked": _l("Logins ended"),
    "failed_logins_cleared": _l("Failed logins forgotten"),
    "old_grid_ids": _l("Grids before"),
    "new_grid_ids": _l("Grids after"),
    "number": _l("Number"),
    "new_code": _l("New household"),
    "into_code": _l("Merged into"),
    "moved_out_on": _l("Moved out on"),
    "forfeit_on": _l("Points forfeited on"),
    "appeal_id": _l("Appeal"),
    "decision": _l("Decision"),
    "voided": _l("Voided inspection"),
    "old_grade": _l("Grade appealed"),
    "corrected_inspection_id": _l("Corrected inspection"),
    "adjustment_id": _l("Adjustment awaiting approval"),
    "requested_by": _l("Asked by"),
    "appeal_days": _l("Days a household may appeal a grade"),
    "adjustment_approval_over": _l("Adjustments larger than this wait for a second admin"),
}

# Values that are codes, shown by name.
VALUE_LABELS = {
    "active": _l("Active"),
    "moved": _l("Moved away"),
    "moved_out": _l("Moved out"),
    "merged": _l("Merged"),
    "none": _l("Points never expire"),
    "end_of_next_year": _l("Expire at the end of the next year"),
    "idle_months": _l("Expire after months with no activity"),
    "upheld": _l("Grade kept"),
    "overturned": _l("Grade changed"),
}

ROLE_LABELS = {
    "admin": _l("Village admin"),
    "inspector": _l("Inspector"),
    "storekeeper": _l("Storekeeper"),
    "household": _l("Household"),
}

# Details the sentence already says.
IN_SENTENCE = {"code", "username", "name"}


@dataclass(frozen=True)
class Names:
    """The households and grids a page of events mentions, by id."""

    households: dict[int, Household]
    grids: dict[int, str]


def _ids(events: Iterable[AuditEvent], key: str) -> set[int]:
    found: set[int] = set()

    def walk(value: Any, name: str | None) -> None:
        if isinstance(value, dict):
            for inner, item in value.items():
                walk(item, inner if inner not in ("old", "new") else name)
        elif isinstance(value, list) and name in (key, f"old_{key}s", f"new_{key}s"):
            found.update(item for item in value if isinstance(item, int))
        elif name == key and isinstance(value, int) and not isinstance(value, bool):
            found.add(value)

    for event in events:
        walk(event.details or {}, None)
    return found


def names_for(village_id: int, events: list[AuditEvent]) -> Names:
    """Look up, in two queries, every household and grid the events name."""
    household_ids = _ids(events, "household_id") | {
        e.target_id for e in events if e.target_type == "household" and e.target_id
    }
    households = {
        h.id: h
        for h in db.session.scalars(
            select(Household).where(
                Household.village_id == village_id, Household.id.in_(household_ids)
            )
        )
    }
    grid_ids = _ids(events, "grid_id")
    grids = {
        grid_id: name
        for grid_id, name in db.session.execute(
            select(Grid.id, Grid.name).where(Grid.village_id == village_id, Grid.id.in_(grid_ids))
        )
    }
    return Names(households, grids)


def household_link(household: Household | None, household_id: int | None) -> Markup:
    """A household by name and code, linked to its page."""
    if household is None:
        return Markup(escape(_("a household no longer on record")))
    url = url_for("households.household_detail", household_id=household_id)
    return Markup('<a href="{}">{}（{}）</a>').format(url, household.name, household.code)


def _plain(value: Any, key: str | None, names: Names) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if key in ("grid_id", "old_grid_ids", "new_grid_ids"):
        if isinstance(value, list):
            return "、".join(_plain(item, "grid_id", names) for item in value) or _(
                "The whole village"
            )
        return names.grids.get(value, str(value))
    if key == "household_id" and value in names.households:
        household = names.households[value]
        return f"{household.name}（{household.code}）"
    if key == "role" and value in ROLE_LABELS:
        return str(ROLE_LABELS[value])
    if isinstance(value, str) and value in VALUE_LABELS and key in ("status", "policy", "decision"):
        return str(VALUE_LABELS[value])
    if key == "expiry" and isinstance(value, dict) and "policy" in value:
        return expiry_text(value)
    if key == "cases" and isinstance(value, dict):
        return cases_text(value)
    if isinstance(value, dict) and set(value) == {"old", "new"}:
        return f"{_plain(value['old'], key, names)} → {_plain(value['new'], key, names)}"
    if isinstance(value, dict):
        return "；".join(
            f"{label(inner)} {_plain(item, inner, names)}" for inner, item in value.items()
        )
    if isinstance(value, list):
        return "、".join(_plain(item, key, names) for item in value)
    return str(value)


def expiry_text(policy: dict) -> str:
    """An expiry policy as the rules page says it ("expire after 12 months with no activity")."""
    if policy.get("policy") == "idle_months" and isinstance(policy.get("months"), int):
        return _("Expire after %(months)d months with no activity", months=policy["months"])
    known = VALUE_LABELS.get(str(policy.get("policy")))
    return str(known) if known is not None else str(policy.get("policy"))


def cases_text(rules: dict) -> str:
    """A version's resident-report rules in a sentence, categories with their hours."""
    categories = "、".join(
        _("%(name)s (%(hours)s h)", name=c.get("name", ""), hours=c.get("hours", ""))
        for c in rules.get("categories", [])
        if isinstance(c, dict)
    )
    return _(
        "%(points)s points a valid report, at most %(cap)s a day, %(days)s days to confirm; "
        "%(categories)s",
        points=rules.get("points", 0),
        cap=rules.get("daily_cap", ""),
        days=rules.get("confirm_days", ""),
        categories=categories,
    )


def label(key: str) -> str:
    """A detail's name in the reader's language (a grade's letter stays as it is)."""
    known = DETAIL_LABELS.get(key)
    return str(known) if known is not None else key


def describe(details: dict | None, names: Names | None = None) -> list[tuple[str, str]]:
    """Return the details of an event as (label, text) pairs to show."""
    names = names or Names({}, {})
    rows: list[tuple[str, str]] = []
    for key, value in (details or {}).items():
        if key in IN_SENTENCE or value is None:
            continue
        if key == "changes" and isinstance(value, dict):
            rows.extend(
                (label(field), _plain(change, field, names)) for field, change in value.items()
            )
            continue
        rows.append((label(key), _plain(value, key, names)))
    return rows


def sentence(event: AuditEvent, names: Names) -> Markup:
    """Say what the event did, naming its target (a household by name and code)."""
    details = event.details or {}
    if event.target_type == "household":
        target = household_link(names.households.get(event.target_id or 0), event.target_id)
    elif details.get("household_id") is not None:
        target = household_link(
            names.households.get(details["household_id"]), details["household_id"]
        )
    elif event.target_type == "user":
        target = Markup("<strong>{}</strong>").format(details.get("username") or event.target_id)
    elif event.target_type in ("good", "grid", "station", "case"):
        target = Markup("<strong>{}</strong>").format(details.get("name") or event.target_id)
    else:
        target = Markup(escape(str(TARGET_LABELS.get(event.target_type, event.target_type))))
    known = SENTENCES.get(event.action)
    if known is None:  # an action this page does not know yet: its name and target
        return Markup("{}: {}").format(ACTION_LABELS.get(event.action, event.action), target)
    return escape(str(known)).replace("%(target)s", target)


@bp.get("/admin/audit")
@role_required(ADMIN)
def audit_page():
    """Every admin action of the village, newest first, filtered by action."""
    action = request.args.get("action", "")
    if action not in ACTION_LABELS:
        action = ""
    page = max(1, min(request.args.get("page", 1, type=int), 100_000))
    village_id = current_scope().village_id
    result = list_events(
        village_id,
        action=action or None,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    names = names_for(village_id, [event for event, _username in result.items])
    return render_template(
        "audit/events.html",
        rows=result.items,
        total=result.total,
        page=page,
        pages=max(1, -(-result.total // PER_PAGE)),
        action=action,
        actions=ACTION_LABELS,
        sentence=lambda event: sentence(event, names),
        describe=lambda details: describe(details, names),
    )
