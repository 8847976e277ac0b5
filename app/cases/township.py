"""The township's cases page: its villages' open cases, overdue first, each with 督办.

A township reads and never changes a village's data, but for this one write: it
supervises (督办) an open case of one of its villages, a note that the assignee sees
flagged. The form posts the API's add_event action (action=supervise), so the page
and the API take the same path through the transition table; the reporter is never
shown here, nor the words of the report.
"""

from flask import g, redirect, render_template, request, url_for
from sqlalchemy import select

from app.auth.decorators import role_required
from app.auth.models import TOWNSHIP
from app.auth.reach import reachable_villages
from app.cases.api import add_event
from app.cases.models import WORKING_STATES, Case
from app.cases.views import bp, case_message, case_refusal, shown_case
from app.db import db, utcnow
from app.villages.models import Village

# At most this many open cases on the page, the most overdue first.
PAGE_CASES = 200


def _township_page(message: str | None = None, status: int = 200):
    village_ids = reachable_villages(g.user)
    overdue_only = request.args.get("overdue") == "1"
    now = utcnow()
    query = select(Case).where(Case.village_id.in_(village_ids), Case.state.in_(WORKING_STATES))
    if overdue_only:
        query = query.where(Case.due_at < now)
    rows = db.session.scalars(query.order_by(Case.due_at, Case.id).limit(PAGE_CASES))
    villages = {
        v.id: v.name for v in db.session.scalars(select(Village).where(Village.id.in_(village_ids)))
    }
    cases = []
    for case in rows:
        shown = shown_case(case, g.user, now)
        shown["village_name"] = villages.get(case.village_id, "")
        # The public form of a case: no reporter, no words of the report, no photos.
        shown.update(description=None, photos=[], reporter=None, address=None)
        cases.append(shown)
    done = request.args.get("done", type=int)
    return render_template(
        "cases/township.html",
        cases=cases,
        overdue_only=overdue_only,
        message=message or case_refusal(request.args.get("refused")),
        done=done,
    ), status


@bp.get("/township/cases")
@role_required(TOWNSHIP)
def township_cases():
    """The township's villages' open cases, overdue first; 督办 one with a note."""
    return _township_page()


@bp.post("/township/cases/<id:case_id>")
@role_required(TOWNSHIP, read_only_may=True)
def township_supervise(case_id: int):
    """Supervise (督办) a case of one of the township's villages; another's answers 404."""
    back = url_for("cases.township_cases")
    return add_event.submit(
        {"action": "supervise", "note": request.form.get("note", "")},
        key=request.form.get("key"),
        done=lambda _result: redirect(f"{back}?done={case_id}"),
        refused=lambda error: redirect(f"{back}?refused={error.code}"),
        invalid=lambda error: _township_page(case_message(error), error.status),
        case_id=case_id,
    )
