"""Who is calling: the current user, loaded once per request, and role checks."""

from collections.abc import Callable
from functools import wraps

from flask import g, redirect, request, session, url_for

from app.auth.models import User
from app.auth.reach import may_write
from app.auth.services import user_for_token
from app.db import begin_write, db
from app.errors import Forbidden, ReadOnly, Unauthorized, wants_json

# Methods that read: a read-only role may call them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The session key holding the user's session version when the session began.
SESSION_VERSION = "session_version"


def bearer_token() -> str | None:
    """Return the bearer token of this request, if it sent one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def current_user() -> User | None:
    """Return the user of this request (bearer token for the API, cookie for pages)."""
    if "user" not in g:
        g.user = None
        if request.path.startswith("/api/"):
            token = bearer_token()
            if token is not None:
                g.user = user_for_token(token)
        elif (user_id := session.get("user_id")) is not None:
            user = db.session.get(User, user_id)
            # A logout, a new password or disabling raised the version: the cookie is
            # from an ended session, however it was kept. A cookie from before versions
            # existed counts as version 0, which every user starts with.
            if (
                user is not None
                and user.active
                and session.get(SESSION_VERSION, 0) == user.session_version
            ):
                g.user = user
            else:
                forget_session()
    return g.user


def start_session(user: User) -> None:
    """Log the user in on this browser: a fresh session, keeping only the language."""
    forget_session()
    session["user_id"] = user.id
    session[SESSION_VERSION] = user.session_version


def forget_session() -> None:
    """Clear the session cookie, keeping only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def login_required_user() -> User:
    """Return the current user, or refuse: 401 for the API, the login page for browsers."""
    user = current_user()
    if user is None:
        raise Unauthorized("Log in first: send Authorization: Bearer <token>.")
    return user


def role_required(*roles: str, read_only_may: bool = False) -> Callable:
    """Let only users with one of these roles call the view.

    read_only_may: a write a read-only role (a township) may call too; the view
    itself says which of its requests (app/cases: supervise, 督办).
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if getattr(view, "writes", False) and "user" not in g:
                # Read the caller inside the write transaction: on SQLite a read
                # transaction would end at BEGIN IMMEDIATE and the user be read again.
                begin_write()
            try:
                user = login_required_user()
            except Unauthorized:
                if wants_json():
                    raise
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            writes = request.method not in SAFE_METHODS
            if roles and writes and not read_only_may and not may_write(user):
                # A read-only role (a township) is refused every write here, but for
                # the few declared read_only_may, whose service refuses it the rest.
                raise ReadOnly()
            if roles and user.role not in roles:
                raise Forbidden("Your role may not do this.")
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorator
