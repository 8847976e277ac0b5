"""The one module that writes the ledger: opening accounts, posting, reversing.

Reading lives in reads.py and checking in verify.py; both are re-exported here, so
`from app.ledger.services import household_balance, verify` keeps working.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from app.audit.services import POINTS_ADJUSTED, record
from app.db import db, insert_many, typed_text, utcnow
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
    statement,
    system_account_id,
)
from app.ledger.verify import Problem, VerifyReport, verify
from app.types import UTCDateTime

# The tables themselves, for the Core statements of the hot path.
accounts = cast(Table, Account.__table__)
journals = cast(Table, Journal.__table__)
transfers = cast(Table, Transfer.__table__)
entries = cast(Table, Entry.__table__)

# The hot path's statements, built once: executed with parameters on the session's
# connection, they skip statement building, cache-key hashing and the ORM layer.
_POSTING_ACCOUNTS = select(accounts.c.id, accounts.c.household_id).where(
    accounts.c.village_id == bindparam("village_id"),
    or_(
        accounts.c.household_id == bindparam("household_id"),
        and_(accounts.c.household_id.is_(None), accounts.c.kind == bindparam("kind")),
    ),
)
_INSERT_JOURNAL = insert(journals).returning(journals.c.id)
_INSERT_TRANSFER = insert(transfers).returning(transfers.c.id)
_INSERT_ENTRIES = insert(entries)
_MOVE = (
    update(accounts)
    .where(accounts.c.id == bindparam("account_id"), accounts.c.village_id == bindparam("village"))
    .values(
        balance=accounts.c.balance + bindparam("delta"),
        version=accounts.c.version + bindparam("count"),
    )
    .returning(accounts.c.balance, accounts.c.version, accounts.c.kind)
)
# Taking points: a household account never goes below zero; system accounts may.
_TAKE = _MOVE.where(or_(accounts.c.kind != HOUSEHOLD, accounts.c.balance + bindparam("delta") >= 0))
# Many accounts moved at once on PostgreSQL (a journal of several transfers, a queue of
# credits): locked in ascending id order, then each moved by its total under the same
# condition as _TAKE. A refusal shows as fewer rows back; the caller rolls back.
_MOVE_MANY_PG = typed_text(
    """
    WITH locked AS (
        SELECT id FROM accounts
        WHERE id = ANY(CAST(:ids AS INTEGER[]))
        ORDER BY id
        FOR NO KEY UPDATE
    )
    UPDATE accounts
    SET balance = accounts.balance + moves.delta,
        version = accounts.version + moves.count
    FROM locked,
         unnest(CAST(:ids AS INTEGER[]), CAST(:deltas AS BIGINT[]), CAST(:counts AS BIGINT[]))
             AS moves (id, delta, count)
    WHERE accounts.id = locked.id AND moves.id = locked.id AND accounts.village_id = :village
      AND (accounts.kind <> 'household' OR accounts.balance + moves.delta >= 0)
    RETURNING accounts.id, accounts.balance, accounts.version, accounts.kind
    """,
    village=Integer(),
)
# Large enough for any real points figure, small enough that sums stay in 64 bits.
MAX_AMOUNT = 1_000_000_000

# A journal of one transfer, the usual case (a credit, a redemption), on SQLite: both
# accounts move in one conditional UPDATE (SQLite has one writer at a time, so the
# order rows are taken in cannot deadlock); a household account that would go below
# zero is left out of what it returns.
_MOVE_PAIR = (
    update(accounts)
    .where(
        accounts.c.id.in_([bindparam("debit"), bindparam("credit")]),
        accounts.c.village_id == bindparam("village"),
        or_(
            accounts.c.kind != HOUSEHOLD,
            accounts.c.id != bindparam("debit"),
            accounts.c.balance >= bindparam("amount"),
        ),
    )
    .values(
        balance=accounts.c.balance
        + case(
            (accounts.c.id == bindparam("debit"), -bindparam("amount", type_=BigInteger())),
            else_=bindparam("amount", type_=BigInteger()),
        ),
        version=accounts.c.version + 1,
    )
    .returning(accounts.c.id, accounts.c.balance, accounts.c.version)
)
# The same journal on PostgreSQL in one round trip: a data-modifying CTE inserts the
# journal, locks both accounts in ascending id order (no deadlocks), moves them under
# the same condition, and inserts the transfer and both entries from what the UPDATE
# returned. A refusal shows as fewer than two moved accounts; the caller rolls back.
_POST_TRANSFER_PG = typed_text(
    """
    WITH journal AS (
        INSERT INTO journals
            (village_id, kind, memo, reason, actor_id, reverses_id, created_at, business_key)
        VALUES (:village, :kind, :memo, :reason, :actor_id, :reverses_id, :created_at,
                :business_key)
        RETURNING id
    ), locked AS (
        -- By id alone: with the village in the condition the planner may (on stale
        -- statistics) scan the village's index, every account of the village.
        SELECT id, village_id FROM accounts
        WHERE id IN (:debit, :credit)
        ORDER BY id
        FOR NO KEY UPDATE
    ), moved AS (
        UPDATE accounts
        SET balance = accounts.balance
                + CASE WHEN accounts.id = :debit THEN -:amount ELSE :amount END,
            version = accounts.version + 1
        FROM locked
        WHERE accounts.id = locked.id AND locked.village_id = :village
          AND (accounts.kind <> 'household' OR accounts.id <> :debit
               OR accounts.balance >= :amount)
        RETURNING accounts.id, accounts.balance, accounts.version
    ), transfer AS (
        INSERT INTO transfers (journal_id, village_id, debit_account_id, credit_account_id, amount)
        SELECT journal.id, :village, :debit, :credit, :amount FROM journal
        WHERE (SELECT count(*) FROM moved) = 2
        RETURNING id, journal_id
    ), entry AS (
        INSERT INTO entries
            (account_id, version, transfer_id, journal_id, village_id, delta, balance_after,
             created_at)
        SELECT moved.id, moved.version, transfer.id, transfer.journal_id, :village,
               CASE WHEN moved.id = :debit THEN -:amount ELSE :amount END, moved.balance,
               :created_at
        FROM moved, transfer
    )
    SELECT (SELECT id FROM journal) AS journal_id,
           (SELECT count(*) FROM locked WHERE village_id = :village) AS found,
           (SELECT balance FROM moved WHERE id = :debit) AS debit_balance,
           (SELECT balance FROM moved WHERE id = :credit) AS credit_balance
    """,
    village=Integer(),
    kind=String(),
    memo=String(),
    reason=String(),
    actor_id=Integer(),
    reverses_id=BigInteger(),
    business_key=String(),
    created_at=UTCDateTime(),
    debit=Integer(),
    credit=Integer(),
    amount=BigInteger(),
)


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
    """Post one balanced journal of a JournalKind in the current transaction; never commits.

    Accounts are updated in ascending id order, each by one conditional UPDATE
    that refuses to take a household below zero, so concurrent postings neither
    deadlock nor overdraw. A refusal raises InsufficientPoints and leaves the
    rollback to the caller (the whole transaction, or its savepoint).

    This is the hot path of every credit and redemption, so it speaks SQLAlchemy
    Core. A journal of one transfer (a credit, a redemption) costs one statement on
    PostgreSQL (_POST_TRANSFER_PG) and four on SQLite (journal, both accounts,
    transfer, entries); one of several transfers: one INSERT ... RETURNING for the
    journal, one UPDATE ... RETURNING per account, and one INSERT each for the
    transfers and the entries.
    """
    journal_kind = _journal_kind(kind)
    _check_legs(legs)
    now = at or utcnow()  # `at` backdates a journal: demo data, migrated paper records
    memo = memo[:200]
    journal = {
        "village_id": village_id,
        "kind": journal_kind.value,
        "memo": memo,
        "reason": reason,
        "actor_id": actor_id,
        "reverses_id": reverses_id,
        "created_at": now,
        "business_key": business_key,
    }
    if len(legs) == 1:
        journal_id, balances = _post_transfer(journal, legs[0])
    else:
        journal_id, balances = _post_legs(journal, legs)
    return Posted(
        id=journal_id,
        kind=journal_kind,
        memo=memo,
        reason=reason,
        actor_id=actor_id,
        reverses_id=reverses_id,
        created_at=now,
        balances=balances,
    )


def _post_legs(journal: dict, legs: Sequence[Leg]) -> tuple[int, dict[int, int]]:
    """Post a journal of several transfers; return its id and each account's balance after."""
    journal_id = db.session.connection().execute(_INSERT_JOURNAL, journal).scalar_one()
    after: dict[int, int] = {}
    legs_of = [(journal_id, leg) for leg in legs]
    for balances in _transfer(journal["village_id"], legs_of, journal["created_at"]):
        after.update(balances)
    return journal_id, after


def post_many(
    village_id: int,
    kind: str,
    postings: Sequence[tuple[Leg, str, int | None]],
    *,
    at: datetime | None = None,
) -> list[Posted]:
    """Post many journals of one transfer each, in order, in a few statements.

    postings are (leg, memo, actor_id). What post() does for each, for a queue of
    credits sent at once: the accounts are locked and moved once, in ascending id
    order, and each journal's entries carry the running balances, as if the journals
    had been posted one after another. Never commits; a refusal (a household short
    of points) raises, and the caller rolls back.
    """
    journal_kind = _journal_kind(kind)
    _check_legs([leg for leg, _memo, _actor in postings])
    now = at or utcnow()
    rows: list[dict[str, Any]] = [
        {
            "village_id": village_id,
            "kind": journal_kind.value,
            "memo": memo[:200],
            "reason": None,
            "actor_id": actor_id,
            "reverses_id": None,
            "created_at": now,
            "business_key": None,
        }
        for _leg, memo, actor_id in postings
    ]
    ids = insert_many(journals, rows, ids=True)
    legs = [(journal_id, leg) for journal_id, (leg, _, _) in zip(ids, postings, strict=True)]
    balances = _transfer(village_id, legs, now)
    return [
        Posted(
            id=journal_id,
            kind=journal_kind,
            memo=memo[:200],
            reason=None,
            actor_id=actor_id,
            reverses_id=None,
            created_at=now,
            balances=after,
        )
        for journal_id, (_leg, memo, actor_id), after in zip(ids, postings, balances, strict=True)
    ]


def _transfer(
    village_id: int, legs: Sequence[tuple[int, Leg]], created_at: datetime
) -> list[dict[int, int]]:
    """Move the accounts of (journal id, leg) transfers and write the transfers and entries.

    Each account is moved once by its total, in ascending id order; the entries walk
    the legs in order from each account's balance before them. Returns, for each
    leg, the balances of its two accounts just after it.
    """
    deltas: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    for _journal_id, leg in legs:
        deltas[leg.debit] -= leg.amount
        deltas[leg.credit] += leg.amount
        counts[leg.debit] += 1
        counts[leg.credit] += 1
    after = _move(village_id, deltas, counts)

    connection = db.session.connection()
    transfer_rows = [
        {
            "journal_id": journal_id,
            "village_id": village_id,
            "debit_account_id": leg.debit,
            "credit_account_id": leg.credit,
            "amount": leg.amount,
        }
        for journal_id, leg in legs
    ]
    if len(transfer_rows) == 1:
        transfer_ids = [connection.execute(_INSERT_TRANSFER, transfer_rows[0]).scalar_one()]
    else:
        transfer_ids = insert_many(transfers, transfer_rows, ids=True)

    running = {aid: (bal - deltas[aid], ver - counts[aid]) for aid, (bal, ver, _) in after.items()}
    entry_rows = []
    balances = []
    for (journal_id, leg), transfer_id in zip(legs, transfer_ids, strict=True):
        for account_id, delta in ((leg.debit, -leg.amount), (leg.credit, leg.amount)):
            balance, version = running[account_id]
            balance, version = balance + delta, version + 1
            if balance < 0 and after[account_id][2] == HOUSEHOLD:
                raise InsufficientPoints("The household does not have enough points.")
            running[account_id] = (balance, version)
            entry_rows.append(
                {
                    "account_id": account_id,
                    "version": version,
                    "transfer_id": transfer_id,
                    "journal_id": journal_id,
                    "village_id": village_id,
                    "delta": delta,
                    "balance_after": balance,
                    "created_at": created_at,
                }
            )
        balances.append({leg.debit: running[leg.debit][0], leg.credit: running[leg.credit][0]})
    insert_many(entries, entry_rows)
    return balances


def _move(
    village_id: int, deltas: dict[int, int], counts: dict[int, int]
) -> dict[int, tuple[int, int, str]]:
    """Move each account by its delta, in ascending id order; return (balance, version, kind).

    A household account is never taken below zero: one that would be refuses the
    whole move (InsufficientPoints), as does an account of another village (NotFound).
    """
    connection = db.session.connection()
    ids = sorted(deltas)
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            _MOVE_MANY_PG,
            {
                "village": village_id,
                "ids": ids,
                "deltas": [deltas[i] for i in ids],
                "counts": [counts[i] for i in ids],
            },
        ).all()
        after = {row.id: (row.balance, row.version, row.kind) for row in rows}
        if len(after) < len(ids):
            _refuse(village_id, [i for i in ids if i not in after])
        return after
    after = {}
    for account_id in ids:
        delta = deltas[account_id]
        row = connection.execute(
            _TAKE if delta < 0 else _MOVE,
            {
                "account_id": account_id,
                "village": village_id,
                "delta": delta,
                "count": counts[account_id],
            },
        ).one_or_none()
        if row is None:
            _refuse(village_id, [account_id])
        after[account_id] = (row.balance, row.version, row.kind)
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


def _post_transfer(journal: dict, leg: Leg) -> tuple[int, dict[int, int]]:
    """Post a journal of one transfer; return its id and the two balances after it."""
    connection = db.session.connection()
    village_id = journal["village_id"]
    if connection.dialect.name == "postgresql":
        row = connection.execute(
            _POST_TRANSFER_PG,
            {
                **journal,
                "village": village_id,
                "debit": leg.debit,
                "credit": leg.credit,
                "amount": leg.amount,
            },
        ).one()
        if row.debit_balance is None or row.credit_balance is None:
            if row.found < 2:
                _refuse(village_id, [leg.debit, leg.credit])
            raise InsufficientPoints("The household does not have enough points.")
        return row.journal_id, {leg.debit: row.debit_balance, leg.credit: row.credit_balance}
    journal_id = connection.execute(_INSERT_JOURNAL, journal).scalar_one()
    moved = {
        row.id: row
        for row in connection.execute(
            _MOVE_PAIR,
            {
                "debit": leg.debit,
                "credit": leg.credit,
                "village": village_id,
                "amount": leg.amount,
            },
        )
    }
    if len(moved) < 2:
        _refuse(village_id, [leg.debit, leg.credit])
    transfer_id = connection.execute(
        _INSERT_TRANSFER,
        {
            "journal_id": journal_id,
            "village_id": village_id,
            "debit_account_id": leg.debit,
            "credit_account_id": leg.credit,
            "amount": leg.amount,
        },
    ).scalar_one()
    connection.execute(
        _INSERT_ENTRIES,
        [
            {
                "account_id": account_id,
                "version": moved[account_id].version,
                "transfer_id": transfer_id,
                "journal_id": journal_id,
                "village_id": village_id,
                "delta": delta,
                "balance_after": moved[account_id].balance,
                "created_at": journal["created_at"],
            }
            for account_id, delta in ((leg.debit, -leg.amount), (leg.credit, leg.amount))
        ],
    )
    return journal_id, {account_id: row.balance for account_id, row in moved.items()}


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
    "post",
    "post_many",
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
