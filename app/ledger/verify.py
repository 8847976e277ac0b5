"""verify(): every ledger rule, one function per check, over one snapshot that writes nothing.

Each check reads through the connection it is given and returns the Problems it
found. verify() gives them a connection of its own (REPEATABLE READ and read-only on
PostgreSQL, one read transaction on SQLite), so every check sees the same committed
ledger and the caller's session and transaction are left exactly as they were.
The business totals (inspections, redemptions, stock) are checked by their own
packages; app/checks.py gathers them all.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, Subquery, func, or_, select

from app.db import snapshot_connection
from app.ledger.models import EXPIRY, HOUSEHOLD, Account, Entry, Journal, JournalKind, Transfer

# The rows a problem may name, by the API's field names (ProblemOut has one field each).
ROW_IDS = (
    "account_id",
    "transaction_id",
    "transfer_id",
    "village_id",
    "inspection_id",
    "redemption_id",
    "good_id",
)


@dataclass(frozen=True)
class Problem:
    """One broken rule: which check found it, what is wrong, and the rows involved."""

    check: str
    detail: str
    # The rows involved, by the API's field names: {"account_id": 7}.
    ids: Mapping[str, int] = field(default_factory=dict, hash=False)
    # For a figure that is off: what the rule says it should be, and what it is.
    expected: int | None = None
    actual: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.ids) - set(ROW_IDS)
        if unknown:  # the API would leave them out: name them in ROW_IDS first
            raise ValueError(f"a problem names rows the API does not show: {sorted(unknown)}")

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as the API and the CLI have always shown it."""
        found: dict[str, Any] = {"check": self.check, "detail": self.detail, **self.ids}
        if self.expected is not None or self.actual is not None:
            found |= {"expected": self.expected, "actual": self.actual}
        return found


@dataclass
class VerifyReport:
    transactions: int
    postings: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the report as `GET /api/v1/ledger/verify` answers it."""
        return {
            "ok": self.ok,
            "transactions": self.transactions,
            "postings": self.postings,
            "problems": [problem.to_dict() for problem in self.problems],
        }


Check = Callable[[Connection, int | None], list[Problem]]


def _scoped(query: Select, column: Any, village_id: int | None) -> Select:
    """Scope a query to one village by a table's own village_id (each has an index on it).

    One village's checks filter every table they read by its own village_id, entries
    too (0019), so that each side of every join is the village's rows whatever the
    county holds (issue 32). An account's sums, a transfer's account and journal and a
    negative entry's account are joined on the village too, in both modes: a row that
    names another village than its account's is not counted as that account's.
    """
    return query.where(column == village_id) if village_id is not None else query


def journal_totals(village_id: int | None) -> Subquery:
    """What each journal moved, as (journal_id, total): the village's journals, or all."""
    query = select(Transfer.journal_id, func.sum(Transfer.amount).label("total"))
    return _scoped(query, Transfer.village_id, village_id).group_by(Transfer.journal_id).subquery()


def invalid_transfers(connection: Connection, village_id: int | None) -> list[Problem]:
    """Every transfer moves a positive amount between two accounts of its village."""
    # Outer joins on the village too: an account or a journal of another village is
    # missing, and one village's verify reads only its own accounts and journals.
    query = (
        select(Transfer.id, Transfer.amount)
        .outerjoin(
            Account,
            (Account.id == Transfer.debit_account_id) & (Account.village_id == Transfer.village_id),
        )
        .outerjoin(
            Journal,
            (Journal.id == Transfer.journal_id) & (Journal.village_id == Transfer.village_id),
        )
        .where(
            or_(
                Transfer.amount <= 0,
                Transfer.debit_account_id == Transfer.credit_account_id,
                Account.id.is_(None),
                Journal.id.is_(None),
            )
        )
    )
    return [
        Problem(
            "transfer",
            f"transfer {transfer_id} of {amount} points is not valid",
            {"transfer_id": transfer_id},
        )
        for transfer_id, amount in connection.execute(
            _scoped(query, Transfer.village_id, village_id)
        )
    ]


def empty_journals(connection: Connection, village_id: int | None) -> list[Problem]:
    """Every journal has at least one transfer."""
    query = select(Journal.id).where(
        ~select(Transfer.id).where(Transfer.journal_id == Journal.id).exists()
    )
    return [
        Problem(
            "journal", f"transaction {journal_id} has no transfers", {"transaction_id": journal_id}
        )
        for journal_id in connection.scalars(_scoped(query, Journal.village_id, village_id))
    ]


def unbalanced_transfers(connection: Connection, village_id: int | None) -> list[Problem]:
    """Every transfer has its two mirror entries, which move its amount."""
    entry_sums = _scoped(
        select(
            Entry.transfer_id,
            func.count().label("n"),
            func.sum(Entry.delta).label("total"),
            func.sum(func.abs(Entry.delta)).label("moved"),
        ).group_by(Entry.transfer_id),
        Entry.village_id,
        village_id,
    ).subquery()
    query = (
        select(Transfer.id, Transfer.journal_id, entry_sums.c.n, entry_sums.c.total)
        .outerjoin(entry_sums, entry_sums.c.transfer_id == Transfer.id)
        .where(
            or_(
                entry_sums.c.n.is_(None),
                entry_sums.c.n != 2,
                entry_sums.c.total != 0,
                entry_sums.c.moved != 2 * Transfer.amount,
            )
        )
    )
    return [
        Problem(
            "balance",
            f"transfer {transfer_id} of transaction {journal_id} has {n or 0} "
            f"entries summing to {total or 0}",
            {"transfer_id": transfer_id, "transaction_id": journal_id},
        )
        for transfer_id, journal_id, n, total in connection.execute(
            _scoped(query, Transfer.village_id, village_id)
        )
    ]


def _same_account(sums: Any) -> Any:
    """Join an account to its sums of the same village (rows naming another are not its)."""
    return (sums.c.account_id == Account.id) & (sums.c.village_id == Account.village_id)


def account_totals(connection: Connection, village_id: int | None) -> list[Problem]:
    """Each account's cached balance and version equal its entries and its transfers."""
    by_entries = _scoped(
        select(
            Entry.account_id,
            Entry.village_id,
            func.count().label("n"),
            func.sum(Entry.delta).label("total"),
            func.max(Entry.version).label("top"),
        ).group_by(Entry.account_id, Entry.village_id),
        Entry.village_id,
        village_id,
    ).subquery()
    credits = _transfer_totals(Transfer.credit_account_id, village_id)
    debits = _transfer_totals(Transfer.debit_account_id, village_id)
    query = (
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
        .outerjoin(by_entries, _same_account(by_entries))
        .outerjoin(credits, _same_account(credits))
        .outerjoin(debits, _same_account(debits))
        .order_by(Account.id)
    )
    return [
        problem
        for row in connection.execute(_scoped(query, Account.village_id, village_id))
        for problem in _account_problems(*row)
    ]


def _transfer_totals(side, village_id: int | None):
    """Each account's transfers on one side (credit or debit), summed."""
    return _scoped(
        select(
            side.label("account_id"), Transfer.village_id, func.sum(Transfer.amount).label("total")
        ).group_by(side, Transfer.village_id),
        Transfer.village_id,
        village_id,
    ).subquery()


def _account_problems(
    account_id: int,
    kind: str,
    cached: int,
    version: int,
    n: int,
    entry_total: int,
    top: int,
    transfer_total: int,
) -> list[Problem]:
    """What is wrong with one account: its cached balance against its entries and its
    transfers, its version against its entries, a household below zero."""
    ids = {"account_id": account_id}
    problems = []
    if cached != entry_total:
        problems.append(
            Problem(
                "account_balance",
                f"account {account_id}: cached balance {cached}, entries sum to {entry_total}",
                ids,
                expected=entry_total,
                actual=cached,
            )
        )
    if cached != transfer_total:
        problems.append(
            Problem(
                "account_transfers",
                f"account {account_id}: cached balance {cached}, transfers sum to {transfer_total}",
                ids,
                expected=transfer_total,
                actual=cached,
            )
        )
    if not version == n == top:
        problems.append(
            Problem(
                "account_version",
                f"account {account_id}: version {version}, {n} entries, last entry {top}",
                ids,
                expected=n,
                actual=version,
            )
        )
    if kind == HOUSEHOLD and cached < 0:
        problems.append(
            Problem(
                "household_negative",
                f"household account {account_id} is at {cached}",
                ids,
                expected=0,
                actual=cached,
            )
        )
    return problems


def entry_chains(connection: Connection, village_id: int | None) -> list[Problem]:
    """Each account's entries are versions 1..n, each balance_after adding up."""
    previous = func.lag(Entry.balance_after, 1, 0).over(
        partition_by=Entry.account_id, order_by=Entry.version
    )
    position = func.row_number().over(partition_by=Entry.account_id, order_by=Entry.version)
    chain = _scoped(
        select(
            Entry.account_id,
            Entry.version,
            Entry.delta,
            Entry.balance_after,
            previous.label("previous"),
            position.label("position"),
        ),
        Entry.village_id,
        village_id,
    ).subquery()
    query = (
        select(chain)
        .where(
            or_(
                chain.c.version != chain.c.position,
                chain.c.previous + chain.c.delta != chain.c.balance_after,
            )
        )
        .order_by(chain.c.account_id, chain.c.version)
    )
    return [
        Problem(
            "entry_chain",
            f"account {account_id}: entry {version} (position {position}) "
            f"goes from {before} by {delta} to {balance_after}",
            {"account_id": account_id},
            expected=before + delta,
            actual=balance_after,
        )
        for account_id, version, delta, balance_after, before, position in connection.execute(query)
    ]


def negative_entries(connection: Connection, village_id: int | None) -> list[Problem]:
    """No entry ever took a household account below zero."""
    query = (
        select(Entry.account_id, Entry.version, Entry.balance_after)
        # On the account alone: an equality between the two village_ids let SQLite walk
        # every entry of the village for each account (ix_entries_village_id), minutes for
        # a village of 30,000 households. An entry naming another village than its
        # account's is account_totals' and entry_chains' to find.
        .join(Account, Account.id == Entry.account_id)
        .where(Account.kind == HOUSEHOLD, Entry.balance_after < 0)
    )
    return [
        Problem(
            "household_negative",
            f"household account {account_id} went to {balance_after} at entry {version}",
            {"account_id": account_id},
            expected=0,
            actual=balance_after,
        )
        for account_id, version, balance_after in connection.execute(
            _scoped(_scoped(query, Account.village_id, village_id), Entry.village_id, village_id)
        )
    ]


def village_totals(connection: Connection, village_id: int | None) -> list[Problem]:
    """Debits equal credits: each village's balances sum to zero."""
    query = (
        select(Account.village_id, func.sum(Account.balance))
        .group_by(Account.village_id)
        .having(func.sum(Account.balance) != 0)
    )
    return [
        Problem(
            "village_total",
            f"village {vid}: account balances sum to {total}, not 0",
            {"village_id": vid},
            expected=0,
            actual=total,
        )
        for vid, total in connection.execute(_scoped(query, Account.village_id, village_id))
    ]


def reversals(connection: Connection, village_id: int | None) -> list[Problem]:
    """Every reversal mirrors what it reverses."""
    reversal = Journal.__table__.alias("reversal")
    pairs = connection.execute(
        _scoped(
            select(reversal.c.id, reversal.c.reverses_id).where(
                reversal.c.reverses_id.is_not(None)
            ),
            reversal.c.village_id,
            village_id,
        )
    )

    def transfers(journal_id: int) -> list[tuple[int, ...]]:
        """A journal's transfers as (debit, credit, amount), sorted."""
        query = select(Transfer.debit_account_id, Transfer.credit_account_id, Transfer.amount)
        return sorted(
            tuple(row) for row in connection.execute(query.where(Transfer.journal_id == journal_id))
        )

    problems = []
    for reversal_id, original_id in pairs.all():
        mirror = sorted((credit, debit, amount) for debit, credit, amount in transfers(original_id))
        if mirror != transfers(reversal_id):
            problems.append(
                Problem(
                    "reversal",
                    f"transaction {reversal_id} does not mirror {original_id}",
                    {"transaction_id": reversal_id},
                )
            )
    return problems


def household_moves(connection: Connection, village_id: int | None) -> list[Problem]:
    """Transfers and forfeits go where they must.

    A `transfer` (a split or a merge) moves points from one household account to
    another; a `forfeit` moves what a household that moved out had left, all of it, to
    its village's expiry account (the household's entry leaves it at zero).
    """
    debit = Account.__table__.alias("debit")
    credit = Account.__table__.alias("credit")
    query = (
        select(
            Journal.id,
            Journal.kind,
            debit.c.kind.label("from_kind"),
            credit.c.kind.label("to_kind"),
            Entry.balance_after,
        )
        .join(Transfer, Transfer.journal_id == Journal.id)
        .join(debit, debit.c.id == Transfer.debit_account_id)
        .join(credit, credit.c.id == Transfer.credit_account_id)
        .join(
            Entry,
            (Entry.transfer_id == Transfer.id) & (Entry.account_id == Transfer.debit_account_id),
        )
        .where(
            Journal.kind.in_([JournalKind.TRANSFER.value, JournalKind.FORFEIT.value]),
            Journal.reverses_id.is_(None),
        )
        .order_by(Journal.id)
    )
    problems = []
    for journal_id, kind, from_kind, to_kind, left in connection.execute(
        _scoped(query, Journal.village_id, village_id)
    ):
        if kind == JournalKind.TRANSFER.value and (from_kind, to_kind) != (HOUSEHOLD, HOUSEHOLD):
            problems.append(
                Problem(
                    "household_move",
                    f"transfer {journal_id} moves points from {from_kind} to {to_kind}, "
                    "not between two households",
                    {"transaction_id": journal_id},
                )
            )
        elif kind == JournalKind.FORFEIT.value and (
            (from_kind, to_kind) != (HOUSEHOLD, EXPIRY) or left != 0
        ):
            problems.append(
                Problem(
                    "household_move",
                    f"forfeit {journal_id} moves points from {from_kind} to {to_kind} "
                    f"and leaves {left}, not all of a household's points to expiry",
                    {"transaction_id": journal_id},
                    expected=0,
                    actual=left,
                )
            )
    return problems


# In the order their problems are listed.
CHECKS: tuple[Check, ...] = (
    invalid_transfers,
    empty_journals,
    unbalanced_transfers,
    account_totals,
    entry_chains,
    negative_entries,
    village_totals,
    reversals,
    household_moves,
)


def verify(village_id: int | None = None) -> VerifyReport:
    """Check every ledger rule over one consistent snapshot; writes nothing."""
    with snapshot_connection() as connection:
        transactions = connection.scalar(
            _scoped(select(func.count(Journal.id)), Journal.village_id, village_id)
        )
        postings = connection.scalar(
            _scoped(select(func.count()).select_from(Entry), Entry.village_id, village_id)
        )
        problems = [problem for check in CHECKS for problem in check(connection, village_id)]
    return VerifyReport(transactions=transactions or 0, postings=postings or 0, problems=problems)
