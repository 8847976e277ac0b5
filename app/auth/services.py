"""Passwords, logins, API tokens and the login rate limit."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.services import PASSWORD_RESET, USER_CREATED, USER_DISABLED, USER_ENABLED, record
from app.auth.models import HOUSEHOLD, ROLES, ApiToken, LoginAttempt, User
from app.db import db, utcnow
from app.errors import NotFound, RateLimited, Unauthorized, ValidationFailed
from app.households.models import Household
from app.villages.models import Village

# A second, looser limit per address, so one address cannot try every username.
ADDRESS_FAILURE_FACTOR = 4
# Checked against when the username is unknown, so timing does not reveal it.
_DUMMY_HASH = generate_password_hash("not-a-password", method="pbkdf2:sha256:1000")


def hash_password(password: str) -> str:
    """Hash a password with the configured method."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


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
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}; one of: {', '.join(ROLES)}.")
    _check_password(password)
    if role == HOUSEHOLD and household is None:
        raise ValidationFailed("A household user needs its household.")
    if household is not None and household.village_id != village.id:
        raise ValidationFailed("The household belongs to another village.")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationFailed(f"The username {username!r} is taken.")
    user = User(
        village_id=village.id,
        username=username,
        password_hash=hash_password(password),
        role=role,
        household_id=household.id if household else None,
    )
    db.session.add(user)
    db.session.flush()
    record(
        village.id,
        actor_id,
        USER_CREATED,
        "user",
        user.id,
        {"username": user.username, "role": role, "household_id": user.household_id},
    )
    return user


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValidationFailed(
            "A password has at least 8 characters.",
            errors={"password": ["At least 8 characters."]},
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
        revoked = db.session.execute(  # type: ignore[attr-defined]
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow()),
            execution_options={"synchronize_session": False},
        ).rowcount
    db.session.flush()
    details: dict = {"username": user.username, "role": user.role}
    if not active:
        details["tokens_revoked"] = revoked
    record(
        user.village_id,
        actor_id,
        USER_ENABLED if active else USER_DISABLED,
        "user",
        user.id,
        details,
    )
    return user


def set_password(user: User, password: str, *, actor_id: int | None) -> User:
    """Give a user a new password (the log records that, never the password)."""
    _check_password(password)
    user.password_hash = hash_password(password)
    db.session.flush()
    record(user.village_id, actor_id, PASSWORD_RESET, "user", user.id, {"username": user.username})
    return user


def retry_after(username: str, address: str) -> int | None:
    """Seconds until this username and address may try again, or None if they may now."""
    config = current_app.config
    window = timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    since = utcnow() - window
    limits = (
        (LoginAttempt.username == username, config["LOGIN_MAX_FAILURES"]),
        (LoginAttempt.address == address, config["LOGIN_MAX_FAILURES"] * ADDRESS_FAILURE_FACTOR),
    )
    waits = []
    for condition, limit in limits:
        count, oldest = db.session.execute(
            select(func.count(), func.min(LoginAttempt.created_at)).where(
                condition, LoginAttempt.created_at > since
            )
        ).one()
        if count >= limit:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=since.tzinfo)
            waits.append(max(1, int((oldest + window - utcnow()).total_seconds()) + 1))
    return max(waits) if waits else None


def check_login_allowed(username: str, address: str) -> None:
    """Refuse with 429 while this username or address has failed too often."""
    wait = retry_after(username, address)
    if wait is not None:
        raise RateLimited(
            "Too many failed logins. Try again later.",
            headers={"Retry-After": str(wait)},
        )


def authenticate(username: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def record_failed_login(username: str, address: str) -> None:
    """Remember a failed login for the rate limit."""
    db.session.add(LoginAttempt(username=username[:64], address=address[:64]))


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> IssuedToken:
    """Create a bearer token for the user; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=current_app.config["API_TOKEN_HOURS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), expires_at=expires_at))
    return IssuedToken(token, expires_at)


def user_for_token(token: str) -> User:
    """Return the user of a valid bearer token, or raise Unauthorized."""
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token))
    ).one_or_none()
    if row is None:
        raise Unauthorized("The token is not valid.")
    api_token, user = row
    if api_token.revoked_at is not None or api_token.expires_at <= utcnow():
        raise Unauthorized("The token has expired or was revoked.")
    if not user.active:
        raise Unauthorized("The user is disabled.")
    return user


def revoke_token(token: str) -> None:
    """Revoke a bearer token (log out)."""
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
