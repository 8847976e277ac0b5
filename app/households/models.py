"""The household: one card, one points account."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db import Model, utcnow
from app.types import UTCDateTime


class Household(Model):
    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("village_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    members: Mapped[int | None]
    # active; moved (moved away: kept for its history, no new points); moved_out (left on
    # moved_out_on: may redeem until forfeit_on, when what is left is forfeited); merged
    # (into merged_into_id, which shows its history). Nothing is deleted.
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    moved_out_on: Mapped[date | None] = mapped_column(Date)
    forfeit_on: Mapped[date | None] = mapped_column(Date, index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    # Bumped when a card is reissued; older cards stop working.
    card_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The name's pinyin, full and initials (app/households/pinyin.py), set with the name.
    name_pinyin: Mapped[str] = mapped_column(String(400), default="", server_default="")
    name_initials: Mapped[str] = mapped_column(String(100), default="", server_default="")

    @validates("name")
    def _keep_search_keys(self, _key: str, name: str) -> str:
        from app.households.pinyin import name_keys

        self.name_pinyin, self.name_initials = name_keys(name or "")
        return name


class CardReissue(Model):
    """A replaced door card: who reissued it, when and why."""

    __tablename__ = "card_reissues"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    old_version: Mapped[int]
    new_version: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
