"""Home pages per role, the language switch and the health check."""

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session
from flask_babel import gettext as _
from flask_babel import refresh
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.actions import form_key
from app.auth.decorators import current_user, role_required
from app.db import db
from app.errors import PAGE_REFUSALS, problem
from app.ledger.services import household_balance
from app.security import safe_next
from app.villages.models import Village

bp = Blueprint("main", __name__)


@bp.before_app_request
def choose_locale_afresh() -> None:
    """Pick the language for every request, never the one cached by an earlier one."""
    # Flask-Babel caches the locale on g, which a reused app context carries over.
    refresh()


@bp.get("/healthz")
def healthz():
    """200 when the database answers, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return problem(503, "unavailable", "Service unavailable", "The database does not answer.")
    return jsonify(status="ok")


@bp.get("/")
def index():
    """Send people to their home page, or to the login page."""
    if current_user() is None:
        return redirect("/login")
    return redirect("/home")


@bp.get("/home")
@role_required()
def home():
    """The home page of the current user's role."""
    user = g.user
    if user.role == "household":
        return redirect("/my")
    if user.role == "township":
        return redirect("/township")
    village = db.session.get(Village, user.village_id)
    balance = None
    if user.household_id is not None:
        balance = household_balance(user.household_id)
    return render_template("main/home.html", user=user, village=village, balance=balance)


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the language of the pages and go back."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    # Only paths on this site: never an open redirect.
    return redirect(safe_next(request.args.get("next"), default="/"))


# A new key for each page form that writes (app/actions.py); macros see it too.
bp.add_app_template_global(form_key)


@bp.app_template_global()
def refusal_texts() -> dict[str, str]:
    """Each refusal code's words in the reader's language, for scripts that show them."""
    return {code: str(text) for code, text in PAGE_REFUSALS.items()}


@bp.app_template_global()
def offline_texts() -> dict[str, str]:
    """What the inspector app says offline (static/js/inspect.js), in the reader's language.

    The script fills in {n}, {who} and the other names in braces.
    """
    return {
        "queued": _("Saved, waiting to upload (%(n)s)", n="{n}"),
        "sending": _("Uploading… (%(n)s)", n="{n}"),
        "roster": _("Roster: %(n)s households, fetched %(when)s", n="{n}", when="{when}"),
        "noroster": _("No roster on this phone yet: open this page once with a signal."),
        "unknown": _("Not in your roster: saved anyway, the server will check the card."),
        "invalid": _("That is not a valid card of this village."),
        "credited": _(
            "%(who)s: credited %(points)s, new balance %(balance)s",
            who="{who}",
            points="{points}",
            balance="{balance}",
        ),
        "already": _("%(who)s: already inspected that day; not credited.", who="{who}"),
        "revoked": _(
            "%(who)s: the card was replaced; not credited. Scan the new card.", who="{who}"
        ),
        "toolate": _("%(who)s: more than 72 hours old; not credited.", who="{who}"),
        "sent": _(
            "%(who)s: this grade had already reached the server; its result is under My "
            "inspections today.",
            who="{who}",
        ),
        "refused": _("%(who)s: not recorded: %(why)s", who="{who}", why="{why}"),
        "nophoto": _("The photo was not kept: %(why)s", why="{why}"),
        "wrong": _("Wrong password."),
        "todo-done": _("inspected today"),
        "todo-queued": _("saved, waiting to upload"),
        "code": _("the server refused it (%(code)s)", code="{code}"),
    }


@bp.app_context_processor
def page_globals() -> dict:
    """The locale and the role names that every page may show."""
    from flask_babel import get_locale
    from flask_babel import lazy_gettext as _l

    def current_locale() -> str:
        return "zh_CN" if get_locale().language == "zh" else "en"

    role_names = {
        "admin": _l("Village admin"),
        "inspector": _l("Inspector"),
        "storekeeper": _l("Storekeeper"),
        "household": _l("Household"),
    }
    return {"current_locale": current_locale, "role_names": role_names}
