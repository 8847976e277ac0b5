"""Login and logout pages (cookie session), and the admin's page of users."""

import math

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from app.auth import services
from app.auth.api import client_address
from app.auth.decorators import current_user, forget_session, role_required, start_session
from app.auth.models import ADMIN, HOUSEHOLD, ROLES
from app.auth.schemas import LoginIn, UserIn, has_control, has_control_or_invisible
from app.db import db, run_write
from app.errors import DomainError, RateLimited, page_message
from app.households.models import Household
from app.security import safe_next
from app.villages.models import Village

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


def _users_page(message: str | None = None, status: int = 200, values: dict | None = None):
    return render_template(
        "auth/users.html",
        users=services.list_users(g.user.village_id),
        roles=ROLES,
        message=message,
        values=values or {},
        done=request.args.get("done"),
    ), status


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
