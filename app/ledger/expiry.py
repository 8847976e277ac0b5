"""Points that expire: the village's policy, spent oldest first, posted exactly once.

No lots are kept. Points are spent oldest first, so what is left of the points a
household earned up to a moment is

    left = max(0, earned up to that moment - everything spent or expired since the start)

(tests/test_expiry_model.py proves it against a lot-by-lot model). "Earned" is every
entry that gave the household points, "taken" every entry that took some: a voided
inspection or a cancelled redemption counts as such, not as the lot it undoes.

The policies live in the rules (app/rules/expiry.py), versioned with them.

`expire()` posts one journal of kind `expiry` per household per expiry date, keyed
"expiry:<household>:<date>" (unique per village), in chunks of households, each chunk
its own short transaction that locks its accounts before it reads what is due: a
second run, or two at once, or a run after a crash, posts only what is still due,
and a household spending meanwhile waits for the chunk or is seen by it.
"""

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.db import db, run_write, snapshot_connection
from app.errors import InsufficientPoints, NotFound
from app.ledger.models import EXPIRY, HOUSEHOLD, Account, Entry, Journal, JournalKind, Transfer
from app.ledger.services import Leg, NewJournal, post_journals
from app.ledger.verify import Problem
from app.rules.expiry import (
    END_OF_NEXT_YEAR,
    IDLE_MONTHS,
    NO_EXPIRY,
    NONE,
    ExpiryPolicy,
    parse_policy,
    policy_in_force,
)
from app.rules.models import RuleSet
from app.scope import day_start, local_date, village_zone, village_zones

# Households are warned this many days before their points expire.
WARNING_DAYS = 60
CHUNK = 500


def left_of_earned(earned: int, taken: int) -> int:
    """Return what is left of the points earned up to a moment, oldest spent first."""
    return max(0, earned - taken)


def add_months(day: date, months: int) -> date:
    """Return the same day N months later, the month's last day if it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def year_end_expiry(earned_in: int) -> date:
    """Return the day points earned in a year expire on: 1 January two years later."""
    return date(earned_in + 2, 1, 1)


def business_key(household_id: int, on: date) -> str:
    """Return the unique key of a household's expiry on a date."""
    return f"expiry:{household_id}:{on.isoformat()}"


@dataclass(frozen=True)
class Expired:
    """Points that expired (or will) from one household on one date."""

    household_id: int
    on: date
    points: int


# What the aggregates of one chunk say about each household account.
@dataclass
class _Account:
    id: int
    household_id: int
    balance: int
    taken: int = 0


def _earned_before(account_ids: list[int], cuts: Iterable[datetime]) -> dict[datetime, dict]:
    """Return, per cut, each account's points earned before it, one query per cut."""
    found: dict[datetime, dict] = {}
    for cut in cuts:
        found[cut] = dict(
            db.session.execute(
                select(Entry.account_id, func.sum(Entry.delta))
                .where(Entry.account_id.in_(account_ids), Entry.delta > 0, Entry.created_at < cut)
                .group_by(Entry.account_id)
            ).all()
        )
    return found


def due(
    village_id: int, policy: ExpiryPolicy, at: date, accounts: list[_Account]
) -> list[tuple[_Account, date, int]]:
    """Return what is due on or before a day: (account, expiry date, points), oldest first."""
    if policy.policy == NONE or not accounts:
        return []
    timezone = village_zone(village_id)
    ids = [account.id for account in accounts]
    by_id = {account.id: account for account in accounts}
    for account_id, taken in db.session.execute(
        select(Entry.account_id, func.sum(-Entry.delta))
        .where(Entry.account_id.in_(ids), Entry.delta < 0)
        .group_by(Entry.account_id)
    ):
        by_id[account_id].taken = int(taken)
    found: list[tuple[_Account, date, int]] = []
    if policy.policy == END_OF_NEXT_YEAR:
        first = db.session.scalar(
            select(func.min(Entry.created_at)).where(Entry.account_id.in_(ids), Entry.delta > 0)
        )
        if first is None:
            return []
        dates = [
            year_end_expiry(year) for year in range(local_date(first, timezone).year, at.year - 1)
        ]
        cuts = {on: day_start(timezone, date(on.year - 1, 1, 1)) for on in dates}
        earned = _earned_before(ids, cuts.values())
        for on in dates:
            for account in accounts:
                points = left_of_earned(int(earned[cuts[on]].get(account.id, 0)), account.taken)
                if points > 0:
                    found.append((account, on, points))
                    account.taken += points
        return found
    last_active = db.session.execute(
        select(Entry.account_id, func.max(Entry.created_at))
        .join(Journal, Journal.id == Entry.journal_id)
        .where(Entry.account_id.in_(ids), Journal.kind != JournalKind.EXPIRY.value)
        .group_by(Entry.account_id)
    ).all()
    assert policy.months is not None
    for account_id, moment in last_active:
        account = by_id[account_id]
        on = add_months(local_date(moment, timezone), policy.months)
        if on <= at and account.balance > 0:
            found.append((account, on, account.balance))
    found.sort(key=lambda item: (item[1], item[0].id))
    return found


def _lock_chunk(village_id: int, after_id: int, limit: int) -> tuple[int, list[_Account]]:
    """Lock the village's expiry account, then the chunk's household accounts, in id order.

    What is due is read after the locks: a household spending meanwhile either waits
    for the chunk to commit or committed before, and is seen. The expiry account comes
    first (a village's system accounts are older than its households), as a posting
    takes them, so no posting waits in the other order.
    """
    expiry_id = db.session.scalar(
        select(Account.id)
        .where(Account.village_id == village_id, Account.kind == EXPIRY)
        .with_for_update(key_share=True)
    )
    if expiry_id is None:
        raise NotFound(f"The village has no {EXPIRY} account.")
    rows = db.session.execute(
        select(Account.id, Account.household_id, Account.balance)
        .where(Account.village_id == village_id, Account.kind == HOUSEHOLD, Account.id > after_id)
        .order_by(Account.id)
        .limit(limit)
        .with_for_update(key_share=True)
    ).all()
    return expiry_id, [_Account(row.id, row.household_id, row.balance) for row in rows]


def _expire_chunk(
    village_id: int, policy: ExpiryPolicy, at: date, after_id: int, limit: int
) -> tuple[list[Expired], int | None]:
    """Post what is due for the next chunk of households; return it and the last account."""
    expiry_id, accounts = _lock_chunk(village_id, after_id, limit)
    if not accounts:
        return [], None
    owed = due(village_id, policy, at, accounts)
    keys = [business_key(account.household_id, on) for account, on, _ in owed]
    done = set(
        db.session.scalars(
            select(Journal.business_key).where(
                Journal.village_id == village_id, Journal.business_key.in_(keys)
            )
        )
    )
    todo = [(item, key) for item, key in zip(owed, keys, strict=True) if key not in done]
    if todo:
        post_journals(
            village_id,
            JournalKind.EXPIRY,
            [
                NewJournal(
                    [Leg(account.id, expiry_id, points)],
                    f"Points expired on {on.isoformat()}",
                    business_key=key,
                )
                for (account, on, points), key in todo
            ],
        )
    expired = [Expired(account.household_id, on, points) for (account, on, points), _ in todo]
    return expired, accounts[-1].id


def expire(
    village_id: int,
    at: date,
    *,
    chunk: int = CHUNK,
    between_chunks: Callable[[list[Expired]], None] | None = None,
) -> list[Expired]:
    """Post every expiry due on or before a day, one short transaction per chunk.

    Each chunk locks its accounts and reads what is due afresh inside its own
    transaction, so a chunk committed before a crash, or by another copy running at
    the same time, is simply found to owe nothing. Should a chunk still be refused
    (a business key taken, a balance short), it is read and posted again; one
    household never aborts the run.
    """
    policy = policy_in_force(village_id)
    if policy.policy == NONE:
        return []
    expired: list[Expired] = []
    after_id = 0
    while True:
        posted, last = _expire_chunk_again(village_id, policy, at, after_id, chunk)
        if last is None:
            return expired
        expired.extend(posted)
        if between_chunks is not None:
            between_chunks(posted)
        after_id = last


def _expire_chunk_again(
    village_id: int, policy: ExpiryPolicy, at: date, after_id: int, chunk: int
) -> tuple[list[Expired], int | None]:
    """Run a chunk in its own transaction; read it again after a refusal."""
    for attempt in range(5):
        try:
            return run_write(partial(_expire_chunk, village_id, policy, at, after_id, chunk))
        except (IntegrityError, InsufficientPoints) as error:
            if isinstance(error, IntegrityError) and "business_key" not in str(error.orig):
                raise
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def expiring(household_id: int, today: date) -> Expired | None:
    """Return the household's next expiry if it falls within WARNING_DAYS, else None."""
    account = db.session.execute(
        select(Account.id, Account.village_id, Account.balance).where(
            Account.household_id == household_id
        )
    ).one_or_none()
    if account is None or account.balance <= 0:
        return None
    found = expiring_in(account.village_id, today, today.toordinal() + WARNING_DAYS, [household_id])
    return found[0] if found else None


def expiring_by_household(
    village_id: int, today: date, household_ids: list[int]
) -> dict[int, Expired]:
    """Return each listed household's next expiry within WARNING_DAYS, by household id."""
    if not household_ids:
        return {}
    found = expiring_in(village_id, today, today.toordinal() + WARNING_DAYS, household_ids)
    return {item.household_id: item for item in found}


def expiring_in(
    village_id: int, today: date, until: int, household_ids: list[int] | None = None
) -> list[Expired]:
    """Return what will expire from today to a day (an ordinal), nearest first per household.

    Dates already passed but not yet posted count as due today.
    """
    policy = policy_in_force(village_id)
    if policy.policy == NONE:
        return []
    horizon = date.fromordinal(until)
    query = (
        select(Account.id, Account.household_id, Account.balance)
        .where(Account.village_id == village_id, Account.kind == HOUSEHOLD, Account.balance > 0)
        .order_by(Account.id)
    )
    if household_ids is not None:
        query = query.where(Account.household_id.in_(household_ids))
    found: list[Expired] = []
    rows = db.session.execute(query).all()
    for start in range(0, len(rows), CHUNK):
        accounts = [_Account(r.id, r.household_id, r.balance) for r in rows[start:][:CHUNK]]
        seen: set[int] = set()
        for account, on, points in due(village_id, policy, horizon, accounts):
            if account.id in seen:
                continue
            seen.add(account.id)
            found.append(Expired(account.household_id, max(on, today), points))
    return found


def expiry_problems(
    connection: Connection, village_id: int | None
) -> list[tuple[int, str, int, int]]:
    """Return (journal, what is wrong, expected, actual points) for each expiry not due.

    Each expiry is checked against the policy in force when it was posted and the
    household's entries before it (by version, so backdated postings cannot blur it).
    """
    query = (
        select(
            Journal.id,
            Journal.village_id,
            Journal.business_key,
            Journal.created_at,
            Transfer.amount,
            Transfer.debit_account_id,
            Entry.version,
        )
        .join(Transfer, Transfer.journal_id == Journal.id)
        .join(
            Entry,
            and_(Entry.transfer_id == Transfer.id, Entry.account_id == Transfer.debit_account_id),
        )
        .where(Journal.kind == JournalKind.EXPIRY.value, Journal.reverses_id.is_(None))
        .order_by(Journal.id)
    )
    if village_id is not None:
        query = query.where(Journal.village_id == village_id)
    expiries = connection.execute(query).all()
    if not expiries:
        return []
    village_ids = {e.village_id for e in expiries}
    zones = village_zones(village_ids, connection)
    rules: dict[int, list[tuple[datetime, ExpiryPolicy]]] = defaultdict(list)
    for vid, created_at, stored in connection.execute(
        select(RuleSet.village_id, RuleSet.created_at, RuleSet.expiry)
        .where(RuleSet.village_id.in_(village_ids))
        .order_by(RuleSet.version)
    ):
        rules[vid].append((created_at, parse_policy(stored)))
    problems = []
    for journal_id, vid, key, created_at, amount, account_id, version in expiries:
        policy = NO_EXPIRY
        for since, candidate in rules[vid]:
            if since <= created_at:
                policy = candidate
        try:
            on = date.fromisoformat((key or "").rsplit(":", 1)[1])
        except (IndexError, ValueError):
            problems.append((journal_id, "has no expiry date in its key", 0, amount))
            continue
        before = connection.execute(
            select(Entry.delta, Entry.created_at, Entry.balance_after, Journal.kind)
            .join(Journal, Journal.id == Entry.journal_id)
            .where(Entry.account_id == account_id, Entry.version < version)
            .order_by(Entry.version)
        ).all()
        timezone = zones[vid]
        expected = 0
        if policy.policy == END_OF_NEXT_YEAR and on.month == on.day == 1:
            cut = day_start(timezone, date(on.year - 1, 1, 1))
            earned = sum(e.delta for e in before if e.delta > 0 and e.created_at < cut)
            taken = sum(-e.delta for e in before if e.delta < 0)
            expected = left_of_earned(earned, taken)
        elif policy.policy == IDLE_MONTHS and policy.months is not None:
            active = [e.created_at for e in before if e.kind != JournalKind.EXPIRY.value]
            if active and add_months(local_date(max(active), timezone), policy.months) == on:
                expected = before[-1].balance_after
        if expected != amount:
            problems.append((journal_id, f"expired {amount} points on {on}", expected, amount))
    return problems


def verify_expiries(village_id: int | None = None) -> list[Problem]:
    """Each expiry journal moved exactly what the policy in force said was due."""
    with snapshot_connection() as connection:
        return [
            Problem(
                "expiry",
                f"transaction {journal_id} {detail}, the policy says {expected}",
                {"transaction_id": journal_id},
                expected=expected,
                actual=actual,
            )
            for journal_id, detail, expected, actual in expiry_problems(connection, village_id)
        ]


def expired_between(village_id: int, start: datetime, end: datetime) -> int:
    """Return the points expiries posted in [start, end) took from households (net of reversals)."""
    reversal = aliased(Journal)
    value = db.session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0))
        .select_from(Journal)
        .join(Transfer, Transfer.journal_id == Journal.id)
        .outerjoin(reversal, reversal.reverses_id == Journal.id)
        .where(
            Journal.village_id == village_id,
            Journal.kind == JournalKind.EXPIRY.value,
            Journal.created_at >= start,
            Journal.created_at < end,
            reversal.id.is_(None),
        )
    )
    return int(value or 0)
