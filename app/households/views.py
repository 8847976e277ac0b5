"""Household pages: the public door page, and the admin's roster pages."""

import uuid
from functools import partial

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD
from app.db import db, run_write
from app.errors import DomainError, InvalidQr, RevokedQr, page_message
from app.households import cards, services
from app.households.importer import (
    RosterInvalid,
    import_roster,
    roster_template_csv,
    roster_template_xlsx,
)
from app.households.printing import card_sheet_pdf
from app.households.schemas import HouseholdIn
from app.ledger.services import MAX_AMOUNT, adjust, household_account, statement
from app.villages.models import Village
from app.villages.services import get_grid, list_grids
from app.writes import fingerprint, page_key, run_idempotent

bp = Blueprint("households", __name__)
PAGE = 30

KIND_WORDS = {
    "inspection": _l("Sorting inspection"),
    "adjustment": _l("Correction"),
    "reversal": _l("Cancelled"),
    "redemption": _l("Goods from the points shop"),
    "redemption_cancel": _l("Goods returned"),
}


def mask_name(name: str) -> str:
    """Hide a name fit for a door: 马秀利 -> 马*利, 马利 -> 马*."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def movement_words(line) -> str:
    """Say in plain words why points moved."""
    words = str(KIND_WORDS.get(line.kind, line.kind))
    return _("%(kind)s: %(memo)s", kind=words, memo=line.memo) if line.memo else words


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
    from app.catalogue.services import list_goods

    return render_template(
        "households/door.html",
        household=household,
        village=village,
        masked=mask_name(household.name),
        balance=account.balance,
        lines=lines,
        words=movement_words,
        goods=list_goods(household.village_id),
    )


@bp.get("/my")
@role_required(HOUSEHOLD)
def my_points():
    """A resident's own page: balance, every movement and why, what the shop has."""
    household = services.get_household(g.user.village_id, g.user.household_id)
    account = household_account(household.id)
    direction = request.args.get("show")
    direction = direction if direction in ("in", "out") else None
    before = request.args.get("before", type=int)
    lines = statement(account.id, limit=PAGE, before_version=before, direction=direction)
    more = len(lines) == PAGE
    from app.catalogue.services import list_goods

    return render_template(
        "households/my.html",
        household=household,
        balance=account.balance,
        lines=lines,
        words=movement_words,
        show=direction,
        more=more,
        goods=list_goods(g.user.village_id),
        next_before=lines[-1].version if more else None,
    )


# The admin's roster pages.


def _village() -> Village:
    village = db.session.get(Village, g.user.village_id)
    assert village is not None
    return village


@bp.get("/admin/households")
@role_required(ADMIN)
def household_list():
    """Search the roster, filter by grid."""
    grid_id = request.args.get("grid_id", type=int)
    q = request.args.get("q", "").strip()[:100]
    page = max(1, request.args.get("page", 1, type=int))
    rows, total = services.search_households(
        g.user.village_id, grid_id=grid_id, q=q or None, page=page, per_page=50
    )
    return render_template(
        "households/list.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, (total + 49) // 50),
        grids=list_grids(g.user.village_id),
        grid_id=grid_id,
        q=q,
    )


# What the form says about a field the API's schema refuses (the same rules for both).
FIELD_MESSAGES = {
    "name": _l("Enter the name (up to 100 characters)."),
    "address": _l("Enter the address (up to 200 characters)."),
    "grid_id": _l("Choose a grid."),
    "phone": _l("Digits, +, - and spaces only."),
    "members": _l("A whole number from 1 to 99."),
}


def _number_or_text(text: str) -> int | str:
    return int(text) if text.isascii() and text.isdigit() else text


def _form_fields() -> tuple[dict, dict]:
    """Read the household form; return the values and the errors per field.

    The form is checked by the API's own schema (HouseholdIn), so that what one
    refuses the other cannot store.
    """
    form = request.form
    values = {
        key: form.get(key, "").strip()
        for key in ("name", "address", "grid_id", "phone", "members", "status")
    }
    grid_id = _number_or_text(values["grid_id"])
    data = {
        "name": values["name"],
        "address": values["address"],
        "grid_id": grid_id,
        "phone": values["phone"] or None,
        "members": _number_or_text(values["members"]) if values["members"] else None,
    }
    errors = {field: str(FIELD_MESSAGES[field]) for field in HouseholdIn().validate(data)}
    if "grid_id" not in errors and isinstance(grid_id, int):
        try:
            get_grid(g.user.village_id, grid_id)
        except DomainError:
            errors["grid_id"] = str(FIELD_MESSAGES["grid_id"])
    return values, errors


@bp.route("/admin/households/new", methods=["GET", "POST"])
@role_required(ADMIN)
def household_new():
    """Add one household."""
    values: dict = {}
    errors: dict = {}
    if request.method == "POST":
        values, errors = _form_fields()
        if not errors:

            def create():
                village = _village()
                return services.create_household(
                    village,
                    get_grid(village.id, int(values["grid_id"])),
                    values["name"],
                    values["address"],
                    phone=values["phone"] or None,
                    members=int(values["members"]) if values["members"] else None,
                    actor_id=g.user.id,
                ).id

            household_id = run_write(create)
            return redirect(url_for("households.household_detail", household_id=household_id))
    return render_template(
        "households/form.html",
        values=values,
        errors=errors,
        grids=list_grids(g.user.village_id),
        household=None,
    ), 422 if errors else 200


@bp.route("/admin/households/<id:household_id>/edit", methods=["GET", "POST"])
@role_required(ADMIN)
def household_edit(household_id: int):
    """Change a household's details."""
    household = services.get_household(g.user.village_id, household_id)
    errors: dict = {}
    values = {
        "name": household.name,
        "address": household.address,
        "grid_id": str(household.grid_id),
        "phone": household.phone or "",
        "members": str(household.members or ""),
        "status": household.status,
    }
    if request.method == "POST":
        values, errors = _form_fields()
        if values["status"] not in services.STATUSES:
            errors["status"] = _("Choose a status.")
        if not errors:

            def update():
                target = services.get_household(g.user.village_id, household_id)
                services.update_household(
                    target,
                    {
                        "name": values["name"],
                        "address": values["address"],
                        "grid_id": int(values["grid_id"]),
                        "phone": values["phone"] or None,
                        "members": int(values["members"]) if values["members"] else None,
                        "status": values["status"],
                    },
                    actor_id=g.user.id,
                )

            run_write(update)
            return redirect(url_for("households.household_detail", household_id=household_id))
    return render_template(
        "households/form.html",
        values=values,
        errors=errors,
        grids=list_grids(g.user.village_id),
        household=household,
    ), 422 if errors else 200


@bp.get("/admin/households/<id:household_id>")
@role_required(ADMIN)
def household_detail(household_id: int):
    """A household: balance, card, every movement."""
    household = services.get_household(g.user.village_id, household_id)
    account = household_account(household.id)
    grid = get_grid(g.user.village_id, household.grid_id)
    from sqlalchemy import select

    from app.auth.models import User

    logins = list(
        db.session.scalars(
            select(User.username).where(User.household_id == household.id, User.role == HOUSEHOLD)
        )
    )
    return render_template(
        "households/detail.html",
        household=household,
        grid=grid,
        logins=logins,
        balance=account.balance,
        lines=statement(account.id, limit=100),
        payload=cards.card_payload(household),
        words=movement_words,
        adjust_key=uuid.uuid4().hex,
    )


@bp.get("/admin/households/<id:household_id>/qr.svg")
@role_required(ADMIN)
def household_qr(household_id: int):
    """The card's QR, for the detail page."""
    household = services.get_household(g.user.village_id, household_id)
    return Response(
        cards.qr_svg(cards.card_payload(household)),
        mimetype="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )


@bp.post("/admin/households/<id:household_id>/reissue")
@role_required(ADMIN)
def household_reissue(household_id: int):
    """Replace the household's card; the old one stops working."""
    reason = request.form.get("reason", "").strip()[:500] or "补发积分卡"

    def reissue():
        household = services.get_household(g.user.village_id, household_id)
        services.reissue_card(household, actor_id=g.user.id, reason=reason)

    run_write(reissue)
    return redirect(url_for("households.household_detail", household_id=household_id, reissued=1))


@bp.post("/admin/households/<id:household_id>/adjust")
@role_required(ADMIN)
def household_adjust(household_id: int):
    """Correct a household's points by hand, with a reason; a resent form counts once."""
    services.get_household(g.user.village_id, household_id)  # 404 for another village's
    key = page_key(request.form.get("key", ""))
    reason = request.form.get("reason", "").strip()[:500]
    amount_text = request.form.get("amount", "").strip()
    back = partial(url_for, "households.household_detail", household_id=household_id)
    try:
        amount = int(amount_text)
    except ValueError:
        amount = 0
    if key is None:
        return redirect(back(adjust_error=_("The form expired; please try again.")))
    if not amount or abs(amount) > MAX_AMOUNT:
        return redirect(back(adjust_error=_("Give a whole number of points, like 5 or -5.")))
    if not reason:
        return redirect(back(adjust_error=_("Give the reason for the correction.")))
    user = g.user

    def produce():
        adjust(user.village_id, household_id, amount, reason=reason, actor_id=user.id)
        return redirect(back(adjusted=f"{amount:+d}"))

    def refused(error: DomainError):
        return redirect(back(adjust_error=page_message(error)))

    try:
        return run_idempotent(
            user.village_id,
            key,
            fingerprint(
                b"adjust",
                str(user.id).encode(),
                str(household_id).encode(),
                str(amount).encode(),
                reason.encode(),
            ),
            produce,
            on_refusal=refused,
        )
    except DomainError as error:
        if error.status >= 500:
            raise
        return redirect(back(adjust_error=page_message(error)))


@bp.post("/admin/households/<id:household_id>/login")
@role_required(ADMIN)
def household_login(household_id: int):
    """Give the household a login of its own, to see its points from home."""
    from app.auth.services import create_user

    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    user = g.user

    def create():
        household = services.get_household(user.village_id, household_id)
        create_user(
            _village(), username, password, HOUSEHOLD, household=household, actor_id=user.id
        )

    try:
        run_write(create)
    except DomainError as error:
        return redirect(
            url_for(
                "households.household_detail",
                household_id=household_id,
                login_error=page_message(error),
            )
        )
    return redirect(
        url_for("households.household_detail", household_id=household_id, login_created=username)
    )


@bp.route("/admin/households/import", methods=["GET", "POST"])
@role_required(ADMIN)
def household_import():
    """Upload a roster: every row or none, with a report of each bad row."""
    problems = None
    imported = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problems = {"file": [_("Choose a CSV or XLSX file.")]}
            status = 422
        else:
            data = upload.read()
            try:
                actor_id = g.user.id
                imported = len(
                    run_write(lambda: import_roster(_village(), data, actor_id=actor_id))
                )
            except RosterInvalid as error:
                problems = error.extra.get("errors", {})
                status = 422
    return render_template("households/import.html", problems=problems, imported=imported), status


@bp.get("/admin/households/import/template.<fmt>")
@role_required(ADMIN)
def roster_template(fmt: str):
    """A roster to fill in, as CSV or XLSX."""
    if fmt == "csv":
        return Response(
            roster_template_csv(),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="roster-template.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            roster_template_xlsx(),
            mimetype=("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            headers={"Content-Disposition": 'attachment; filename="roster-template.xlsx"'},
        )
    return render_template(
        "errors/error.html", status=404, message=_("This page does not exist.")
    ), 404


@bp.get("/admin/cards")
@role_required(ADMIN)
def card_print():
    """Choose a grid and print its cards."""
    return render_template("households/cards.html", grids=list_grids(g.user.village_id))


@bp.get("/admin/cards.pdf")
@role_required(ADMIN)
def card_print_pdf():
    """The chosen grid's cards as a PDF."""
    grid_id = request.args.get("grid_id", type=int)
    ids = [int(i) for i in request.args.getlist("id") if i.isdigit()]
    pdf, filename = card_sheet_pdf(g.user.village_id, grid_id=grid_id, household_ids=ids or None)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
