"""Appeal pages: a household appeals from /my; the admins' desk decides; the
second admin approves or rejects a pending adjustment from the dashboard."""

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.actions import Action, page_error
from app.appeals import services
from app.appeals.api import appeal_inspection, decide_appeal
from app.appeals.models import OPEN, Appeal
from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, User
from app.db import db
from app.errors import DomainError, NotFound, refusal_message
from app.households.models import Household
from app.inspections.models import Inspection
from app.ledger.api import approve_adjustment, reject_adjustment
from app.ledger.approvals import get_pending, list_adjustments
from app.ledger.models import PENDING
from app.photos import photo_response, store_photo
from app.rules.services import current_rules
from app.scope import current_scope

bp = Blueprint("appeals", __name__)

DECIDE_FIELDS = {"decision": _l("Decision"), "note": _l("Note"), "grade": _l("Corrected grade")}
DECISION_LABELS = {
    "open": _l("Waiting for a decision"),
    "upheld": _l("Grade kept"),
    "overturned": _l("Grade changed"),
}


def my_panel() -> dict:
    """What /my shows of the household's grades and appeals (households/my.html)."""
    scope = current_scope()
    return {
        "message": refusal_text(request.args.get("appeal_refused")),
        "appealed": request.args.get("appealed") == "1",
        "grades": services.my_grades(scope.user),
        "appeal_days": current_rules(scope.village_id).fairness.appeal_days,
        "decision_labels": DECISION_LABELS,
    }


# Refusals named by their code in a redirect's ?refused=, and what a page says of them.
OWN_REFUSALS = {
    "invalid_transition": _l("This was already decided; reload the page."),
    "validation_error": _l("Some of what was entered cannot be used."),
}


def refusal_text(code: str | None) -> str | None:
    """What a page says about a refusal named by its code, if it is one we know."""
    known = refusal_message(code)
    if known is None and code in OWN_REFUSALS:
        known = str(OWN_REFUSALS[code])
    return known


def _back_to_my(error: DomainError) -> Response:
    return redirect(url_for("households.my_points", appeal_refused=error.code) + "#grades")


@bp.post("/my/appeals/<id:inspection_id>")
@role_required(HOUSEHOLD)
def my_appeal(inspection_id: int):
    """Appeal one of the household's grades (the API's appeal_inspection), a photo optional."""
    upload = request.files.get("photo")
    photo = upload.read() if upload is not None and upload.filename else b""

    def done(appeal: Appeal) -> Response:
        if photo:  # stored only once the appeal is recorded, as the grade page does
            appeal.photo = store_photo(photo)
            db.session.flush()
        return redirect(url_for("households.my_points", appealed=1) + "#grades")

    return appeal_inspection.submit(
        request.form,
        key=request.form.get("key"),
        done=done,
        refused=_back_to_my,
        invalid=_back_to_my,
        attachments=[photo],
        inspection_id=inspection_id,
    )


# The admins' desk ------------------------------------------------------------------------


@bp.get("/admin/appeals")
@role_required(ADMIN)
def desk():
    """The open appeals first, then the ones decided lately."""
    scope = current_scope()
    rows = services.list_appeals(scope.village_id)
    return render_template(
        "appeals/desk.html",
        open_appeals=[_shown(a) for a in rows if a.state == OPEN],
        decided=[_shown(a) for a in rows if a.state != OPEN][:50],
        labels=DECISION_LABELS,
    )


def _shown(appeal: Appeal) -> dict:
    inspection = db.session.get(Inspection, appeal.inspection_id)
    household = db.session.get(Household, appeal.household_id)
    inspector = db.session.get(User, appeal.inspector_id)
    decider = db.session.get(User, appeal.decided_by) if appeal.decided_by else None
    return {
        "appeal": appeal,
        "inspection": inspection,
        "household": household,
        "inspector": inspector,
        "decider": decider,
    }


@bp.get("/admin/appeals/<id:appeal_id>")
@role_required(ADMIN)
def appeal_page(appeal_id: int, message: str | None = None, status: int = 200):
    """One appeal beside the grade's evidence, and the form that decides it."""
    scope = current_scope()
    appeal = services.get_appeal(scope.village_id, appeal_id)
    rules = current_rules(scope.village_id)
    return render_template(
        "appeals/appeal.html",
        **_shown(appeal),
        grades=rules.grades,
        labels=DECISION_LABELS,
        same_person=appeal.inspector_id == scope.user_id,
        message=message or refusal_text(request.args.get("refused")),
        decided=request.args.get("decided") == "1",
    ), status


@bp.post("/admin/appeals/<id:appeal_id>")
@role_required(ADMIN)
def decide(appeal_id: int):
    """Decide an appeal (the API's decide_appeal); a resent form decides once."""
    services.get_appeal(current_scope().village_id, appeal_id)

    def refused(error: DomainError) -> Response:
        return redirect(
            url_for(
                "appeals.appeal_page",
                appeal_id=appeal_id,
                refused=error.code,
            )
        )

    return decide_appeal.submit(
        request.form,
        key=request.form.get("key"),
        done=lambda _a: redirect(url_for("appeals.appeal_page", appeal_id=appeal_id, decided=1)),
        refused=refused,
        invalid=lambda error: appeal_page(
            appeal_id, message=page_error(error, DECIDE_FIELDS), status=422
        ),
        appeal_id=appeal_id,
    )


@bp.get("/admin/appeals/<id:appeal_id>/photo")
@role_required(ADMIN)
def appeal_photo(appeal_id: int):
    """The photo the household sent with its appeal."""
    appeal = services.get_appeal(current_scope().village_id, appeal_id)
    if appeal.photo is None:
        raise NotFound("This appeal has no photo.")
    return photo_response(appeal.photo)


@bp.get("/admin/appeals/<id:appeal_id>/evidence")
@role_required(ADMIN)
def evidence_photo(appeal_id: int):
    """The photo the inspector took with the appealed grade."""
    appeal = services.get_appeal(current_scope().village_id, appeal_id)
    inspection = db.session.get(Inspection, appeal.inspection_id)
    if inspection is None or inspection.photo is None:
        raise NotFound("This grade has no photo.")
    return photo_response(inspection.photo)


# Adjustments waiting for a second admin (listed on the dashboard) -------------------------


def _back_to_dashboard(error: DomainError) -> Response:
    return redirect(url_for("reports.dashboard_page", adjustment_refused=error.code))


def _decide_adjustment(action: Action, adjustment_id: int, outcome: str) -> Response | tuple:
    """Post the dashboard's approve or reject form; back to the dashboard either way."""
    get_pending(current_scope().village_id, adjustment_id)
    return action.submit(
        request.form,
        key=request.form.get("key"),
        done=lambda _r: redirect(url_for("reports.dashboard_page", adjustment_done=outcome)),
        refused=_back_to_dashboard,
        invalid=_back_to_dashboard,
        adjustment_id=adjustment_id,
    )


@bp.post("/admin/adjustments/<id:adjustment_id>/approve")
@role_required(ADMIN)
def approve(adjustment_id: int):
    """Approve a pending adjustment (the API's approve_adjustment)."""
    return _decide_adjustment(approve_adjustment, adjustment_id, "approved")


@bp.post("/admin/adjustments/<id:adjustment_id>/reject")
@role_required(ADMIN)
def reject(adjustment_id: int):
    """Reject a pending adjustment with a reason (the API's reject_adjustment)."""
    return _decide_adjustment(reject_adjustment, adjustment_id, "rejected")


def dashboard_panel(village_id: int) -> dict:
    """What the dashboard shows of fairness: open appeals, adjustments waiting for approval."""
    pending = list_adjustments(village_id, PENDING, limit=50)
    households = {
        h.id: h
        for h in db.session.scalars(
            select(Household).where(Household.id.in_({p.household_id for p in pending}))
        )
    }
    asked_by = {p.requested_by for p in pending}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(asked_by)))}
    return {
        "open_appeals": services.open_count(village_id),
        "pending": [
            {"adjustment": p, "household": households[p.household_id], "by": users[p.requested_by]}
            for p in pending
        ],
        "me": current_scope().user_id,
        "refused": refusal_text(request.args.get("adjustment_refused")),
        "done": request.args.get("adjustment_done") in ("approved", "rejected"),
    }
