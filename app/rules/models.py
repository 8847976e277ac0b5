"""The versions of a village's rules."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime


class RuleSet(Model):
    """One version of a village's scoring rules; the newest is in force.

    Rules are never edited in place: a change adds a version, so every
    inspection keeps the rules it was scored by, and the history shows who
    changed what and when.
    """

    __tablename__ = "rule_sets"
    __table_args__ = (
        UniqueConstraint("village_id", "version"),
        CheckConstraint("daily_limit >= 1", name="daily_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    version: Mapped[int]
    # JSON: [{"grade": "A", "points": 3, "label": "优"}, ...] in display order.
    grades: Mapped[str] = mapped_column(Text)
    daily_limit: Mapped[int]
    # JSON: {"policy": "end_of_next_year"} or {"policy": "idle_months", "months": 12};
    # none means points never expire.
    expiry: Mapped[str | None] = mapped_column(Text)
    # JSON: the case categories, points and limits (app/cases/rules.py); none: defaults.
    cases: Mapped[str | None] = mapped_column(Text)
    # JSON: appeal_days and adjustment_approval_over (app/rules/fairness.py); none: defaults.
    fairness: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
