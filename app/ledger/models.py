"""Accounts, journals, transfers and entries."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Label,
    String,
    bindparam,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime

HOUSEHOLD = "household"
ISSUANCE = "issuance"
REDEMPTION = "redemption"
ADJUSTMENT = "adjustment"
EXPIRY = "expiry"
SYSTEM_KINDS = (ISSUANCE, REDEMPTION, ADJUSTMENT, EXPIRY)
ACCOUNT_KINDS = (HOUSEHOLD, *SYSTEM_KINDS)


class JournalKind(StrEnum):
    """What business operation a journal records; the database refuses any other kind."""

    INSPECTION = "inspection"
    REDEMPTION = "redemption"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    EXPIRY = "expiry"
    REPORT = "report"
    TRANSFER = "transfer"
    FORFEIT = "forfeit"


class Account(Model):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('household', 'issuance', 'redemption', 'adjustment', 'expiry')",
            name="kind",
        ),
        CheckConstraint("kind <> 'household' OR balance >= 0", name="household_not_negative"),
        CheckConstraint("(kind = 'household') = (household_id IS NOT NULL)", name="owner"),
        CheckConstraint("version >= 0", name="version"),
        # One account of each system kind per village.
        Index(
            "uq_accounts_village_system_kind",
            "village_id",
            "kind",
            unique=True,
            sqlite_where=text("household_id IS NULL"),
            postgresql_where=text("household_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), unique=True)
    # Cached: always equals the sum of the account's entries (verify checks it).
    balance: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The number of entries; the next entry gets version + 1.
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def village_system_account(kind: str, label: str) -> Label[int]:
    """The id of the village's system account of a kind, as a column named label.

    For a statement that binds the village as :village_id and reads it on every row.
    """
    account = Account.__table__.alias(f"{kind}_account")
    return (
        select(account.c.id)
        .where(
            account.c.village_id == bindparam("village_id"),
            account.c.household_id.is_(None),
            account.c.kind == kind,
        )
        .scalar_subquery()
        .label(label)
    )


class Journal(Model):
    """One business operation on the ledger (the API calls it a transaction)."""

    __tablename__ = "journals"
    __table_args__ = (
        # Built from JournalKind: a new kind needs a migration that widens this CHECK.
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in JournalKind) + ")", name="kind"
        ),
        # What a journal does, named once per village: a second posting of the same
        # business operation (an expiry run twice, or two at once) collides here.
        Index("uq_journals_village_id_business_key", "village_id", "business_key", unique=True),
        # A village's journals of a range of days (0020); it serves lookups by village too.
        Index("ix_journals_village_id_created_at", "village_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A journal is reversed at most once: the UNIQUE makes the database say so.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "expiry:<household id>:<date>" for an expiry; none for the other kinds.
    business_key: Mapped[str | None] = mapped_column(String(64))


class Transfer(Model):
    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("journals.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    # Points leave the debit account and arrive in the credit account.
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class Entry(Model):
    """One account's side of a transfer, with the account's balance after it."""

    __tablename__ = "entries"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_entries_account_id_created_at", "account_id", "created_at"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("journals.id"), index=True)
    # Indexed (0019): one village's verify reads its own entries, whatever the county holds.
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


APPEND_ONLY_TABLES = ("journals", "transfers", "entries")

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
ADJUSTMENT_STATES = (PENDING, APPROVED, REJECTED)


class PendingAdjustment(Model):
    """An adjustment over the rules' adjustment_approval_over: it waits for a second admin.

    Nothing moves until another admin approves it; the approval posts it as any
    adjustment is posted (services.adjust()), and keeps the journal's id here.
    """

    __tablename__ = "pending_adjustments"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{state}'" for state in ADJUSTMENT_STATES) + ")",
            name="state",
        ),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_pending_adjustments_village_id_state", "village_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    journal_id: Mapped[int | None] = mapped_column(ForeignKey("journals.id"), unique=True)


class VerifyRun(Model):
    """The outcome of one `flask ledger verify`, for the monitoring to read (GET /metrics)."""

    __tablename__ = "verify_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the whole server was checked; else the one village.
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    ok: Mapped[bool]
    problems: Mapped[int]
    transactions: Mapped[int] = mapped_column(BigInteger)
    postings: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
