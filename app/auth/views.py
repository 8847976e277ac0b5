"""Login and logout pages (cookie session), and the admin's page of users."""

import math
import uuid

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from app.actions import FormInvalid, page_error, whole
from app.auth import services
from app.auth.api import client_address, unlock_user, update_user
from app.auth.decorators import current_user, forget_session, role_required, start_session
from app.auth.models import ADMIN, HOUSEHOLD, ROLES
from app.auth.schemas import LoginIn, UserIn, UserPatch, has_control, has_control_or_invisible
from app.db import db, run_write
from app.errors import DomainError, RateLimited, page_message, refusal_message
from app.households.models import Household
from app.scope import current_scope
from app.security import safe_next
from app.villages.models import Village
from app.villages.services import list_grids

bp = Blueprint("auth", __name__)


@bp.before_app_request
def forget_earlier_user() -> None:
    """Load the user afresh for every request, never from an earlier one.

    g lives as long as the app context, and a request reuses one that is already
    pushed (the tests hold one around many requests); a cached user would let a
    revoked token or a disabled user through.
    """
    g.pop("user", None)


def _wait_words(seconds: int) -> str:
    """Say in the reader's language when a limited login may try again (whole minutes)."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes == 1:
        return _("Try again in 1 minute.")
    return _("Try again in %(minutes)d minutes.", minutes=minutes)


def _login_page(
    error: str | None, status: int, username: str = "", headers: dict[str, str] | None = None
) -> tuple[str, int, dict[str, str]]:
    """Render the login form with an error, a status and headers (Retry-After)."""
    return render_template("auth/login.html", error=error, username=username), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form, or log in."""
    if request.method == "GET":
        return _login_page(None, 200)
    form = {
        "username": request.form.get("username", ""),
        "password": request.form.get("password", ""),
    }
    if has_control(form["username"]) or has_control(form["password"]):
        # No login holds one; PostgreSQL would refuse a NUL in the query besides.
        return _login_page(
            _("The username or password holds characters that cannot be typed."), 422
        )
    try:
        args = LoginIn().load(form)
    except ValidationError:  # empty or too long: no account has such a login
        return _login_page(_("Wrong username or password."), 401, form["username"][:64])
    try:
        attempt = services.start_login(args["username"], client_address())
    except RateLimited as refusal:
        headers = refusal.extra["headers"]
        message = _("Too many failed logins. Please wait and try again later.")
        return _login_page(
            f"{message} {_wait_words(int(headers['Retry-After']))}", 429, args["username"], headers
        )
    user = services.authenticate(args["username"], args["password"])
    if user is None:
        db.session.rollback()
        return _login_page(_("Wrong username or password."), 401, args["username"])
    services.forget_failures(attempt)
    start_session(user)
    return redirect(safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    """Log out: end every page session of this user (a copied cookie too), then log in."""
    user = current_user()
    if user is not None:
        user_id = user.id
        run_write(lambda: services.end_page_sessions(user_id))
    forget_session()
    return redirect("/login")


# What the users page says about a field the schema refused.
FIELD_REFUSALS = {
    "username": _l("A username has 1 to 64 characters, none of them control or invisible."),
    "password": _l("A password has 8 to 256 characters, none of them control or invisible."),
    "role": _l("Choose one of the roles."),
}


def _refusal(error: ValidationError) -> str:
    """Say in the reader's language which fields the schema refused."""
    fields = error.messages if isinstance(error.messages, dict) else {}
    return " ".join(
        str(message) for name, message in FIELD_REFUSALS.items() if name in fields
    ) or _("Check the form and try again.")


def _shown(values: dict) -> dict:
    """The form's values to show again, without the characters that were refused."""
    return {
        name: "".join(char for char in value if not has_control_or_invisible(char))[:64]
        for name, value in values.items()
    }


class _NoSuchHousehold(DomainError):
    status = 422


# What the users page calls the fields of a refused password or grid form.
PATCH_FIELDS = {
    "password": _l("New password (at least 8 characters)"),
    "grid_ids": _l("Grids"),
}


def _users_page(message: str | None = None, status: int = 200, values: dict | None = None):
    scope = current_scope()
    users = services.list_users(scope.village_id)
    grids = list_grids(scope.village_id)
    return render_template(
        "auth/users.html",
        users=users,
        roles=ROLES,
        message=message or refusal_message(request.args.get("refused")),
        values=values or {},
        done=request.args.get("done"),
        grids=grids,
        grid_names={grid.id: grid.name for grid in grids},
        user_grids=services.grid_ids_by_user(scope.village_id),
        failures=services.failed_logins([user.username for user in users]),
        key=uuid.uuid4().hex,
    ), status


def _patch_page_error(error: DomainError):
    """Show the users page again with what was refused, in the reader's language."""
    if error.status >= 500 or error.status == 404:
        raise error
    if error.code != "validation_error":
        return _users_page(page_error(error, PATCH_FIELDS), error.status)
    fields = error.errors if isinstance(error, FormInvalid) else error.extra.get("errors") or {}
    if "grid_ids" in fields:
        return _users_page(_("Choose grids of this village."), error.status)
    if "password" in fields:
        return _users_page(str(FIELD_REFUSALS["password"]), error.status)
    return _users_page(_("Check the form and try again."), error.status)


def _done(what: str):
    return lambda _result: redirect(url_for("auth.users_page", done=what))


def _refused(error: DomainError):
    return redirect(url_for("auth.users_page", refused=error.code))


@bp.post("/admin/users/<id:user_id>/password")
@role_required(ADMIN)
def user_password(user_id: int):
    """Give a user a new password: its sessions and tokens end (audited)."""
    try:
        return update_user.submit(
            {"password": request.form.get("password", "")},
            key=request.form.get("key"),
            done=_done("password"),
            refused=_refused,
            user_id=user_id,
        )
    except DomainError as error:
        return _patch_page_error(error)


@bp.post("/admin/users/<id:user_id>/unlock")
@role_required(ADMIN)
def user_unlock(user_id: int):
    """Unlock a login: forget its failed logins, so it may log in at once (audited)."""
    try:
        return unlock_user.submit(
            {},
            key=request.form.get("key"),
            done=_done("unlocked"),
            refused=_refused,
            user_id=user_id,
        )
    except DomainError as error:
        return _patch_page_error(error)


@bp.post("/admin/users/<id:user_id>/grids")
@role_required(ADMIN)
def user_grids(user_id: int):
    """Assign an inspector to the ticked grids; none ticked: the whole village."""
    try:
        try:
            data = UserPatch().load(
                {"grid_ids": [whole(value) for value in request.form.getlist("grid_id")]}
            )
        except ValidationError as error:
            raise FormInvalid(error.normalized_messages()) from None
        return update_user.submit(
            {},
            key=request.form.get("key"),
            done=_done("grids"),
            refused=_refused,
            data=data,
            user_id=user_id,
        )
    except DomainError as error:
        return _patch_page_error(error)


@bp.get("/admin/users")
@role_required(ADMIN)
def users_page():
    """The village's users, a form to add one, and a button to disable or enable each."""
    return _users_page()


@bp.post("/admin/users")
@role_required(ADMIN)
def user_create():
    """Add a user; a household user names its household by code."""
    values = {
        "username": request.form.get("username", "").strip(),
        "role": request.form.get("role", ""),
        "household": request.form.get("household", "").strip(),
    }
    try:
        # The API's own schema: the same refusals (control and invisible characters,
        # lengths) whichever way a user is added.
        args = UserIn().load(
            {
                "username": values["username"],
                "password": request.form.get("password", ""),
                "role": values["role"],
            }
        )
    except ValidationError as error:
        return _users_page(_refusal(error), 422, _shown(values))
    if has_control_or_invisible(values["household"]) or len(values["household"]) > 32:
        return _users_page(_("No household with this code in the village."), 422, _shown(values))
    password = args["password"]
    actor = g.user

    def create() -> None:
        village = db.session.get_one(Village, actor.village_id)
        household = None
        if values["household"]:
            household = db.session.scalar(
                select(Household).where(
                    Household.village_id == actor.village_id,
                    Household.code == values["household"].upper(),
                )
            )
            if household is None:
                raise _NoSuchHousehold()
        services.create_user(
            village,
            args["username"],
            password,
            values["role"],
            household=household,
            actor_id=actor.id,
        )

    if values["role"] == HOUSEHOLD and not values["household"]:
        return _users_page(_("A household login needs the household's code."), 422, values)
    try:
        run_write(create)
    except _NoSuchHousehold:
        return _users_page(_("No household with this code in the village."), 422, values)
    except DomainError as error:
        return _users_page(page_message(error), error.status, values)
    return redirect(url_for("auth.users_page", done="created"))


@bp.post("/admin/users/<id:user_id>/active")
@role_required(ADMIN)
def user_active(user_id: int):
    """Disable or enable a user; an admin cannot disable themself."""
    active = request.form.get("active") == "1"
    actor = g.user

    def change() -> None:
        user = services.get_user(actor.village_id, user_id)
        services.set_active(user, active, actor_id=actor.id)

    try:
        run_write(change)
    except DomainError as error:
        if error.status == 404:
            raise
        return _users_page(_("You cannot disable yourself."), 422)
    return redirect(url_for("auth.users_page", done="enabled" if active else "disabled"))
