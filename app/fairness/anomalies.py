"""Anomaly flags: patterns in the grades worth a person's look. Hints, never penalties.

Computed from the inspections of a range of village days that were not voided. Each
flag names its kind, the inspector, the inspections behind it (evidence) and a sentence
in the reader's language. Nothing is stored and nothing follows from a flag by itself.

The kinds and their thresholds:

- `top_grade_share`: an inspector's share of the top grade (the grade of the most
  points in the rules in force) in one grid, against the grid's other inspectors,
  by a one-sided two-proportion z test: at least MIN_GRADES (30) grades on each side,
  z >= TOP_Z (3.09, one-sided p < 0.001) and a share at least TOP_MIN_GAP (15
  percentage points) above the others'. Evidence: the inspector's top grades there.
- `too_fast`: a run of at least FAST_RUN (5) grades by one inspector each given less
  than FAST_SECONDS (20 s) after the one before (by the phone's time, `inspected_at`):
  faster than a person walks between doors and looks in the bins. Evidence: the run.
- `favoured_household`: a household graded by one inspector at least FAVOUR_MIN (5)
  times and by the others at least FAVOUR_MIN times, whose mean points from that
  inspector stand at least FAVOUR_GAP (1 point) above the others' mean and at least
  FAVOUR_Z (4) standard errors above it (the spread of points taken over the whole
  village's grades in the range). Evidence: that inspector's grades of the household.
- `late_arrivals`: an inspector with at least LATE_MIN_GRADES (20) grades of which at
  least LATE_MIN_COUNT (5) and at least LATE_SHARE (20 %) reached the server more than
  LATE_HOURS (24 h) after they were given (`recorded_at` - `inspected_at`; the API
  refuses grades over 72 hours old). Evidence: the late grades.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app.db import db
from app.inspections.models import Inspection
from app.rules.services import Rules, current_rules

MIN_GRADES = 30
TOP_Z = 3.09
TOP_MIN_GAP = 0.15
FAST_SECONDS = 20
FAST_RUN = 5
FAVOUR_MIN = 5
FAVOUR_GAP = 1.0
FAVOUR_Z = 4.0
LATE_HOURS = 24
LATE_MIN_GRADES = 20
LATE_MIN_COUNT = 5
LATE_SHARE = 0.2

KINDS = ("top_grade_share", "too_fast", "favoured_household", "late_arrivals")


@dataclass(frozen=True)
class Graded:
    """What the flags read of an inspection."""

    id: int
    inspector_id: int
    household_id: int
    grid_id: int
    grade: str
    points: int
    inspected_at: datetime
    recorded_at: datetime


@dataclass
class Flag:
    kind: str
    inspector_id: int
    evidence: list[int]
    figures: dict = field(default_factory=dict)
    grid_id: int | None = None
    household_id: int | None = None


def graded_in(village_id: int, day_from: date, day_to: date) -> list[Graded]:
    """The range's inspections not voided, oldest first."""
    rows = db.session.execute(
        select(
            Inspection.id,
            Inspection.inspector_id,
            Inspection.household_id,
            Inspection.grid_id,
            Inspection.grade,
            Inspection.points,
            Inspection.created_at,
            Inspection.recorded_at,
        )
        .where(
            Inspection.village_id == village_id,
            Inspection.local_date.between(day_from, day_to),
            Inspection.voided_at.is_(None),
        )
        .order_by(Inspection.created_at, Inspection.id)
    )
    return [Graded(*row) for row in rows]


def top_grade_of(rules: Rules) -> str:
    """The grade of the most points in the rules."""
    return max(rules.grades, key=lambda g: g.points).grade


def top_grade(village_id: int) -> str:
    return top_grade_of(current_rules(village_id))


def top_share_z(n1: int, k1: int, n2: int, k2: int) -> float | None:
    """The z of k1 top grades of n1 against k2 of n2 when it flags, else None.

    Shared with app/fairness/counts.py, which counts the flags of many villages.
    """
    if n1 < MIN_GRADES or n2 < MIN_GRADES:
        return None
    p1, p2, pooled = k1 / n1, k2 / n2, (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (p1 - p2) / se
    return z if z >= TOP_Z and p1 - p2 >= TOP_MIN_GAP else None


def top_grade_share(graded: Sequence[Graded], top: str) -> list[Flag]:
    by_grid: dict[int, dict[int, list[Graded]]] = defaultdict(lambda: defaultdict(list))
    for g in graded:
        by_grid[g.grid_id][g.inspector_id].append(g)
    flags = []
    for grid_id, by_inspector in by_grid.items():
        for inspector_id, own in by_inspector.items():
            others = [g for i, rows in by_inspector.items() if i != inspector_id for g in rows]
            n1, n2 = len(own), len(others)
            k1 = sum(g.grade == top for g in own)
            k2 = sum(g.grade == top for g in others)
            z = top_share_z(n1, k1, n2, k2)
            if z is not None:
                p1, p2 = k1 / n1, k2 / n2
                flags.append(
                    Flag(
                        "top_grade_share",
                        inspector_id,
                        [g.id for g in own if g.grade == top],
                        {
                            "grade": top,
                            "grades": n1,
                            "share": round(p1, 4),
                            "others_grades": n2,
                            "others_share": round(p2, 4),
                            "z": round(z, 2),
                        },
                        grid_id=grid_id,
                    )
                )
    return flags


def too_fast(graded: Sequence[Graded]) -> list[Flag]:
    by_inspector: dict[int, list[Graded]] = defaultdict(list)
    for g in graded:
        by_inspector[g.inspector_id].append(g)
    flags = []
    limit = timedelta(seconds=FAST_SECONDS)
    for inspector_id, rows in by_inspector.items():
        rows.sort(key=lambda g: (g.inspected_at, g.id))
        run: list[Graded] = []
        following: list[Graded | None] = [*rows, None]  # None closes the last run
        for one in following:
            if one is not None and run and one.inspected_at - run[-1].inspected_at < limit:
                run.append(one)
                continue
            if len(run) >= FAST_RUN:
                seconds = (run[-1].inspected_at - run[0].inspected_at).total_seconds()
                flags.append(
                    Flag(
                        "too_fast",
                        inspector_id,
                        [r.id for r in run],
                        {"grades": len(run), "seconds": int(seconds)},
                        grid_id=run[0].grid_id,
                    )
                )
            run = [one] if one is not None else []
    return flags


def spread_of(n: int, total: int, squares: int) -> float:
    """The standard deviation of n grades' points (at least 0.5), from their sum and the
    sum of their squares: exact integers, so that any grouping of the grades agrees."""
    if n < 2:
        return 0.5
    variance = (n * squares - total * total) / (n * (n - 1))
    return max(math.sqrt(variance), 0.5)


def is_favoured(own: tuple[int, int], others: tuple[int, int], spread: float) -> bool:
    """Whether (grades, points) from one inspector stand out of the others' (grades, points)."""
    if own[0] < FAVOUR_MIN or others[0] < FAVOUR_MIN:
        return False
    gap = own[1] / own[0] - others[1] / others[0]
    z = gap / (spread * math.sqrt(1 / own[0] + 1 / others[0]))
    return gap >= FAVOUR_GAP and z >= FAVOUR_Z


def favoured_household(graded: Sequence[Graded]) -> list[Flag]:
    spread = spread_of(len(graded), sum(g.points for g in graded), sum(g.points**2 for g in graded))
    by_household: dict[int, dict[int, list[Graded]]] = defaultdict(lambda: defaultdict(list))
    for g in graded:
        by_household[g.household_id][g.inspector_id].append(g)
    flags = []
    for household_id, by_inspector in by_household.items():
        for inspector_id, own in by_inspector.items():
            others = [g for i, rows in by_inspector.items() if i != inspector_id for g in rows]
            points, others_points = sum(g.points for g in own), sum(g.points for g in others)
            if is_favoured((len(own), points), (len(others), others_points), spread):
                mean_own, mean_others = points / len(own), others_points / len(others)
                flags.append(
                    Flag(
                        "favoured_household",
                        inspector_id,
                        [g.id for g in own],
                        {
                            "grades": len(own),
                            "mean_points": round(mean_own, 2),
                            "others_grades": len(others),
                            "others_mean_points": round(mean_others, 2),
                        },
                        grid_id=own[0].grid_id,
                        household_id=household_id,
                    )
                )
    return flags


def late_arrivals(graded: Sequence[Graded]) -> list[Flag]:
    by_inspector: dict[int, list[Graded]] = defaultdict(list)
    for g in graded:
        by_inspector[g.inspector_id].append(g)
    flags = []
    for inspector_id, rows in by_inspector.items():
        late = [g for g in rows if is_late(g)]
        if late_flagged(len(rows), len(late)):
            flags.append(
                Flag(
                    "late_arrivals",
                    inspector_id,
                    [g.id for g in late],
                    {
                        "grades": len(rows),
                        "late": len(late),
                        "share": round(len(late) / len(rows), 4),
                    },
                )
            )
    return flags


def late_flagged(grades: int, late: int) -> bool:
    """Whether an inspector's late grades, of all their grades, raise a flag."""
    return grades >= LATE_MIN_GRADES and late >= LATE_MIN_COUNT and late / grades >= LATE_SHARE


def is_late(g: Graded) -> bool:
    return g.recorded_at - g.inspected_at > timedelta(hours=LATE_HOURS)


def find_flags(village_id: int, day_from: date, day_to: date) -> list[Flag]:
    """Every flag of the village's range, by kind then inspector."""
    graded = graded_in(village_id, day_from, day_to)
    return [
        *top_grade_share(graded, top_grade(village_id)),
        *too_fast(graded),
        *favoured_household(graded),
        *late_arrivals(graded),
    ]


def counts(flags: Iterable[Flag]) -> dict[str, int]:
    found = dict.fromkeys(KINDS, 0)
    for flag in flags:
        found[flag.kind] += 1
    return found


def percent(share: float) -> str:
    return f"{round(share * 100)}%"


def sentence(flag: Flag, inspector: str, grid: str = "", household: str = "") -> str:
    """The flag said in the reader's language."""
    f = flag.figures
    if flag.kind == "top_grade_share":
        return _(
            "%(inspector)s gave grade %(grade)s to %(share)s of %(grades)d households in "
            "grid %(grid)s; the grid's other inspectors gave it to %(others)s of "
            "%(others_grades)d.",
            inspector=inspector,
            grade=f["grade"],
            share=percent(f["share"]),
            grades=f["grades"],
            grid=grid,
            others=percent(f["others_share"]),
            others_grades=f["others_grades"],
        )
    if flag.kind == "too_fast":
        return _(
            "%(inspector)s gave %(grades)d grades in %(seconds)d seconds, each less than "
            "%(limit)d seconds after the one before: faster than walking between doors.",
            inspector=inspector,
            grades=f["grades"],
            seconds=f["seconds"],
            limit=FAST_SECONDS,
        )
    if flag.kind == "favoured_household":
        return _(
            "%(inspector)s graded household %(household)s %(grades)d times at %(mean)s "
            "points on average; the other inspectors, %(others_grades)d times at %(others)s.",
            inspector=inspector,
            household=household,
            grades=f["grades"],
            mean=f["mean_points"],
            others_grades=f["others_grades"],
            others=f["others_mean_points"],
        )
    return _(
        "%(late)d of %(inspector)s's %(grades)d grades (%(share)s) reached the server "
        "more than %(hours)d hours after they were given.",
        inspector=inspector,
        late=f["late"],
        grades=f["grades"],
        share=percent(f["share"]),
        hours=LATE_HOURS,
    )
