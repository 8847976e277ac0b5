"""Which language and time zone a page is shown in."""

from flask import current_app, g, request, session


def select_locale() -> str:
    """Chinese first: the user's choice (cookie session), else zh_CN."""
    languages = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in languages:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def select_timezone() -> str | None:
    """Show times in the village's time zone."""
    user = g.get("user")
    if user is not None and user.village_id is not None:
        from app.db import db
        from app.villages.models import Village

        village = db.session.get(Village, user.village_id)
        if village is not None:
            return village.timezone
    return str(current_app.config["BABEL_DEFAULT_TIMEZONE"])
