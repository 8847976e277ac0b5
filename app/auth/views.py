"""Login and logout pages (cookie session), and the admin's page of users."""

import math

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.actions import Action, FormInvalid, int_or_text, page_error
from app.auth import services, throttle
from app.auth.api import client_address, create_user, unlock_user, update_user
from app.auth.decorators import current_user, forget_session, role_required, start_session
from app.auth.models import ADMIN, HOUSEHOLD, ROLES
from app.auth.schemas import LoginIn, has_control, has_control_or_invisible
from app.db import db, run_write
from app.errors import DomainError, RateLimited, refusal_message
from app.households.services import household_id_by_code
from app.scope import current_scope
from app.security import safe_next
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


@bp.app_template_global()
def signed_out() -> bool:
    """Tell whether this page finds no one logged in: the phone then forgets the app's data.

    (static/js/forget.js.) A database that does not answer counts as logged in: an
    error page never wipes a phone.
    """
    if "user" in g:
        return g.user is None
    if "user_id" not in session:
        return True
    try:
        return current_user() is None
    except SQLAlchemyError:
        return False


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
        attempt = throttle.start_login(args["username"], client_address())
    except RateLimited as refusal:
        headers = refusal.extra["headers"]
        message = _("Too many failed logins. Please wait and try again later.")
        return _login_page(
            f"{message} {_wait_words(int(headers['Retry-After']))}", 429, args["username"], headers
        )
    user = services.check_credentials(args["username"], args["password"])
    if user is None:
        db.session.rollback()
        return _login_page(_("Wrong username or password."), 401, args["username"])
    if not user.active:
        # Said only to whoever knows the password: the try still counts as a failure.
        db.session.rollback()
        return _login_page(
            _("This account is disabled. Ask the village office to enable it again."),
            403,
            args["username"],
        )
    throttle.forget_failures(attempt)
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


def _shown(values: dict) -> dict:
    """The form's values to show again, without the characters that were refused."""
    return {
        name: "".join(char for char in value if not has_control_or_invisible(char))[:64]
        for name, value in values.items()
    }


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
        failures=throttle.failed_logins([user.username for user in users]),
        locked={
            username: max(1, math.ceil(seconds / 60))
            for username, seconds in throttle.locked_logins([u.username for u in users]).items()
        },
    ), status


def _patch_page_error(error: DomainError):
    """Show the users page again with what was refused, in the reader's language."""
    if error.code != "validation_error":
        return _users_page(page_error(error, PATCH_FIELDS), error.status)
    fields = error.errors if isinstance(error, FormInvalid) else error.extra.get("errors") or {}
    if "grid_ids" in fields:
        return _users_page(_("Choose grids of this village."), error.status)
    if "password" in fields:
        return _users_page(str(FIELD_REFUSALS["password"]), error.status)
    return _users_page(_("Check the form and try again."), error.status)


def _user_form(the_action: Action, form: dict, done: str, user_id: int):
    """Run a user's form on the users page: back to the page, saying what was done or refused."""
    return the_action.submit(
        form,
        key=request.form.get("key"),
        done=lambda _result: redirect(url_for("auth.users_page", done=done)),
        refused=lambda error: redirect(url_for("auth.users_page", refused=error.code)),
        invalid=_patch_page_error,
        user_id=user_id,
    )


@bp.post("/admin/users/<id:user_id>/password")
@role_required(ADMIN)
def user_password(user_id: int):
    """Give a user a new password: its sessions and tokens end (audited)."""
    return _user_form(
        update_user, {"password": request.form.get("password", "")}, "password", user_id
    )


@bp.post("/admin/users/<id:user_id>/unlock")
@role_required(ADMIN)
def user_unlock(user_id: int):
    """Unlock a login: forget its failed logins, so it may log in at once (audited)."""
    return _user_form(unlock_user, {}, "unlocked", user_id)


@bp.post("/admin/users/<id:user_id>/grids")
@role_required(ADMIN)
def user_grids(user_id: int):
    """Assign an inspector to the ticked grids; none ticked: the whole village."""
    grid_ids = [int_or_text(value) for value in request.form.getlist("grid_id")]
    return _user_form(update_user, {"grid_ids": grid_ids}, "grids", user_id)


@bp.get("/admin/users")
@role_required(ADMIN)
def users_page():
    """The village's users, a form to add one, and a button to disable or enable each."""
    return _users_page()


@bp.post("/admin/users")
@role_required(ADMIN)
def user_create():
    """Add a user (the API's create_user); a household user names its household by code."""
    form = request.form
    values = {
        "username": form.get("username", "").strip(),
        "role": form.get("role", ""),
        "household": form.get("household", "").strip(),
    }
    data = {key: values[key] for key in ("username", "role")} | {
        "password": form.get("password", "")
    }
    if values["household"]:
        household_id = None
        if len(values["household"]) <= 32 and not has_control_or_invisible(values["household"]):
            household_id = household_id_by_code(current_scope().village_id, values["household"])
        if household_id is None:
            message = _("No household with this code in the village.")
            return _users_page(message, 422, _shown(values))
        data["household_id"] = str(household_id)
    elif values["role"] == HOUSEHOLD:
        return _users_page(_("A household login needs the household's code."), 422, values)
    return create_user.submit(
        data,
        key=form.get("key"),
        done=lambda _user: redirect(url_for("auth.users_page", done="created")),
        refused=lambda error: redirect(url_for("auth.users_page", refused=error.code)),
        invalid=lambda error: _users_page(_create_page_error(error), error.status, _shown(values)),
    )


def _create_page_error(error: DomainError) -> str:
    """What the users page says about a user it could not add."""
    if isinstance(error, services.UsernameTaken):
        return _("This username is taken; choose another.")
    if isinstance(error, FormInvalid):
        named = [str(text) for name, text in FIELD_REFUSALS.items() if name in error.errors]
        return " ".join(named) or _("Check the form and try again.")
    return page_error(error)


@bp.post("/admin/users/<id:user_id>/active")
@role_required(ADMIN)
def user_active(user_id: int):
    """Disable or enable a user (the API's update_user); an admin cannot disable themself."""
    active = request.form.get("active") == "1"
    if not active and user_id == current_scope().user_id:
        return _users_page(_("You cannot disable yourself."), 422)
    done = "enabled" if active else "disabled"
    return _user_form(update_user, {"active": "true" if active else "false"}, done, user_id)
