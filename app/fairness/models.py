"""Spot checks: a random draw of a day's inspections, and the checker's own grade of each."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime


class SpotCheck(Model):
    """One draw: which day, which grid (or the whole village), the seed and what it chose from.

    `population` keeps the ids the sample was drawn from (comma-separated, ascending) so
    that anyone can draw again from the seed and get the same inspections.
    """

    __tablename__ = "spot_checks"
    __table_args__ = (Index("ix_spot_checks_village_id_local_date", "village_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    local_date: Mapped[date] = mapped_column(Date)
    size: Mapped[int]
    seed: Mapped[str] = mapped_column(String(32))
    population: Mapped[str] = mapped_column(Text)
    population_count: Mapped[int]
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheckItem(Model):
    """One drawn inspection, with the grade it was given and, once checked, the checker's."""

    __tablename__ = "spot_check_items"
    __table_args__ = (UniqueConstraint("spot_check_id", "inspection_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    # Denormalised from the inspection: the agreement rate groups by them.
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    original_grade: Mapped[str] = mapped_column(String(8))
    position: Mapped[int]
    grade: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(String(500))
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
