"""The inspector's pages: scan a card, grade, see the new balance, scan the next."""

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.actions import (
    Action,
    FormInvalid,
    form_error_text,
    int_or_text,
    page_error,
    redirect_to,
    refused_to,
)
from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, User
from app.auth.services import grid_ids_of
from app.db import db
from app.errors import (
    DomainError,
    InvalidQr,
    RevokedQr,
    refusal_message,
)
from app.households.cards import resolve_card
from app.households.models import Household
from app.households.services import count_today, get_household, households_by_id
from app.inspections import services
from app.inspections.api import create_inspection, note_inspection, put_rules, void_inspection
from app.inspections.case_rules_form import (
    CategoryInUse,
    case_rule_errors,
    cases_from_form,
    open_cases_by_category,
)
from app.inspections.models import Inspection, InspectionResult
from app.ledger.services import household_balance
from app.photos import store_photo
from app.rules.cases import category_name
from app.rules.services import Rules, current_rules, rules_history
from app.scope import current_scope
from app.villages.services import list_grids

bp = Blueprint("inspections", __name__)

UNDO_FIELDS = {"reason": _l("Reason"), "note": _l("Note")}
GRADE_POINTS = _l("Points of grade %(grade)s")
GRADE_LABEL = _l("Name shown for grade %(grade)s")
EXPIRY_MONTHS = _l("Months with no credit and no redemption")
RULE_FIELDS = {
    "grades": _l("Points"),
    "labels": _l("Name shown"),
    "daily_limit": _l("Inspections that earn points, per household per day"),
    "expiry": _l("When points expire"),
    "appeal_days": _l("Days a household may appeal a grade"),
    "adjustment_approval_over": _l("Adjustments larger than this wait for a second admin"),
}


@bp.get("/inspect")
@role_required(INSPECTOR, ADMIN)
def scanner():
    """Scan a door card; below, today's work and the grid's households still to visit."""
    scope = current_scope()
    grids = list_grids(scope.village_id)
    assigned = grid_ids_of(scope.user)
    if assigned:  # an inspector assigned to grids works those; none: the whole village
        grids = [grid for grid in grids if grid.id in assigned]
    grid_id = request.args.get("grid_id", type=int)
    if grid_id not in {grid.id for grid in grids}:
        grid_id = grids[0].id if grids else None
    today = scope.today()
    mine, _total = services.list_inspections(
        scope.village_id, inspector_id=scope.user_id, day_from=today, day_to=today, limit=200
    )
    codes = households_by_id({i.household_id for i in mine})
    todo = services.not_inspected_today(scope.village_id, grid_id) if grid_id else []
    rules = current_rules(scope.village_id)
    return render_template(
        "inspections/scanner.html",
        grids=grids,
        grid_id=grid_id,
        mine=mine,
        # The day summed up from the server's rows; the phone adds the grades its queue
        # sends while the page is open (static/js/inspect/outcomes.js, addMine()).
        summary=services.day_summary(scope.village_id, scope.user_id, today),
        grade_names=[g.grade for g in rules.grades],
        undoable={i.id for i in mine if services.undo_window_open(i, scope.user)},
        message=refusal_message(request.args.get("refused")),
        households=codes,
        todo=todo,
        error=request.args.get("error"),
    )


@bp.get("/inspect/card")
@role_required(INSPECTOR, ADMIN)
def scanned():
    """Open the household of a scanned card."""
    payload = request.args.get("payload", "")[:2000]
    try:
        household = resolve_card(payload, current_scope().village_id)
    except RevokedQr:
        return redirect(url_for("inspections.scanner", error="revoked"))
    except InvalidQr:
        return redirect(url_for("inspections.scanner", error="invalid"))
    return redirect(url_for("inspections.grade_form", household_id=household.id))


def _grade_page(household: Household, *, message: str | None = None, status: int = 200):
    scope = current_scope()
    rules = current_rules(scope.village_id)
    done = count_today(household)
    assigned = grid_ids_of(scope.user)
    return render_template(
        "inspections/grade.html",
        household=household,
        rules=rules,
        balance=household_balance(household.id),
        done_today=done,
        full=done >= rules.daily_limit,
        message=message,
        own=scope.user.household_id == household.id,
        # Grids order an inspector's roster and to-do list; they do not limit grading
        # (a worker covers a colleague's round): the page says so (README, Security).
        outside_grids=bool(assigned) and household.grid_id not in assigned,
    ), status


@bp.get("/inspect/household/<id:household_id>")
@role_required(INSPECTOR, ADMIN)
def grade_form(household_id: int):
    """The household, its balance, whether it was inspected today, the grade buttons."""
    household = get_household(current_scope().village_id, household_id)
    return _grade_page(household, message=refusal_message(request.args.get("refused")))


@bp.post("/inspect/household/<id:household_id>")
@role_required(INSPECTOR, ADMIN)
def grade(household_id: int):
    """Record the grade. The form's key makes a double tap or a resent form count once."""
    scope = current_scope()
    household = get_household(scope.village_id, household_id)
    upload = request.files.get("photo")
    photo = upload.read() if upload is not None and upload.filename else b""

    def done(result: InspectionResult):
        if photo:  # stored only once the inspection is recorded
            inspection = services.get_inspection(scope.village_id, result.inspection.id)
            inspection.photo = store_photo(photo)
            db.session.flush()
        return redirect(url_for("inspections.done", inspection_id=result.inspection.id))

    return create_inspection.submit(
        {**request.form, "household_id": str(household_id)},
        key=request.form.get("key"),
        done=done,
        refused=refused_to("inspections.grade_form", household_id=household_id),
        invalid=lambda error: _grade_page(
            household, message=page_error(error), status=error.status
        ),
        attachments=[photo],
    )


def _done_page(inspection: Inspection, *, message: str | None = None, status: int = 200):
    scope = current_scope()
    household = get_household(scope.village_id, inspection.household_id)
    return render_template(
        "inspections/done.html",
        inspection=inspection,
        household=household,
        balance=household_balance(household.id),
        changeable=services.undo_window_open(inspection, scope.user),
        undo_minutes=services.UNDO_MINUTES,
        message=message,
        noted=request.args.get("noted"),
    ), status


@bp.get("/inspect/done/<id:inspection_id>")
@role_required(INSPECTOR, ADMIN)
def done(inspection_id: int):
    """The inspection is recorded: the points and the new balance; scan the next.

    For a few minutes its inspector may still undo it (a mis-tap) or add its note.
    """
    inspection = services.get_inspection(current_scope().village_id, inspection_id)
    return _done_page(inspection, message=refusal_message(request.args.get("refused")))


def _after_change(inspection_id: int, **values: Any):
    """Where an undo or a note goes back to: today's list, or the grade's own page."""
    if request.form.get("back") == "list":
        return redirect(url_for("inspections.scanner", **values))
    return redirect(url_for("inspections.done", inspection_id=inspection_id, **values))


def _change_grade(action: Action, inspection_id: int, **done_values: str):
    """Post the done page's undo or note form; a form to correct shows the page again."""
    inspection = services.get_inspection(current_scope().village_id, inspection_id)
    return action.submit(
        request.form,
        key=request.form.get("key"),
        done=lambda _result: _after_change(inspection_id, **done_values),
        refused=lambda error: _after_change(inspection_id, refused=error.code),
        invalid=lambda error: _done_page(
            inspection, message=page_error(error, UNDO_FIELDS), status=error.status
        ),
        inspection_id=inspection_id,
    )


@bp.post("/inspect/done/<id:inspection_id>/undo")
@role_required(INSPECTOR, ADMIN)
def undo(inspection_id: int):
    """Undo a mis-tapped grade: the API's void, with its reason, once per form key."""
    return _change_grade(void_inspection, inspection_id)


@bp.post("/inspect/done/<id:inspection_id>/note")
@role_required(INSPECTOR, ADMIN)
def note(inspection_id: int):
    """Add or change the grade's note (the API's note action), once per form key."""
    return _change_grade(note_inspection, inspection_id, noted="1")


def expiry_from_form(form: Mapping[str, str]) -> dict:
    """The rules page's expiry choice as the API takes it; months only when idle."""
    policy = form.get("expiry_policy", "none")
    if policy != "idle_months":
        return {"policy": policy}
    months = int_or_text(form.get("expiry_months", ""))
    return {"policy": policy, "months": None if months == "" else months}


def fairness_from_form(form: Mapping[str, str]) -> dict:
    """The rules page's appeal days and approval threshold; an emptied threshold is off."""
    given: dict[str, Any] = {}
    if "appeal_days" in form:
        given["appeal_days"] = int_or_text(form["appeal_days"]) if form["appeal_days"] else None
    if "adjustment_approval_over" in form:
        over = form["adjustment_approval_over"].strip()
        given["adjustment_approval_over"] = int_or_text(over) if over else None
    return given


def rule_field_errors(errors: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The rules schema's errors by the name of the page's input, and that input's label.

    A grade's points and name are named with their grade ("Points of grade B"), so the
    page says which of the boxes to correct.
    """
    by_input: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for field, messages in errors.items():
        if field in ("grades", "labels") and isinstance(messages, Mapping):
            for grade, message in messages.items():
                name = f"{'points' if field == 'grades' else 'label'}-{grade}"
                by_input[name] = message
                label = GRADE_POINTS if field == "grades" else GRADE_LABEL
                labels[name] = str(label) % {"grade": grade}
        elif field == "expiry" and isinstance(messages, Mapping) and "months" in messages:
            by_input["expiry_months"] = messages["months"]
            labels["expiry_months"] = str(EXPIRY_MONTHS)
        else:
            by_input[field] = messages
            labels[field] = str(RULE_FIELDS.get(field, field))
    return by_input, labels


def _rules_refusal(error: DomainError, sent: dict, current: Rules) -> tuple[str, set[str]]:
    """What the rules page says about a refused form, and which of its inputs to mark."""
    errors = error.errors if isinstance(error, FormInvalid) else error.extra.get("errors")
    if isinstance(errors, Mapping) and any(str(f).startswith("cases.") for f in errors):
        by_input, labels = case_rule_errors(errors, request.form, sent, current.cases)
        return form_error_text(by_input, labels), set(by_input)
    if not isinstance(error, FormInvalid):
        return page_error(error, RULE_FIELDS), set()
    by_input, labels = rule_field_errors(error.errors)
    return form_error_text(by_input, labels), set(by_input)


def _save_rules(current: Rules, village_id: int) -> tuple[str | None, set[str], int, Any]:
    """Post the page's rules through put_rules: its response, or what to say and mark."""
    form = request.form
    try:
        cases = cases_from_form(form, current.cases, village_id)
    except CategoryInUse as error:  # a category that open cases use, ticked for removal
        return form_error_text(error.errors, error.labels), set(error.errors), error.status, None
    rules = {
        "grades": {g.grade: int_or_text(form.get(f"points-{g.grade}", "")) for g in current.grades},
        "labels": {
            g.grade: form.get(f"label-{g.grade}", "").strip() or g.grade for g in current.grades
        },
        # An emptied limit is refused, not taken as the default.
        "daily_limit": int_or_text(form.get("daily_limit", "")) or None,
        "expiry": expiry_from_form(form),
        **fairness_from_form(form),
        **({"cases": cases} if cases is not None else {}),
    }
    try:
        response = put_rules.submit(
            rules,
            key=form.get("key"),
            done=redirect_to("inspections.rules_page", saved=1),
            refused=refused_to("inspections.rules_page"),
        )
    except DomainError as error:
        if error.status >= 500:
            raise
        message, invalid = _rules_refusal(error, cases or {}, current)
        return message, invalid, error.status, None
    return None, set(), 200, response


@bp.route("/admin/rules", methods=["GET", "POST"])
@role_required(ADMIN)
def rules_page():
    """Points per grade, their names, and the daily limit; with every past version."""
    scope = current_scope()
    current = current_rules(scope.village_id)
    message = None
    status = 200
    invalid: set[str] = set()
    if request.method == "POST":
        message, invalid, status, response = _save_rules(current, scope.village_id)
        if response is not None:
            return response
    users = {
        u.id: u.username
        for u in db.session.scalars(select(User).where(User.village_id == scope.village_id))
    }
    return render_template(
        "inspections/rules.html",
        rules=current,
        history=rules_history(scope.village_id),
        category_name=category_name,
        open_cases=open_cases_by_category(scope.village_id),
        users=users,
        message=message or refusal_message(request.args.get("refused")),
        # A refused form shows what was typed, and no "saved" from an earlier save.
        saved=request.method == "GET" and request.args.get("saved"),
        typed=request.form if message else {},
        invalid=invalid,
        admins=db.session.scalar(
            select(func.count(User.id)).where(
                User.village_id == scope.village_id, User.role == ADMIN, User.active.is_(True)
            )
        ),
    ), status
