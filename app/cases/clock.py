"""What the clock does to cases (`flask cases tick`): close the unconfirmed, record escalations.

Overdue itself is computed on every read (services.is_overdue, services.escalation);
this only writes what must be written once: a resolved case nobody confirmed within
the village's confirm_days is closed (and its report paid), and each level of
escalation is recorded once, whatever copies of the job run at once.
"""

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, select, update

from app.cases.models import CLOSED, RESOLVED, WORKING_STATES, Case, CaseEvent
from app.cases.services import add_event_row, escalation, get_case, pay_reward
from app.db import db
from app.rules.cases import case_rules


def due_to_close(at: datetime) -> list[tuple[int, int]]:
    """(village id, case id) of every resolved case whose confirm days ended by `at`."""
    rows = db.session.execute(
        select(Case.village_id, Case.id, Case.resolved_at).where(Case.state == RESOLVED)
    ).all()
    days: dict[int, int] = {}
    due = []
    for village_id, case_id, resolved_at in rows:
        if village_id not in days:
            days[village_id] = case_rules(village_id).confirm_days
        if resolved_at is not None and resolved_at + timedelta(days=days[village_id]) <= at:
            due.append((village_id, case_id))
    return due


def auto_confirm(village_id: int, case_id: int, at: datetime) -> bool:
    """Close a resolved case nobody confirmed or reopened; False when someone got there first."""
    case = get_case(village_id, case_id, lock=True)
    if case.state != RESOLVED:
        return False
    case.state = CLOSED
    case.updated_at = case.closed_at = at
    case.auto_confirmed = True
    pay_reward(case, actor_id=None)
    add_event_row(case, None, "auto_confirm", RESOLVED, None)
    db.session.flush()
    return True


def due_to_escalate(at: datetime) -> list[tuple[int, int]]:
    """(village id, case id) of unresolved cases past due whose escalation is not recorded."""
    rows = db.session.execute(
        select(Case).where(
            Case.state.in_(WORKING_STATES),
            Case.due_at <= at,
            Case.escalated_township_at.is_(None),
        )
    ).scalars()
    return [
        (case.village_id, case.id)
        for case in rows
        if case.escalated_admins_at is None or escalation(case, at) == "township"
    ]


ESCALATION_COLUMNS = {"admins": "escalated_admins_at", "township": "escalated_township_at"}


def record_escalation(village_id: int, case_id: int, at: datetime) -> list[str]:
    """Record each level a case has escalated to by `at`, once each; return the new ones.

    The conditional UPDATE makes copies of the job that run at once record it once.
    """
    case = get_case(village_id, case_id)
    reached = escalation(case, at)
    levels = (
        [] if reached is None else ["admins"] if reached == "admins" else ["admins", "township"]
    )
    recorded = []
    for level in levels:
        column = getattr(Case, ESCALATION_COLUMNS[level])
        result = db.session.execute(
            update(Case)
            .where(Case.id == case_id, column.is_(None))
            .values({column: at})
            .execution_options(synchronize_session=False)
        )
        changed = cast(CursorResult, result).rowcount
        if changed:
            recorded.append(level)
            db.session.add(
                CaseEvent(
                    case_id=case_id,
                    village_id=village_id,
                    action="escalate",
                    from_state=case.state,
                    to_state=case.state,
                    note=level,
                    created_at=at,
                )
            )
    db.session.flush()
    return recorded
