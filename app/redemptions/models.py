"""Redemptions, their lines, and the receipt number sequences."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime


class Redemption(Model):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("village_id", "receipt_no"),
        CheckConstraint("total_points > 0", name="total_positive"),
        Index("ix_redemptions_village_id_created_at", "village_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    storekeeper_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    receipt_no: Mapped[str] = mapped_column(String(32))
    total_points: Mapped[int]
    balance_before: Mapped[int]
    balance_after: Mapped[int]
    journal_id: Mapped[int] = mapped_column(ForeignKey("journals.id"), unique=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_journal_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How the counter found the household: its card scanned, or a search by name.
    found_by: Mapped[str] = mapped_column(String(8), default="card", server_default="card")


class RedemptionLine(Model):
    """One good on a receipt, at the price it had at that moment."""

    __tablename__ = "redemption_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price_points > 0", name="price_positive"),
        UniqueConstraint("redemption_id", "good_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemptions.id"), index=True)
    good_id: Mapped[int] = mapped_column(ForeignKey("goods.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int]
    price_points: Mapped[int]
    line_points: Mapped[int]
    # The good's cost of one unit, in fen, in force when the line was made.
    cost_cents: Mapped[int] = mapped_column(default=0, server_default="0")


class ReceiptCounter(Model):
    """The last receipt number given out in a village in a year."""

    __tablename__ = "receipt_counters"

    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0, server_default="0")
