"""What the township's pages keep: each village's figures of a month that has ended."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime


class MonthFigures(Model):
    """A village's participation and accuracy figures of one past month, as counted by
    `flask townships count-months` (nightly): the month-on-month chart reads these
    instead of counting six months of every village's grades at each request."""

    __tablename__ = "month_figures"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    # The households participation counts against, and those of them inspected.
    households: Mapped[int]
    inspected: Mapped[int]
    # The standing grades, and those of them that earned points.
    grades: Mapped[int]
    graded_with_points: Mapped[int]
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
