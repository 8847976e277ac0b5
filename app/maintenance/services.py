"""Prune what the app no longer needs: dead tokens, old login failures, old replay records.

Each table is pruned in batches, each batch its own short write transaction, so the
prune can run while the app serves: a writer waits at most one batch (on SQLite,
where writes queue, that is milliseconds), and an interrupted prune simply leaves
the rest for the next night.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, delete, or_, select

from app.auth.models import ApiToken, LoginAttempt
from app.db import Model, db, run_write, utcnow
from app.idempotency import IdempotencyRecord

BATCH = 500
# A stored outcome answers a copy of a request that carried its Idempotency-Key. The
# inspectors' offline queue resends for up to 72 hours; a day more covers a device
# that comes back online late on the last day.
IDEMPOTENCY_FLOOR_HOURS = 72 + 24
IDEMPOTENCY_DEFAULT_HOURS = 7 * 24
# Login failures older than the longest window the login limits look back over
# (app/auth/services.py) no longer count; keep them at least this long anyway.
LOGIN_LIMIT_WINDOWS = (
    "LOGIN_FAILURE_WINDOW_SECONDS",
    "LOGIN_FAILURE_MEMORY_SECONDS",
    "LOGIN_MAX_DELAY_SECONDS",
)


@dataclass(frozen=True)
class Pruned:
    """What one table lost, and by what rule."""

    table: str
    removed: int
    rule: str


def idempotency_retention() -> timedelta:
    """Return how long idempotency records are kept: IDEMPOTENCY_RETENTION_HOURS, not under
    the floor the offline queue needs."""
    hours = int(current_app.config.get("IDEMPOTENCY_RETENTION_HOURS", IDEMPOTENCY_DEFAULT_HOURS))
    return timedelta(hours=max(hours, IDEMPOTENCY_FLOOR_HOURS))


def login_retention() -> timedelta:
    """Return the longest window over which failed logins still count."""
    seconds = [int(current_app.config.get(name) or 0) for name in LOGIN_LIMIT_WINDOWS]
    return timedelta(seconds=max([*seconds, 60 * 60]))


def prune(
    now: datetime | None = None,
    *,
    batch: int = BATCH,
    report: Callable[[Pruned], None] | None = None,
) -> list[Pruned]:
    """Delete expired or revoked tokens, stale login failures and old idempotency records."""
    now = now or utcnow()
    login_keep = login_retention()
    replay_keep = idempotency_retention()
    jobs: list[tuple[type[Model], ColumnElement[bool], str]] = [
        (
            ApiToken,
            or_(ApiToken.expires_at <= now, ApiToken.revoked_at.is_not(None)),
            "expired or revoked",
        ),
        (
            LoginAttempt,
            LoginAttempt.created_at < now - login_keep,
            f"older than {_hours(login_keep)}",
        ),
        (
            IdempotencyRecord,
            IdempotencyRecord.created_at < now - replay_keep,
            f"older than {_hours(replay_keep)}",
        ),
    ]
    results = []
    for model, condition, rule in jobs:
        result = Pruned(model.__tablename__, _delete_in_batches(model, condition, batch), rule)
        if report is not None:
            report(result)
        results.append(result)
    return results


def _delete_in_batches(model: type[Model], condition: ColumnElement[bool], batch: int) -> int:
    id_column = model.__table__.c.id  # type: ignore[attr-defined]

    def one_batch() -> int:
        ids = db.session.scalars(
            select(id_column).where(condition).order_by(id_column).limit(batch)
        ).all()
        if ids:
            db.session.execute(
                delete(model).where(id_column.in_(ids)),
                execution_options={"synchronize_session": False},
            )
        return len(ids)

    removed = 0
    while True:
        count = run_write(one_batch)
        removed += count
        if count < batch:
            return removed


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} h"
