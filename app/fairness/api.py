"""Fairness API: spot checks (复核), the inspectors' figures and the anomaly flags."""

from flask import g, url_for
from flask_smorest import Blueprint
from sqlalchemy import select

from app.actions import action, reading
from app.auth.models import ADMIN, INSPECTOR, TOWNSHIP
from app.auth.reach import reachable_villages
from app.db import db
from app.fairness import reports, spotchecks
from app.fairness.anomalies import counts, find_flags
from app.fairness.counts import flag_counts_of
from app.fairness.models import SpotCheck
from app.fairness.schemas import (
    AnomaliesOut,
    FairnessQuery,
    InspectorsOut,
    SpotCheckIn,
    SpotCheckItemIn,
    SpotCheckItemOut,
    SpotCheckList,
    SpotCheckOut,
)
from app.figures import BAD_RANGE, OTHER_VILLAGE, resolve_villages_range, village_and_range
from app.scope import Scope, current_scope
from app.villages.models import Village

blp = Blueprint(
    "fairness_api",
    __name__,
    url_prefix="/api/v1",
    description="Fairness: spot checks (复核), the inspectors' figures and anomaly flags.",
)


def check_out(check: SpotCheck) -> dict:
    items = spotchecks.items_of(check.id)
    return {
        "id": check.id,
        "local_date": check.local_date,
        "grid_id": check.grid_id,
        "size": check.size,
        "seed": check.seed,
        "population_count": check.population_count,
        "population": spotchecks.population_ids(check),
        "chosen": [item.inspection_id for item in items],
        "items": items,
        "created_by": check.created_by,
        "created_at": check.created_at,
    }


@action(
    blp,
    "/spot-checks",
    roles=(ADMIN,),
    schema=SpotCheckIn,
    out=SpotCheckOut,
    status=201,
    location=lambda shown: url_for("fairness_api.get_spot_check", check_id=shown["id"]),
    responses={404: "not_found: no such grid", 422: "validation_error: a day not yet begun"},
)
def create_spot_check(scope: Scope, data: dict) -> dict:
    """Draw a random sample of a village day's inspections (one grid's, with grid_id), and keep it.

    The answer shows what makes the draw checkable: the seed, the population (the ids
    of the day's inspections not voided, ascending) and the chosen ids, which are
    `random.Random(seed).sample(population, min(size, len(population)))` in Python.
    """
    check = spotchecks.draw(scope, data["date"], data["size"], data.get("grid_id"))
    return check_out(check)


@reading(blp, "/spot-checks", roles=(ADMIN,), out=SpotCheckList)
def list_spot_checks():
    """The village's spot checks, newest first (the last 50)."""
    items = [check_out(c) for c in spotchecks.list_checks(current_scope().village_id)]
    return {"items": items, "total": len(items)}


@reading(blp, "/spot-checks/<id:check_id>", roles=(ADMIN,), out=SpotCheckOut)
def get_spot_check(check_id: int):
    """One spot check: its draw and its items, checked or not."""
    return check_out(current_scope().get(SpotCheck, check_id, "No such spot check."))


@action(
    blp,
    "/spot-checks/<id:check_id>/items/<id:item_id>",
    roles=(ADMIN, INSPECTOR),
    schema=SpotCheckItemIn,
    out=SpotCheckItemOut,
    responses={
        403: "same_person: the inspector who gave the grade cannot check it",
        404: "not_found: no such spot check or item",
        409: "already_checked: the item has a checker's grade",
        422: "validation_error: a grade the rules do not know",
    },
)
def check_spot_check_item(scope: Scope, data: dict, check_id: int, item_id: int):
    """Record the checker's own grade of a drawn inspection. No points move."""
    return spotchecks.check_item(scope, check_id, item_id, data["grade"], data.get("note"))


@reading(
    blp,
    "/reports/inspectors",
    roles=(ADMIN,),
    query=FairnessQuery,
    out=InspectorsOut,
    responses={**BAD_RANGE, **OTHER_VILLAGE},
    may_lag=True,
)
def inspectors_report(args):
    """Per inspector over village days from..to: inspections, grade shares, late arrivals
    (reached the server over 24 hours after they were given), spot-checked and the
    agreement rate (spot checks of the range's days), appeals and overturned, and flags.
    Voided inspections are left out."""
    scope, day_from, day_to = village_and_range(args)
    return reports.inspectors(scope.village_id, day_from, day_to)


@reading(
    blp,
    "/reports/anomalies",
    roles=(ADMIN, TOWNSHIP),
    query=FairnessQuery,
    out=AnomaliesOut,
    responses={**BAD_RANGE, **OTHER_VILLAGE},
    may_lag=True,
)
def anomalies_report(args):
    """Anomaly flags over village days from..to: hints for a person, never penalties.

    An admin gets each flag (kind, inspector, the inspection ids behind it, a
    sentence in the reader's language) and the village's counts; a township gets
    counts per village only (`village_id` names one of its villages), no names.
    The kinds and thresholds are in the README ("Anomaly flags").
    """
    user = g.user
    township = user.role == TOWNSHIP
    if township and not args.get("village_id"):
        village_ids = reachable_villages(user)
    else:
        village_ids = [current_scope(args.get("village_id")).village_id]
    day_from, day_to = resolve_villages_range(village_ids, args.get("day_from"), args.get("day_to"))
    items: list[dict] = []
    if township:  # counts only, every village's in as many statements as one's (issue 32)
        by_village = flag_counts_of(village_ids, day_from, day_to)
    else:
        found = find_flags(village_ids[0], day_from, day_to)
        items = reports.told(village_ids[0], found)
        by_village = {village_ids[0]: counts(found)}
    codes = {
        village_id: code
        for village_id, code in db.session.execute(
            select(Village.id, Village.code).where(Village.id.in_(village_ids))
        )
    }
    villages = [
        {
            "village_id": village_id,
            "code": codes[village_id],
            "counts": by_village[village_id],
            "total": sum(by_village[village_id].values()),
        }
        for village_id in village_ids
    ]
    return {"day_from": day_from, "day_to": day_to, "items": items, "villages": villages}
