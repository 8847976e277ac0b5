"""Login and logout pages (cookie session), and the admin's page of users."""

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.auth import services
from app.auth.api import client_address
from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, ROLES
from app.db import db, run_write
from app.errors import DomainError, RateLimited, page_message
from app.households.models import Household
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
        "username": request.form.get("username", "").strip()[:64],
        "role": request.form.get("role", ""),
        "household": request.form.get("household", "").strip()[:32],
    }
    password = request.form.get("password", "")[:256]
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
            values["username"],
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
