"""Auth API: log in for a bearer token, log out to revoke it."""

from flask import request
from flask_smorest import Blueprint

from app.auth import services, throttle
from app.auth.decorators import bearer_token, role_required
from app.auth.schemas import (
    LoginIn,
    TokenOut,
)
from app.db import db
from app.errors import Unauthorized

blp = Blueprint(
    "auth_api",
    __name__,
    url_prefix="/api/v1/auth",
    description="Log in for a bearer token; log out to revoke it.",
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
