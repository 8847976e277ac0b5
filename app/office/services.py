"""What the office's pages read: a page of the audit log, with who did each event."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.db import db


@dataclass(frozen=True)
class AuditPage:
    items: list[tuple[AuditEvent, str | None]]
    total: int


def list_events(
    village_id: int,
    *,
    action: str | None = None,
    actor_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AuditPage:
    """Return one page of the village's audit events, newest first, with who did each."""
    query = select(AuditEvent).where(AuditEvent.village_id == village_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if start is not None:
        query = query.where(AuditEvent.created_at >= start)
    if end is not None:
        query = query.where(AuditEvent.created_at < end)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.execute(
        query.add_columns(User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return AuditPage([(event, username) for event, username in rows], total)
