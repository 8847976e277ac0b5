"""Goods and their stock movements."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime

RESTOCK = "restock"
REDEMPTION = "redemption"
CANCEL = "cancel"
STOCKTAKE = "stocktake"
WRITEOFF = "writeoff"
MOVEMENT_KINDS = (RESTOCK, REDEMPTION, CANCEL, STOCKTAKE, WRITEOFF)


class Good(Model):
    __tablename__ = "goods"
    __table_args__ = (
        UniqueConstraint("village_id", "name"),
        CheckConstraint("price_points > 0", name="price_positive"),
        # The database itself refuses to sell what is not on the shelf.
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(50))
    price_points: Mapped[int]
    # What one unit cost the shop, in fen (分): what the township pays for it.
    cost_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # Cached: always equals the sum of the good's stock movements (verify checks it).
    stock: Mapped[int] = mapped_column(default=0, server_default="0")
    low_stock: Mapped[int] = mapped_column(default=5, server_default="5")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    picture: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_low(self) -> bool:
        """Whether the stock is at or below the good's low-stock mark."""
        return self.stock <= self.low_stock

    @property
    def has_picture(self) -> bool:
        return self.picture is not None


class StockMovement(Model):
    """One change of a good's stock, with why, and the stock after it."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
        CheckConstraint(
            "kind IN ('restock', 'redemption', 'cancel', 'stocktake', 'writeoff')", name="kind"
        ),
        Index("ix_stock_movements_good_id_id", "good_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    good_id: Mapped[int] = mapped_column(ForeignKey("goods.id"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int]
    stock_after: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(500))
    supplier: Mapped[str | None] = mapped_column(String(100))
    # A restock's cost of one unit, in fen, when the delivery note gave it.
    unit_cost_cents: Mapped[int | None]
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
