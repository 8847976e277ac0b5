"""Audit events."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime


class AuditEvent(Model):
    """One admin action: rules changed, a card reissued, a user disabled..."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    # None: done from the command line.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int | None]
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The log is read newest first, per village, and filtered by action.
Index(
    "ix_audit_events_village_id_created_at",
    AuditEvent.village_id,
    AuditEvent.created_at.desc(),
    AuditEvent.id.desc(),
)
Index(
    "ix_audit_events_village_id_action_created_at",
    AuditEvent.village_id,
    AuditEvent.action,
    AuditEvent.created_at.desc(),
    AuditEvent.id.desc(),
)
