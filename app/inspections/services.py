"""Grading and crediting: the rules, recording an inspection, voiding it."""

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import Row, Table, bindparam, func, or_, select, text, update

from app.audit.services import INSPECTION_VOIDED, RULES_CHANGED, record
from app.auth.models import User
from app.db import db, utcnow
from app.errors import AlreadyReversed, DomainError, NotFound, ValidationFailed
from app.households.models import Household
from app.inspections.models import Inspection, InspectionResult, RuleSet
from app.ledger.expiry import NO_EXPIRY, ExpiryPolicy, dump_policy, make_policy, parse_policy
from app.ledger.services import reverse
from app.ledger.verify import Problem
from app.scope import village_today
from app.types import UTCDateTime
from app.villages.models import Village

inspections = cast(Table, Inspection.__table__)
rule_sets = cast(Table, RuleSet.__table__)
villages = cast(Table, Village.__table__)

# Statements of the hot path, built once (see app/ledger/services.py).
# A rules version as _rules() reads it.
_RULE_COLUMNS = (
    rule_sets.c.id,
    rule_sets.c.version,
    rule_sets.c.grades,
    rule_sets.c.daily_limit,
    rule_sets.c.actor_id,
    rule_sets.c.created_at,
    rule_sets.c.expiry,
)
# The version of the village's rules in force at the moment: the newest made by then
# (the first version for a moment before any, so a village always has rules).
_in_force = rule_sets.alias("in_force")
_RULES_IN_FORCE = (
    select(_in_force.c.id)
    .where(
        _in_force.c.village_id == bindparam("village_id"),
        or_(
            _in_force.c.created_at <= bindparam("moment", type_=UTCDateTime()),
            _in_force.c.version == 1,
        ),
    )
    .order_by(_in_force.c.version.desc())
    .limit(1)
    .scalar_subquery()
)
_RULES_AND_TIMEZONE = (
    select(*_RULE_COLUMNS, villages.c.timezone)
    .join(villages, villages.c.id == rule_sets.c.village_id)
    .where(rule_sets.c.id == _RULES_IN_FORCE)
)
# The slots of many households and days, for count_today() (SQLite; PostgreSQL reads
# them with _SLOTS_OF_PG).
_SLOTS_OF = (
    select(
        inspections.c.household_id,
        inspections.c.local_date,
        func.count(inspections.c.id).filter(inspections.c.voided_at.is_(None)).label("counted"),
        func.max(inspections.c.slot).label("highest"),
    )
    .where(
        inspections.c.household_id.in_(bindparam("households", expanding=True)),
        inspections.c.local_date.in_(bindparam("days", expanding=True)),
    )
    .group_by(inspections.c.household_id, inspections.c.local_date)
)
# The same on PostgreSQL, one household at a time: the planner's statistics never know
# today's inspections (the newest day is past the histogram until the next ANALYZE), so
# the plain form was planned on the village's day index and read every inspection of
# the village's day for each queue; this one reads the household's own index entries.
_SLOTS_OF_PG = text(
    """
    SELECT h.id AS household_id, s.local_date, s.counted, s.highest
    FROM unnest(CAST(:households AS integer[])) AS h (id)
    CROSS JOIN LATERAL (
        SELECT local_date, count(id) FILTER (WHERE voided_at IS NULL) AS counted,
               max(slot) AS highest
        FROM inspections
        WHERE household_id = h.id AND local_date = ANY(CAST(:days AS date[]))
        GROUP BY local_date
    ) AS s
    """
)

DEFAULT_GRADES = (("A", 3, "优"), ("B", 2, "良"), ("C", 1, "中"), ("D", 0, "差"))
DEFAULT_DAILY_LIMIT = 1
MAX_POINTS_PER_GRADE = 1000
MAX_DAILY_LIMIT = 10


@dataclass(frozen=True)
class Grade:
    grade: str
    points: int
    label: str


@dataclass(frozen=True)
class Rules:
    id: int
    version: int
    grades: tuple[Grade, ...]
    daily_limit: int
    actor_id: int | None
    created_at: datetime
    expiry: ExpiryPolicy = NO_EXPIRY

    def summary(self) -> dict:
        """Points, names, limit and expiry: what the API shows and the audit log keeps."""
        return {
            "grades": {g.grade: g.points for g in self.grades},
            "labels": {g.grade: g.label for g in self.grades},
            "daily_limit": self.daily_limit,
            "expiry": self.expiry.to_dict(),
        }

    def grade(self, name: str) -> Grade:
        for grade in self.grades:
            if grade.grade == name:
                return grade
        raise ValidationFailed(
            f"Unknown grade {name!r}; one of {', '.join(g.grade for g in self.grades)}.",
            errors={"grade": [f"One of: {', '.join(g.grade for g in self.grades)}."]},
        )


def _rules(row: RuleSet | Row) -> Rules:
    """The rules of a stored version (an ORM row or a Core row with its columns)."""
    # A Core row that does not select the policy (scoring needs none) reads as "none".
    grades, expiry = _parsed(row.grades, getattr(row, "expiry", None))
    return Rules(row.id, row.version, grades, row.daily_limit, row.actor_id, row.created_at, expiry)


@lru_cache(maxsize=256)
def _parsed(grades: str, expiry: str | None) -> tuple[tuple[Grade, ...], ExpiryPolicy]:
    """Parse a rules version's stored grades and policy, once per distinct text.

    A version is never changed once made, so its text names it: every credit under
    the same rules reuses the parsed figures.
    """
    parsed = tuple(
        Grade(g["grade"], g["points"], g.get("label") or g["grade"]) for g in json.loads(grades)
    )
    return parsed, parse_policy(expiry)


def set_rules(
    village_id: int,
    grades: list[Grade],
    daily_limit: int,
    *,
    actor_id: int | None,
    expiry: ExpiryPolicy = NO_EXPIRY,
) -> Rules:
    """Put new rules in force: a new version; inspections after it are scored by it.

    A version a person made (actor_id) goes in the audit log beside the one it
    replaced; the first rules a village gets when it is made (no actor) do not.
    """
    _check_rules(grades, daily_limit)
    # Two admins saving at once both read the same newest version; queue them on the
    # village's row (FOR NO KEY UPDATE: inserts that merely reference the village go on).
    db.session.execute(
        select(Village.id).where(Village.id == village_id).with_for_update(key_share=True)
    )
    version = (
        db.session.scalar(select(func.max(RuleSet.version)).where(RuleSet.village_id == village_id))
        or 0
    ) + 1
    row = RuleSet(
        village_id=village_id,
        version=version,
        daily_limit=daily_limit,
        actor_id=actor_id,
        expiry=dump_policy(make_policy(expiry.policy, expiry.months)),
        grades=json.dumps(
            [{"grade": g.grade, "points": g.points, "label": g.label} for g in grades],
            ensure_ascii=False,
        ),
    )
    db.session.add(row)
    db.session.flush()
    rules = _rules(row)
    if actor_id is not None:
        before = db.session.scalar(
            select(RuleSet).where(
                RuleSet.village_id == village_id, RuleSet.version == rules.version - 1
            )
        )
        record(
            village_id,
            actor_id,
            RULES_CHANGED,
            "rules",
            rules.id,
            {
                "version": rules.version,
                "before": _rules(before).summary() if before else None,
                "after": rules.summary(),
            },
        )
    return rules


def _check_rules(grades: list[Grade], daily_limit: int) -> None:
    names = [g.grade for g in grades]
    if not grades or len(grades) > 10:
        raise ValidationFailed("Give 1 to 10 grades.", errors={"grades": ["1 to 10 grades."]})
    if len(set(names)) != len(names):
        raise ValidationFailed("Grade names must differ.", errors={"grades": ["Duplicates."]})
    for grade in grades:
        if not 0 <= grade.points <= MAX_POINTS_PER_GRADE:
            raise ValidationFailed(
                f"Points per grade are 0 to {MAX_POINTS_PER_GRADE}.",
                errors={"grades": [f"{grade.grade}: 0 to {MAX_POINTS_PER_GRADE} points."]},
            )
    if not 1 <= daily_limit <= MAX_DAILY_LIMIT:
        raise ValidationFailed(
            f"The daily limit is 1 to {MAX_DAILY_LIMIT}.",
            errors={"daily_limit": [f"1 to {MAX_DAILY_LIMIT}."]},
        )


def create_default_rules(village_id: int) -> Rules:
    """Give a new village the default rules: A 3, B 2, C 1, D 0, once a day."""
    return set_rules(
        village_id, [Grade(*g) for g in DEFAULT_GRADES], DEFAULT_DAILY_LIMIT, actor_id=None
    )


def current_rules(village_id: int, moment: datetime | None = None) -> Rules:
    """Return the rules in force in the village (now, or at a moment)."""
    return _rules(_rules_in_force(village_id, moment or utcnow()))


def _rules_in_force(village_id: int, moment: datetime) -> Row:
    """The version of the village's rules in force at a moment, with the village's time zone."""
    row = (
        db.session.connection()
        .execute(_RULES_AND_TIMEZONE, {"village_id": village_id, "moment": moment})
        .one_or_none()
    )
    if row is None:
        raise NotFound("The village has no rules yet.")
    return row


def rules_history(village_id: int) -> list[Rules]:
    """Return every version of the village's rules, newest first."""
    return [
        _rules(row)
        for row in db.session.scalars(
            select(RuleSet).where(RuleSet.village_id == village_id).order_by(RuleSet.version.desc())
        )
    ]


def count_today(household: Household) -> int:
    """Return how many inspections the household had today (the village's date)."""
    return _count_on(household.id, village_today(household.village_id))


def _count_on(household_id: int, day: date) -> int:
    return _slots_on(household_id, day)[0]


def _slots_on(household_id: int, day: date) -> tuple[int, int]:
    """Return how many inspections count on the day, and the highest slot taken."""
    return slots_of({(household_id, day)})[(household_id, day)]


def slots_of(pairs: Collection[tuple[int, date]]) -> dict[tuple[int, date], tuple[int, int]]:
    """For (household id, day) pairs: how many inspections count, and the highest slot."""
    if not pairs:
        return {}
    connection = db.session.connection()
    rows = connection.execute(
        _SLOTS_OF_PG if connection.dialect.name == "postgresql" else _SLOTS_OF,
        {"households": list({h for h, _ in pairs}), "days": list({d for _, d in pairs})},
    )
    found = {(row.household_id, row.local_date): (row.counted, row.highest) for row in rows}
    return {pair: found.get(pair, (0, 0)) for pair in pairs}


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
    # Imported here while credits.py reads the rules from this module; once the
    # rules have a package of their own, this import goes to the top.
    from app.inspections.batch import credit_queue

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
    return list(
        db.session.scalars(
            select(Household)
            .where(
                Household.village_id == village_id,
                Household.grid_id == grid_id,
                Household.status == "active",
                Household.id.not_in(inspected),
            )
            .order_by(Household.code)
        )
    )


def verify_inspections(village_id: int | None = None) -> list[Problem]:
    """Check each inspection's points against its journal, and voids against reversals."""
    from app.ledger.models import Journal, Transfer

    credited = (
        select(Transfer.journal_id, func.sum(Transfer.amount).label("total"))
        .group_by(Transfer.journal_id)
        .subquery()
    )
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
