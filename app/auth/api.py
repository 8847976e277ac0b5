"""Auth API: bearer tokens, and the village's users."""

from flask import request
from flask_smorest import Blueprint

from app.actions import action, location_of, reading
from app.auth import services, throttle
from app.auth.decorators import bearer_token, role_required
from app.auth.models import ADMIN, User
from app.auth.schemas import (
    LoginIn,
    TokenOut,
    UnlockIn,
    UserDetailOut,
    UserGridsOut,
    UserIn,
    UserList,
    UserPatch,
)
from app.db import db
from app.errors import NotFound, Unauthorized, ValidationFailed
from app.households.services import get_household
from app.scope import Scope, current_scope
from app.villages.models import Village

blp = Blueprint(
    "auth_api",
    __name__,
    url_prefix="/api/v1/auth",
    description="Log in for a bearer token; log out to revoke it.",
)


users_blp = Blueprint(
    "users_api",
    __name__,
    url_prefix="/api/v1/users",
    description="The village's users: create, disable, enable, reset a password.",
)


def client_address() -> str:
    """Return the caller's address.

    Behind GREENPOINTS_TRUSTED_PROXIES proxies, Werkzeug's ProxyFix (app/__init__.py)
    has already put the client's address from X-Forwarded-For into remote_addr.
    """
    return request.remote_addr or "unknown"


@blp.post("/tokens")
@blp.doc(security=[])
@blp.arguments(LoginIn())
@blp.response(201, TokenOut)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many failed logins (rate_limited, Retry-After)")
def create_token(args):
    """Log in and get a bearer token."""
    attempt = throttle.start_login(args["username"], client_address())
    user = services.authenticate(args["username"], args["password"])
    if user is None:
        db.session.rollback()
        raise Unauthorized("Wrong username or password.")
    throttle.forget_failures(attempt)
    issued = services.issue_token(user)
    db.session.commit()
    return {"token": issued.token, "expires_at": issued.expires_at, "user": user}


@blp.delete("/tokens/current")
@role_required()
@blp.response(204)
def revoke_current_token():
    """Log out: revoke the token this request carries."""
    services.revoke_token(bearer_token() or "")
    db.session.commit()


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
