"""Appeals of grades."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime

OPEN = "open"
UPHELD = "upheld"
OVERTURNED = "overturned"
STATES = (OPEN, UPHELD, OVERTURNED)
DECISIONS = (UPHELD, OVERTURNED)


class Appeal(Model):
    """A household's appeal of one grade: at most one per inspection."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{state}'" for state in STATES) + ")", name="state"
        ),
        Index("ix_appeals_village_id_state", "village_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    # One appeal per grade: the database says so when two arrive at once.
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # The inspector who gave the grade appealed (who may not decide it).
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    # An overturn with a corrected grade: the grade, and the inspection that credits it.
    corrected_grade: Mapped[str | None] = mapped_column(String(8))
    corrected_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
