"""Collection points, cases, their events and photos."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime

DISPATCHED = "dispatched"
ACCEPTED = "accepted"
RESOLVED = "resolved"
CLOSED = "closed"
WITHDRAWN = "withdrawn"
DUPLICATE = "duplicate"
INVALID = "invalid"
STATES = (DISPATCHED, ACCEPTED, RESOLVED, CLOSED, WITHDRAWN, DUPLICATE, INVALID)
# Waiting for the grid worker: what can be overdue.
WORKING_STATES = (DISPATCHED, ACCEPTED)
# Cases that count in the rates; the others are excluded, and said so.
EXCLUDED_STATES = (WITHDRAWN, DUPLICATE, INVALID)

BEFORE = "before"
AFTER = "after"
PHOTO_STAGES = (BEFORE, AFTER)


class Station(Model):
    """A collection point (收集点) with its own QR card, where anyone may report a problem."""

    __tablename__ = "stations"
    __table_args__ = (
        UniqueConstraint("village_id", "number"),
        UniqueConstraint("village_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    card_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Case(Model):
    """A problem reported for the village to fix."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{state}'" for state in STATES) + ")", name="state"
        ),
        CheckConstraint("extended_hours >= 0", name="extended_hours"),
        Index("ix_cases_village_id_state_due_at", "village_id", "state", "due_at"),
        Index("ix_cases_village_id_created_at", "village_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=DISPATCHED)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    # None: the case waits for the village's admins (no worker works its grid).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who reported it: a login (a household's or staff's), and the household it counts for.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reporter_household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id"), index=True
    )
    # Contact details given with a report from outside (Open311); never shown in a GET.
    reporter_contact: Mapped[str | None] = mapped_column(Text)
    # Hidden from the grid worker: neighbours live next door.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source: Mapped[str] = mapped_column(String(16), default="app", server_default="app")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # created_at + the category's hours + any extension: the server's clock, never the phone's.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    extended_hours: Mapped[int] = mapped_column(default=0, server_default="0")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reopened: Mapped[int] = mapped_column(default=0, server_default="0")
    supervised: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    # Set once by `flask cases tick` when the case passed due_at / 150 % of its time.
    escalated_admins_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_township_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reward_journal_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"), unique=True)
    reward_points: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseEvent(Model):
    """One move or note on a case: append-only, like the ledger."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    # None for what the server's clock did (auto-confirm, escalation).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CasePhoto(Model):
    """A photo of a case before or after the fix; private unless an admin makes it public."""

    __tablename__ = "case_photos"
    __table_args__ = (CheckConstraint("stage IN ('before', 'after')", name="stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    stage: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(100))
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Open311Key(Model):
    """An api_key for Open311 POST requests (stored hashed)."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
