"""The rates a village and its township read, each with its denominator and what was left out.

`due`: valid cases whose due time falls in the range and has passed, or that were
completed in the range (an overdue open case counts); `completed`: of those, resolved
or closed; `completed_on_time`: resolved by their due time; `reopened`: of the
completed, those sent back at least once (rework). Withdrawn, duplicate and invalid
cases are excluded and counted apart.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from app.auth.models import User
from app.cases.models import (
    CLOSED,
    DUPLICATE,
    EXCLUDED_STATES,
    INVALID,
    RESOLVED,
    WITHDRAWN,
    Case,
)
from app.db import db, utcnow
from app.figures import rate
from app.villages.models import Grid


@dataclass
class Tally:
    due: int = 0
    completed: int = 0
    completed_on_time: int = 0
    reopened: int = 0
    confirmed_by_reporter: int = 0
    auto_confirmed: int = 0

    def add(self, case: Case) -> None:
        self.due += 1
        if case.state in (RESOLVED, CLOSED) and case.resolved_at is not None:
            self.completed += 1
            if case.resolved_at <= case.due_at:
                self.completed_on_time += 1
            if case.reopened:
                self.reopened += 1
        if case.state == CLOSED:
            if case.auto_confirmed:
                self.auto_confirmed += 1
            elif case.reporter_id is not None or case.reporter_household_id is not None:
                self.confirmed_by_reporter += 1

    def rates(self) -> dict:
        return {
            "due": self.due,
            "completed": self.completed,
            "completed_on_time": self.completed_on_time,
            "completion_rate": rate(self.completed, self.due),
            "on_time_rate": rate(self.completed_on_time, self.due),
            "reopened": self.reopened,
            "rework_rate": rate(self.reopened, self.completed),
        }


def _counted(case: Case, start: datetime, end: datetime, now: datetime) -> bool:
    if case.state in EXCLUDED_STATES:
        return False
    if start <= case.due_at < end and case.due_at <= now:
        return True
    return case.resolved_at is not None and start <= case.resolved_at < end


def _cases(village_ids: Iterable[int], start: datetime, end: datetime) -> list[Case]:
    return list(
        db.session.scalars(
            select(Case).where(
                Case.village_id.in_(list(village_ids)),
                or_(
                    Case.due_at.between(start, end),
                    Case.resolved_at.between(start, end),
                    Case.created_at.between(start, end),
                ),
            )
        )
    )


def case_figures(village_id: int, start: datetime, end: datetime) -> dict:
    """A village's case figures over [start, end) (API.md, reports/cases)."""
    now = utcnow()
    cases = _cases([village_id], start, end)
    whole = Tally()
    per_grid: dict[int, Tally] = defaultdict(Tally)
    per_assignee: dict[int | None, Tally] = defaultdict(Tally)
    excluded = {INVALID: 0, DUPLICATE: 0, WITHDRAWN: 0}
    for case in cases:
        if case.state in EXCLUDED_STATES:
            if start <= case.created_at < end:
                excluded[case.state] += 1
            continue
        if not _counted(case, start, end, now):
            continue
        whole.add(case)
        per_grid[case.grid_id].add(case)
        per_assignee[case.assignee_id].add(case)
    grids = dict(
        db.session.execute(select(Grid.id, Grid.name).where(Grid.village_id == village_id)).all()
    )
    users = dict(
        db.session.execute(
            select(User.id, User.username).where(User.id.in_([k for k in per_assignee if k]))
        ).all()
    )
    return {
        **whole.rates(),
        "confirmed_by_reporter": whole.confirmed_by_reporter,
        "auto_confirmed": whole.auto_confirmed,
        "excluded": excluded,
        "per_grid": [
            {"grid_id": grid_id, "name": grids.get(grid_id, ""), **tally.rates()}
            for grid_id, tally in sorted(per_grid.items())
        ],
        "per_assignee": [
            {
                "assignee_id": user_id,
                "username": users.get(user_id) if user_id else None,
                **tally.rates(),
            }
            for user_id, tally in sorted(per_assignee.items(), key=lambda item: item[0] or 0)
        ],
    }


def village_case_rates(village_ids: list[int], start: datetime, end: datetime) -> dict[int, dict]:
    """Each village's completion and on-time rates over [start, end), in one query."""
    now = utcnow()
    tallies: dict[int, Tally] = {village_id: Tally() for village_id in village_ids}
    for case in _cases(village_ids, start, end):
        if _counted(case, start, end, now):
            tallies[case.village_id].add(case)
    return {
        village_id: {
            "case_completion_rate": rate(t.completed, t.due),
            "case_on_time_rate": rate(t.completed_on_time, t.due),
        }
        for village_id, t in tallies.items()
    }
