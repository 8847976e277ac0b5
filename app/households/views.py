"""Household pages: the public door page, and the admin's roster pages."""

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.actions import (
    FormInvalid,
    field_message,
    page_error,
    redirect_to,
    refused_to,
)
from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD
from app.db import db
from app.errors import (
    DomainError,
    InvalidQr,
    NotFound,
    RevokedQr,
    ValidationFailed,
    refusal_message,
)
from app.households import cards, services
from app.households.api import create_household, reissue_card, update_household
from app.households.changes import days_left
from app.households.detail_page import detail_page, movement_words
from app.households.logins import create_household_login
from app.households.models import Household
from app.inspections.feedback import feedback_photo, household_feedback, notes_of_journals
from app.ledger.api import create_adjustment
from app.ledger.expiry import expiring
from app.ledger.labels import journal_kind_label
from app.ledger.services import household_account, statement
from app.masking import mask_name, mask_phone
from app.photos import photo_response
from app.schemas import CONTROL_MESSAGE, MAX_INT, has_hidden_characters
from app.scope import current_scope, village_today
from app.villages.models import Village
from app.villages.services import list_grids

bp = Blueprint("households", __name__)
PAGE = 30
# An import's page lists this many of the rows it skipped, then says how many more.


@bp.get("/q/<token>")
def door_page(token: str):
    """What anyone who scans a door card sees: masked name, balance, last movements."""
    try:
        household = cards.resolve_card(token, None)
    except RevokedQr:
        return render_template("households/door_revoked.html"), 410
    except InvalidQr:
        return render_template("households/door_invalid.html"), 404
    account = household_account(household.id)
    village = db.session.get(Village, household.village_id)
    lines = statement(account.id, limit=10)
    from app.auth.decorators import current_user
    from app.auth.models import INSPECTOR, STOREKEEPER
    from app.catalogue.services import list_goods

    # Staff of this village scan cards with the phone's camera too: offer them their work.
    user = current_user()
    staff_role = (
        user.role
        if user is not None
        and user.village_id == household.village_id
        and user.role in (INSPECTOR, STOREKEEPER, ADMIN)
        else None
    )
    return render_template(
        "households/door.html",
        staff_role=staff_role,
        # The inspector's notes are the household's: shown to its own login, not at the door.
        own=user is not None and user.role == HOUSEHOLD and user.household_id == household.id,
        household=household,
        village=village,
        masked=mask_name(household.name),
        balance=account.balance,
        expiring=expiring(household.id, village_today(household.village_id)),
        days_left=days_left(household, village_today(household.village_id)),
        lines=lines,
        # Anyone at the door may scan the card: say what kind of movement each was,
        # never the free-text reason an admin typed for it.
        kind=journal_kind_label,
        goods=list_goods(household.village_id),
        # Its latest 0-point grades and notes; never their photos, which are the household's.
        feedback=household_feedback(household.id, village_today(household.village_id)),
    )


@bp.get("/my")
@role_required(HOUSEHOLD)
def my_points():
    """A resident's own page: balance, every movement and why, what the shop has."""
    scope = current_scope()
    household = services.get_household(scope.village_id, scope.own_household_id())
    account = household_account(household.id)
    direction = request.args.get("show")
    direction = direction if direction in ("in", "out") else None
    before = request.args.get("before", type=int)
    before = before if before is not None and 0 < before <= MAX_INT else None
    lines = statement(account.id, limit=PAGE, before_version=before, direction=direction)
    more = len(lines) == PAGE
    from app.appeals.views import my_panel
    from app.catalogue.services import list_goods

    return render_template(
        "households/my.html",
        household=household,
        balance=account.balance,
        expiring=expiring(household.id, scope.today()),
        days_left=days_left(household, scope.today()),
        lines=lines,
        words=movement_words,
        show=direction,
        more=more,
        goods=list_goods(scope.village_id),
        next_before=lines[-1].version if more else None,
        feedback=household_feedback(household.id, scope.today()),
        notes=notes_of_journals(household.id, (line.transaction_id for line in lines)),
        appeals=my_panel(),
    )


@bp.get("/my/feedback/<id:inspection_id>/photo")
@role_required(HOUSEHOLD)
def my_feedback_photo(inspection_id: int):
    """The photo the inspector took with a 0-point grade of the resident's own household."""
    scope = current_scope()
    return photo_response(feedback_photo(scope.own_household_id(), inspection_id))


# The admin's roster pages.


# Pages go no further than the API's HouseholdQuery does.
MAX_PAGE = 100_000


@bp.get("/admin/households")
@role_required(ADMIN)
def household_list():
    """Search the roster, filter by grid."""
    scope = current_scope()
    grid_id = request.args.get("grid_id", type=int)
    grid_id = grid_id if grid_id is not None and 0 < grid_id <= MAX_INT else None
    q = request.args.get("q", "").strip()[:100]
    page = min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE)
    message, status = None, 200
    if has_hidden_characters(q):
        # No household holds such text (it is refused on the way in), and PostgreSQL
        # cannot even compare a NUL: say what to fix rather than search.
        rows: list[tuple[Household, int]] = []
        total, q = 0, _shown(q)
        message, status = field_message(CONTROL_MESSAGE), 422
    else:
        rows, total = services.search_households(
            scope.village_id, grid_id=grid_id, q=q or None, page=page, per_page=50
        )
    grids = list_grids(scope.village_id)
    return render_template(
        "households/list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, (total + 49) // 50),
        grids=grids,
        grid_id=grid_id,
        q=q,
        message=message,
        grid_names={grid.id: grid.name for grid in grids},
        last_inspected=_last_inspected([household.id for household, _balance in rows]),
        mask_phone=mask_phone,
    ), status


def _last_inspected(household_ids: list[int]) -> dict[int, Any]:
    """Each household's last village day with a standing inspection, in one query."""
    from sqlalchemy import func

    from app.inspections.models import Inspection

    if not household_ids:
        return {}
    return {
        household_id: day
        for household_id, day in db.session.execute(
            select(Inspection.household_id, func.max(Inspection.local_date))
            .where(Inspection.household_id.in_(household_ids), Inspection.voided_at.is_(None))
            .group_by(Inspection.household_id)
        )
    }


# What the form says about a field the API's schema refuses (the same rules for both).
FIELD_MESSAGES = {
    "name": _l("Enter the name (up to 100 characters)."),
    "address": _l("Enter the address (up to 200 characters)."),
    "grid_id": _l("Choose a grid."),
    "phone": _l("Digits, +, - and spaces only."),
    "members": _l("A whole number from 1 to 99."),
    "status": _l("Choose a status."),
}
FORM_FIELDS = tuple(FIELD_MESSAGES)
FIELD_LABELS = {
    "name": _l("Head of household"),
    "address": _l("Address"),
    "grid_id": _l("Grid"),
    "phone": _l("Phone (optional)"),
    "members": _l("Members (optional)"),
    "status": _l("Status"),
}
REISSUE_FIELDS = {"reason": _l("Reason")}
ADJUST_FIELDS = {"amount": _l("Points"), "reason": _l("Reason")}
LOGIN_FIELDS = {"username": _l("Username"), "password": _l("Password (at least 8 characters)")}


def _shown(text: str) -> str:
    """Text typed into a refused form, as the page shows it again: without hidden characters."""
    return "".join(char for char in text if not has_hidden_characters(char))


def _form_errors(error: DomainError) -> tuple[dict[str, str], str | None]:
    """What the household form says about a refusal: a message by field, or one for the form."""
    fields = error.extra.get("errors") if isinstance(error, ValidationFailed) else None
    if not fields or not set(fields) <= set(FIELD_MESSAGES):
        return {}, page_error(error, FIELD_LABELS)
    marked = {}
    for name, messages in fields.items():
        hidden = CONTROL_MESSAGE in (messages if isinstance(messages, list) else [messages])
        marked[name] = field_message(CONTROL_MESSAGE) if hidden else str(FIELD_MESSAGES[name])
    return marked, None


def _form_page(
    household: Household | None,
    values: dict,
    *,
    errors: dict | None = None,
    message: str | None = None,
    status: int = 200,
):
    return render_template(
        "households/form.html",
        values=values,
        errors=errors or {},
        message=message,
        grids=list_grids(current_scope().village_id),
        household=household,
    ), status


def _refused_form(household: Household | None, error: DomainError):
    """The household form again, with what was typed and what to correct."""
    errors, message = _form_errors(error)
    typed = {name: _shown(request.form.get(name, "")) for name in FORM_FIELDS}
    return _form_page(household, typed, errors=errors, message=message, status=error.status)


@bp.route("/admin/households/new", methods=["GET", "POST"])
@role_required(ADMIN)
def household_new():
    """Add one household: the form is the API's create_household, with the same checks."""
    if request.method == "GET":
        refused = refusal_message(request.args.get("refused"))
        return _form_page(None, {"status": services.ACTIVE}, message=refused)
    return create_household.submit(
        request.form,
        key=request.form.get("key"),
        done=lambda result: redirect(
            url_for("households.household_detail", household_id=result.household.id, saved=1)
        ),
        refused=refused_to("households.household_new"),
        invalid=lambda error: _refused_form(None, error),
    )


def _edits() -> dict:
    """The edit form's fields for HouseholdPatch.

    The form shows every field, so an emptied one is null: that clears the phone or
    the members, and the schema refuses it for the others.
    """
    return {
        name: request.form[name].strip() or None for name in FORM_FIELDS if name in request.form
    }


@bp.route("/admin/households/<id:household_id>/edit", methods=["GET", "POST"])
@role_required(ADMIN)
def household_edit(household_id: int):
    """Change a household's details: the form is the API's update_household."""
    household = services.get_household(current_scope().village_id, household_id)
    if request.method == "GET":
        values = {
            "name": household.name,
            "address": household.address,
            "grid_id": str(household.grid_id),
            "phone": household.phone or "",
            "members": str(household.members or ""),
            "status": household.status,
        }
        return _form_page(household, values, message=refusal_message(request.args.get("refused")))
    return update_household.submit(
        _edits(),
        key=request.form.get("key"),
        done=redirect_to("households.household_detail", household_id=household_id, saved=1),
        refused=refused_to("households.household_edit", household_id=household_id),
        invalid=lambda error: _refused_form(household, error),
        household_id=household_id,
    )


@bp.get("/admin/households/<id:household_id>")
@role_required(ADMIN)
def household_detail(household_id: int):
    """A household: balance, card, every movement."""
    return detail_page(services.get_household(current_scope().village_id, household_id))


def _back_with(household_id: int, form: str):
    """A refused() for a detail page form: back to the page, naming the refusal's code."""

    def respond(error: DomainError):
        values: dict[str, Any] = {"household_id": household_id, f"{form}_error": error.code}
        return redirect(url_for("households.household_detail", **values))

    return respond


def _again_on_detail(household: Household, form: str, labels: Mapping[str, Any]):
    """An invalid() for a detail page form: the page again, with what to correct."""

    def respond(error: DomainError):
        if form == "adjust" and isinstance(error, FormInvalid) and "amount" in error.errors:
            message = _("Give a whole number of points, like 5 or -5.")
        else:
            message = page_error(error, labels)
        return detail_page(household, status=error.status, **{f"{form}_message": message})

    return respond


@bp.post("/admin/households/<id:household_id>/reissue")
@role_required(ADMIN)
def household_reissue(household_id: int):
    """Replace the household's card (the API's reissue_card); a resent form reissues once."""
    household = services.get_household(current_scope().village_id, household_id)
    return reissue_card.submit(
        request.form,
        key=request.form.get("key"),
        done=redirect_to("households.household_detail", household_id=household_id, reissued=1),
        refused=_back_with(household_id, "reissue"),
        invalid=_again_on_detail(household, "reissue", REISSUE_FIELDS),
        household_id=household_id,
    )


VOID_FIELDS = {"reason": _l("Reason")}


@bp.post("/admin/households/<id:household_id>/inspections/<id:inspection_id>/void")
@role_required(ADMIN)
def household_void_inspection(household_id: int, inspection_id: int):
    """Void a wrong grade of this household (the API's void_inspection, audited as it is)."""
    from app.inspections.api import void_inspection
    from app.inspections.services import get_inspection

    scope = current_scope()
    household = services.get_household(scope.village_id, household_id)
    if get_inspection(scope.village_id, inspection_id).household_id != household.id:
        raise NotFound("No such inspection of this household.")
    return void_inspection.submit(
        request.form,
        key=request.form.get("key"),
        done=redirect_to(
            "households.household_detail", household_id=household_id, voided=inspection_id
        ),
        refused=_back_with(household_id, "void"),
        invalid=_again_on_detail(household, "void", VOID_FIELDS),
        inspection_id=inspection_id,
    )


@bp.post("/admin/households/<id:household_id>/adjust")
@role_required(ADMIN)
def household_adjust(household_id: int):
    """Correct a household's points (the API's create_adjustment); a resent form counts once."""
    household = services.get_household(current_scope().village_id, household_id)
    return create_adjustment.submit(
        {**request.form, "household_id": str(household_id)},
        key=request.form.get("key"),
        done=lambda result: redirect(
            url_for(
                "households.household_detail",
                household_id=household_id,
                **(
                    {"pending": result["id"]}
                    if result.get("state") == "pending"
                    else {"adjusted": result["amount"]}
                ),
            )
        ),
        refused=_back_with(household_id, "adjust"),
        invalid=_again_on_detail(household, "adjust", ADJUST_FIELDS),
    )


@bp.post("/admin/households/<id:household_id>/login")
@role_required(ADMIN)
def household_login(household_id: int):
    """Give the household one more login (a family member's), to see its points from home."""
    household = services.get_household(current_scope().village_id, household_id)
    form = request.form
    return create_household_login.submit(
        {"username": form.get("username", ""), "password": form.get("password", "")},
        key=form.get("key"),
        done=lambda user: redirect(
            url_for(
                "households.household_detail",
                household_id=household_id,
                login_created=user.username,
            )
        ),
        refused=_back_with(household_id, "login"),
        invalid=_again_on_detail(household, "login", LOGIN_FIELDS),
        household_id=household_id,
    )
