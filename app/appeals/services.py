"""Appeals: filing one, deciding it, and what the pages and the reports read of them.

An overturn never edits history: it voids the grade through the inspections' void
(services.void_inspection(), which reverses its journal) and, with a corrected grade,
credits that grade at the original inspected_at through the one credit path
(batch.credit_queue()), all in one savepoint of the request's transaction: if the
void would overdraw the household, nothing changes.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError

from app.appeals.models import OPEN, OVERTURNED, UPHELD, Appeal
from app.audit.services import APPEAL_DECIDED, record
from app.auth.models import HOUSEHOLD, User
from app.db import db, utcnow
from app.errors import (
    AlreadyAppealed,
    AlreadyDecided,
    AppealClosed,
    DomainError,
    NotFound,
    SamePerson,
    ValidationFailed,
)
from app.inspections.batch import credit_queue
from app.inspections.models import Inspection
from app.inspections.services import void_inspection
from app.rules.models import RuleSet
from app.rules.services import current_rules

appeals = cast(Table, Appeal.__table__)

# The household's grades its page lists with their appeals.
SHOWN_AT_MOST = 20


def appeal_window(village_id: int) -> timedelta:
    return timedelta(days=current_rules(village_id).fairness.appeal_days)


def file_appeal(user: User, inspection_id: int, reason: str) -> Appeal:
    """A household appeals one of its own grades, within the rules' appeal_days."""
    inspection = db.session.get(Inspection, inspection_id)
    if (
        inspection is None
        or user.role != HOUSEHOLD
        or inspection.village_id != user.village_id
        or inspection.household_id != user.household_id
    ):
        raise NotFound("No such inspection.")
    if db.session.scalar(select(Appeal.id).where(Appeal.inspection_id == inspection.id)):
        raise AlreadyAppealed("This grade was already appealed.")
    if inspection.voided_at is not None:
        raise AppealClosed("This grade was voided; there is nothing to appeal.")
    if _is_correction(inspection.id):
        raise AppealClosed("This grade is an appeal's decision; it is not appealed again.")
    if inspection.created_at < utcnow() - appeal_window(inspection.village_id):
        raise AppealClosed("This grade is too old to appeal.")
    appeal = Appeal(
        village_id=inspection.village_id,
        inspection_id=inspection.id,
        household_id=inspection.household_id,
        inspector_id=inspection.inspector_id,
        reason=reason,
        state=OPEN,
        created_by=user.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(appeal)
            db.session.flush()
    except IntegrityError as error:  # another tap's appeal committed first
        if "inspection_id" in str(error.orig) or "appeals" in str(error.orig):
            raise AlreadyAppealed("This grade was already appealed.") from None
        raise
    return appeal


def _is_correction(inspection_id: int) -> bool:
    found = db.session.scalar(
        select(Appeal.id).where(Appeal.corrected_inspection_id == inspection_id)
    )
    return found is not None


def get_appeal(village_id: int, appeal_id: int) -> Appeal:
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or appeal.village_id != village_id:
        raise NotFound("No such appeal.")
    return appeal


def decide(
    actor: User,
    appeal_id: int,
    decision: str,
    note: str,
    grade: str | None = None,
) -> Appeal:
    """Uphold or overturn an open appeal: not by the inspector who gave the grade."""
    appeal = get_appeal(cast(int, actor.village_id), appeal_id)
    if appeal.inspector_id == actor.id:
        raise SamePerson("The inspector who gave the grade may not decide its appeal.")
    if decision == UPHELD and grade is not None:
        raise ValidationFailed(
            "A grade is given only when the appeal is overturned.",
            errors={"grade": ["Only with an overturn."]},
        )
    with db.session.begin_nested():  # a refusal leaves the appeal open and the grade as it was
        claimed = db.session.execute(
            update(appeals)
            .where(appeals.c.id == appeal.id, appeals.c.state == OPEN)
            .values(state=decision, decided_by=actor.id, decided_at=utcnow(), note=note)
            .returning(appeals.c.id)
        ).scalar_one_or_none()
        if claimed is None:
            raise AlreadyDecided("This appeal was already decided.")
        details: dict = {"appeal_id": appeal.id, "decision": decision}
        if decision == OVERTURNED:
            details.update(_overturn(actor, appeal, note, grade))
        record(
            appeal.village_id,
            actor.id,
            APPEAL_DECIDED,
            "household",
            appeal.household_id,
            {"inspection_id": appeal.inspection_id, **details},
            note,
        )
    db.session.refresh(appeal)
    return appeal


def _overturn(actor: User, appeal: Appeal, note: str, grade: str | None) -> dict:
    """Void the grade and credit the corrected one at the same moment, if one is given."""
    inspection = cast(Inspection, db.session.get(Inspection, appeal.inspection_id))
    if inspection.voided_at is not None:
        raise AppealClosed("This grade was already voided.")
    void_inspection(inspection, actor=actor, reason=note)
    details: dict = {"voided": inspection.id, "old_grade": inspection.grade}
    if grade is None:
        return details
    asked = {
        "household_id": inspection.household_id,
        "grade": grade,
        "note": note,
        "inspected_at": inspection.created_at,
    }
    (outcome,) = credit_queue(actor, [asked], correction=True)
    if isinstance(outcome, DomainError):
        raise outcome
    corrected = outcome.inspection
    db.session.execute(
        update(appeals)
        .where(appeals.c.id == appeal.id)
        .values(corrected_grade=grade, corrected_inspection_id=corrected.id)
    )
    details.update({"grade": grade, "corrected_inspection_id": corrected.id})
    return details


def list_appeals(
    village_id: int, *, state: str | None = None, household_id: int | None = None
) -> list[Appeal]:
    """The village's appeals (or one household's), newest first."""
    query = select(Appeal).where(Appeal.village_id == village_id)
    if state is not None:
        query = query.where(Appeal.state == state)
    if household_id is not None:
        query = query.where(Appeal.household_id == household_id)
    return list(db.session.scalars(query.order_by(Appeal.id.desc()).limit(200)))


def open_count(village_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Appeal.id)).where(
                Appeal.village_id == village_id, Appeal.state == OPEN
            )
        )
        or 0
    )


def appeal_counts(village_id: int, start: date, end: date) -> dict[int, tuple[int, int]]:
    """Per inspector: the appeals of their grades of the village days start..end, and how
    many were overturned (for the inspectors' report)."""
    rows = db.session.execute(
        select(
            Appeal.inspector_id,
            func.count(Appeal.id),
            func.count(Appeal.id).filter(Appeal.state == OVERTURNED),
        )
        .join(Inspection, Inspection.id == Appeal.inspection_id)
        .where(
            Appeal.village_id == village_id,
            Inspection.local_date >= start,
            Inspection.local_date <= end,
        )
        .group_by(Appeal.inspector_id)
    )
    return {row[0]: (row[1], row[2]) for row in rows}


@dataclass(frozen=True)
class GradeLine:
    """One of the household's grades on /my, with its appeal if it has one."""

    inspection_id: int
    given_at: datetime
    grade: str
    label: str
    points: int
    voided: bool
    appeal: Appeal | None
    can_appeal: bool


def my_grades(user: User) -> list[GradeLine]:
    """The household's grades of the last appeal_days, and every grade it appealed."""
    household_id = cast(int, user.household_id)
    since = utcnow() - appeal_window(cast(int, user.village_id))
    appealed = select(Appeal.inspection_id).where(Appeal.household_id == household_id)
    rows = db.session.execute(
        select(Inspection, RuleSet.grades)
        .join(RuleSet, RuleSet.id == Inspection.rules_id)
        .where(
            Inspection.household_id == household_id,
            (Inspection.created_at >= since) | Inspection.id.in_(appealed),
        )
        .order_by(Inspection.created_at.desc(), Inspection.id.desc())
        .limit(SHOWN_AT_MOST)
    ).all()
    ids = [row[0].id for row in rows]
    by_inspection = {
        a.inspection_id: a
        for a in db.session.scalars(select(Appeal).where(Appeal.inspection_id.in_(ids)))
    }
    corrections = set(
        db.session.scalars(
            select(Appeal.corrected_inspection_id).where(Appeal.corrected_inspection_id.in_(ids))
        )
    )
    lines = []
    for inspection, grades in rows:
        appeal = by_inspection.get(inspection.id)
        voided = inspection.voided_at is not None
        if voided and appeal is None:
            continue  # voided by an admin for another reason: the statement says so
        lines.append(
            GradeLine(
                inspection_id=inspection.id,
                given_at=inspection.created_at,
                grade=inspection.grade,
                label=_label(grades, inspection.grade),
                points=inspection.points,
                voided=voided,
                appeal=appeal,
                can_appeal=appeal is None
                and not voided
                and inspection.id not in corrections
                and inspection.created_at >= since,
            )
        )
    return lines


def _label(grades_text: str, grade: str) -> str:
    for item in json.loads(grades_text):
        if item["grade"] == grade:
            return item.get("label") or grade
    return grade
