"""A household's logins: one for each family member's phone, all seeing the same account.

The admin adds a login to a household (a username and a first password); each login
is a user of the household role, so each sees the same /my, the same balance and the
same statement. Disabling one (PATCH /api/v1/users/{id}) leaves the others working.
A member changes their own password with the current one: every other session and
token of that login ends, the one making the change goes on, the other members' stay.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, make_response, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from app.actions import action, location_of, reading
from app.audit.services import PASSWORD_CHANGED, record
from app.auth import throttle
from app.auth.api import client_address
from app.auth.decorators import bearer_token
from app.auth.models import ADMIN, HOUSEHOLD, ApiToken, User
from app.auth.schemas import PASSWORD, UserDetailOut, UserIn
from app.auth.services import UsernameTaken, create_user, hash_password
from app.auth.services import _token_hash as token_hash
from app.db import db, utcnow
from app.errors import DomainError, NotFound
from app.households.services import get_household
from app.scope import Scope, current_scope
from app.villages.models import Village

blp = Blueprint(
    "household_logins_api",
    __name__,
    url_prefix="/api/v1",
    description="A household's logins (family members' phones), and a resident's password.",
)


class UsernameInUse(DomainError):
    """Another login has this username (usernames are unique across villages)."""

    status, code, title = 409, "username_taken", "Username taken"


class WrongPassword(DomainError):
    """The current password given to change it is not the login's password."""

    status, code, title = 422, "wrong_password", "Wrong password"


class HouseholdLoginIn(UserIn):
    """A username and a first password: the role and the household are the path's."""

    class Meta:
        exclude = ("role", "household_id")


class HouseholdLoginList(Schema):
    items = fields.List(fields.Nested(UserDetailOut))


class PasswordChangeIn(Schema):
    current_password = fields.String(
        required=True, validate=[validate.Length(min=1, max=256), *PASSWORD[1:]], load_only=True
    )
    new_password = fields.String(required=True, validate=PASSWORD, load_only=True)


def household_logins(household_id: int) -> list[User]:
    """The household's logins, enabled or not, by username."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.household_id == household_id, User.role == HOUSEHOLD)
            .order_by(User.username)
        )
    )


def household_login(household_id: int, user_id: int) -> User:
    """One login of the household, or NotFound (a staff user or another household's login)."""
    user = db.session.get(User, user_id)
    if user is None or user.household_id != household_id or user.role != HOUSEHOLD:
        raise NotFound("No such login of this household.")
    return user


def add_login(village_id: int, household_id: int, username: str, password: str, *, actor_id: int):
    """Give a household of the village one more login; audited as any user created."""
    household = get_household(village_id, household_id)
    village = db.session.get_one(Village, village_id)
    try:
        with db.session.begin_nested():
            return create_user(
                village, username, password, HOUSEHOLD, household=household, actor_id=actor_id
            )
    except UsernameTaken as taken:
        raise UsernameInUse(taken.detail) from None
    except IntegrityError as error:
        # Another request took the username after create_user() looked: the same answer.
        if "username" in str(error.orig):
            raise UsernameInUse(f"The username {username.strip()!r} is taken.") from None
        raise


def change_own_password(user: User, current: str, new: str, *, keep_token: str | None) -> User:
    """Change a login's password with its current one; end its sessions and tokens elsewhere.

    keep_token is the bearer token making the change (the API), which goes on working;
    the page making the change starts a new session itself. Never logs a password.
    """
    if not check_password_hash(user.password_hash, current):
        g.wrong_password = True  # a guess: counted_as_a_login_try() keeps the try
        raise WrongPassword(
            "The current password is wrong.",
            errors={"current_password": ["The current password is wrong."]},
        )
    user.password_hash = hash_password(new)
    user.session_version = User.session_version + 1  # type: ignore[assignment]
    tokens = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep_token is not None:
        tokens = tokens.where(ApiToken.token_hash != token_hash(keep_token))
    revoked = db.session.execute(  # type: ignore[attr-defined]
        tokens.values(revoked_at=utcnow()), execution_options={"synchronize_session": False}
    ).rowcount
    db.session.flush()
    details: dict[str, Any] = {"username": user.username, "tokens_revoked": revoked}
    record(user.village_id, user.id, PASSWORD_CHANGED, "user", user.id, details)
    return user


@action(
    blp,
    "/households/<id:household_id>/logins",
    roles=(ADMIN,),
    schema=HouseholdLoginIn,
    out=UserDetailOut,
    status=201,
    location=location_of("users_api.get_user", user_id="id"),
    responses={
        409: "username_taken: another login has this username",
        422: "validation_error: e.g. a password shorter than 8 characters",
    },
)
def create_household_login(scope: Scope, data: dict, household_id: int) -> User:
    """Add a login to the household for a family member; each login sees the same account."""
    return add_login(
        scope.village_id, household_id, data["username"], data["password"], actor_id=scope.user_id
    )


@reading(blp, "/households/<id:household_id>/logins", roles=(ADMIN,), out=HouseholdLoginList)
def list_household_logins(household_id: int):
    """The household's logins, enabled or not (disable one with PATCH /api/v1/users/{id})."""
    household = get_household(current_scope().village_id, household_id)
    return {"items": household_logins(household.id)}


def counted_as_a_login_try(view: Callable) -> Callable:
    """Count a password change as a login try: a wrong current password is a guess.

    The try is recorded first (as a login's, so that parallel guesses see each other);
    past the login limits (app/auth/throttle.py) it is refused 429 with Retry-After
    before the password is checked. It stays a failure only if the current password was
    wrong: a change that succeeds wipes the login's failures, and a request refused
    before the password was checked (a weak new one, a replay) drops its own try. The
    count is kept outside the change's transaction, which a refusal rolls back.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        attempt = throttle.start_login(g.user.username, client_address())
        g.wrong_password = changed = False
        try:
            response = make_response(view(*args, **kwargs))
            changed = response.status_code < 400
            return response
        finally:  # also when the form was refused by raising, before the check
            if changed:
                throttle.forget_failures(attempt)
            elif not g.wrong_password:
                throttle.forget_try(attempt)

    return wrapper


@action(
    blp,
    "/me/password",
    roles=(HOUSEHOLD,),
    schema=PasswordChangeIn,
    out=UserDetailOut,
    responses={
        422: "wrong_password: the current password is not this login's",
        429: "rate_limited: too many wrong passwords (the login limits); see Retry-After",
    },
    guard=counted_as_a_login_try,
)
def change_password(scope: Scope, data: dict) -> User:
    """Change one's own password: the login's other sessions and tokens end; this token stays."""
    keep = bearer_token() if request.path.startswith("/api/") else None
    return change_own_password(
        scope.user, data["current_password"], data["new_password"], keep_token=keep
    )
