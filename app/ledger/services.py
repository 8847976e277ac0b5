"""The one module that writes the ledger: posting, reversing, reading, verifying."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.services import POINTS_ADJUSTED, record
from app.db import db, utcnow
from app.errors import AlreadyReversed, InsufficientPoints, NotFound, ValidationFailed
from app.ledger.models import (
    ADJUSTMENT,
    HOUSEHOLD,
    ISSUANCE,
    SYSTEM_KINDS,
    Account,
    Entry,
    Journal,
    Transfer,
)

REVERSAL = "reversal"

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
_HOUSEHOLD_BALANCE = select(accounts.c.balance).where(
    accounts.c.household_id == bindparam("household_id")
)
_INSERT_JOURNAL = insert(journals).returning(journals.c.id)
_INSERT_TRANSFER = insert(transfers).returning(transfers.c.id)
_INSERT_TRANSFERS = insert(transfers).returning(transfers.c.id, sort_by_parameter_order=True)
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
        raise NotFound("The household has no points account.")
    return account


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
    kind: str
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
) -> Posted:
    """Post one balanced journal in the current transaction; never commits.

    Accounts are updated in ascending id order, each by one conditional UPDATE
    that refuses to take a household below zero, so concurrent postings neither
    deadlock nor overdraw. A refusal raises InsufficientPoints and leaves the
    rollback to the caller (the whole transaction, or its savepoint).

    This is the hot path of every credit and redemption, so it speaks SQLAlchemy
    Core: one INSERT ... RETURNING for the journal, one UPDATE ... RETURNING per
    account, and one INSERT each for the transfers and the entries.
    """
    _check_legs(legs)
    now = at or utcnow()  # `at` backdates a journal: demo data, migrated paper records
    memo = memo[:200]
    connection = db.session.connection()
    journal_id = connection.execute(
        _INSERT_JOURNAL,
        {
            "village_id": village_id,
            "kind": kind,
            "memo": memo,
            "reason": reason,
            "actor_id": actor_id,
            "reverses_id": reverses_id,
            "created_at": now,
        },
    ).scalar_one()

    deltas: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    for leg in legs:
        deltas[leg.debit] -= leg.amount
        deltas[leg.credit] += leg.amount
        counts[leg.debit] += 1
        counts[leg.credit] += 1

    after: dict[int, tuple[int, int, str]] = {}
    for account_id in sorted(deltas):
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
            exists = db.session.scalar(
                select(accounts.c.id).where(
                    accounts.c.id == account_id, accounts.c.village_id == village_id
                )
            )
            if exists is None:
                raise NotFound(f"Account {account_id} is not in this village.")
            raise InsufficientPoints("The household does not have enough points.")
        after[account_id] = (row.balance, row.version, row.kind)

    transfer_rows = [
        {
            "journal_id": journal_id,
            "village_id": village_id,
            "debit_account_id": leg.debit,
            "credit_account_id": leg.credit,
            "amount": leg.amount,
        }
        for leg in legs
    ]
    if len(transfer_rows) == 1:
        transfer_ids = [connection.execute(_INSERT_TRANSFER, transfer_rows[0]).scalar_one()]
    else:
        transfer_ids = list(connection.execute(_INSERT_TRANSFERS, transfer_rows).scalars())

    # Walk the legs in order from each account's balance before this journal.
    running = {aid: (bal - deltas[aid], ver - counts[aid]) for aid, (bal, ver, _) in after.items()}
    entry_rows = []
    for leg, transfer_id in zip(legs, transfer_ids, strict=True):
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
                    "created_at": now,
                }
            )
    connection.execute(_INSERT_ENTRIES, entry_rows)
    return Posted(
        id=journal_id,
        kind=kind,
        memo=memo,
        reason=reason,
        actor_id=actor_id,
        reverses_id=reverses_id,
        created_at=now,
        balances={aid: bal for aid, (bal, _, _) in after.items()},
    )


def reverse(journal_id: int, *, village_id: int, actor_id: int | None, reason: str) -> Posted:
    """Undo a journal with a mirror journal; a journal is reversed at most once."""
    original = db.session.get(Journal, journal_id)
    if original is None or original.village_id != village_id:
        raise NotFound("No such transaction.")
    if original.kind == REVERSAL:
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
                REVERSAL,
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
        village_id, ADJUSTMENT, [leg], memo=reason, actor_id=actor_id, reason=reason, at=at
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
            memo=journal.memo,
            reason=journal.reason,
            reverses_id=journal.reverses_id,
            version=entry.version,
        )
        for entry, journal in db.session.execute(query)
    ]


@dataclass
class VerifyReport:
    ok: bool
    transactions: int
    postings: int
    problems: list[dict]


def verify(village_id: int | None = None) -> VerifyReport:
    """Check every ledger rule over one consistent snapshot; writes nothing."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.rollback()
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    problems: list[dict] = []

    def scoped(query, column):
        return query.where(column == village_id) if village_id is not None else query

    def add(check: str, detail: str, **fields) -> None:
        problems.append({"check": check, "detail": detail, **fields})

    transactions = session.scalar(scoped(select(func.count(Journal.id)), Journal.village_id))
    postings = session.scalar(scoped(select(func.count()).select_from(Entry), Entry.village_id))

    # 1. Every transfer moves a positive amount between two accounts of its village.
    bad_transfers = session.execute(
        scoped(
            select(Transfer.id, Transfer.amount)
            .join(Account, Account.id == Transfer.debit_account_id)
            .join(Journal, Journal.id == Transfer.journal_id)
            .where(
                or_(
                    Transfer.amount <= 0,
                    Transfer.debit_account_id == Transfer.credit_account_id,
                    Account.village_id != Transfer.village_id,
                    Journal.village_id != Transfer.village_id,
                )
            ),
            Transfer.village_id,
        )
    )
    for transfer_id, amount in bad_transfers:
        add(
            "transfer",
            f"transfer {transfer_id} of {amount} points is not valid",
            transfer_id=transfer_id,
        )

    # 2. Every journal has transfers; every transfer has its two mirror entries.
    empty = session.scalars(
        scoped(
            select(Journal.id).where(
                ~select(Transfer.id).where(Transfer.journal_id == Journal.id).exists()
            ),
            Journal.village_id,
        )
    )
    for journal_id in empty:
        add("journal", f"transaction {journal_id} has no transfers", transaction_id=journal_id)
    entry_sums = (
        select(
            Entry.transfer_id,
            func.count().label("n"),
            func.sum(Entry.delta).label("total"),
            func.sum(func.abs(Entry.delta)).label("moved"),
        )
        .group_by(Entry.transfer_id)
        .subquery()
    )
    unbalanced = session.execute(
        scoped(
            select(
                Transfer.id,
                Transfer.journal_id,
                entry_sums.c.n,
                entry_sums.c.total,
                entry_sums.c.moved,
            )
            .outerjoin(entry_sums, entry_sums.c.transfer_id == Transfer.id)
            .where(
                or_(
                    entry_sums.c.n.is_(None),
                    entry_sums.c.n != 2,
                    entry_sums.c.total != 0,
                    entry_sums.c.moved != 2 * Transfer.amount,
                )
            ),
            Transfer.village_id,
        )
    )
    for transfer_id, journal_id, n, total, _moved in unbalanced:
        add(
            "balance",
            f"transfer {transfer_id} of transaction {journal_id} has {n or 0} "
            f"entries summing to {total or 0}",
            transfer_id=transfer_id,
            transaction_id=journal_id,
        )

    # 3. Per account: the cached balance and version equal its entries and transfers.
    by_entries = (
        select(
            Entry.account_id,
            func.count().label("n"),
            func.sum(Entry.delta).label("total"),
            func.max(Entry.version).label("top"),
        )
        .group_by(Entry.account_id)
        .subquery()
    )
    credits = (
        select(
            Transfer.credit_account_id.label("account_id"), func.sum(Transfer.amount).label("total")
        )
        .group_by(Transfer.credit_account_id)
        .subquery()
    )
    debits = (
        select(
            Transfer.debit_account_id.label("account_id"), func.sum(Transfer.amount).label("total")
        )
        .group_by(Transfer.debit_account_id)
        .subquery()
    )
    rows = session.execute(
        scoped(
            select(
                Account.id,
                Account.kind,
                Account.balance,
                Account.version,
                func.coalesce(by_entries.c.n, 0),
                func.coalesce(by_entries.c.total, 0),
                func.coalesce(by_entries.c.top, 0),
                func.coalesce(credits.c.total, 0) - func.coalesce(debits.c.total, 0),
            )
            .outerjoin(by_entries, by_entries.c.account_id == Account.id)
            .outerjoin(credits, credits.c.account_id == Account.id)
            .outerjoin(debits, debits.c.account_id == Account.id)
            .order_by(Account.id),
            Account.village_id,
        )
    )
    for account_id, kind, cached, version, n, entry_total, top, transfer_total in rows:
        if cached != entry_total:
            add(
                "account_balance",
                f"account {account_id}: cached balance {cached}, entries sum to {entry_total}",
                account_id=account_id,
                expected=entry_total,
                actual=cached,
            )
        if cached != transfer_total:
            add(
                "account_transfers",
                f"account {account_id}: cached balance {cached}, transfers sum to {transfer_total}",
                account_id=account_id,
                expected=transfer_total,
                actual=cached,
            )
        if not version == n == top:
            add(
                "account_version",
                f"account {account_id}: version {version}, {n} entries, last entry {top}",
                account_id=account_id,
                expected=n,
                actual=version,
            )
        if kind == HOUSEHOLD and cached < 0:
            add(
                "household_negative",
                f"household account {account_id} is at {cached}",
                account_id=account_id,
                expected=0,
                actual=cached,
            )

    # 4. Each account's entry chain: versions 1..n, each balance_after adds up.
    previous = func.lag(Entry.balance_after, 1, 0).over(
        partition_by=Entry.account_id, order_by=Entry.version
    )
    position = func.row_number().over(partition_by=Entry.account_id, order_by=Entry.version)
    chain = scoped(
        select(
            Entry.account_id,
            Entry.version,
            Entry.delta,
            Entry.balance_after,
            previous.label("previous"),
            position.label("position"),
        ),
        Entry.village_id,
    ).subquery()
    broken = session.execute(
        select(chain)
        .where(
            or_(
                chain.c.version != chain.c.position,
                chain.c.previous + chain.c.delta != chain.c.balance_after,
            )
        )
        .order_by(chain.c.account_id, chain.c.version)
    )
    for account_id, version, delta, balance_after, prev, pos in broken:
        add(
            "entry_chain",
            f"account {account_id}: entry {version} (position {pos}) "
            f"goes from {prev} by {delta} to {balance_after}",
            account_id=account_id,
            expected=prev + delta,
            actual=balance_after,
        )
    negative = session.execute(
        scoped(
            select(Entry.account_id, Entry.version, Entry.balance_after)
            .join(Account, Account.id == Entry.account_id)
            .where(Account.kind == HOUSEHOLD, Entry.balance_after < 0),
            Entry.village_id,
        )
    )
    for account_id, version, balance_after in negative:
        add(
            "household_negative",
            f"household account {account_id} went to {balance_after} at entry {version}",
            account_id=account_id,
            expected=0,
            actual=balance_after,
        )

    # 5. Debits equal credits: each village's balances sum to zero.
    villages = session.execute(
        scoped(
            select(Account.village_id, func.sum(Account.balance))
            .group_by(Account.village_id)
            .having(func.sum(Account.balance) != 0),
            Account.village_id,
        )
    )
    for vid, total in villages:
        add(
            "village_total",
            f"village {vid}: account balances sum to {total}, not 0",
            village_id=vid,
            expected=0,
            actual=total,
        )

    # 6. Every reversal mirrors what it reverses.
    reversal = Journal.__table__.alias("reversal")
    pairs = session.execute(
        scoped(
            select(reversal.c.id, reversal.c.reverses_id, reversal.c.village_id).where(
                reversal.c.reverses_id.is_not(None)
            ),
            reversal.c.village_id,
        )
    )
    for reversal_id, original_id, _vid in pairs:
        mirror = sorted(
            tuple(row)
            for row in session.execute(
                select(
                    Transfer.credit_account_id, Transfer.debit_account_id, Transfer.amount
                ).where(Transfer.journal_id == original_id)
            )
        )
        actual = sorted(
            tuple(row)
            for row in session.execute(
                select(
                    Transfer.debit_account_id, Transfer.credit_account_id, Transfer.amount
                ).where(Transfer.journal_id == reversal_id)
            )
        )
        if mirror != actual:
            add(
                "reversal",
                f"transaction {reversal_id} does not mirror {original_id}",
                transaction_id=reversal_id,
            )

    if session.get_bind().dialect.name == "postgresql":
        session.rollback()
    return VerifyReport(
        ok=not problems, transactions=transactions or 0, postings=postings or 0, problems=problems
    )


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


__all__ = [
    "Leg",
    "post",
    "reverse",
    "adjust",
    "credit",
    "balance",
    "balance_as_of",
    "statement",
    "verify",
    "open_village_accounts",
    "open_household_account",
    "open_household_accounts",
    "system_account_id",
    "household_account",
]
