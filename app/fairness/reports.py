"""The inspectors' figures over a range of village days, and the anomaly flags told in words."""

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select

from app.appeals.services import appeal_counts
from app.auth.models import INSPECTOR, User
from app.db import db
from app.fairness import anomalies, spotchecks
from app.figures import rate
from app.households.models import Household
from app.rules.services import current_rules
from app.villages.models import Grid


def _names(model, ids, column) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, column).where(model.id.in_(ids))).all())


def told(village_id: int, flags: list[anomalies.Flag]) -> list[dict]:
    """The flags as the API shows them: each with its names and its sentence."""
    users = _names(User, (f.inspector_id for f in flags), User.username)
    grids = _names(Grid, (f.grid_id for f in flags), Grid.name)
    households = _names(Household, (f.household_id for f in flags), Household.code)
    return [
        {
            "kind": f.kind,
            "inspector_id": f.inspector_id,
            "inspector": users.get(f.inspector_id, ""),
            "grid_id": f.grid_id,
            "household_id": f.household_id,
            "evidence": f.evidence,
            "figures": f.figures,
            "sentence": anomalies.sentence(
                f,
                users.get(f.inspector_id, ""),
                grids.get(f.grid_id, "") if f.grid_id else "",
                households.get(f.household_id, "") if f.household_id else "",
            ),
        }
        for f in flags
    ]


def inspectors(village_id: int, day_from: date, day_to: date) -> dict:
    """Per inspector: grades and their shares, late arrivals, spot checks, appeals, flags."""
    graded = anomalies.graded_in(village_id, day_from, day_to)
    flags = told(village_id, anomalies.find_flags(village_id, day_from, day_to))
    agreement = spotchecks.agreement(village_id, day_from, day_to)
    appeals = appeal_counts(village_id, day_from, day_to)
    grade_names = [g.grade for g in current_rules(village_id).grades]
    by_inspector: dict[int, list[anomalies.Graded]] = defaultdict(list)
    for g in graded:
        by_inspector[g.inspector_id].append(g)
    people = db.session.execute(
        select(User.id, User.username)
        .where(
            User.village_id == village_id,
            or_(
                (User.role == INSPECTOR) & User.active,
                User.id.in_(set(by_inspector) | set(agreement)),
            ),
        )
        .order_by(User.username)
    ).all()
    items = []
    for user_id, username in people:
        rows = by_inspector.get(user_id, [])
        grades = dict.fromkeys(grade_names, 0)
        for g in rows:
            grades[g.grade] = grades.get(g.grade, 0) + 1
        checked = agreement.get(user_id, spotchecks.Agreement())
        own_flags = [f for f in flags if f["inspector_id"] == user_id]
        items.append(
            {
                "inspector_id": user_id,
                "username": username,
                "inspections": len(rows),
                "grades": grades,
                "shares": {name: rate(n, len(rows)) for name, n in grades.items()},
                "late_arrivals": sum(anomalies.is_late(g) for g in rows),
                "spot_checked": checked.checked,
                "agreed": checked.agreed,
                "agreement_rate": checked.rate,
                "appeals": appeals.get(user_id, (0, 0))[0],
                "overturned": appeals.get(user_id, (0, 0))[1],
                "flags": own_flags,
            }
        )
    return {"day_from": day_from, "day_to": day_to, "items": items}


def village_agreement(village_id: int, day_from: date, day_to: date) -> spotchecks.Agreement:
    """The village's spot-check agreement over the range (the dashboard's figure)."""
    total = spotchecks.Agreement()
    for one in spotchecks.agreement(village_id, day_from, day_to).values():
        total.checked += one.checked
        total.agreed += one.agreed
    return total
