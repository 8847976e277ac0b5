"""Points that expire: the village's policy, spent oldest first, posted exactly once.

No lots are kept. Points are spent oldest first, so what is left of the points a
household earned up to a moment is

    left = max(0, earned up to that moment - everything spent or expired since the start)

(tests/test_expiry_model.py proves it against a lot-by-lot model). "Earned" is every
entry that gave the household points, "taken" every entry that took some: a voided
inspection or a cancelled redemption counts as such, not as the lot it undoes.

Policies (kept in the rules, versioned with them):
- `end_of_next_year`: points earned in year Y expire on 1 January of Y + 2, village
  time ("2026 年获得的积分在 2027 年 12 月 31 日后清零").
- `idle_months`: the whole balance expires N months after the household's last credit
  or redemption (its last entry that is not an expiry).

`expire()` posts one journal of kind `expiry` per household per expiry date, keyed
"expiry:<household>:<date>" (unique per village), in chunks of households, each chunk
its own short transaction: a second run, or two at once, or a run after a crash,
posts only what is still due.
"""

import calendar
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

import click
from sqlalchemy import Connection, Table, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.db import db, run_write, utcnow
from app.errors import ValidationFailed
from app.households.models import Household
from app.ledger.models import EXPIRY, HOUSEHOLD, Account, Entry, Journal, JournalKind, Transfer
from app.scope import day_start, local_date, zone
from app.villages.models import Village

NONE = "none"
END_OF_NEXT_YEAR = "end_of_next_year"
IDLE_MONTHS = "idle_months"
POLICIES = (NONE, END_OF_NEXT_YEAR, IDLE_MONTHS)
MAX_IDLE_MONTHS = 120
# Households are warned this many days before their points expire.
WARNING_DAYS = 60
CHUNK = 500


@dataclass(frozen=True)
class ExpiryPolicy:
    """How a village's points expire: never, at the end of the next year, or when idle."""

    policy: str = NONE
    months: int | None = None

    def to_dict(self) -> dict:
        """Return the policy as the rules' JSON shows it."""
        if self.policy == IDLE_MONTHS:
            return {"policy": self.policy, "months": self.months}
        return {"policy": self.policy}


NO_EXPIRY = ExpiryPolicy()


def make_policy(policy: str = NONE, months: int | None = None) -> ExpiryPolicy:
    """Return a checked policy; months only (and always) for idle_months."""
    if policy not in POLICIES:
        raise ValidationFailed(
            f"The expiry policy is one of {', '.join(POLICIES)}.",
            errors={"expiry": [f"One of: {', '.join(POLICIES)}."]},
        )
    if policy != IDLE_MONTHS:
        return ExpiryPolicy(policy)
    if not isinstance(months, int) or not 1 <= months <= MAX_IDLE_MONTHS:
        raise ValidationFailed(
            f"Idle months are 1 to {MAX_IDLE_MONTHS}.",
            errors={"expiry": [f"months: 1 to {MAX_IDLE_MONTHS}."]},
        )
    return ExpiryPolicy(policy, months)


def parse_policy(stored: str | None) -> ExpiryPolicy:
    """Return the policy stored in a rules version (none when the column is empty)."""
    if not stored:
        return NO_EXPIRY
    data = json.loads(stored)
    return ExpiryPolicy(data.get("policy", NONE), data.get("months"))


def dump_policy(policy: ExpiryPolicy) -> str | None:
    """Return the policy as stored in a rules version."""
    return None if policy.policy == NONE else json.dumps(policy.to_dict())


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
    code: str
    on: date
    points: int


# What the aggregates of one chunk say about each household account.
@dataclass
class _Account:
    id: int
    household_id: int
    code: str
    balance: int
    taken: int = 0


def _rule_sets() -> Table:
    """The rules' table, read by name: the inspections package sits above the ledger,
    which imports no feature (tests/test_verify.py)."""
    return db.metadata.tables["rule_sets"]


def policy_in_force(village_id: int, moment: datetime | None = None) -> ExpiryPolicy:
    """Return the village's expiry policy in the rules in force at a moment (now)."""
    rule_sets = _rule_sets()
    query = select(rule_sets.c.expiry).where(rule_sets.c.village_id == village_id)
    if moment is not None:
        query = query.where(rule_sets.c.created_at <= moment)
    stored = db.session.scalar(query.order_by(rule_sets.c.version.desc()).limit(1))
    return parse_policy(stored)


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
    timezone = zone(db.session.scalar(select(Village.timezone).where(Village.id == village_id)))
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


def _accounts(village_id: int, after_id: int, limit: int) -> list[_Account]:
    rows = db.session.execute(
        select(Account.id, Account.household_id, Household.code, Account.balance)
        .join(Household, Household.id == Account.household_id)
        .where(Account.village_id == village_id, Account.kind == HOUSEHOLD, Account.id > after_id)
        .order_by(Account.id)
        .limit(limit)
    ).all()
    return [_Account(row.id, row.household_id, row.code, row.balance) for row in rows]


def _expire_chunk(
    village_id: int, policy: ExpiryPolicy, at: date, after_id: int, limit: int
) -> tuple[list[Expired], int | None]:
    """Post what is due for the next chunk of households; return it and the last account."""
    from app.ledger.services import Leg, post, system_account_id  # services imports verify

    accounts = _accounts(village_id, after_id, limit)
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
    expired = []
    expiry_account = system_account_id(village_id, EXPIRY) if owed else 0
    for (account, on, points), key in zip(owed, keys, strict=True):
        if key in done:
            continue
        post(
            village_id,
            JournalKind.EXPIRY,
            [Leg(account.id, expiry_account, points)],
            memo=f"Points expired on {on.isoformat()}",
            business_key=key,
        )
        expired.append(Expired(account.household_id, account.code, on, points))
    return expired, accounts[-1].id


def expire(
    village_id: int,
    at: date,
    *,
    chunk: int = CHUNK,
    between_chunks: Callable[[list[Expired]], None] | None = None,
) -> list[Expired]:
    """Post every expiry due on or before a day, one short transaction per chunk.

    Each chunk reads what is due afresh inside its own transaction, so a chunk
    committed before a crash, or by another copy running at the same time, is
    simply found to owe nothing. A copy that loses the race for a business key
    retries its chunk, which then skips what the other posted.
    """
    policy = policy_in_force(village_id)
    if policy.policy == NONE:
        return []
    expired: list[Expired] = []
    after_id = 0
    while True:
        for attempt in range(5):
            try:
                posted, last = run_write(
                    partial(_expire_chunk, village_id, policy, at, after_id, chunk)
                )
                break
            except IntegrityError as error:
                if "business_key" not in str(error.orig) or attempt == 4:
                    raise
        if last is None:
            return expired
        expired.extend(posted)
        if between_chunks is not None:
            between_chunks(posted)
        after_id = last


def expiring(household_id: int, today: date) -> Expired | None:
    """Return the household's next expiry if it falls within WARNING_DAYS, else None."""
    account = db.session.execute(
        select(Account.id, Account.village_id, Account.balance, Household.code)
        .join(Household, Household.id == Account.household_id)
        .where(Account.household_id == household_id)
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
        select(Account.id, Account.household_id, Household.code, Account.balance)
        .join(Household, Household.id == Account.household_id)
        .where(Account.village_id == village_id, Account.kind == HOUSEHOLD, Account.balance > 0)
        .order_by(Account.id)
    )
    if household_ids is not None:
        query = query.where(Account.household_id.in_(household_ids))
    found: list[Expired] = []
    rows = db.session.execute(query).all()
    for start in range(0, len(rows), CHUNK):
        accounts = [_Account(r.id, r.household_id, r.code, r.balance) for r in rows[start:][:CHUNK]]
        seen: set[int] = set()
        for account, on, points in due(village_id, policy, horizon, accounts):
            if account.id in seen:
                continue
            seen.add(account.id)
            found.append(Expired(account.household_id, account.code, max(on, today), points))
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
            Village.timezone,
        )
        .join(Transfer, Transfer.journal_id == Journal.id)
        .join(
            Entry,
            and_(Entry.transfer_id == Transfer.id, Entry.account_id == Transfer.debit_account_id),
        )
        .join(Village, Village.id == Journal.village_id)
        .where(Journal.kind == JournalKind.EXPIRY.value, Journal.reverses_id.is_(None))
        .order_by(Journal.id)
    )
    if village_id is not None:
        query = query.where(Journal.village_id == village_id)
    expiries = connection.execute(query).all()
    if not expiries:
        return []
    rules: dict[int, list[tuple[datetime, ExpiryPolicy]]] = defaultdict(list)
    rule_sets = _rule_sets()
    for vid, created_at, stored in connection.execute(
        select(rule_sets.c.village_id, rule_sets.c.created_at, rule_sets.c.expiry)
        .where(rule_sets.c.village_id.in_({e.village_id for e in expiries}))
        .order_by(rule_sets.c.version)
    ):
        rules[vid].append((created_at, parse_policy(stored)))
    problems = []
    for journal_id, vid, key, created_at, amount, account_id, version, tz in expiries:
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
        timezone = zone(tz)
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


@click.command("expire")
@click.option("--village", "village_code", help="One village only (its code); default every one.")
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Post what is due on or before this day (YYYY-MM-DD); default today, village time.",
)
def expire_command(village_code: str | None, at: datetime | None) -> None:
    """Post every expiry due on or before the day; running it again posts nothing new."""
    from app.villages.services import village_by_code

    if village_code:
        village_ids = [village_by_code(village_code).id]
    else:
        village_ids = list(db.session.scalars(select(Village.id).order_by(Village.id)))
    db.session.rollback()
    expired: list[Expired] = []
    for village_id in village_ids:
        timezone = zone(db.session.scalar(select(Village.timezone).where(Village.id == village_id)))
        day = at.date() if at else local_date(utcnow(), timezone)
        db.session.rollback()
        expired.extend(expire(village_id, day, between_chunks=print_expired_lines))
    click.echo(
        f"expired {sum(item.points for item in expired)} points "
        f"from {len({item.household_id for item in expired})} households"
    )
    sys.stdout.flush()


def print_expired_lines(expired: list[Expired]) -> None:
    """Print a chunk's expiries as soon as they are committed."""
    for item in expired:
        click.echo(f"{item.code}\t{item.on.isoformat()}\t{item.points}")


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
