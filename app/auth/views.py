"""Login and logout pages (cookie session).

The admin's users page adds its routes to this blueprint from app/office/users_views.py,
so that its endpoints keep their names (auth.users_page, auth.user_create...).
"""

import math

from flask import Blueprint, g, redirect, render_template, request, session
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.auth import services, throttle
from app.auth.api import client_address
from app.auth.decorators import current_user, forget_session, start_session
from app.auth.schemas import LoginIn, has_control
from app.db import db, run_write
from app.errors import RateLimited
from app.security import safe_next

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


def too_many_tries(refusal: RateLimited) -> str:
    """Say in the reader's language that a limited login must wait, and how long (whole
    minutes): the login page and the password page both say it."""
    minutes = max(1, math.ceil(int(refusal.extra["headers"]["Retry-After"]) / 60))
    message = _("Too many failed logins. Please wait and try again later.")
    if minutes == 1:
        wait = _("Try again in 1 minute.")
    else:
        wait = _("Try again in %(minutes)d minutes.", minutes=minutes)
    return f"{message} {wait}"


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
        return _login_page(too_many_tries(refusal), 429, args["username"], headers)
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
