"""The places: townships, their villages, and the villages' grids."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime

# "Today" in a village whose time zone was never set (API.md).
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Township(Model):
    """A township (乡镇/街道): groups villages, funds their shops and reads their figures."""

    __tablename__ = "townships"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Village(Model):
    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE
    )
    # The township that funds the village's shop and reads its figures, if any.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grid(Model):
    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("village_id", "number"),
        UniqueConstraint("village_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    # The last household number given out in this grid (MZ-03-0127 is number 127).
    household_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
