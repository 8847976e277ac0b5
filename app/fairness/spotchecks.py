"""Spot checks (复核): draw a random sample of a day's inspections, and grade them again.

The draw is shown to be random by what it keeps: the seed (16 random hex digits from
the operating system), the population (the ids of the day's inspections that were not
voided, in the village or one grid, ascending) and the size. `sample_of(seed,
population, size)` draws again from them and gives the same inspections, in the same
order: anyone holding the record can check that nobody chose them by hand.

A checker's grade moves no points: it is compared with the grade given, and the share
of the checked grades that agree is the inspector's agreement rate. The inspector who
gave a grade may not check it (403 same_person).
"""

import random
import secrets
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update

from app.audit.services import SPOT_CHECK_DRAWN, SPOT_CHECK_GRADED, record
from app.db import db, utcnow
from app.errors import DomainError, NotFound, ValidationFailed
from app.fairness.models import SpotCheck, SpotCheckItem
from app.inspections.models import Inspection
from app.rules.services import current_rules
from app.scope import Scope, in_village
from app.villages.models import Grid

MAX_SIZE = 200


class SamePerson(DomainError):
    status, code, title = 403, "same_person", "The same person"
    page_text = _l("You gave this grade: another person must check it.")


class AlreadyChecked(DomainError):
    status, code, title = 409, "already_checked", "Already checked"
    page_text = _l("This inspection was already checked in this spot check.")


def sample_of(seed: str, population: list[int], size: int) -> list[int]:
    """The draw: `size` ids of the ascending population, chosen by a generator seeded with seed."""
    ordered = sorted(population)
    return random.Random(seed).sample(ordered, min(size, len(ordered)))


def population_ids(check: SpotCheck) -> list[int]:
    return [int(part) for part in check.population.split(",") if part]


def day_population(village_id: int, day: date, grid_id: int | None) -> list[int]:
    """The ids of the day's inspections not voided, in the village or the grid, ascending."""
    query = select(Inspection.id).where(
        Inspection.village_id == village_id,
        Inspection.local_date == day,
        Inspection.voided_at.is_(None),
    )
    if grid_id is not None:
        query = query.where(Inspection.grid_id == grid_id)
    return list(db.session.scalars(query.order_by(Inspection.id)))


def draw(scope: Scope, day: date, size: int, grid_id: int | None = None) -> SpotCheck:
    """Draw and record a spot check of the village day's inspections (or one grid's)."""
    if grid_id is not None:
        in_village(Grid, scope.village_id, grid_id, "No such grid.")
    if day > scope.today():
        raise ValidationFailed(
            "A spot check draws from a day that has begun.",
            errors={"date": ["Not after today."]},
        )
    population = day_population(scope.village_id, day, grid_id)
    seed = secrets.token_hex(8)
    chosen = sample_of(seed, population, size)
    check = SpotCheck(
        village_id=scope.village_id,
        grid_id=grid_id,
        local_date=day,
        size=size,
        seed=seed,
        population=",".join(map(str, population)),
        population_count=len(population),
        created_by=scope.user_id,
    )
    db.session.add(check)
    db.session.flush()
    graded = (
        {i.id: i for i in db.session.scalars(select(Inspection).where(Inspection.id.in_(chosen)))}
        if chosen
        else {}
    )
    for position, inspection_id in enumerate(chosen, start=1):
        inspection = graded[inspection_id]
        db.session.add(
            SpotCheckItem(
                spot_check_id=check.id,
                village_id=scope.village_id,
                inspection_id=inspection_id,
                inspector_id=inspection.inspector_id,
                original_grade=inspection.grade,
                position=position,
            )
        )
    db.session.flush()
    record(
        scope.village_id,
        scope.user_id,
        SPOT_CHECK_DRAWN,
        "spot_check",
        check.id,
        {
            "date": day.isoformat(),
            "grid_id": grid_id,
            "size": size,
            "seed": seed,
            "population_count": len(population),
            "drawn": len(chosen),
        },
    )
    return check


def items_of(check_id: int) -> list[SpotCheckItem]:
    return list(
        db.session.scalars(
            select(SpotCheckItem)
            .where(SpotCheckItem.spot_check_id == check_id)
            .order_by(SpotCheckItem.position)
        )
    )


def find_item(scope: Scope, check_id: int, item_id: int) -> SpotCheckItem:
    """One item of one of the village's spot checks, or 404."""
    scope.get(SpotCheck, check_id, "No such spot check.")
    item = scope.get(SpotCheckItem, item_id, "No such spot-check item.")
    if item.spot_check_id != check_id:
        raise NotFound("No such spot-check item.")
    return item


def check_item(
    scope: Scope, check_id: int, item_id: int, grade: str, note: str | None = None
) -> SpotCheckItem:
    """Record the checker's own grade of a drawn inspection; no points move."""
    item = find_item(scope, check_id, item_id)
    if item.inspector_id == scope.user_id:
        raise SamePerson("The inspector who gave the grade cannot check it.")
    current_rules(scope.village_id).grade(grade)  # an unknown grade: 422
    # Only an item with no grade yet takes one: two checkers at once, one wins.
    taken = db.session.execute(
        update(SpotCheckItem)
        .where(SpotCheckItem.id == item.id, SpotCheckItem.grade.is_(None))
        .values(grade=grade, note=note, checked_by=scope.user_id, checked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyChecked("This inspection was already checked in this spot check.")
    db.session.refresh(item)
    record(
        scope.village_id,
        scope.user_id,
        SPOT_CHECK_GRADED,
        "spot_check",
        check_id,
        {
            "inspection_id": item.inspection_id,
            "original_grade": item.original_grade,
            "grade": grade,
        },
        reason=note,
    )
    return item


@dataclass
class Agreement:
    checked: int = 0
    agreed: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.agreed / self.checked, 4) if self.checked else None


def agreement(village_id: int, day_from: date, day_to: date) -> dict[int, Agreement]:
    """Per inspector: the checked items of spot checks of the days from..to, and how many agree."""
    rows = db.session.execute(
        select(
            SpotCheckItem.inspector_id,
            func.count(),
            func.sum(case((SpotCheckItem.grade == SpotCheckItem.original_grade, 1), else_=0)),
        )
        .join(SpotCheck, SpotCheck.id == SpotCheckItem.spot_check_id)
        .where(
            SpotCheckItem.village_id == village_id,
            SpotCheckItem.grade.is_not(None),
            SpotCheck.local_date.between(day_from, day_to),
        )
        .group_by(SpotCheckItem.inspector_id)
    )
    return {
        inspector_id: Agreement(int(checked), int(agreed or 0))
        for inspector_id, checked, agreed in rows
    }


def list_checks(village_id: int, limit: int = 50) -> list[SpotCheck]:
    return list(
        db.session.scalars(
            select(SpotCheck)
            .where(SpotCheck.village_id == village_id)
            .order_by(SpotCheck.id.desc())
            .limit(limit)
        )
    )
