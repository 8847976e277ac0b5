"""Reading the ledger: accounts, balances (now and as of a moment), statements."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select

from app.db import db
from app.errors import NotFound
from app.ledger.models import Account, Entry, Journal

accounts = cast(Table, Account.__table__)

# Built once: the balance is read on every scan and every receipt.
_HOUSEHOLD_BALANCE = select(accounts.c.balance).where(
    accounts.c.household_id == bindparam("household_id")
)


def system_account_id(village_id: int, kind: str) -> int:
    """Return the id of one of the village's system accounts."""
    account_id = db.session.scalar(
        select(Account.id).where(
            Account.village_id == village_id,
            Account.kind == kind,
            Account.household_id.is_(None),
        )
    )
    if account_id is None:
        raise NotFound(f"The village has no {kind} account.")
    return account_id


def household_account(household_id: int) -> Account:
    """Return the points account of a household."""
    account = db.session.scalar(select(Account).where(Account.household_id == household_id))
    if account is None:
        raise NotFound("No such household.")
    return account


def household_balance(household_id: int) -> int:
    """Return a household's balance now."""
    value = (
        db.session.connection()
        .execute(_HOUSEHOLD_BALANCE, {"household_id": household_id})
        .scalar_one_or_none()
    )
    if value is None:
        raise NotFound("The household has no points account.")
    return value


def household_balances(household_ids: Iterable[int]) -> dict[int, int]:
    """Return the balances of many households, with one query."""
    return {
        row.household_id: row.balance
        for row in db.session.execute(
            select(accounts.c.household_id, accounts.c.balance).where(
                accounts.c.household_id.in_(list(household_ids))
            )
        )
    }


def balance(account_id: int) -> int:
    """Return the account's balance now."""
    value = db.session.scalar(select(Account.balance).where(Account.id == account_id))
    if value is None:
        raise NotFound("No such account.")
    return value


def balance_as_of(account_id: int, moment: datetime) -> int:
    """Return the account's balance at a past moment: one index lookup."""
    value = db.session.scalar(
        select(Entry.balance_after)
        .where(Entry.account_id == account_id, Entry.created_at <= moment)
        .order_by(Entry.created_at.desc(), Entry.version.desc())
        .limit(1)
    )
    return value or 0


@dataclass(frozen=True)
class StatementLine:
    transaction_id: int
    kind: str
    amount: int
    balance_after: int
    created_at: datetime
    memo: str
    reason: str | None
    reverses_id: int | None
    version: int


def side_memo(memo: str, delta: int) -> str:
    """A journal's memo as one account's statement shows it.

    A transfer between two households (a split, a merge) keeps one memo for each side,
    "the giver's|the receiver's" ("分户转出 → B|分户转入 ← A"): each reads its own.
    """
    giver, bar, receiver = memo.partition("|")
    if not bar:
        return memo
    return giver if delta < 0 else receiver


def statement(
    account_id: int,
    *,
    limit: int = 50,
    before_version: int | None = None,
    direction: str | None = None,
) -> list[StatementLine]:
    """Return the account's entries, newest first, with running balances.

    direction "in" keeps only points received, "out" only points spent.
    """
    query = (
        select(Entry, Journal)
        .join(Journal, Journal.id == Entry.journal_id)
        .where(Entry.account_id == account_id)
        .order_by(Entry.version.desc())
        .limit(limit)
    )
    if before_version is not None:
        query = query.where(Entry.version < before_version)
    if direction == "in":
        query = query.where(Entry.delta > 0)
    elif direction == "out":
        query = query.where(Entry.delta < 0)
    return [
        StatementLine(
            transaction_id=journal.id,
            kind=journal.kind,
            amount=entry.delta,
            balance_after=entry.balance_after,
            created_at=entry.created_at,
            memo=side_memo(journal.memo, entry.delta),
            reason=journal.reason,
            reverses_id=journal.reverses_id,
            version=entry.version,
        )
        for entry, journal in db.session.execute(query)
    ]


def lock_balances(village_id: int, account_ids: Sequence[int]) -> dict[int, int]:
    """Lock the village's accounts in ascending id order, as a posting does; their balances.

    For a posting whose amount is a balance (a merge, a forfeit): read under the lock,
    so nothing posted meanwhile is left behind or overdrawn.
    """
    rows = db.session.execute(
        select(Account.id, Account.balance)
        .where(Account.id.in_(list(account_ids)), Account.village_id == village_id)
        .order_by(Account.id)
        .with_for_update(key_share=True)
    ).all()
    found = {row.id: int(row.balance) for row in rows}
    missing = [i for i in account_ids if i not in found]
    if missing:
        raise NotFound(f"Account {missing[0]} is not in this village.")
    return found
