"""Which language and time zone a page is shown in, and the catalogues that say it."""

from pathlib import Path

from babel import Locale
from babel.support import Translations
from flask import Flask, current_app, g, request, session


def check_catalogues(app: Flask) -> None:
    """Refuse to start without the compiled catalogue of the default language (Chinese).

    Without it every page would be English, silently. The wheel carries it (setup.py
    compiles it); a checkout needs `pybabel compile`, which make run and make serve do.
    """
    default = str(app.config["BABEL_DEFAULT_LOCALE"])
    if default.startswith("en"):
        return
    folders = str(app.config.get("BABEL_TRANSLATION_DIRECTORIES") or "translations")
    for folder in folders.split(";"):
        found = Translations.load(str(Path(app.root_path) / folder), [Locale.parse(default)])
        if isinstance(found, Translations):  # NullTranslations when there is no .mo
            return
    raise RuntimeError(
        f"The compiled {default} message catalogue (messages.mo) is missing under "
        f"{folders}: every page would be in English. Compile it with "
        "`pybabel compile -d app/translations` (make run and make serve do), or install "
        "Green Points from its wheel, which carries it."
    )


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
