"""What every page of figures shares: the range of village days it covers, and its rates.

A report names its range in the query (RangeQuery: from, to); resolve_range() fills in
what was left out and checks it, for one village or for a township's villages;
village_and_range() reads the village and the range off a SummaryQuery, and BAD_RANGE
and OTHER_VILLAGE are the refusals the API documents for them. A rate is part / whole
rounded to 4 places, 0 when there is no whole. The village dashboard (app/reports), the
case figures (app/cases), the inspectors' figures (app/fairness) and the township's
pages (app/townships) all stand on it.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import Schema, fields, validate

from app.db import utcnow
from app.errors import ValidationFailed
from app.schemas import QueryId
from app.scope import Scope, current_scope, village_today

MAX_RANGE_DAYS = 366

# The refusals a report's query answers, as the OpenAPI document names them.
BAD_RANGE = {422: f"validation_error: from after to, or over {MAX_RANGE_DAYS} days"}
OTHER_VILLAGE = {404: "not_found: village_id names none of the caller's villages"}

# Days a report may name: a day at either end of the calendar has no UTC bounds.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
REPORT_DAY = validate.Range(
    min=FIRST_DAY, max=LAST_DAY, error=f"A day from {FIRST_DAY} to {LAST_DAY}."
)


class RangeQuery(Schema):
    day_from = fields.Date(
        data_key="from",
        validate=REPORT_DAY,
        metadata={
            "description": "First village day (YYYY-MM-DD); default: the first day of to's month."
        },
    )
    day_to = fields.Date(
        data_key="to",
        validate=REPORT_DAY,
        metadata={
            "description": f"Last village day, inclusive; default: today. At most "
            f"{MAX_RANGE_DAYS} days from `from`."
        },
    )


class SummaryQuery(RangeQuery):
    village_id = QueryId()


def resolve_range(village_id: int, day_from: date | None, day_to: date | None) -> tuple[date, date]:
    """Fill in a report's range and check it: at most MAX_RANGE_DAYS days, from <= to.

    to defaults to the village's today, from to the first day of to's month.
    """
    day_to = day_to or village_today(village_id)
    day_from = day_from or day_to.replace(day=1)
    if day_from > day_to:
        raise ValidationFailed(
            "The range starts after it ends.", errors={"from": ["Must not be after to."]}
        )
    if (day_to - day_from).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(
            f"A report covers at most {MAX_RANGE_DAYS} days.",
            errors={"to": [f"At most {MAX_RANGE_DAYS} days after from."]},
        )
    return day_from, day_to


def village_and_range(args: Mapping[str, Any]) -> tuple[Scope, date, date]:
    """Return the scope of the village a query names (else the caller's) and its checked range."""
    scope = current_scope(args.get("village_id"))
    day_from, day_to = resolve_range(scope.village_id, args.get("day_from"), args.get("day_to"))
    return scope, day_from, day_to


def resolve_villages_range(
    village_ids: list[int], day_from: date | None, day_to: date | None
) -> tuple[date, date]:
    """Fill in and check a range over villages: today is the first village's (UTC if none)."""
    if not village_ids:
        # No village to ask what day it is: a township of none reads an empty range.
        day_to = day_to or utcnow().date()
    return resolve_range(village_ids[0] if village_ids else 0, day_from, day_to)


def rate(part: int, whole: int) -> float:
    """Return part / whole rounded to 4 places, 0 when whole is 0."""
    return round(part / whole, 4) if whole else 0.0
