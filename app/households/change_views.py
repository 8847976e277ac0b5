"""The household page's forms for households over time: 分户, 合户, 迁出, 迁回.

Each posts the same fields as its API action (app/households/api.py) through
`<action>.submit(...)`; a refusal comes back to the household's page named by its
code, a form that does not validate comes back with what to correct.
"""

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.actions import page_error
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.errors import DomainError
from app.households import services
from app.households.api import (
    merge_household,
    move_back_household,
    move_out_household,
    split_household,
)
from app.households.detail_page import detail_page
from app.households.models import Household
from app.scope import current_scope

bp = Blueprint("household_changes", __name__)

SPLIT_FIELDS = {
    "name": _l("Name of the head of household"),
    "address": _l("Address"),
    "grid_id": _l("Grid"),
    "phone": _l("Phone"),
    "points": _l("Points that go with the new household"),
    "reason": _l("Reason"),
}
MERGE_FIELDS = {"into": _l("Household it joins (its code)"), "reason": _l("Reason")}
MOVE_BACK_FIELDS = {"reason": _l("Reason")}
MOVE_OUT_FIELDS = {
    "on": _l("Moved out on"),
    "forfeit_after_days": _l("Days it may still spend its points"),
    "reason": _l("Reason"),
}


def _back(household_id: int):
    def respond(error: DomainError) -> Response:
        return redirect(
            url_for(
                "households.household_detail", household_id=household_id, change_error=error.code
            )
        )

    return respond


def _again(household: Household, labels: Mapping[str, Any]):
    def respond(error: DomainError):
        return detail_page(household, status=error.status, change_message=page_error(error, labels))

    return respond


def _done(household_id: int, changed: str, **values: Any):
    def respond(_result: Any = None) -> Response:
        return redirect(
            url_for(
                "households.household_detail",
                household_id=household_id,
                changed=changed,
                **values,
            )
        )

    return respond


def _submit(action, household: Household, form, labels: Mapping[str, Any], done) -> Any:
    """Post a change form through its API action; back to the household's page either way."""
    return action.submit(
        form,
        key=request.form.get("key"),
        done=done,
        refused=_back(household.id),
        invalid=_again(household, labels),
        household_id=household.id,
    )


def _submit_as_posted(action, household_id: int, labels: Mapping[str, Any], changed: str) -> Any:
    """Post a change form whose fields go to the API action as they are."""
    household = services.get_household(current_scope().village_id, household_id)
    return _submit(action, household, request.form, labels, _done(household_id, changed))


@bp.post("/admin/households/<id:household_id>/split")
@role_required(ADMIN)
def household_split(household_id: int):
    """分户: a new household off this one (the API's split_household)."""
    household = services.get_household(current_scope().village_id, household_id)

    def done(result: services.HouseholdResult) -> Response:
        return _done(household_id, "split", split_new=result.household.id)()

    return _submit(split_household, household, request.form, SPLIT_FIELDS, done)


@bp.post("/admin/households/<id:household_id>/merge")
@role_required(ADMIN)
def household_merge(household_id: int):
    """合户: this household joins another, named by its code (the API's merge_household)."""
    scope = current_scope()
    household = services.get_household(scope.village_id, household_id)
    code = (request.form.get("into_code") or "").strip()
    into = services.household_id_by_code(scope.village_id, code) if code else None
    form = {"reason": request.form.get("reason", ""), "into": str(into) if into else ""}
    if code and into is None:
        return detail_page(
            household,
            status=422,
            change_message=_("No household has the code %(code)s.", code=code),
        )
    return _submit(merge_household, household, form, MERGE_FIELDS, _done(household_id, "merged"))


@bp.post("/admin/households/<id:household_id>/move-out")
@role_required(ADMIN)
def household_move_out(household_id: int):
    """迁出 on a day, with the days it may still spend (the API's move_out_household)."""
    return _submit_as_posted(move_out_household, household_id, MOVE_OUT_FIELDS, "moved_out")


@bp.post("/admin/households/<id:household_id>/move-back")
@role_required(ADMIN)
def household_move_back(household_id: int):
    """迁回 before the forfeit date (the API's move_back_household)."""
    return _submit_as_posted(move_back_household, household_id, MOVE_BACK_FIELDS, "moved_back")
