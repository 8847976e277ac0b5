"""Anomaly flag counts of many villages at once: a township's page (issue 32).

app/fairness/anomalies.py finds one village's flags, each with its evidence, from the
village's graded rows. A township sees counts only, over all its villages: here SQL
groups the graded rows of every village at once and sends back only the groups'
figures (grades by grid and inspector, an inspector's late grades, the runs of fast
grades, the households one inspector grades far above the others), which the same
rules of anomalies.py judge. Five statements, whatever the number of villages.
"""

from collections import defaultdict
from collections.abc import Collection
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from app.db import db, microseconds_between
from app.fairness import anomalies
from app.inspections.models import Inspection
from app.rules.services import current_rules_of

MICROSECONDS = 1_000_000
LATE = int(timedelta(hours=anomalies.LATE_HOURS).total_seconds()) * MICROSECONDS
FAST = anomalies.FAST_SECONDS * MICROSECONDS


def _graded(village_ids: Collection[int], day_from: date, day_to: date) -> ColumnElement[bool]:
    """anomalies.graded_in()'s rows, of every village at once."""
    return and_(
        Inspection.village_id.in_(village_ids),
        Inspection.local_date.between(day_from, day_to),
        Inspection.voided_at.is_(None),
    )


def top_grade_share(village_ids: Collection[int], graded: ColumnElement[bool]) -> dict[int, int]:
    """Per village: the (grid, inspector) pairs whose share of the top grade flags."""
    tops = {
        village_id: anomalies.top_grade_of(rules)
        for village_id, rules in current_rules_of(village_ids).items()
    }
    # (village, grid) -> inspector -> [grades, top grades]
    grids: dict[tuple[int, int], dict[int, list[int]]] = defaultdict(dict)
    for village_id, grid_id, inspector_id, grade, n in db.session.execute(
        select(
            Inspection.village_id,
            Inspection.grid_id,
            Inspection.inspector_id,
            Inspection.grade,
            func.count(),
        )
        .where(graded)
        .group_by(
            Inspection.village_id, Inspection.grid_id, Inspection.inspector_id, Inspection.grade
        )
    ):
        tally = grids[village_id, grid_id].setdefault(inspector_id, [0, 0])
        tally[0] += n
        tally[1] += n if grade == tops[village_id] else 0
    found = dict.fromkeys(village_ids, 0)
    for (village_id, _), inspectors in grids.items():
        grades = sum(n for n, _ in inspectors.values())
        top = sum(k for _, k in inspectors.values())
        found[village_id] += sum(
            anomalies.top_share_z(n, k, grades - n, top - k) is not None
            for n, k in inspectors.values()
        )
    return found


def late_arrivals(graded: ColumnElement[bool]) -> tuple[dict[int, int], dict[int, float]]:
    """Per village: the inspectors whose late grades flag; and the spread of points."""
    late = case((microseconds_between(Inspection.created_at, Inspection.recorded_at) > LATE, 1))
    found: dict[int, int] = defaultdict(int)
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for village_id, n, n_late, points, squares in db.session.execute(
        select(
            Inspection.village_id,
            func.count(),
            func.count(late),
            func.sum(Inspection.points),
            func.sum(Inspection.points * Inspection.points),
        )
        .where(graded)
        .group_by(Inspection.village_id, Inspection.inspector_id)
    ):
        found[village_id] += anomalies.late_flagged(n, n_late)
        for i, figure in enumerate((n, points, squares)):
            sums[village_id][i] += int(figure)
    return found, {village_id: anomalies.spread_of(*sums[village_id]) for village_id in sums}


def too_fast(graded: ColumnElement[bool]) -> dict[int, int]:
    """Per village: the runs of FAST_RUN grades or more, each FAST_SECONDS after the last.

    One window over each inspector's grades: a run is counted at its FAST_RUN-th grade,
    the one whose FAST_RUN - 1 gaps before are fast and the gap before those is not.
    """
    by_inspector = (Inspection.village_id, Inspection.inspector_id)
    order = (Inspection.created_at, Inspection.id)
    times = [Inspection.created_at] + [
        func.lag(Inspection.created_at, k).over(partition_by=by_inspector, order_by=order)
        for k in range(1, anomalies.FAST_RUN + 1)
    ]
    fast = [microseconds_between(times[k + 1], times[k]) < FAST for k in range(len(times) - 1)]
    fifth = and_(*fast[:-1], or_(times[-1].is_(None), ~fast[-1]))
    rows = select(Inspection.village_id, case((fifth, 1), else_=0).label("fifth"))
    runs = rows.where(graded).subquery()
    return {
        village_id: int(n)
        for village_id, n in db.session.execute(
            select(runs.c.village_id, func.sum(runs.c.fifth)).group_by(runs.c.village_id)
        )
    }


def favoured_household(graded: ColumnElement[bool], spreads: dict[int, float]) -> dict[int, int]:
    """Per village: the (household, inspector) pairs whose points stand out."""
    household = (Inspection.village_id, Inspection.household_id)
    pairs = (
        select(
            Inspection.village_id,
            func.count().label("n"),
            func.sum(Inspection.points).label("points"),
            func.sum(func.count()).over(partition_by=household).label("all_n"),
            func.sum(func.sum(Inspection.points)).over(partition_by=household).label("all_points"),
        )
        .where(graded)
        .group_by(*household, Inspection.inspector_id)
        .subquery()
    )
    found: dict[int, int] = defaultdict(int)
    for village_id, n, points, all_n, all_points in db.session.execute(
        select(pairs).where(
            pairs.c.n >= anomalies.FAVOUR_MIN, pairs.c.all_n - pairs.c.n >= anomalies.FAVOUR_MIN
        )
    ):
        others = (int(all_n) - n, int(all_points) - int(points))
        found[village_id] += anomalies.is_favoured((n, int(points)), others, spreads[village_id])
    return found


def flag_counts_of(
    village_ids: Collection[int], day_from: date, day_to: date
) -> dict[int, dict[str, int]]:
    """anomalies.counts(find_flags()) of each village, in five statements for them all."""
    graded = _graded(village_ids, day_from, day_to)
    late, spreads = late_arrivals(graded)
    by_kind = {
        "top_grade_share": top_grade_share(village_ids, graded),
        "too_fast": too_fast(graded),
        "favoured_household": favoured_household(graded, spreads),
        "late_arrivals": late,
    }
    return {
        village_id: {kind: int(found.get(village_id, 0)) for kind, found in by_kind.items()}
        for village_id in village_ids
    }
