"""The inspector's pages: scan a card, grade, see the new balance, scan the next."""

import uuid

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth.decorators import role_required
from app.auth.models import ADMIN, INSPECTOR, User
from app.db import db, run_write
from app.errors import DomainError, InvalidQr, RevokedQr, page_message
from app.households.cards import resolve_card
from app.households.models import Household
from app.households.services import get_household
from app.inspections import services
from app.ledger.services import household_balance
from app.photos import store_photo
from app.villages.services import list_grids
from app.writes import fingerprint, page_key, run_idempotent

bp = Blueprint("inspections", __name__)

REFUSALS = {
    "already_inspected_today": lambda: _("This household was already inspected today."),
    "insufficient_points": lambda: _("Not enough points."),
    "household_inactive": lambda: _("This household has moved away."),
}


@bp.get("/inspect")
@role_required(INSPECTOR, ADMIN)
def scanner():
    """Scan a door card; below, today's work and the grid's households still to visit."""
    grids = list_grids(g.user.village_id)
    grid_id = request.args.get("grid_id", type=int) or (grids[0].id if grids else None)
    mine, _total = services.list_inspections(
        g.user.village_id,
        inspector_id=g.user.id,
        day_from=services.village_today(g.user.village_id),
        day_to=services.village_today(g.user.village_id),
        limit=200,
    )
    codes = {
        h.id: h
        for h in db.session.scalars(
            select(Household).where(Household.id.in_({i.household_id for i in mine}))
        )
    }
    todo = services.not_inspected_today(g.user.village_id, grid_id) if grid_id else []
    return render_template(
        "inspections/scanner.html",
        grids=grids,
        grid_id=grid_id,
        mine=mine,
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
        household = resolve_card(payload, g.user.village_id)
    except RevokedQr:
        return redirect(url_for("inspections.scanner", error="revoked"))
    except InvalidQr:
        return redirect(url_for("inspections.scanner", error="invalid"))
    return redirect(url_for("inspections.grade_form", household_id=household.id))


def _grade_page(household: Household, *, message: str | None = None, status: int = 200):
    rules = services.current_rules(g.user.village_id)
    done = services.count_today(household)
    return render_template(
        "inspections/grade.html",
        household=household,
        rules=rules,
        balance=household_balance(household.id),
        done_today=done,
        full=done >= rules.daily_limit,
        key=uuid.uuid4().hex,
        message=message,
        own=g.user.household_id == household.id,
    ), status


@bp.get("/inspect/household/<id:household_id>")
@role_required(INSPECTOR, ADMIN)
def grade_form(household_id: int):
    """The household, its balance, whether it was inspected today, the grade buttons."""
    household = get_household(g.user.village_id, household_id)
    refused = request.args.get("refused")
    return _grade_page(household, message=REFUSALS[refused]() if refused in REFUSALS else None)


@bp.post("/inspect/household/<id:household_id>")
@role_required(INSPECTOR, ADMIN)
def grade(household_id: int):
    """Record the grade. The form's key makes a double tap or a resent form count once."""
    household = get_household(g.user.village_id, household_id)
    key = page_key(request.form.get("key", ""))
    grade_name = request.form.get("grade", "")[:8]
    note = request.form.get("note", "").strip()[:500] or None
    upload = request.files.get("photo")
    photo = upload.read() if upload is not None and upload.filename else b""
    if key is None:
        return _grade_page(
            household, message=_("The form expired; please choose again."), status=400
        )
    user = g.user
    village_id, user_id = user.village_id, user.id

    def produce():
        target = get_household(village_id, household_id)
        inspection = services.record_inspection(target, user, grade_name, note=note)
        if photo:  # stored only once the inspection is recorded
            inspection.photo = store_photo(photo)
            db.session.flush()
        return redirect(url_for("inspections.done", inspection_id=inspection.id))

    def refused(error: DomainError):
        return redirect(
            url_for("inspections.grade_form", household_id=household_id, refused=error.code)
        )

    try:
        return run_idempotent(
            village_id,
            key,
            fingerprint(
                b"inspect",
                str(user_id).encode(),
                str(household_id).encode(),
                grade_name.encode(),
                (note or "").encode(),
                photo,
            ),
            produce,
            on_refusal=refused,
        )
    except DomainError as error:
        if error.status >= 500:
            raise
        return _grade_page(household, message=page_message(error), status=error.status)


@bp.get("/inspect/done/<id:inspection_id>")
@role_required(INSPECTOR, ADMIN)
def done(inspection_id: int):
    """The inspection is recorded: the points and the new balance; scan the next."""
    inspection = services.get_inspection(g.user.village_id, inspection_id)
    household = get_household(g.user.village_id, inspection.household_id)
    return render_template(
        "inspections/done.html",
        inspection=inspection,
        household=household,
        balance=household_balance(household.id),
    )


@bp.route("/admin/rules", methods=["GET", "POST"])
@role_required(ADMIN)
def rules_page():
    """Points per grade, their names, and the daily limit; with every past version."""
    message = None
    status = 200
    if request.method == "POST":
        current = services.current_rules(g.user.village_id)
        grades = []
        for grade in current.grades:
            points = request.form.get(f"points-{grade.grade}", "").strip()
            label = request.form.get(f"label-{grade.grade}", "").strip()[:20] or grade.grade
            if not points.isascii() or not points.isdigit():
                message, status = _("Points are whole numbers of 0 or more."), 422
                break
            grades.append(services.Grade(grade.grade, int(points), label))
        limit = request.form.get("daily_limit", "").strip()
        if status == 200 and not (limit.isascii() and limit.isdigit()):
            message, status = _("The daily limit is a whole number."), 422
        if status == 200:
            user = g.user
            try:
                run_write(
                    lambda: services.set_rules(
                        user.village_id, grades, int(limit), actor_id=user.id
                    )
                )
                return redirect(url_for("inspections.rules_page", saved=1))
            except DomainError as error:
                message, status = page_message(error), error.status
    users = {
        u.id: u.username
        for u in db.session.scalars(select(User).where(User.village_id == g.user.village_id))
    }
    return render_template(
        "inspections/rules.html",
        rules=services.current_rules(g.user.village_id),
        history=services.rules_history(g.user.village_id),
        users=users,
        message=message,
        saved=request.args.get("saved"),
    ), status
