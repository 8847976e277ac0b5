"""Grading and crediting: the rules, recording an inspection, voiding it."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import Table, func, select, update

from app.audit.services import INSPECTION_NOTED, INSPECTION_VOIDED, changes, record
from app.auth.models import User
from app.db import db, utcnow
from app.errors import (
    AlreadyReversed,
    DomainError,
    NotFound,
    NotOwnInspection,
    UndoWindowClosed,
)
from app.households.models import Household
from app.households.services import grid_households
from app.inspections.batch import credit_queue
from app.inspections.models import Inspection, InspectionResult
from app.ledger.services import reverse
from app.ledger.verify import Problem, journal_totals
from app.scope import village_today
from app.villages.models import Village

inspections = cast(Table, Inspection.__table__)
villages = cast(Table, Village.__table__)

# How long the inspector who gave a grade may undo it (a mis-tap) or add and change its
# note, counted from inspected_at (when it was given; for a grade queued offline, the
# tap, not its arrival). After that only the admin voids it (README, OpenAPI).
UNDO_MINUTES = 10


# Statements of the hot path, built once (see app/ledger/services.py).
def inspect_household(
    household: Household,
    inspector: User,
    grade: str,
    *,
    note: str | None = None,
    at: datetime | None = None,
    inspected_at: datetime | None = None,
) -> InspectionResult:
    """Grade a household and credit its points by the rules: a queue of one.

    Decided and written by batch.credit_queue(), like every grade (see
    app/inspections/credits.py): never past the daily limit, the household's
    points account locked while it is decided. inspected_at is when a grade queued
    on a phone was given: its village day, daily limit and rules are those of that
    moment, while the points move now (the ledger runs in arrival order). at
    backdates the grade, journal included, under today's rules (demo data, paper
    records).
    """
    asked = {"household_id": household.id, "grade": grade, "note": note}
    if inspected_at is not None:
        asked["inspected_at"] = inspected_at
    (outcome,) = credit_queue(inspector, [asked], recorded_at=utcnow(), at=at)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def record_inspection(
    household: Household,
    inspector: User,
    grade: str,
    *,
    note: str | None = None,
    at: datetime | None = None,
) -> Inspection:
    """Record an inspection and credit its points (see inspect_household())."""
    result = inspect_household(household, inspector, grade, note=note, at=at)
    return cast(Inspection, db.session.get(Inspection, result.inspection.id))


def get_inspection(village_id: int, inspection_id: int) -> Inspection:
    """Return an inspection of the village."""
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None or inspection.village_id != village_id:
        raise NotFound("No such inspection.")
    return inspection


def check_own_recent(inspection: Inspection, user: User) -> None:
    """Refuse unless user gave this grade less than UNDO_MINUTES ago."""
    if inspection.inspector_id != user.id:
        raise NotOwnInspection("Only the inspector who gave this grade may change it.")
    if utcnow() - inspection.created_at > timedelta(minutes=UNDO_MINUTES):
        raise UndoWindowClosed(
            f"A grade may be changed by its inspector within {UNDO_MINUTES} minutes "
            "of inspected_at; after that, the admin voids it."
        )


def undo_window_open(inspection: Inspection, user: User) -> bool:
    """Whether user may still undo this grade, or add its note (pages offer it then)."""
    try:
        check_own_recent(inspection, user)
    except DomainError:
        return False
    return inspection.voided_at is None


def set_note(inspection: Inspection, *, actor: User, note: str | None) -> Inspection:
    """The grade's note, added or changed by its inspector in the undo window; audited."""
    check_own_recent(inspection, actor)
    if inspection.voided_at is not None:
        raise AlreadyReversed("This inspection was voided; its note is kept as it was.")
    before = {"note": inspection.note}
    inspection.note = note or None
    db.session.flush()
    record(
        inspection.village_id,
        actor.id,
        INSPECTION_NOTED,
        "inspection",
        inspection.id,
        {"household_id": inspection.household_id, **changes(before, {"note": inspection.note})},
    )
    return inspection


@dataclass(frozen=True)
class DaySummary:
    """An inspector's day: households graded, and grades given by grade (voids left out)."""

    households: int
    by_grade: dict[str, int]


def day_summary(village_id: int, inspector_id: int, day: date) -> DaySummary:
    """What the inspector did on a village day, as /inspect sums it up."""
    rows = db.session.execute(
        select(Inspection.household_id, Inspection.grade).where(
            Inspection.village_id == village_id,
            Inspection.inspector_id == inspector_id,
            Inspection.local_date == day,
            Inspection.voided_at.is_(None),
        )
    ).all()
    by_grade: dict[str, int] = {}
    for _household_id, grade in rows:
        by_grade[grade] = by_grade.get(grade, 0) + 1
    return DaySummary(len({household_id for household_id, _grade in rows}), by_grade)


def void_inspection(inspection: Inspection, *, actor: User, reason: str) -> Inspection:
    """Void an inspection: reverse its points (refused once they are spent)."""
    with db.session.begin_nested():  # a refusal leaves nothing behind
        # Claim the void with one conditional UPDATE: of two admins voiding at once, the
        # second waits on the row lock, then finds it voided. A check in Python let both
        # through on PostgreSQL when there was no journal to reverse (a zero-point grade).
        claimed = db.session.execute(
            update(Inspection)
            .where(Inspection.id == inspection.id, Inspection.voided_at.is_(None))
            .values(voided_at=utcnow(), void_reason=reason, voided_by=actor.id)
            .returning(Inspection.id),
            execution_options={"synchronize_session": False},
        ).scalar_one_or_none()
        if claimed is None:
            raise AlreadyReversed("This inspection was already voided.")
        db.session.refresh(inspection)
        if inspection.journal_id is not None:
            reversal = reverse(
                inspection.journal_id,
                village_id=inspection.village_id,
                actor_id=actor.id,
                reason=reason,
            )
            inspection.void_journal_id = reversal.id
        db.session.flush()
        record(
            inspection.village_id,
            actor.id,
            INSPECTION_VOIDED,
            "inspection",
            inspection.id,
            {
                "household_id": inspection.household_id,
                "grade": inspection.grade,
                "points": inspection.points,
                "reversal_id": inspection.void_journal_id,
            },
            reason,
        )
    return inspection


def list_inspections(
    village_id: int,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
    grid_id: int | None = None,
    inspector_id: int | None = None,
    household_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Inspection], int]:
    """Return the village's inspections, newest first, filtered, and their total."""
    query = select(Inspection).where(Inspection.village_id == village_id)
    for column, value in (
        (Inspection.grid_id, grid_id),
        (Inspection.inspector_id, inspector_id),
        (Inspection.household_id, household_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if day_from is not None:
        query = query.where(Inspection.local_date >= day_from)
    if day_to is not None:
        query = query.where(Inspection.local_date <= day_to)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(Inspection.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def not_inspected_today(village_id: int, grid_id: int) -> list[Household]:
    """Return the grid's active households with no inspection today."""
    today = village_today(village_id)
    inspected = select(Inspection.household_id).where(
        Inspection.village_id == village_id,
        Inspection.local_date == today,
        Inspection.voided_at.is_(None),
    )
    return grid_households(village_id, grid_id, Household.id.not_in(inspected))


def verify_inspections(village_id: int | None = None) -> list[Problem]:
    """Check each inspection's points against its journal, and voids against reversals."""
    from app.ledger.models import Journal

    credited = journal_totals(village_id)
    query = (
        select(
            Inspection.id,
            Inspection.points,
            Inspection.journal_id,
            credited.c.total,
            Inspection.voided_at,
            Inspection.void_journal_id,
            Journal.reverses_id,
        )
        .outerjoin(credited, credited.c.journal_id == Inspection.journal_id)
        .outerjoin(Journal, Journal.id == Inspection.void_journal_id)
    )
    if village_id is not None:
        query = query.where(Inspection.village_id == village_id)
    problems: list[Problem] = []
    for (
        inspection_id,
        points,
        journal_id,
        total,
        voided_at,
        _void_journal_id,
        reverses_id,
    ) in db.session.execute(query):
        if (journal_id is None and points != 0) or (journal_id is not None and total != points):
            problems.append(
                Problem(
                    "inspection",
                    f"inspection {inspection_id}: {points} points, "
                    f"its journal credits {total or 0}",
                    {"inspection_id": inspection_id},
                    expected=points,
                    actual=total or 0,
                )
            )
        if journal_id is not None and voided_at is not None and reverses_id != journal_id:
            problems.append(
                Problem(
                    "inspection_void",
                    f"inspection {inspection_id} is voided but its "
                    f"journal {journal_id} is not reversed",
                    {"inspection_id": inspection_id},
                )
            )
    return problems
