"""The township's month-on-month chart: past months as counted nightly, this month live.

Counting six months of every village's grades at each request grew with the villages
(30 villages: 340,000 grades, 7 x the page of a one-village township). A month that
has ended changes only by a late offline grade, a void or a household's change, so
`flask townships count-months` (nightly, README: Operations) keeps each village's
figures of the months before this one in month_figures, by the same statements as
this month's (figures.inspections(), figures.participation()). The chart reads those
rows, and counts live this month and any month a village has no row for (before the
first count, or a village that joined since).
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, insert, select

from app.db import db, utcnow
from app.reports.dashboard import month_bounds
from app.reports.settlement import shift
from app.scope import local_date, zone
from app.townships import figures
from app.townships.models import MonthFigures
from app.villages.models import Village

# The months the chart shows, this one included.
CHART_MONTHS = 6


@dataclass
class Month:
    """A township's month: its villages' figures summed."""

    label: str
    participation: float
    accuracy: float


def months_before(today: date, count: int) -> list[tuple[date, date]]:
    """The first and last days of the count months before today's, earliest first."""
    return [month_bounds(*shift(today.year, today.month, -back)) for back in range(count, 0, -1)]


def count_months(months: int = CHART_MONTHS - 1) -> int:
    """Count and keep every village's figures of the months before its this month.

    Replaces what an earlier count kept for those months; returns the villages counted.
    """
    zones = figures.by_zone(db.session.scalars(select(Village)))
    now = utcnow()
    for name, ids in zones.items():
        for first, last in months_before(local_date(now, zone(name or None)), months):
            tallies = figures.inspections(ids, first, last)
            households = figures.participation({name: ids}, first, last)
            db.session.execute(
                delete(MonthFigures).where(
                    MonthFigures.village_id.in_(ids), MonthFigures.month == first
                )
            )
            rows = []
            for village_id in ids:
                total, seen = households.get(village_id, (0, 0))
                grades, with_points, _points = tallies.get(village_id, (0, 0, 0))
                rows.append(
                    {
                        "village_id": village_id,
                        "month": first,
                        "households": total,
                        "inspected": seen,
                        "grades": grades,
                        "graded_with_points": with_points,
                        "counted_at": now,
                    }
                )
            db.session.execute(insert(MonthFigures), rows)
    return sum(len(ids) for ids in zones.values())


def month_by_month(village_ids: list[int], today: date) -> list[Month]:
    """The township's participation and accuracy, month by month up to today's."""
    zones = figures.by_zone(db.session.scalars(select(Village).where(Village.id.in_(village_ids))))
    past = months_before(today, CHART_MONTHS - 1)
    kept = _kept(village_ids, [first for first, _ in past])
    months = []
    for first, last in [*past, (today.replace(day=1), today)]:
        label = f"{first.year:04d}-{first.month:02d}"
        if first in kept:
            households, inspected, grades, with_points = kept[first]
            months.append(Month(label, _share(inspected, households), _share(with_points, grades)))
        else:
            months.append(Month(label, *figures.together(zones, first, last)))
    return months


def _share(part: int, whole: int) -> float:
    # As figures.together() divides: the chart rounds.
    return part / whole if whole else 0.0


def _kept(village_ids: list[int], firsts: list[date]) -> dict[date, tuple[int, int, int, int]]:
    """The months every one of the villages has figures kept for, summed over them."""
    rows = db.session.execute(
        select(
            MonthFigures.month,
            func.count(),
            func.sum(MonthFigures.households),
            func.sum(MonthFigures.inspected),
            func.sum(MonthFigures.grades),
            func.sum(MonthFigures.graded_with_points),
        )
        .where(MonthFigures.village_id.in_(village_ids), MonthFigures.month.in_(firsts))
        .group_by(MonthFigures.month)
    )
    return {
        month: (int(households), int(inspected), int(grades), int(with_points))
        for month, villages, households, inspected, grades, with_points in rows
        if villages == len(village_ids)
    }
