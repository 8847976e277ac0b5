"""What a household is told about its sorting: its recent grades that earned nothing.

A 0-point grade (差) is the feedback that should change behaviour, so the household
sees it with the inspector's note on its own page (/my, with the photo) and anyone at
its door sees the grade and the note (never the photo) on the card's page.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from app.db import db
from app.errors import NotFound
from app.inspections.models import Inspection
from app.rules.models import RuleSet

# Feedback older than this is no longer news.
SHOWN_DAYS = 30
SHOWN_AT_MOST = 3


@dataclass(frozen=True)
class Feedback:
    inspection_id: int
    day: date
    grade: str
    label: str
    note: str | None
    has_photo: bool


def household_feedback(household_id: int, today: date) -> list[Feedback]:
    """The household's latest 0-point grades of the last 30 days, newest first."""
    rows = db.session.execute(
        select(
            Inspection.id,
            Inspection.local_date,
            Inspection.grade,
            Inspection.note,
            Inspection.photo,
            RuleSet.grades,
        )
        .join(RuleSet, RuleSet.id == Inspection.rules_id)
        .where(
            Inspection.household_id == household_id,
            Inspection.points == 0,
            Inspection.voided_at.is_(None),
            Inspection.local_date > today - timedelta(days=SHOWN_DAYS),
        )
        .order_by(Inspection.local_date.desc(), Inspection.id.desc())
        .limit(SHOWN_AT_MOST)
    ).all()
    return [
        Feedback(
            inspection_id=row.id,
            day=row.local_date,
            grade=row.grade,
            # The grade's name in the rules it was given by (a later rename changes nothing).
            label=_label(row.grades, row.grade),
            note=row.note,
            has_photo=row.photo is not None,
        )
        for row in rows
    ]


def notes_of_journals(household_id: int, journal_ids: Iterable[int]) -> dict[int, str]:
    """The inspector's notes on the household's grades that credited these journals.

    Shown on the household's own statement (/my) under the points they earned, a note
    added after the grade included; never at the door.
    """
    wanted = set(journal_ids)
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Inspection.journal_id, Inspection.note).where(
            Inspection.household_id == household_id,
            Inspection.journal_id.in_(wanted),
            Inspection.note.is_not(None),
        )
    )
    return {journal_id: note for journal_id, note in rows if journal_id is not None and note}


def feedback_photo(household_id: int, inspection_id: int) -> str:
    """The stored photo of one of the household's 0-point grades (for the household itself)."""
    name = db.session.scalar(
        select(Inspection.photo).where(
            Inspection.id == inspection_id,
            Inspection.household_id == household_id,
            Inspection.points == 0,
            Inspection.voided_at.is_(None),
        )
    )
    if name is None:
        raise NotFound("No such photo.")
    return name


def _label(grades: str, grade: str) -> str:
    for item in json.loads(grades):
        if item.get("grade") == grade:
            return item.get("label") or grade
    return grade
