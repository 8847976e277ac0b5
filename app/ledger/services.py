"""The one module that writes the ledger: opening accounts, posting, reversing.

Reading lives in reads.py and checking in verify.py; both are re-exported here, so
`from app.ledger.services import household_balance, verify` keeps working.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn, cast

from sqlalchemy import BigInteger, Integer, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.services import POINTS_ADJUSTED, record
from app.db import JsonRows, db, insert_many, utcnow
from app.errors import AlreadyReversed, InsufficientPoints, NotFound, ValidationFailed
from app.ledger.models import (
    ADJUSTMENT,
    HOUSEHOLD,
    ISSUANCE,
    SYSTEM_KINDS,
    Account,
    Entry,
    Journal,
    JournalKind,
    Transfer,
)
from app.ledger.reads import (
    StatementLine,
    balance,
    balance_as_of,
    household_account,
    household_balance,
    household_balances,
    lock_balances,
    statement,
    system_account_id,
)
from app.ledger.verify import Problem, VerifyReport, verify

accounts = cast(Table, Account.__table__)
journals = cast(Table, Journal.__table__)
transfers = cast(Table, Transfer.__table__)
entries = cast(Table, Entry.__table__)

_POSTING_ACCOUNTS = select(accounts.c.id, accounts.c.household_id).where(
    accounts.c.village_id == bindparam("village_id"),
    or_(
        accounts.c.household_id == bindparam("household_id"),
        and_(accounts.c.household_id.is_(None), accounts.c.kind == bindparam("kind")),
    ),
)
# Every account a posting touches moves in this one statement, by its total: the
# accounts are locked in ascending id order first (the ordered FOR NO KEY UPDATE of
# the subquery; SQLite has one writer at a time and needs none), so concurrent
# postings never deadlock. A household account that would go below zero, or an
# account of another village, is left out of what it returns: the caller refuses.
_MOVES = JsonRows("moves", id=Integer(), delta=BigInteger(), count=BigInteger())
_LOCKED = (
    select(accounts.c.id)
    .where(accounts.c.id.in_(select(_MOVES.c.id)))
    .order_by(accounts.c.id)
    .with_for_update(key_share=True)
    .subquery("locked")
)
_MOVE = (
    update(accounts)
    .where(
        accounts.c.id == _LOCKED.c.id,
        accounts.c.id == _MOVES.c.id,
        accounts.c.village_id == bindparam("village"),
        or_(accounts.c.kind != HOUSEHOLD, accounts.c.balance + _MOVES.c.delta >= 0),
    )
    .values(
        balance=accounts.c.balance + _MOVES.c.delta,
        version=accounts.c.version + _MOVES.c.count,
    )
    .returning(accounts.c.id, accounts.c.balance, accounts.c.version, accounts.c.kind)
)
# Large enough for any real points figure, small enough that sums stay in 64 bits.
MAX_AMOUNT = 1_000_000_000


@dataclass(frozen=True)
class Leg:
    """Move amount points from the debit account to the credit account."""

    debit: int
    credit: int
    amount: int


def open_village_accounts(village_id: int) -> None:
    """Create the system accounts of a new village."""
    for kind in SYSTEM_KINDS:
        db.session.add(Account(village_id=village_id, kind=kind))
    db.session.flush()


def open_household_account(village_id: int, household_id: int) -> Account:
    """Create the points account of a new household."""
    account = Account(village_id=village_id, kind=HOUSEHOLD, household_id=household_id)
    db.session.add(account)
    db.session.flush()
    return account


def open_household_accounts(village_id: int, household_ids: Sequence[int]) -> None:
    """Create the points accounts of many new households in one bulk insert."""
    if not household_ids:
        return
    db.session.execute(
        insert(Account),
        [
            {"village_id": village_id, "kind": HOUSEHOLD, "household_id": household_id}
            for household_id in household_ids
        ],
    )


def posting_accounts(village_id: int, household_id: int, kind: str) -> tuple[int, int]:
    """Return the ids of a household's account and a system account, in one query."""
    rows = (
        db.session.connection()
        .execute(
            _POSTING_ACCOUNTS,
            {"village_id": village_id, "household_id": household_id, "kind": kind},
        )
        .all()
    )
    household = next((row.id for row in rows if row.household_id is not None), None)
    system = next((row.id for row in rows if row.household_id is None), None)
    if household is None:
        raise NotFound("No such household.")
    if system is None:
        raise NotFound(f"The village has no {kind} account.")
    return household, system


def _journal_kind(kind: str) -> JournalKind:
    try:
        return JournalKind(kind)
    except ValueError:
        raise ValidationFailed(f"There is no journal kind {kind!r}.") from None


def _check_legs(legs: Sequence[Leg]) -> None:
    if not legs:
        raise ValidationFailed("A journal needs at least one transfer.")
    for leg in legs:
        if not isinstance(leg.amount, int) or isinstance(leg.amount, bool):
            raise ValidationFailed("Points are whole numbers.")
        if not 0 < leg.amount <= MAX_AMOUNT:
            raise ValidationFailed(f"A transfer moves 1 to {MAX_AMOUNT} points.")
        if leg.debit == leg.credit:
            raise ValidationFailed("A transfer moves points between two accounts.")


@dataclass(frozen=True)
class Posted:
    """A journal just posted, and the balance each of its accounts was left with."""

    id: int
    kind: JournalKind
    memo: str
    reason: str | None
    actor_id: int | None
    reverses_id: int | None
    created_at: datetime
    balances: dict[int, int]


@dataclass(frozen=True)
class NewJournal:
    """A journal to post: its transfers, in order, and what it says about them."""

    legs: Sequence[Leg]
    memo: str
    actor_id: int | None = None
    reason: str | None = None
    reverses_id: int | None = None
    # What the journal does, named once per village (an expiry): a second one collides.
    business_key: str | None = None


def post(
    village_id: int,
    kind: str,
    legs: Sequence[Leg],
    *,
    memo: str,
    actor_id: int | None = None,
    reason: str | None = None,
    reverses_id: int | None = None,
    at: datetime | None = None,
    business_key: str | None = None,
) -> Posted:
    """Post one balanced journal of a JournalKind in the current transaction (post_journals())."""
    journal = NewJournal(legs, memo, actor_id, reason, reverses_id, business_key)
    return post_journals(village_id, kind, [journal], at=at)[0]


def post_many(
    village_id: int,
    kind: str,
    postings: Sequence[tuple[Leg, str, int | None]],
    *,
    at: datetime | None = None,
) -> list[Posted]:
    """Post many journals of one transfer each, in order: postings are (leg, memo, actor_id)."""
    journals = [NewJournal([leg], memo, actor_id) for leg, memo, actor_id in postings]
    return post_journals(village_id, kind, journals, at=at)


def post_journals(
    village_id: int,
    kind: str,
    new_journals: Sequence[NewJournal],
    *,
    at: datetime | None = None,
) -> list[Posted]:
    """Post journals of a JournalKind, in order, in the current transaction; never commits.

    The one way points move. Four statements whatever the number of journals and
    transfers: the journals are inserted; every account touched moves once by its
    total, locked in ascending id order (_MOVE); the transfers and entries are
    inserted. Each entry gets its account's next version, assigned under the account's
    lock (its place in the account's sequence: statements read in it), and the balance
    after it, walking the transfers in order as if the journals had been posted one
    after another. A household account that would go below zero, at the end or on
    the way, refuses the whole posting with InsufficientPoints, and the caller rolls
    back (the whole transaction, or its savepoint).
    """
    journal_kind = _journal_kind(kind)
    if not new_journals:
        raise ValidationFailed("Nothing to post.")
    for journal in new_journals:
        _check_legs(journal.legs)
    legs = [(index, leg) for index, journal in enumerate(new_journals) for leg in journal.legs]
    deltas: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    for _index, leg in legs:
        deltas[leg.debit] -= leg.amount
        deltas[leg.credit] += leg.amount
        counts[leg.debit] += 1
        counts[leg.credit] += 1
    now = at or utcnow()  # `at` backdates a journal: demo data, migrated paper records
    # The journals first: a journal that collides with one already posted (the same
    # reversal, the same expiry) is refused as such, before any balance is looked at.
    journal_ids = insert_many(
        journals,
        [
            {
                "village_id": village_id,
                "kind": journal_kind.value,
                "memo": journal.memo[:200],
                "reason": journal.reason,
                "actor_id": journal.actor_id,
                "reverses_id": journal.reverses_id,
                "created_at": now,
                "business_key": journal.business_key,
            }
            for journal in new_journals
        ],
        ids=True,
    )
    after = _move(village_id, deltas, counts)
    balances = _write_entries(village_id, legs, journal_ids, after, now)
    return [
        Posted(
            id=journal_id,
            kind=journal_kind,
            memo=journal.memo[:200],
            reason=journal.reason,
            actor_id=journal.actor_id,
            reverses_id=journal.reverses_id,
            created_at=now,
            balances=balances[index],
        )
        for index, (journal_id, journal) in enumerate(zip(journal_ids, new_journals, strict=True))
    ]


def _move(
    village_id: int, deltas: dict[int, int], counts: dict[int, int]
) -> dict[int, tuple[int, int, str]]:
    """Move each account by its delta in one statement; return (balance, version, kind) after.

    A household account that would go below zero refuses the whole move
    (InsufficientPoints), as does an account of another village (NotFound).
    """
    connection = db.session.connection()
    ids = sorted(deltas)
    moves = [{"id": i, "delta": deltas[i], "count": counts[i]} for i in ids]
    rows = connection.execute(
        _MOVE, {"village": village_id, **_MOVES.bind(connection, moves)}
    ).all()
    after = {row.id: (row.balance, row.version, row.kind) for row in rows}
    if len(after) < len(ids):
        _refuse(village_id, [i for i in ids if i not in after])
    return after


def _refuse(village_id: int, account_ids: Sequence[int]) -> NoReturn:
    """Raise why accounts did not move: one is not in the village, or a household is short."""
    found = set(
        db.session.scalars(
            select(accounts.c.id).where(
                accounts.c.id.in_(account_ids), accounts.c.village_id == village_id
            )
        )
    )
    for account_id in account_ids:
        if account_id not in found:
            raise NotFound(f"Account {account_id} is not in this village.")
    raise InsufficientPoints("The household does not have enough points.")


def _write_entries(
    village_id: int,
    legs: Sequence[tuple[int, Leg]],
    journal_ids: Sequence[int],
    after: dict[int, tuple[int, int, str]],
    created_at: datetime,
) -> list[dict[int, int]]:
    """Insert the transfers of (journal index, leg) and their entries, with running balances.

    The entries walk the legs in order from each account's balance and version before
    the move. Returns, for each journal, the balance of each of its accounts after it.
    """
    transfer_ids = insert_many(
        transfers,
        [
            {
                "journal_id": journal_ids[index],
                "village_id": village_id,
                "debit_account_id": leg.debit,
                "credit_account_id": leg.credit,
                "amount": leg.amount,
            }
            for index, leg in legs
        ],
        ids=True,
    )
    running = {
        account_id: [balance, version] for account_id, (balance, version, _) in after.items()
    }
    for _index, leg in legs:  # back to where each account stood before the move
        for account_id, delta in ((leg.debit, -leg.amount), (leg.credit, leg.amount)):
            running[account_id][0] -= delta
            running[account_id][1] -= 1
    rows = []
    balances: list[dict[int, int]] = [{} for _ in journal_ids]
    for (index, leg), transfer_id in zip(legs, transfer_ids, strict=True):
        for account_id, delta in ((leg.debit, -leg.amount), (leg.credit, leg.amount)):
            place = running[account_id]
            place[0] += delta
            place[1] += 1
            if place[0] < 0 and after[account_id][2] == HOUSEHOLD:
                raise InsufficientPoints("The household does not have enough points.")
            rows.append(
                {
                    "account_id": account_id,
                    "version": place[1],
                    "transfer_id": transfer_id,
                    "journal_id": journal_ids[index],
                    "village_id": village_id,
                    "delta": delta,
                    "balance_after": place[0],
                    "created_at": created_at,
                }
            )
            balances[index][account_id] = place[0]
    insert_many(entries, rows)
    return balances


def reverse(journal_id: int, *, village_id: int, actor_id: int | None, reason: str) -> Posted:
    """Undo a journal with a mirror journal; a journal is reversed at most once."""
    original = db.session.get(Journal, journal_id)
    if original is None or original.village_id != village_id:
        raise NotFound("No such transaction.")
    if original.kind == JournalKind.REVERSAL:
        raise ValidationFailed("A reversal cannot itself be reversed.")
    if db.session.scalar(select(Journal.id).where(Journal.reverses_id == journal_id)):
        raise AlreadyReversed("This transaction was already reversed.")
    legs = [
        Leg(debit=t.credit_account_id, credit=t.debit_account_id, amount=t.amount)
        for t in db.session.scalars(
            select(Transfer).where(Transfer.journal_id == journal_id).order_by(Transfer.id)
        )
    ]
    try:
        with db.session.begin_nested():
            return post(
                village_id,
                JournalKind.REVERSAL,
                legs,
                memo=original.memo,
                actor_id=actor_id,
                reason=reason,
                reverses_id=journal_id,
            )
    except IntegrityError as error:
        # A concurrent reversal of the same journal committed first.
        if "reverses_id" in str(error.orig):
            raise AlreadyReversed("This transaction was already reversed.") from None
        raise


def adjust(
    village_id: int,
    household_id: int,
    amount: int,
    *,
    reason: str,
    actor_id: int | None,
    at: datetime | None = None,
) -> Posted:
    """Correct a household's points by hand, up or down, never below zero."""
    if amount == 0:
        raise ValidationFailed("An adjustment moves at least one point.")
    account, system = posting_accounts(village_id, household_id, ADJUSTMENT)
    leg = Leg(system, account, amount) if amount > 0 else Leg(account, system, -amount)
    posted = post(
        village_id,
        JournalKind.ADJUSTMENT,
        [leg],
        memo=reason,
        actor_id=actor_id,
        reason=reason,
        at=at,
    )
    record(
        village_id,
        actor_id,
        POINTS_ADJUSTED,
        "household",
        household_id,
        {
            "amount": amount,
            "transaction_id": posted.id,
            "balance_after": posted.balances.get(account),
        },
        reason,
    )
    return posted


def credit(
    village_id: int,
    household_id: int,
    amount: int,
    *,
    kind: str,
    memo: str,
    actor_id: int | None,
    at: datetime | None = None,
) -> Posted:
    """Give a household points from the village's issuance account."""
    account, issuance = posting_accounts(village_id, household_id, ISSUANCE)
    return post(
        village_id, kind, [Leg(issuance, account, amount)], memo=memo, actor_id=actor_id, at=at
    )


__all__ = [
    "MAX_AMOUNT",
    "Leg",
    "Posted",
    "open_village_accounts",
    "open_household_account",
    "open_household_accounts",
    "posting_accounts",
    "lock_balances",
    "post",
    "post_many",
    "post_journals",
    "NewJournal",
    "reverse",
    "adjust",
    "credit",
    # Re-exported from reads.py and verify.py.
    "StatementLine",
    "balance",
    "balance_as_of",
    "household_account",
    "household_balance",
    "household_balances",
    "statement",
    "system_account_id",
    "Problem",
    "VerifyReport",
    "verify",
]
