"""Inspections: a household's sorting graded, and the points it earned."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime


class Inspection(Model):
    __tablename__ = "inspections"
    __table_args__ = (
        # The daily limit, held by the database: each inspection of a household on a
        # village day takes the next slot, so two inspectors at one door who both saw
        # room for one more claim the same slot and only one gets it. (A voided
        # inspection keeps its slot and stops counting towards the limit.)
        UniqueConstraint("household_id", "local_date", "slot"),
        CheckConstraint("points >= 0", name="points"),
        CheckConstraint("slot >= 1", name="slot"),
        Index("ix_inspections_village_id_local_date", "village_id", "local_date"),
        Index("ix_inspections_inspector_id_local_date", "inspector_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grade: Mapped[str] = mapped_column(String(8))
    points: Mapped[int]
    note: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(100))
    # The village's calendar day when it happened (its time zone, not UTC).
    local_date: Mapped[date] = mapped_column(Date)
    slot: Mapped[int]
    # None for a zero-point grade: nothing to post.
    journal_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"), unique=True)
    rules_id: Mapped[int] = mapped_column(ForeignKey("rule_sets.id"))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(String(500))
    voided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_journal_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"))
    # When the grade was given (the phone's inspected_at; the village day is taken from it).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the server took it: later than created_at for a grade queued offline.
    recorded_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )


@dataclass(frozen=True)
class InspectionResult:
    """An inspection as its answer shows it: with the household's code and balance."""

    inspection: Inspection
    household_code: str | None
    balance: int

    @property
    def has_photo(self) -> bool:
        return self.inspection.photo is not None

    @property
    def voided(self) -> bool:
        return self.inspection.voided_at is not None
