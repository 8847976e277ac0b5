"""Appeals API: a household appeals a grade; an admin decides."""

from flask_smorest import Blueprint

from app.actions import action, reading
from app.appeals import services
from app.appeals.models import OPEN, Appeal
from app.appeals.schemas import (
    AppealIn,
    AppealList,
    AppealOut,
    AppealPhotoIn,
    AppealQuery,
    DecideIn,
)
from app.auth.models import ADMIN, HOUSEHOLD
from app.db import db
from app.errors import AppealClosed, NotFound
from app.photos import photo_response, store_photo
from app.scope import Scope, current_scope

blp = Blueprint(
    "appeals_api",
    __name__,
    url_prefix="/api/v1",
    description="Appeals of grades (申诉): a household's, an admin's decision.",
)


@action(
    blp,
    "/inspections/<id:inspection_id>/appeal",
    roles=(HOUSEHOLD,),
    schema=AppealIn,
    out=AppealOut,
    status=201,
    responses={
        404: "not_found: no such inspection of the caller's household",
        409: "already_appealed; appeal_closed: older than the rules' appeal_days, or voided",
    },
)
def appeal_inspection(scope: Scope, data: dict, inspection_id: int) -> Appeal:
    """Appeal one of the household's own grades, within the rules' appeal_days."""
    return services.file_appeal(scope.user, inspection_id, data["reason"])


def _visible(scope: Scope, appeal_id: int) -> Appeal:
    appeal = services.get_appeal(scope.village_id, appeal_id)
    if scope.user.role == HOUSEHOLD and appeal.household_id != scope.user.household_id:
        raise NotFound("No such appeal.")
    return appeal


@action(
    blp,
    "/appeals/<id:appeal_id>/photo",
    roles=(HOUSEHOLD,),
    schema=AppealPhotoIn,
    out=AppealOut,
    arguments_location="files",
    responses={409: "appeal_closed: the appeal was decided"},
)
def upload_appeal_photo(scope: Scope, files: dict, appeal_id: int) -> Appeal:
    """Add a photo (JPEG or PNG) to the household's own open appeal."""
    appeal = _visible(scope, appeal_id)
    if appeal.state != OPEN:
        raise AppealClosed("This appeal was decided.")
    appeal.photo = store_photo(files["photo"].read())
    db.session.flush()
    return appeal


@reading(blp, "/appeals/<id:appeal_id>/photo", roles=(ADMIN, HOUSEHOLD), content_type="image/jpeg")
def get_appeal_photo(appeal_id: int):
    """An appeal's photo: the village's admins and the household that appealed."""
    appeal = _visible(current_scope(), appeal_id)
    if appeal.photo is None:
        raise NotFound("This appeal has no photo.")
    return photo_response(appeal.photo)


@reading(blp, "/appeals", roles=(ADMIN, HOUSEHOLD), query=AppealQuery, out=AppealList)
def list_appeals(args):
    """The village's appeals, newest first (a household: its own)."""
    scope = current_scope()
    household_id = scope.user.household_id if scope.user.role == HOUSEHOLD else None
    return {
        "items": services.list_appeals(
            scope.village_id, state=args.get("state"), household_id=household_id
        )
    }


@action(
    blp,
    "/appeals/<id:appeal_id>/decide",
    roles=(ADMIN,),
    schema=DecideIn,
    out=AppealOut,
    responses={
        403: "same_person: the inspector who gave the grade may not decide it",
        404: "not_found: no such appeal in this village",
        409: "invalid_transition: already decided; insufficient_points: the void "
        "would overdraw the household (nothing changes)",
    },
)
def decide_appeal(scope: Scope, data: dict, appeal_id: int) -> Appeal:
    """Uphold or overturn an appeal, with a note the household reads.

    Overturned voids the inspection and, with `grade`, credits the corrected grade at
    the same `inspected_at`, in one transaction.
    """
    return services.decide(scope.user, appeal_id, data["decision"], data["note"], data.get("grade"))
