"""How a grade is decided: one path for a grade sent alone and for a phone's queue.

A grade sent alone (POST /api/v1/inspections, the /inspect page, and
services.inspect_household()) is decided as a queue of one; a queue (POST
/api/v1/inspections/batch) item by item, in order, as if each came alone. Either
way, batch.credit_queue() runs these steps, then writes the credits at once:

1. refuse_moments(): each grade's inspected_at within bounds, before any read the
   grades share (a moment with no UTC form would fail that read for all of them);
2. read_facts(): the households named, with their points accounts locked, so that
   no other credit for them is decided until this one commits; the village's time
   zone and issuance account; the version of the village's rules in force when the
   grades were recorded (every version only for a grade given before that one);
3. find(): each grade's household (its card as it stood when the grade was given),
   whether this inspector may grade it, its village day and the rules then;
4. read_slots() and take_slot(): in order, the slot of the day each grade takes
   under the daily limit, counting the grades before it.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import load_only

from app.auth.models import User
from app.db import OneOf, db, utcnow
from app.errors import (
    AlreadyInspectedToday,
    ConflictOfInterest,
    DomainError,
    HouseholdInactive,
    InvalidQr,
    MovedOut,
    NotFound,
    RevokedQr,
    TooLate,
    ValidationFailed,
)
from app.households.cards import household_by_ref, read_token
from app.households.models import CardReissue, Household
from app.inspections.models import Inspection
from app.ledger.models import ISSUANCE, Account, village_system_account
from app.rules.services import (
    RULE_LABELS,
    RULES_IN_FORCE,
    Grade,
    Rules,
    rule_sets,
    rules_from_labelled,
    rules_history,
)
from app.scope import local_date, zone
from app.villages.models import Village

inspections = cast(Table, Inspection.__table__)
accounts = cast(Table, Account.__table__)
villages = cast(Table, Village.__table__)
card_reissues = cast(Table, CardReissue.__table__)

# How far a grade given offline may be from the server's clock.
FUTURE_TOLERANCE = timedelta(minutes=5)
OFFLINE_LIMIT = timedelta(hours=72)

# The columns of a household a credit decides on and answers with; the others load
# if something asks for them.
_DECIDED_ON = (
    Household.village_id,
    Household.grid_id,
    Household.code,
    Household.status,
    Household.card_version,
    Household.moved_out_on,
)
# The village's households named, each with its points account (locked, in id
# order so that two queues never wait on each other), the village's time zone, its
# issuance account and the version of its rules in force at the moment (the same on
# every row; a statement of its own cost a round trip and an ORM load per credit).
_HOUSEHOLDS_AND_ACCOUNTS = (
    select(
        Household,
        accounts.c.id,
        accounts.c.balance,
        villages.c.timezone,
        village_system_account(ISSUANCE, "issuance_id"),
        *RULE_LABELS,
    )
    .options(load_only(*_DECIDED_ON))
    .join(accounts, accounts.c.household_id == Household.id)
    .join(villages, villages.c.id == Household.village_id)
    .outerjoin(rule_sets, rule_sets.c.id == RULES_IN_FORCE)
    .where(
        Household.village_id == bindparam("village_id"),
        OneOf(Household.id, "households"),
    )
    .order_by(accounts.c.id)
    # FOR NO KEY UPDATE, as the ledger locks; the household rows too, so that a merge or
    # a move out (app/households/changes.py locks them FOR UPDATE) is seen, never raced.
    .with_for_update(of=(Household.__table__, accounts), key_share=True)
)
# When a card version was retired by a reissue.
_CARD_RETIRED_AT = select(card_reissues.c.created_at).where(
    card_reissues.c.household_id == bindparam("household_id"),
    card_reissues.c.old_version == bindparam("version"),
)

# For each household and day asked: how many inspections count, and the highest slot.
# Every household's every day asked, as two lists: one statement text for any queue
# (OneOf); read_slots() leaves out the pairs not asked for.
_SLOTS = (
    select(
        inspections.c.household_id,
        inspections.c.local_date,
        func.count(inspections.c.id).filter(inspections.c.voided_at.is_(None)),
        func.max(inspections.c.slot),
    )
    .where(
        OneOf(inspections.c.household_id, "households"),
        OneOf(inspections.c.local_date, "days"),
    )
    .group_by(inspections.c.household_id, inspections.c.local_date)
)


@dataclass
class CreditFacts:
    """What the grades of one village are decided on, read at once (read_facts())."""

    village_id: int
    recorded_at: datetime
    zone: ZoneInfo
    issuance_id: int | None
    # The households read, held here so that the session keeps them (it holds them
    # weakly) and household_by_ref() finds them without reading again.
    households: tuple[Household, ...]
    # Household id -> its points account's id and balance, as read under the lock.
    accounts: dict[int, tuple[int, int]]
    in_force: Rules | None  # the version in force at recorded_at
    # Every version, newest first: read only for a grade given before in_force was made.
    versions: tuple[Rules, ...] | None = None

    def rules_at(self, moment: datetime) -> Rules | None:
        """The rules in force at the moment: the newest made by then, else the first."""
        known = self.in_force
        if known is None:
            return None
        if moment <= self.recorded_at and (known.created_at <= moment or known.version == 1):
            return known  # no version made between moment and recorded_at
        if self.versions is None:
            self.versions = tuple(rules_history(self.village_id))
        for rules in self.versions:
            if rules.created_at <= moment or rules.version == 1:
                return rules
        return None


@dataclass
class CreditDecision:
    """A grade decided and not yet written: what it credits, to whom, on which day."""

    household: Household
    account: int
    rules: Rules
    day: date
    moment: datetime  # when the grade was given
    grade: str
    note: str | None
    chosen: Grade | None = None
    slot: int = 0


def check_inspected_at(inspected_at: datetime, now: datetime | None = None) -> datetime:
    """Return when a grade was given, refusing a moment ahead of the clock or too old."""
    now = now or utcnow()
    if inspected_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed(
            "inspected_at is in the future.",
            errors={"inspected_at": ["More than 5 minutes ahead of the server's clock."]},
        )
    if inspected_at < now - OFFLINE_LIMIT:
        raise TooLate(
            "This grade was given more than 72 hours ago; the queue kept it too long. "
            "Record it again by hand if it still counts."
        )
    return inspected_at


def refuse_moments(asked: Sequence[dict], now: datetime) -> list[DomainError | None]:
    """For each grade asked: the refusal of its inspected_at, or None."""
    refusals: list[DomainError | None] = []
    for data in asked:
        try:
            if data.get("inspected_at") is not None:
                check_inspected_at(data["inspected_at"], now)
            refusals.append(None)
        except DomainError as error:
            refusals.append(error)
    return refusals


def named_ids(asked: Sequence[dict]) -> set[int]:
    """The households the grades name, by id or by a card that reads (checked later)."""
    ids = set()
    for data in asked:
        if data.get("payload") is None:
            ids.add(data["household_id"])
            continue
        try:
            ids.add(read_token(data["payload"])[1])
        except InvalidQr:
            pass
    return ids


def read_facts(
    village_id: int, household_ids: Collection[int], recorded_at: datetime
) -> CreditFacts:
    """Read what grades of the village's households are decided on: one read.

    The households come into the session with their points accounts, locked until
    the transaction ends, and the rules in force at recorded_at with them.
    """
    rows = (
        db.session.execute(
            _HOUSEHOLDS_AND_ACCOUNTS,
            {"village_id": village_id, "households": list(household_ids), "moment": recorded_at},
        ).all()
        if household_ids
        else []
    )
    if not rows:
        return CreditFacts(village_id, recorded_at, zone(None), None, (), {}, None)
    return CreditFacts(
        village_id,
        recorded_at,
        zone(rows[0].timezone),
        rows[0].issuance_id,
        tuple(row[0] for row in rows),
        {row[0].id: (row[1], row[2]) for row in rows},
        rules_from_labelled(rows[0]),
    )


def household_named(village_id: int, data: dict) -> Household:
    """The household a grade names, its card as it stood when the grade was given.

    A card replaced after inspected_at still counts: it was valid when the grade
    was given. One replaced before it answers revoked_qr.
    """
    moment = data.get("inspected_at")
    try:
        return household_by_ref(village_id, data)
    except RevokedQr:
        if moment is None:
            raise
        _village, household_id, version = read_token(data["payload"])
        retired = (
            db.session.connection()
            .execute(_CARD_RETIRED_AT, {"household_id": household_id, "version": version})
            .scalar_one_or_none()
        )
        if retired is None or retired <= moment:
            raise
        household = db.session.get(Household, household_id)
        if household is None:  # pragma: no cover - resolve_card found it a moment ago
            raise
        return household


def check_inspectable(household: Household, inspector: User, day: date | None = None) -> None:
    """Refuse a grade this inspector may not give this household, whatever the rules.

    A household that moved out gets no grade from the day it left (409 moved_out); one
    given offline on a day before still counts.
    """
    if household.village_id != inspector.village_id:
        raise NotFound("No such household.")
    if inspector.household_id == household.id:
        raise ConflictOfInterest("You may not inspect your own household.")
    if household.status == "moved_out":
        left = household.moved_out_on
        if day is None or left is None or day >= left:
            raise MovedOut("This household has moved out of the village.")
        return
    if household.status != "active":
        raise HouseholdInactive("This household has moved away.")


def find(
    inspector: User, data: dict, facts: CreditFacts, recorded_at: datetime, at: datetime | None
) -> CreditDecision:
    """Find a grade's household, day and rules, or refuse it.

    The day is that of inspected_at (else at, else recorded_at); the rules those in
    force at inspected_at (else recorded_at): at backdates a grade under today's
    rules (demo data, paper records).
    """
    household = household_named(cast(int, inspector.village_id), data)
    inspected_at = data.get("inspected_at")
    check_inspectable(
        household, inspector, local_date(inspected_at or at or recorded_at, facts.zone)
    )
    rules = facts.rules_at(inspected_at or recorded_at)
    if rules is None:
        raise NotFound("The village has no rules yet.")
    if household.id not in facts.accounts:  # pragma: no cover - every household has one
        raise NotFound("No such household.")
    moment = inspected_at or at or recorded_at
    return CreditDecision(
        household,
        facts.accounts[household.id][0],
        rules,
        local_date(moment, facts.zone),
        moment,
        data["grade"],
        data.get("note"),
    )


def read_slots(
    decisions: Collection[CreditDecision],
) -> dict[tuple[int, date], tuple[int, int]]:
    """For each decision's household and day: how many inspections count, and the highest slot.

    Read after read_facts() locked the households' accounts: no other credit for
    them can add an inspection until this transaction ends.
    """
    pairs = {(d.household.id, d.day) for d in decisions}
    if not pairs:
        return {}
    rows = db.session.connection().execute(
        _SLOTS,
        {"households": list({h for h, _ in pairs}), "days": list({d for _, d in pairs})},
    )
    found = {(row[0], row[1]): (row[2], row[3]) for row in rows}
    return {pair: found.get(pair, (0, 0)) for pair in pairs}


def choose_slot(rules: Rules, grade: str, counted: int, highest: int) -> tuple[Grade, int]:
    """Return the grade under the rules and the day's slot it takes, or refuse it.

    counted is how many of the household's inspections of the day count, highest the
    highest slot taken (voided ones included).
    """
    chosen = rules.grade(grade)
    if counted >= rules.daily_limit:
        raise AlreadyInspectedToday(
            f"This household was already inspected today ({rules.daily_limit} a day)."
        )
    return chosen, highest + 1


def take_slot(decision: CreditDecision, slots: dict[tuple[int, date], tuple[int, int]]) -> None:
    """Take the decision's slot of its day by its rules, counting the grades before it."""
    pair = (decision.household.id, decision.day)
    counted, highest = slots[pair]
    decision.chosen, decision.slot = choose_slot(decision.rules, decision.grade, counted, highest)
    slots[pair] = (counted + 1, decision.slot)


def credit_memo(chosen: Grade) -> str:
    """What a credit's journal says: the grade's name and letter."""
    return f"{chosen.label} ({chosen.grade})"
