"""Passwords, logins, API tokens and the login rate limit."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, delete, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.services import (
    PASSWORD_RESET,
    USER_CREATED,
    USER_DISABLED,
    USER_ENABLED,
    USER_GRIDS_SET,
    record,
)
from app.auth.models import HOUSEHOLD, ROLES, ApiToken, User, UserGrid
from app.auth.schemas import has_control_or_invisible
from app.db import db, utcnow
from app.errors import NotFound, Unauthorized, ValidationFailed
from app.households.models import Household
from app.villages.models import Grid, Village

# Checked against when the username is unknown, so timing does not reveal it: one per
# hash method, made with the configured method on first use (tests configure a fast one).
_dummy_hashes: dict[str, str] = {}


def hash_password(password: str) -> str:
    """Hash a password with the configured method."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def dummy_hash() -> str:
    """Return a hash of a random password made the way hash_password makes real ones."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password(secrets.token_urlsafe(16))
    return _dummy_hashes[method]


def audit_user(user: User, actor_id: int | None, action: str, **details: Any) -> None:
    """Log what was done to a user, named by its username, in its village's audit log."""
    record(
        user.village_id, actor_id, action, "user", user.id, {"username": user.username, **details}
    )


class UsernameTaken(ValidationFailed):
    """Another user has this username (usernames are unique across villages)."""


def create_user(
    village: Village,
    username: str,
    password: str,
    role: str,
    *,
    household: Household | None = None,
    actor_id: int | None = None,
) -> User:
    """Create a user of the village; a household user needs its household.

    actor_id is the admin who creates it; None means the command line.
    """
    username = username.strip()
    if not username or len(username) > 64:
        raise ValidationFailed("A username has 1 to 64 characters.")
    if has_control_or_invisible(username):
        # Also for callers that skip the schema (the command line, other pages).
        raise ValidationFailed(
            "A username has no control or invisible characters.",
            errors={"username": ["Control and invisible characters are not allowed."]},
        )
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}; one of: {', '.join(ROLES)}.")
    _check_password(password)
    if role == HOUSEHOLD and household is None:
        raise ValidationFailed("A household user needs its household.")
    if household is not None and household.village_id != village.id:
        raise ValidationFailed("The household belongs to another village.")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UsernameTaken(f"The username {username!r} is taken.")
    user = User(
        village_id=village.id,
        username=username,
        password_hash=hash_password(password),
        role=role,
        household_id=household.id if household else None,
    )
    db.session.add(user)
    db.session.flush()
    audit_user(user, actor_id, USER_CREATED, role=role, household_id=user.household_id)
    return user


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValidationFailed(
            "A password has at least 8 characters.",
            errors={"password": ["At least 8 characters."]},
        )
    if has_control_or_invisible(password):
        raise ValidationFailed(
            "A password has no control or invisible characters.",
            errors={"password": ["Control and invisible characters are not allowed."]},
        )


def list_users(village_id: int) -> list[User]:
    """Return the village's users: staff first by role, then by username."""
    return list(
        db.session.scalars(
            select(User).where(User.village_id == village_id).order_by(User.role, User.username)
        )
    )


def get_user(village_id: int, user_id: int) -> User:
    """Return a user of the village, or NotFound (never another village's)."""
    user = db.session.get(User, user_id)
    if user is None or user.village_id != village_id:
        raise NotFound("No such user.")
    return user


def user_by_username(username: str) -> User:
    """Return the user with this username."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return user


def set_active(user: User, active: bool, *, actor_id: int | None) -> User:
    """Disable or enable a user; a disabled user's tokens and sessions stop at once.

    Its tokens are revoked too, so enabling it again does not bring old ones back.
    An admin cannot disable themself (nor lock the village out that way).
    """
    if not active and actor_id is not None and user.id == actor_id:
        raise ValidationFailed(
            "You cannot disable yourself.", errors={"active": ["You cannot disable yourself."]}
        )
    if user.active == active:
        return user
    user.active = active
    revoked = 0
    if not active:
        revoked = end_sessions(user)
    db.session.flush()
    if active:
        audit_user(user, actor_id, USER_ENABLED, role=user.role)
    else:
        audit_user(user, actor_id, USER_DISABLED, role=user.role, tokens_revoked=revoked)
    return user


def end_sessions(user: User) -> int:
    """End every page session and revoke every token of the user; return the tokens revoked.

    Raising the session version makes every cookie signed with an older one worthless,
    a copied one included (app/auth/decorators.py compares them on each request).
    """
    user.session_version = User.session_version + 1
    return db.session.execute(  # type: ignore[attr-defined]
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount


def end_page_sessions(user_id: int) -> None:
    """End every page session of the user (logging out), and so the tokens they asked for.

    The tokens from a login with the password stay.
    """
    db.session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )


def set_password(user: User, password: str, *, actor_id: int | None) -> User:
    """Give a user a new password and end its sessions and tokens (never log the password)."""
    _check_password(password)
    user.password_hash = hash_password(password)
    revoked = end_sessions(user)
    db.session.flush()
    audit_user(user, actor_id, PASSWORD_RESET, tokens_revoked=revoked)
    return user


def grid_ids_of(user: User) -> list[int]:
    """Return the grids the user works, by id; empty means the whole village."""
    return list(
        db.session.scalars(
            select(UserGrid.grid_id).where(UserGrid.user_id == user.id).order_by(UserGrid.grid_id)
        )
    )


def grid_ids_by_user(village_id: int) -> dict[int, list[int]]:
    """Return each user of the village's grids (users with none are left out)."""
    rows = db.session.execute(
        select(UserGrid.user_id, UserGrid.grid_id)
        .join(User, User.id == UserGrid.user_id)
        .where(User.village_id == village_id)
        .order_by(UserGrid.user_id, UserGrid.grid_id)
    )
    found: dict[int, list[int]] = {}
    for user_id, grid_id in rows:
        found.setdefault(user_id, []).append(grid_id)
    return found


def set_grids(user: User, grid_ids: list[int], *, actor_id: int | None) -> list[int]:
    """Assign the user to these grids of its village (none: the whole village); audited."""
    wanted = sorted(set(grid_ids))
    known = set(
        db.session.scalars(
            select(Grid.id).where(Grid.village_id == user.village_id, Grid.id.in_(wanted))
        )
    )
    unknown = [grid_id for grid_id in wanted if grid_id not in known]
    if unknown:
        raise ValidationFailed(
            "No such grid in this village.",
            errors={"grid_ids": [f"No such grid in this village: {unknown[0]}."]},
        )
    before = grid_ids_of(user)
    if before == wanted:
        return wanted
    db.session.execute(delete(UserGrid).where(UserGrid.user_id == user.id))
    db.session.add_all(UserGrid(user_id=user.id, grid_id=grid_id) for grid_id in wanted)
    db.session.flush()
    audit_user(user, actor_id, USER_GRIDS_SET, old_grid_ids=before, new_grid_ids=wanted)
    return wanted


@dataclass(frozen=True)
class UserDetail:
    """A user as the API shows one, with the grids it works."""

    id: int
    username: str
    role: str
    village_id: int | None
    household_id: int | None
    active: bool
    created_at: datetime
    grid_ids: list[int]


def user_detail(user: User) -> UserDetail:
    """Return the user with its grids, for the API to show."""
    return UserDetail(
        user.id,
        user.username,
        user.role,
        user.village_id,
        user.household_id,
        user.active,
        user.created_at,
        grid_ids_of(user),
    )


def check_credentials(username: str, password: str) -> User | None:
    """Return the user with these credentials, enabled or not, or None (one hash either way)."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = check_credentials(username, password)
    return user if user is not None and user.active else None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, *, session_version: int | None = None) -> IssuedToken:
    """Create a bearer token for the user; only its hash is stored.

    A token given to a page session names that session's version: it is refused once
    the session ends (user_for_token), whichever way it ends.
    """
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=current_app.config["API_TOKEN_HOURS"])
    db.session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_token_hash(token),
            expires_at=expires_at,
            session_version=session_version,
        )
    )
    return IssuedToken(token, expires_at)


# Every API request's first read, built once: the user with what decides whether the
# token still holds (the token itself is not loaded as an object).
_USER_FOR_TOKEN = (
    select(User, ApiToken.expires_at, ApiToken.revoked_at, ApiToken.session_version)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def user_for_token(token: str) -> User:
    """Return the user of a valid bearer token, or raise Unauthorized."""
    row = db.session.execute(_USER_FOR_TOKEN, {"token_hash": _token_hash(token)}).one_or_none()
    if row is None:
        raise Unauthorized("The token is not valid.")
    user, expires_at, revoked_at, session_version = row
    if revoked_at is not None or expires_at <= utcnow():
        raise Unauthorized("The token has expired or was revoked.")
    if session_version is not None and session_version != user.session_version:
        # Given to a page session that has ended since (a logout on any device, a new
        # password, the login disabled): the token ends with it.
        raise Unauthorized("The token has expired or was revoked.")
    if not user.active:
        raise Unauthorized("The user is disabled.")
    return user


def revoke_token(token: str) -> None:
    """Revoke a bearer token (log out)."""
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
