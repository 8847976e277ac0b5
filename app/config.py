"""Default settings; environment variables and a test's mapping override them."""

import os
import secrets
from pathlib import Path


class Config:
    """Settings that just work on a fresh machine (SQLite under instance/)."""

    SQLALCHEMY_DATABASE_URI: str | None = None  # filled from DATABASE_URL or instance/
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # A standby for reads that may lag (reports, exports); unset: the primary serves them.
    DATABASE_READ_URL: str | None = None
    SECRET_KEY: str | None = None
    BASE_URL: str | None = None
    # "production" requires SECRET_KEY to be set; "development" makes one under instance/.
    GREENPOINTS_ENV = "development"

    API_TITLE = "Green Points API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    API_SPEC_OPTIONS = {
        "info": {
            "description": "Green Points (绿色积分): points for waste sorting. "
            "Log in with POST /api/v1/auth/tokens, then send "
            "Authorization: Bearer <token>."
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    }

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    API_TOKEN_HOURS = 12
    PASSWORD_HASH_METHOD = "scrypt"
    # Wrong passwords for one username from one address before each further try must
    # wait: LOGIN_FIRST_DELAY_SECONDS, doubling per failure up to LOGIN_MAX_DELAY_SECONDS.
    # A right password wipes the pair's failures; they are forgotten after a day.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FIRST_DELAY_SECONDS = 60
    LOGIN_MAX_DELAY_SECONDS = 15 * 60
    LOGIN_FAILURE_MEMORY_SECONDS = 24 * 60 * 60
    # One address may fail LOGIN_MAX_FAILURES x 4 times in this window, over all usernames.
    LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
    # How many proxies in front of the app set X-Forwarded-For and X-Forwarded-Proto
    # (Werkzeug's ProxyFix). 0 trusts no such header: the client could forge it.
    TRUSTED_PROXIES = 0
    # Who besides loopback may read GET /metrics: addresses or networks, as
    # GREENPOINTS_METRICS_ALLOW="10.0.0.5, 192.168.1.0/24".
    METRICS_ALLOW = ""

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # None: Secure in production or when BASE_URL is https (see app/security.py).
    SESSION_COOKIE_SECURE: bool | None = None
    # CSRF tokens on page forms only; app/security.py exempts the bearer-token API.
    WTF_CSRF_CHECK_DEFAULT = False
    # A token lives as long as the session: a grid worker keeps a page open for hours.
    WTF_CSRF_TIME_LIMIT: int | None = None
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    MAX_PHOTO_BYTES = 8 * 1024 * 1024
    PHOTO_FOLDER: str | None = None  # default: instance/photos

    # How many times a write is retried after a transient database error.
    WRITE_RETRIES = 8

    # Pages and JSON compressed by the app (flask-compress; app/extensions.py): brotli
    # where the browser takes it (over https), else gzip. Streamed answers (exports)
    # are left as they are.
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_BR_LEVEL = 5
    COMPRESS_STREAMS = False


def read_environment(config: dict) -> None:
    """Apply the documented environment variables (API.md) to the config mapping."""
    if url := os.environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = url
    for name in ("SECRET_KEY", "BASE_URL", "GREENPOINTS_ENV", "DATABASE_READ_URL"):
        if value := os.environ.get(name):
            config[name] = value


def instance_secret_key(instance_path: str) -> str:
    """Return the development secret kept under instance/, making it on first use."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
