"""Auth API: bearer tokens, and the village's users."""

from flask import g, request, url_for
from flask_smorest import Blueprint

from app.auth import services
from app.auth.decorators import bearer_token, role_required
from app.auth.models import ADMIN
from app.auth.schemas import LoginIn, TokenOut, UserDetailOut, UserIn, UserList, UserPatch
from app.db import db
from app.errors import NotFound, Unauthorized, ValidationFailed
from app.households.services import get_household
from app.villages.models import Village
from app.writes import write_endpoint

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
    """Return the caller's address (the proxy's X-Forwarded-For when configured)."""
    return request.remote_addr or "unknown"


@blp.post("/tokens")
@blp.doc(security=[])
@blp.arguments(LoginIn)
@blp.response(201, TokenOut)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many failed logins (rate_limited, Retry-After)")
def create_token(args):
    """Log in and get a bearer token."""
    address = client_address()
    username = args["username"]
    services.check_login_allowed(username, address)
    user = services.authenticate(username, args["password"])
    if user is None:
        services.record_failed_login(username, address)
        db.session.commit()
        raise Unauthorized("Wrong username or password.")
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


@users_blp.get("")
@role_required(ADMIN)
@users_blp.response(200, UserList)
def list_users():
    """The village's users, with their role and whether they are active."""
    return {"items": services.list_users(g.user.village_id)}


@users_blp.post("")
@role_required(ADMIN)
@write_endpoint
@users_blp.arguments(UserIn)
@users_blp.response(201, UserDetailOut)
def create_user(args):
    """Create a user of the village; a household user names a household of the village."""
    village = db.session.get_one(Village, g.user.village_id)
    household = None
    if args.get("household_id") is not None:
        try:
            household = get_household(village.id, args["household_id"])
        except NotFound:
            raise ValidationFailed(
                "No such household in this village.",
                errors={"household_id": ["No such household in this village."]},
            ) from None
    elif args["role"] == "household":
        raise ValidationFailed(
            "A household user needs its household.",
            errors={"household_id": ["Required for the household role."]},
        )
    user = services.create_user(
        village,
        args["username"],
        args["password"],
        args["role"],
        household=household,
        actor_id=g.user.id,
    )
    return user, 201, {"Location": url_for("users_api.get_user", user_id=user.id)}


@users_blp.get("/<id:user_id>")
@role_required(ADMIN)
@users_blp.response(200, UserDetailOut)
def get_user(user_id: int):
    """One user of the village."""
    return services.get_user(g.user.village_id, user_id)


@users_blp.patch("/<id:user_id>")
@role_required(ADMIN)
@write_endpoint
@users_blp.arguments(UserPatch)
@users_blp.response(200, UserDetailOut)
@users_blp.alt_response(422, description="validation_error: e.g. an admin disabling themself")
def update_user(args, user_id: int):
    """Disable or enable a user, or give it a new password; an admin cannot disable themself."""
    user = services.get_user(g.user.village_id, user_id)
    if "password" in args:
        services.set_password(user, args["password"], actor_id=g.user.id)
    if "active" in args:
        services.set_active(user, args["active"], actor_id=g.user.id)
    return user
