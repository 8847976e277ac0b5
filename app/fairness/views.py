"""Fairness pages: spot checks drawn and re-graded, and the inspectors page."""

from datetime import date

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.actions import page_error, refused_to
from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, User
from app.db import db
from app.errors import DomainError, ValidationFailed, refusal_message
from app.fairness import reports, spotchecks
from app.fairness.api import check_spot_check_item, create_spot_check
from app.fairness.models import SpotCheck
from app.figures import resolve_range
from app.households.models import Household
from app.inspections.models import Inspection
from app.rules.services import current_rules
from app.scope import current_scope
from app.villages.services import list_grids

bp = Blueprint("fairness", __name__)

# The spot checks' own refusals, as a page says them after its redirect.
REFUSALS = {
    spotchecks.SamePerson.code: spotchecks.SamePerson.page_text,
    spotchecks.AlreadyChecked.code: spotchecks.AlreadyChecked.page_text,
}


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@bp.route("/admin/spot-checks", methods=["GET", "POST"])
@role_required(ADMIN)
def spot_checks_page():
    """Draw a spot check of a day's inspections; the draws so far."""
    scope = current_scope()
    message, status = None, 200
    if request.method == "POST":
        form = {key: value for key, value in request.form.items() if key in ("date", "size")}
        if request.form.get("grid_id"):
            form["grid_id"] = request.form["grid_id"]
        try:
            return create_spot_check.submit(
                form,
                key=request.form.get("key"),
                done=lambda shown: redirect(
                    url_for("fairness.spot_check_page", check_id=shown["id"])
                ),
                refused=refused_to("fairness.spot_checks_page"),
            )
        except DomainError as error:
            if error.status >= 500 or error.code == "not_found":
                raise
            message, status = page_error(error), error.status
    return render_template(
        "fairness/spot_checks.html",
        checks=spotchecks.list_checks(scope.village_id),
        grids={g.id: g.name for g in list_grids(scope.village_id)},
        today=scope.today(),
        message=message or refusal_message(request.args.get("refused")),
    ), status


@bp.get("/admin/spot-checks/<id:check_id>")
@role_required(ADMIN)
def spot_check_page(check_id: int):
    """The draw shown: seed, population, the chosen inspections, and the checker's grades."""
    scope = current_scope()
    check = scope.get(SpotCheck, check_id, "No such spot check.")
    items = spotchecks.items_of(check.id)
    return render_template(
        "fairness/spot_check.html",
        check=check,
        items=items,
        context=_item_context(items),
        grid={g.id: g.name for g in list_grids(scope.village_id)}.get(check.grid_id or 0),
    )


def _item_context(items) -> dict:
    """Per inspection id: (inspection, household, inspector's username)."""
    ids = [item.inspection_id for item in items]
    if not ids:
        return {}
    rows = db.session.execute(
        select(Inspection, Household, User.username)
        .join(Household, Household.id == Inspection.household_id)
        .join(User, User.id == Inspection.inspector_id)
        .where(Inspection.id.in_(ids))
    ).all()
    return {row[0].id: row for row in rows}


@bp.get("/check/<id:check_id>")
@role_required(ADMIN, INSPECTOR)
def checker_list(check_id: int):
    """The checker's list: the drawn households to visit, without the grades they were given."""
    scope = current_scope()
    check = scope.get(SpotCheck, check_id, "No such spot check.")
    items = spotchecks.items_of(check.id)
    return render_template(
        "fairness/checker_list.html", check=check, items=items, context=_item_context(items)
    )


def _item_page(check_id: int, item_id: int, message: str | None = None, status: int = 200):
    scope = current_scope()
    item = spotchecks.find_item(scope, check_id, item_id)
    inspection, household, _username = _item_context([item])[item.inspection_id]
    return render_template(
        "fairness/check_item.html",
        item=item,
        household=household,
        inspection=inspection,
        rules=current_rules(scope.village_id),
        own=item.inspector_id == scope.user_id,
        message=message,
    ), status


@bp.get("/check/<id:check_id>/items/<id:item_id>")
@role_required(ADMIN, INSPECTOR)
def check_item_form(check_id: int, item_id: int):
    """The phone page: the household, and the grade buttons for the checker's own grade."""
    code = request.args.get("refused")
    known = REFUSALS.get(code or "")
    return _item_page(check_id, item_id, str(known) if known else refusal_message(code))


@bp.post("/check/<id:check_id>/items/<id:item_id>")
@role_required(ADMIN, INSPECTOR)
def check_item(check_id: int, item_id: int):
    """Record the checker's grade; back to the list. No points move."""
    return check_spot_check_item.submit(
        request.form,
        key=request.form.get("key"),
        done=lambda _item: redirect(url_for("fairness.checker_list", check_id=check_id, saved=1)),
        refused=refused_to("fairness.check_item_form", check_id=check_id, item_id=item_id),
        invalid=lambda error: _item_page(check_id, item_id, page_error(error), error.status),
        check_id=check_id,
        item_id=item_id,
    )


@bp.get("/admin/inspectors")
@role_required(ADMIN)
def inspectors_page():
    """Per inspector this month, or over a chosen range: grades, late ones, checks, flags."""
    scope = current_scope()
    message = None
    day_from, day_to = _day(request.args.get("from")), _day(request.args.get("to"))
    try:
        day_from, day_to = resolve_range(scope.village_id, day_from, day_to)
    except ValidationFailed as error:
        message = page_error(error)
        day_from, day_to = resolve_range(scope.village_id, None, None)
    report = reports.inspectors(scope.village_id, day_from, day_to)
    evidence = {i for row in report["items"] for f in row["flags"] for i in f["evidence"]}
    households = (
        dict(
            db.session.execute(
                select(Inspection.id, Inspection.household_id).where(Inspection.id.in_(evidence))
            ).all()
        )
        if evidence
        else {}
    )
    grades = [g.grade for g in current_rules(scope.village_id).grades]
    columns = [
        (_("Inspector"), ""),
        (_("Inspections"), "num"),
        *[(_("Grade %(grade)s", grade=grade), "num") for grade in grades],
        (_("Arrived over 24 hours late"), "num"),
        (_("Appeals"), "num"),
        (_("Overturned"), "num"),
        (_("Spot-check agreement"), "num"),
        (_("Flags"), "num"),
    ]
    return render_template(
        "fairness/inspectors.html",
        columns=columns,
        report=report,
        grades=grades,
        households=households,
        message=message,
    )
