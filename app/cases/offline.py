"""Resident reports on a phone with no signal: the phone's queue (static/js/queue.js).

A resident's report and a grid worker's accept and resolve, tapped without a signal,
wait in the same queue as the inspector's grades and go through the same API actions
(report_case, add_photo, add_event), each step under its own Idempotency-Key. The
pages here give the queue its bearer token and its words.
"""

from flask import jsonify
from flask_babel import gettext as _

from app.auth.decorators import role_required
from app.auth.models import HOUSEHOLD
from app.auth.services import issue_token
from app.cases.views import CASE_REFUSALS, STATE_WORDS, bp
from app.db import db
from app.errors import PAGE_REFUSALS
from app.scope import current_scope


@bp.post("/my/token")
@role_required(HOUSEHOLD)
def resident_token():
    """Give a resident's page a bearer token for its queue, as /inspect/token does.

    The token ends with this page session (its session version), like the inspector's.
    """
    scope = current_scope()
    issued = issue_token(scope.user, session_version=scope.user.session_version)
    db.session.commit()
    return jsonify(
        token=issued.token, expires_at=issued.expires_at.isoformat(), username=scope.user.username
    )


@bp.app_template_global()
def case_queue_texts() -> dict:
    """What cases-offline.js says, in the reader's language; it fills in {n}, {code}, {why}."""
    refusals = {code: str(text) for code, text in PAGE_REFUSALS.items()}
    refusals.update({code: str(text) for code, text in CASE_REFUSALS.items()})
    refusals["forbidden"] = _("This case is no longer yours to act on.")
    msgs = {
        "queued": _("Saved, waiting to upload (%(n)s)", n="{n}"),
        "sending": _("Uploading… (%(n)s)", n="{n}"),
        "saved": _("Saved on this phone: it is sent when the signal returns."),
        "login": _("Log in again to upload what is saved on this phone."),
        "reported": _("Report %(code)s was sent to the grid worker.", code="{code}"),
        "accepted": _("%(code)s: accepted.", code="{code}"),
        "resolved": _("%(code)s: fixed, with the after-photo.", code="{code}"),
        "sent": _("%(code)s: this had already reached the server.", code="{code}"),
        "refused": _("%(code)s: not done: %(why)s", code="{code}", why="{why}"),
        "nophoto": _("The photo was not kept: %(why)s", why="{why}"),
        "code": _("the server refused it (%(code)s)", code="{code}"),
        "waiting": _("saved, waiting to upload"),
        "attached": _("Photo attached"),
        "state-accepted": str(STATE_WORDS["accepted"]),
        "state-resolved": str(STATE_WORDS["resolved"]),
    }
    return {"msgs": msgs, "refusals": refusals}
