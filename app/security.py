"""Browser-facing protection: CSRF tokens on page forms, cookie flags, security headers.

The JSON API under /api/ authenticates with bearer tokens only and never reads the
session cookie (app/auth/decorators.py), so a forged cross-site request carries no
credentials there; it is exempt from the CSRF check. Every page POST must carry the
token that the form was rendered with.
"""

import ipaddress
import os
import socket
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response

from app.errors import problem, wants_json

csrf = CSRFProtect()

# No inline script, no eval, no inline style: everything comes from /static.
# The scanner needs the camera (mediastream:, blob:), and photos preview as blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Door pages carry the card's token in their path (/q/<token>): never send it to
    # another site. Same-origin (not no-referrer): Flask-WTF checks the Referer on https.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Sent when the cookies are Secure, that is when the site is served over https.
HSTS = "max-age=31536000"


def serves_https(config: dict[str, Any]) -> bool:
    """Tell whether the app is reached over https: in production, or an https BASE_URL."""
    base_url = config.get("BASE_URL") or ""
    return config.get("GREENPOINTS_ENV") == "production" or base_url.startswith("https://")


# Never cached although no one is logged in: the door page shows a household's balance
# to whoever holds the link; the login answer carries a new bearer token.
PERSONAL_ENDPOINTS = {"households.door_page", "auth_api.create_token"}


def safe_next(target: str | None, default: str = "/home") -> str:
    """Return target if it is a path on this site, else default: never another site.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    "/%09/evil.example" (a tab) would go to //evil.example: any whitespace, control or
    invisible character refuses the target outright, as does "//" or "/\\".
    """
    if not target or any(
        char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Zs")
        for char in target
    ):
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    return target


def init_security(app: Flask) -> None:
    """Switch on CSRF for page forms, secure cookies and the security headers."""
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = serves_https(app.config)
    csrf.init_app(app)
    app.before_request(check_csrf)
    app.after_request(add_security_headers)
    app.after_request(forbid_caching_personal)
    app.register_error_handler(CSRFError, csrf_refused)
    if int(app.config.get("TRUSTED_PROXIES") or 0) > 0:
        warn_if_reached_past_the_proxy(app)


def listening_addresses() -> list[str]:
    """The IP addresses this process listens on, read from its open sockets (Linux).

    A gunicorn worker inherits its master's listening sockets before it loads the app,
    so this names what gunicorn was told to bind; elsewhere it may find none.
    """
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return []
    found = []
    for descriptor in descriptors:
        try:
            sock = socket.socket(fileno=descriptor)
        except OSError:  # not a socket
            continue
        try:
            if (
                sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.type == socket.SOCK_STREAM
                and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            ):
                found.append(sock.getsockname()[0])
        except OSError:
            pass
        finally:
            sock.detach()  # the descriptor stays open, as it was
    return found


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_reached_past_the_proxy(app: Flask) -> None:
    """With TRUSTED_PROXIES set, X-Forwarded-For names the client: anyone who reaches the
    app without the proxy can forge it. Warn when the app listens beyond loopback."""
    exposed = sorted({host for host in listening_addresses() if not _is_loopback(host)})
    if exposed:
        app.logger.warning(
            "GREENPOINTS_TRUSTED_PROXIES is set, but the app listens on %s: a client that "
            "reaches it there, past the proxy, can forge X-Forwarded-For and so its address "
            "for the login limits. Bind gunicorn to loopback only (--bind 127.0.0.1:8000).",
            ", ".join(exposed),
        )


def check_csrf() -> None:
    """Refuse a page POST (or PUT, PATCH, DELETE) that lacks this session's token."""
    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if request.method not in current_app.config["WTF_CSRF_METHODS"]:
        return
    # No route (404/405): let routing answer. The API takes bearer tokens, not cookies;
    # Open311 takes an api_key.
    if request.endpoint is None or request.path.startswith(("/api/", "/open311/")):
        return
    csrf.protect()


def csrf_refused(error: CSRFError) -> ResponseReturnValue:
    """The form's token is missing, stale or from another session: ask for a reload."""
    current_app.logger.info("CSRF check refused %s %s: %s", request.method, request.path, error)
    detail = _("Go back, reload the page and try again. Nothing was saved.")
    if wants_json():
        return problem(400, "validation_error", "Bad request", detail)
    return render_template(
        "errors/error.html", status=400, message=_("This form has expired."), detail=detail
    ), 400


def add_security_headers(response: Response) -> Response:
    """Put the security headers on every response: pages, API, static files, errors."""
    # The names present read once: a setdefault() each scans every header (lowercasing
    # each name), which cost more than the rest of this hook together.
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    headers.extend(
        [(name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present]
    )
    if current_app.config["SESSION_COOKIE_SECURE"] and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", HSTS)
    return response


def forbid_caching_personal(response: Response) -> Response:
    """Keep what a logged-in user sees out of every cache: Cache-Control: no-store.

    Any response to a request with a logged-in user or a bearer token, and the door
    page (a balance for whoever holds the card's link). A response that chose its own
    Cache-Control (a photo, an export) keeps it; static files are nobody's.
    """
    if "Cache-Control" in response.headers or request.endpoint == "static":
        return response
    personal = (
        g.get("user") is not None
        or request.endpoint in PERSONAL_ENDPOINTS
        or "Authorization" in request.headers
        or "user_id" in session
    )
    if personal:
        response.headers["Cache-Control"] = "no-store"
    return response
