"""Users API: the village's users, created, disabled, enabled, given a password or grids."""

from flask_smorest import Blueprint

from app.actions import action, location_of, reading
from app.auth import services, throttle
from app.auth.models import ADMIN, User
from app.auth.schemas import UnlockIn, UserDetailOut, UserGridsOut, UserIn, UserList, UserPatch
from app.db import db
from app.errors import NotFound, ValidationFailed
from app.households.services import get_household
from app.scope import Scope, current_scope
from app.villages.models import Village

users_blp = Blueprint(
    "users_api",
    __name__,
    url_prefix="/api/v1/users",
    description="The village's users: create, disable, enable, reset a password.",
)


@reading(users_blp, "", roles=(ADMIN,), out=UserList)
def list_users():
    """The village's users, with their role and whether they are active."""
    return {"items": services.list_users(current_scope().village_id)}


@action(
    users_blp,
    "",
    roles=(ADMIN,),
    schema=UserIn,
    out=UserDetailOut,
    status=201,
    location=location_of("users_api.get_user", user_id="id"),
)
def create_user(scope: Scope, data: dict) -> User:
    """Create a user of the village; a household user names a household of the village."""
    village = db.session.get_one(Village, scope.village_id)
    household = None
    if data.get("household_id") is not None:
        try:
            household = get_household(village.id, data["household_id"])
        except NotFound:
            raise ValidationFailed(
                "No such household in this village.",
                errors={"household_id": ["No such household in this village."]},
            ) from None
    elif data["role"] == "household":
        raise ValidationFailed(
            "A household user needs its household.",
            errors={"household_id": ["Required for the household role."]},
        )
    return services.create_user(
        village,
        data["username"],
        data["password"],
        data["role"],
        household=household,
        actor_id=scope.user_id,
    )


@reading(users_blp, "/<id:user_id>", roles=(ADMIN,), out=UserGridsOut)
def get_user(user_id: int):
    """One user of the village, with the grids it works ([]: the whole village)."""
    return services.user_detail(services.get_user(current_scope().village_id, user_id))


@action(
    users_blp,
    "/<id:user_id>",
    method="PATCH",
    roles=(ADMIN,),
    schema=UserPatch,
    out=UserGridsOut,
    responses={422: "validation_error: e.g. an admin disabling themself, a grid of no village"},
)
def update_user(scope: Scope, data: dict, user_id: int) -> services.UserDetail:
    """Disable or enable a user, give it a new password, or assign it grids.

    An admin cannot disable themself; grid_ids name grids of the village ([]: all of it).
    """
    user = services.get_user(scope.village_id, user_id)
    if "password" in data:
        services.set_password(user, data["password"], actor_id=scope.user_id)
    if "active" in data:
        services.set_active(user, data["active"], actor_id=scope.user_id)
    if "grid_ids" in data:
        services.set_grids(user, data["grid_ids"], actor_id=scope.user_id)
    return services.user_detail(user)


@action(users_blp, "/<id:user_id>/unlock", roles=(ADMIN,), schema=UnlockIn, out=UserGridsOut)
def unlock_user(scope: Scope, data: dict, user_id: int) -> services.UserDetail:
    """Unlock a login: forget the user's failed logins, so it may try again at once."""
    user = services.get_user(scope.village_id, user_id)
    throttle.unlock_login(user, actor_id=scope.user_id)
    return services.user_detail(user)
