"""Login and logout pages (cookie session)."""

from flask import Blueprint, g, redirect, render_template, request, session
from flask_babel import gettext as _

from app.auth import services
from app.auth.api import client_address
from app.db import db
from app.errors import RateLimited

bp = Blueprint("auth", __name__)


@bp.before_app_request
def forget_earlier_user() -> None:
    """Load the user afresh for every request, never from an earlier one.

    g lives as long as the app context, and a request reuses one that is already
    pushed (the tests hold one around many requests); a cached user would let a
    revoked token or a disabled user through.
    """
    g.pop("user", None)


def safe_next(target: str | None) -> str:
    """Return a local path to go to after login; never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/home"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form, or log in."""
    error = None
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")[:256]
        address = client_address()
        try:
            services.check_login_allowed(username, address)
        except RateLimited:
            return render_template(
                "auth/login.html",
                username=username,
                error=_("Too many failed logins. Please wait and try again later."),
            ), 429
        user = services.authenticate(username, password) if username and password else None
        if user is None:
            services.record_failed_login(username, address)
            db.session.commit()
            error = _("Wrong username or password.")
            status = 401
        else:
            lang = session.get("lang")
            session.clear()
            session["user_id"] = user.id
            if lang:
                session["lang"] = lang
            return redirect(safe_next(request.args.get("next")))
    return render_template(
        "auth/login.html", error=error, username=request.form.get("username", "")
    ), status


@bp.post("/logout")
def logout():
    """Log out and go back to the login page."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect("/login")
