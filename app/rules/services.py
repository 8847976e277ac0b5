"""Setting and reading a village's rules: a new version for each change."""

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import Row, Table, bindparam, or_, select

from app.audit.services import RULES_CHANGED, record
from app.db import db, utcnow
from app.errors import NotFound, ValidationFailed
from app.rules.cases import (
    DEFAULT_RULES as DEFAULT_CASE_RULES,
)
from app.rules.cases import (
    CaseRules,
    dump_case_rules,
    parse_case_rules,
)
from app.rules.expiry import NO_EXPIRY, ExpiryPolicy, dump_policy, make_policy, parse_policy
from app.rules.fairness import DEFAULT_FAIRNESS, FairnessRules, dump_fairness, parse_fairness
from app.rules.models import RuleSet
from app.types import UTCDateTime
from app.villages.models import Village

rule_sets = cast(Table, RuleSet.__table__)
villages = cast(Table, Village.__table__)

# A rules version as rules_from_row() reads it.
RULE_COLUMNS = (
    rule_sets.c.id,
    rule_sets.c.version,
    rule_sets.c.grades,
    rule_sets.c.daily_limit,
    rule_sets.c.actor_id,
    rule_sets.c.created_at,
    rule_sets.c.expiry,
    rule_sets.c.cases,
    rule_sets.c.fairness,
)
# The version of the village's rules in force at the moment: the newest made by then
# (the first version for a moment before any, so a village always has rules).
_in_force = rule_sets.alias("in_force")
RULES_IN_FORCE = (
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
# RULE_COLUMNS named so that they can sit beside another table's in one row
# (rules_from_labelled() reads them back).
RULE_LABELS = tuple(c.label(f"rules_{c.name}") for c in RULE_COLUMNS)
_HISTORY = (
    select(*RULE_COLUMNS)
    .where(rule_sets.c.village_id == bindparam("village_id"))
    .order_by(rule_sets.c.version.desc())
)
RULES_AND_TIMEZONE = (
    select(*RULE_COLUMNS, villages.c.timezone)
    .join(villages, villages.c.id == rule_sets.c.village_id)
    .where(rule_sets.c.id == RULES_IN_FORCE)
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
    cases: CaseRules = DEFAULT_CASE_RULES
    fairness: FairnessRules = DEFAULT_FAIRNESS

    def summary(self) -> dict:
        """Points, names, limit, expiry and reports: what the API shows and the audit keeps."""
        return {
            "grades": {g.grade: g.points for g in self.grades},
            "labels": {g.grade: g.label for g in self.grades},
            "daily_limit": self.daily_limit,
            "expiry": self.expiry.to_dict(),
            "cases": self.cases.to_dict(),
            **self.fairness.to_dict(),
        }

    def grade(self, name: str) -> Grade:
        for grade in self.grades:
            if grade.grade == name:
                return grade
        raise ValidationFailed(
            f"Unknown grade {name!r}; one of {', '.join(g.grade for g in self.grades)}.",
            errors={"grade": [f"One of: {', '.join(g.grade for g in self.grades)}."]},
        )


def rules_from_row(row: RuleSet | Row) -> Rules:
    """The rules of a stored version (an ORM row or a Core row with its columns)."""
    # A Core row that does not select the policy (scoring needs none) reads as "none".
    grades, expiry, cases, fairness = _parsed(
        row.grades,
        getattr(row, "expiry", None),
        getattr(row, "cases", None),
        getattr(row, "fairness", None),
    )
    return Rules(
        row.id,
        row.version,
        grades,
        row.daily_limit,
        row.actor_id,
        row.created_at,
        expiry,
        cases,
        fairness,
    )


def rules_from_labelled(row: Row) -> Rules | None:
    """The rules of a row that selected RULE_LABELS (None: the outer join found none)."""
    if row.rules_id is None:
        return None
    grades, expiry, cases, fairness = _parsed(
        row.rules_grades, row.rules_expiry, row.rules_cases, row.rules_fairness
    )
    return Rules(
        row.rules_id,
        row.rules_version,
        grades,
        row.rules_daily_limit,
        row.rules_actor_id,
        row.rules_created_at,
        expiry,
        cases,
        fairness,
    )


@lru_cache(maxsize=256)
def _parsed(
    grades: str, expiry: str | None, cases: str | None, fairness: str | None
) -> tuple[tuple[Grade, ...], ExpiryPolicy, CaseRules, FairnessRules]:
    """Parse a rules version's stored grades, policy and case rules, once per distinct text.

    A version is never changed once made, so its text names it: every credit under
    the same rules reuses the parsed figures.
    """
    parsed = tuple(
        Grade(g["grade"], g["points"], g.get("label") or g["grade"]) for g in json.loads(grades)
    )
    return parsed, parse_policy(expiry), parse_case_rules(cases), parse_fairness(fairness)


def set_rules(
    village_id: int,
    grades: list[Grade],
    daily_limit: int,
    *,
    actor_id: int | None,
    expiry: ExpiryPolicy = NO_EXPIRY,
    cases: CaseRules | None = None,
    fairness: FairnessRules | None = None,
) -> Rules:
    """Put new rules in force: a new version; inspections after it are scored by it.

    cases (and fairness) None keeps the case (fairness) rules of the version it
    replaces. A version a person made (actor_id) goes in the audit log beside the one
    it replaced; the first rules a village gets when it is made (no actor) do not.
    """
    _check_rules(grades, daily_limit)
    # Two admins saving at once both read the same newest version; queue them on the
    # village's row (FOR NO KEY UPDATE: inserts that merely reference the village go on).
    db.session.execute(
        select(Village.id).where(Village.id == village_id).with_for_update(key_share=True)
    )
    before = db.session.scalar(
        select(RuleSet).where(RuleSet.village_id == village_id).order_by(RuleSet.version.desc())
    )
    version = (before.version if before else 0) + 1
    if cases is None:
        cases_text = before.cases if before else None
    else:
        cases_text = dump_case_rules(cases)
    if fairness is None:
        fairness_text = before.fairness if before else None
    else:
        fairness_text = dump_fairness(fairness)
    row = RuleSet(
        cases=cases_text,
        fairness=fairness_text,
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
    rules = rules_from_row(row)
    if actor_id is not None:
        record(
            village_id,
            actor_id,
            RULES_CHANGED,
            "rules",
            rules.id,
            {
                "version": rules.version,
                "before": rules_from_row(before).summary() if before else None,
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
    return rules_from_row(rules_in_force(village_id, moment or utcnow()))


def rules_in_force(village_id: int, moment: datetime) -> Row:
    """The version of the village's rules in force at a moment, with the village's time zone."""
    row = (
        db.session.connection()
        .execute(RULES_AND_TIMEZONE, {"village_id": village_id, "moment": moment})
        .one_or_none()
    )
    if row is None:
        raise NotFound("The village has no rules yet.")
    return row


def current_rules_of(village_ids: Collection[int]) -> dict[int, Rules]:
    """current_rules() of many villages in one statement (a township's pages, issue 32)."""
    in_force = (
        select(_in_force.c.id)
        .where(
            _in_force.c.village_id == villages.c.id,
            or_(
                _in_force.c.created_at <= bindparam("moment", type_=UTCDateTime()),
                _in_force.c.version == 1,
            ),
        )
        .order_by(_in_force.c.version.desc())
        .limit(1)
        .correlate(villages)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(villages.c.id.label("village_id"), *RULE_COLUMNS)
        .select_from(villages)
        .join(rule_sets, rule_sets.c.id == in_force)
        .where(villages.c.id.in_(village_ids)),
        {"moment": utcnow()},
    )
    found = {row.village_id: rules_from_row(row) for row in rows}
    if set(village_ids) - set(found):
        raise NotFound("The village has no rules yet.")
    return found


def rules_history(village_id: int) -> list[Rules]:
    """Return every version of the village's rules, newest first."""
    return [rules_from_row(row) for row in db.session.execute(_HISTORY, {"village_id": village_id})]
