"""Grading and crediting: recording an inspection by the rules, voiding it."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, func, or_, select, text, update
from sqlalchemy.orm import load_only

from app.audit.services import INSPECTION_VOIDED, record
from app.auth.models import User
from app.db import OneOf, adopt, db, insert_or_skip, utcnow
from app.errors import (
    AlreadyInspectedToday,
    AlreadyReversed,
    ConflictOfInterest,
    HouseholdInactive,
    NotFound,
    RevokedQr,
    TooLate,
    ValidationFailed,
)
from app.households.cards import household_by_ref, read_token
from app.households.models import CardReissue, Household
from app.inspections.models import Inspection
from app.ledger.models import ISSUANCE, Account
from app.ledger.services import Leg, household_balance, post, posting_accounts, reverse
from app.ledger.verify import Problem
from app.rules.models import RuleSet
from app.rules.services import (
    RULE_COLUMNS,
    RULES_AND_TIMEZONE,
    RULES_IN_FORCE,
    Grade,
    Rules,
    rules_from_row,
    rules_in_force,
)
from app.scope import local_date, village_today, zone
from app.types import UTCDateTime
from app.villages.models import Village

inspections = cast(Table, Inspection.__table__)
rule_sets = cast(Table, RuleSet.__table__)
villages = cast(Table, Village.__table__)
card_reissues = cast(Table, CardReissue.__table__)

# Statements of the hot path, built once (see app/ledger/services.py).
# How many of the household's inspections of the day count, and the highest slot taken.
_COUNTED = (
    select(func.count(inspections.c.id))
    .where(
        inspections.c.household_id == bindparam("household_id"),
        inspections.c.local_date == bindparam("day"),
        inspections.c.voided_at.is_(None),
    )
    .scalar_subquery()
    .label("counted")
)
_HIGHEST = (
    select(func.coalesce(func.max(inspections.c.slot), 0))
    .where(
        inspections.c.household_id == bindparam("household_id"),
        inspections.c.local_date == bindparam("day"),
    )
    .scalar_subquery()
    .label("highest")
)
# The rules in force with the household's inspections of the day, in one read, when
# the day is known before the rules (the caller read the village's time zone).
_RULES_AND_SLOTS = RULES_AND_TIMEZONE.add_columns(_COUNTED, _HIGHEST)
# The reissue that retired a card version, and when.
_CARD_RETIRED_AT = select(card_reissues.c.created_at).where(
    card_reissues.c.household_id == bindparam("household_id"),
    card_reissues.c.old_version == bindparam("version"),
)

# What a credit decides on, in one read: the household, its points account and the
# village's issuance account, the rules in force at a moment and the household's
# inspections of that moment's day. The day comes from the village's time zone as
# last read (_ZONES); the read returns the zone, so a guess that was wrong is caught
# and the day's inspections read again.
_ledger_accounts = cast(Table, Account.__table__)
_issuance = _ledger_accounts.alias("issuance")
_ISSUANCE_ID = (
    select(_issuance.c.id)
    .where(
        _issuance.c.village_id == bindparam("village_id"),
        _issuance.c.household_id.is_(None),
        _issuance.c.kind == ISSUANCE,
    )
    .scalar_subquery()
    .label("issuance_id")
)
_DOOR = (
    select(
        Household,
        villages.c.timezone,
        _ledger_accounts.c.id.label("account_id"),
        _ISSUANCE_ID,
        *RULE_COLUMNS,
        _COUNTED,
        _HIGHEST,
    )
    .join(villages, villages.c.id == Household.village_id)
    .join(_ledger_accounts, _ledger_accounts.c.household_id == Household.id)
    .outerjoin(rule_sets, rule_sets.c.id == RULES_IN_FORCE)
    .where(Household.id == bindparam("household_id"))
)
# For a queue of credits (read_round(), slots_of()): the village's time zone and issuance
# account; the versions of its rules that may be in force from a moment on (the one in
# force then and any made since), newest first; the slots of many households and days
# (SQLite; PostgreSQL reads them with _SLOTS_OF_PG).
_VILLAGE_ISSUANCE = select(villages.c.timezone, _ISSUANCE_ID).where(
    villages.c.id == bindparam("village_id")
)
_VERSIONS_SINCE = (
    select(*RULE_COLUMNS)
    .where(
        rule_sets.c.village_id == bindparam("village_id"),
        or_(
            rule_sets.c.created_at > bindparam("moment", type_=UTCDateTime()),
            rule_sets.c.id == RULES_IN_FORCE,
        ),
    )
    .order_by(rule_sets.c.version.desc())
)
_SLOTS_OF = (
    select(
        inspections.c.household_id,
        inspections.c.local_date,
        func.count(inspections.c.id).filter(inspections.c.voided_at.is_(None)).label("counted"),
        func.max(inspections.c.slot).label("highest"),
    )
    .where(
        inspections.c.household_id.in_(bindparam("households", expanding=True)),
        inspections.c.local_date.in_(bindparam("days", expanding=True)),
    )
    .group_by(inspections.c.household_id, inspections.c.local_date)
)
# The same on PostgreSQL, one household at a time: the planner's statistics never know
# today's inspections (the newest day is past the histogram until the next ANALYZE), so
# the plain form was planned on the village's day index and read every inspection of
# the village's day for each queue; this one reads the household's own index entries.
_SLOTS_OF_PG = text(
    """
    SELECT h.id AS household_id, s.local_date, s.counted, s.highest
    FROM unnest(CAST(:households AS integer[])) AS h (id)
    CROSS JOIN LATERAL (
        SELECT local_date, count(id) FILTER (WHERE voided_at IS NULL) AS counted,
               max(slot) AS highest
        FROM inspections
        WHERE household_id = h.id AND local_date = ANY(CAST(:days AS date[]))
        GROUP BY local_date
    ) AS s
    """
)
# Each village's time zone as last read: village id -> zone name.
_ZONES: dict[int, str | None] = {}


# How far an inspection recorded offline may be from the server's clock.
FUTURE_TOLERANCE = timedelta(minutes=5)
OFFLINE_LIMIT = timedelta(hours=72)


def count_today(household: Household) -> int:
    """Return how many inspections the household had today (the village's date)."""
    return _count_on(household.id, village_today(household.village_id))


def _count_on(household_id: int, day: date) -> int:
    return _slots_on(household_id, day)[0]


def _slots_on(household_id: int, day: date) -> tuple[int, int]:
    """Return how many inspections count on the day, and the highest slot taken."""
    return slots_of({(household_id, day)})[(household_id, day)]


def _rules_and_today(village_id: int, moment: datetime, rules_at: datetime) -> tuple[Rules, date]:
    """Return the rules in force at rules_at and the village's date at moment, in one query."""
    row = rules_in_force(village_id, rules_at)
    return rules_from_row(row), local_date(moment, zone(row.timezone))


def check_inspected_at(inspected_at: datetime, now: datetime | None = None) -> datetime:
    """Return when a grade was given, refusing a moment older than an offline queue may wait.

    The schema refuses moments ahead of the server's clock (validation_error).
    """
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


@dataclass(frozen=True)
class Decided:
    """What a credit decides on, read with the household: the rules and the day's slots."""

    recorded_at: datetime
    inspected_at: datetime | None
    rules: Rules | None  # None: the village has no rules
    day: date
    counted: int
    highest: int


@dataclass(frozen=True)
class Door:
    """A household as a credit needs it: its village's time zone, its two accounts, and
    the rules and the day's inspections it is decided on."""

    household: Household
    zone: ZoneInfo
    accounts: tuple[int, int] | None
    decided: Decided


def household_and_accounts(
    village_id: int, household_id: int, inspected_at: datetime | None = None
) -> Door:
    """Return a household of the village with what a credit decides on, in one read.

    That is its time zone and accounts, the rules in force at inspected_at (default:
    now) and the household's inspections of that day.
    """
    recorded_at = utcnow()
    moment = inspected_at or recorded_at
    guessed = local_date(moment, zone(_ZONES.get(village_id)))
    row = db.session.execute(
        _DOOR,
        {"village_id": village_id, "household_id": household_id, "moment": moment, "day": guessed},
    ).one_or_none()
    if row is None or row[0].village_id != village_id:
        raise NotFound("No such household.")
    household, counted, highest = row[0], row.counted, row.highest
    _ZONES[village_id] = row.timezone
    village_zone = zone(row.timezone)
    day = local_date(moment, village_zone)
    if day != guessed:  # the village's zone was not known, or changed
        counted, highest = _slots_on(household_id, day)
    rules = rules_from_row(row) if row.id is not None else None
    accounts = (row.account_id, row.issuance_id) if row.issuance_id is not None else None
    decided = Decided(recorded_at, inspected_at, rules, day, counted, highest)
    return Door(household, village_zone, accounts, decided)


def household_at(village_id: int, ref: dict, moment: datetime) -> Household:
    """Return the household an inspection names, as its card stood at the moment.

    A card replaced after the moment still counts: it was valid when the grade
    was given. One replaced before it answers revoked_qr.
    """
    try:
        return household_by_ref(village_id, ref)
    except RevokedQr:
        _village, household_id, version = read_token(ref["payload"])
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


@dataclass(frozen=True)
class Round:
    """What a queue of credits in one village decides on, read at once (see read_round())."""

    zone: ZoneInfo
    issuance_id: int | None
    # The households read, held here so the session keeps them (it holds them weakly).
    households: tuple[Household, ...]
    # Household id -> its points account's id and balance, as read.
    accounts: dict[int, tuple[int, int]]
    versions: tuple[Rules, ...]  # the rules that may be in force, newest first

    def rules_at(self, moment: datetime) -> Rules | None:
        """The rules in force at the moment (as RULES_IN_FORCE chooses them)."""
        for rules in self.versions:
            if rules.created_at <= moment or rules.version == 1:
                return rules
        return None


# The columns of a household a credit decides on and answers with; the others load
# if something asks for them.
_DECIDED_ON = (
    Household.village_id,
    Household.grid_id,
    Household.code,
    Household.status,
    Household.card_version,
)


_ROUND_HOUSEHOLDS = (
    select(Household, _ledger_accounts.c.id, _ledger_accounts.c.balance)
    .options(load_only(*_DECIDED_ON))
    .join(_ledger_accounts, _ledger_accounts.c.household_id == Household.id)
    .where(OneOf(Household.id, "households"))
)


def read_round(village_id: int, household_ids: Collection[int], since: datetime) -> Round:
    """Read what credits in a village from the moment since decide on, in three reads.

    The households come into the session, so household_by_ref() and resolve_card()
    find them without reading again; with them their accounts. Then the village's
    time zone and issuance account, and the versions of its rules that may be in
    force from since on.
    """
    rows = (
        db.session.execute(_ROUND_HOUSEHOLDS, {"households": list(household_ids)}).all()
        if household_ids
        else []
    )
    village = (
        db.session.connection().execute(_VILLAGE_ISSUANCE, {"village_id": village_id}).one_or_none()
    )
    if village is None:  # pragma: no cover - the caller's own village
        raise NotFound("No such village.")
    versions = db.session.connection().execute(
        _VERSIONS_SINCE, {"village_id": village_id, "moment": since}
    )
    return Round(
        zone(village.timezone),
        village.issuance_id,
        tuple(row[0] for row in rows),
        {row[0].id: (row.id, row.balance) for row in rows},
        tuple(rules_from_row(row) for row in versions),
    )


def slots_of(pairs: Collection[tuple[int, date]]) -> dict[tuple[int, date], tuple[int, int]]:
    """For (household id, day) pairs: how many inspections count, and the highest slot."""
    if not pairs:
        return {}
    connection = db.session.connection()
    rows = connection.execute(
        _SLOTS_OF_PG if connection.dialect.name == "postgresql" else _SLOTS_OF,
        {"households": list({h for h, _ in pairs}), "days": list({d for _, d in pairs})},
    )
    found = {(row.household_id, row.local_date): (row.counted, row.highest) for row in rows}
    return {pair: found.get(pair, (0, 0)) for pair in pairs}


@dataclass(frozen=True)
class InspectionResult:
    """An inspection as its answer shows it: with the household's code and balance."""

    inspection: Inspection
    household_code: str | None
    balance: int

    @property
    def has_photo(self) -> bool:
        return self.inspection.photo is not None

    @property
    def voided(self) -> bool:
        return self.inspection.voided_at is not None


def record_inspection(
    household: Household,
    inspector: User,
    grade: str,
    *,
    note: str | None = None,
    at: datetime | None = None,
) -> Inspection:
    """Record an inspection and credit its points (see inspect_household())."""
    return inspect_household(household, inspector, grade, note=note, at=at).inspection


def check_inspectable(household: Household, inspector: User) -> None:
    """Refuse a grade this inspector may not give this household, whatever the rules."""
    if household.village_id != inspector.village_id:
        raise NotFound("No such household.")
    if inspector.household_id == household.id:
        raise ConflictOfInterest("You may not inspect your own household.")
    if household.status != "active":
        raise HouseholdInactive("This household has moved away.")


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


def credit_memo(chosen: Grade) -> str:
    """What a credit's journal says: the grade's name and letter."""
    return f"{chosen.label} ({chosen.grade})"


def inspection_row(
    household: Household,
    inspector: User,
    chosen: Grade,
    rules: Rules,
    note: str | None,
    day: date,
    moment: datetime,
    recorded_at: datetime,
) -> dict:
    """The columns of an inspection, but its slot and journal."""
    return {
        "village_id": household.village_id,
        "household_id": household.id,
        "grid_id": household.grid_id,
        "inspector_id": inspector.id,
        "grade": chosen.grade,
        "points": chosen.points,
        "note": note,
        "local_date": day,
        "rules_id": rules.id,
        "journal_id": None,
        "created_at": moment,
        "recorded_at": recorded_at,
    }


def inspect_household(
    household: Household,
    inspector: User,
    grade: str,
    *,
    note: str | None = None,
    at: datetime | None = None,
    inspected_at: datetime | None = None,
    accounts: tuple[int, int] | None = None,
    village_zone: ZoneInfo | None = None,
    decided: Decided | None = None,
) -> InspectionResult:
    """Record an inspection and credit its points; never past the daily limit.

    The daily limit is held by the database: a UNIQUE (household, village date,
    slot) index, claimed with INSERT ... ON CONFLICT DO NOTHING, so two inspectors
    at one door cannot both pass it. at backdates it, journal included, under
    today's rules (demo data, paper records). inspected_at is when a grade queued
    on a phone was given: its village day, daily limit and rules are those of that
    moment, while the points move now (the ledger runs in arrival order).
    accounts (the household's and the issuance account's ids) and village_zone,
    when the caller read them with the household, save reading them again: with
    the zone the day is known first, and the rules and the day's count come in
    one read; decided, read with the household (see household_and_accounts()), saves
    that read too.
    """
    check_inspectable(household, inspector)
    if decided is not None and (at is not None or decided.inspected_at != inspected_at):
        decided = None  # read for another moment
    recorded_at = decided.recorded_at if decided is not None else utcnow()
    now = at or recorded_at
    moment = inspected_at or now
    if decided is not None:
        if decided.rules is None:
            raise NotFound("The village has no rules yet.")
        rules, today = decided.rules, decided.day
        counted, highest = decided.counted, decided.highest
    elif village_zone is None:
        rules, today = _rules_and_today(household.village_id, moment, inspected_at or recorded_at)
        counted, highest = _slots_on(household.id, today)
    else:
        today = local_date(moment, village_zone)
        row = (
            db.session.connection()
            .execute(
                _RULES_AND_SLOTS,
                {
                    "village_id": household.village_id,
                    "moment": inspected_at or recorded_at,
                    "household_id": household.id,
                    "day": today,
                },
            )
            .one_or_none()
        )
        if row is None:
            raise NotFound("The village has no rules yet.")
        rules, counted, highest = rules_from_row(row), row.counted, row.highest
    chosen, slot = choose_slot(rules, grade, counted, highest)
    journal_id = None
    if chosen.points:
        account, issuance = accounts or posting_accounts(
            household.village_id, household.id, ISSUANCE
        )
        posted = post(
            household.village_id,
            "inspection",
            [Leg(issuance, account, chosen.points)],
            memo=credit_memo(chosen),
            actor_id=inspector.id,
            at=now,
        )
        journal_id, balance = posted.id, posted.balances[account]
    else:
        balance = household_balance(household.id)
    values = inspection_row(household, inspector, chosen, rules, note, today, moment, recorded_at)
    values["journal_id"] = journal_id
    claim = insert_or_skip(inspections)
    while True:
        inspection_id = (
            db.session.connection().execute(claim, {**values, "slot": slot}).scalar_one_or_none()
        )
        if inspection_id is not None:
            break
        # Another inspector took this slot a moment ago (the credit above is rolled
        # back with the refusal): count again.
        counted, highest = _slots_on(household.id, today)
        slot = max(slot + 1, choose_slot(rules, grade, counted, highest)[1])
    inspection = adopt(Inspection, inspection_id, {**values, "slot": slot})
    return InspectionResult(inspection, household.code, balance)


def get_inspection(village_id: int, inspection_id: int) -> Inspection:
    """Return an inspection of the village."""
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None or inspection.village_id != village_id:
        raise NotFound("No such inspection.")
    return inspection


def void_inspection(inspection: Inspection, *, actor: User, reason: str) -> Inspection:
    """Void an inspection: reverse its points (refused once they are spent)."""
    with db.session.begin_nested():  # a refusal leaves nothing behind
        # Claim the void with one conditional UPDATE: of two admins voiding at once, the
        # second waits on the row lock, then finds it voided. A check in Python let both
        # through on PostgreSQL when there was no journal to reverse (a zero-point grade).
        claimed = db.session.execute(
            update(Inspection)
            .where(Inspection.id == inspection.id, Inspection.voided_at.is_(None))
            .values(voided_at=utcnow(), void_reason=reason, voided_by=actor.id)
            .returning(Inspection.id),
            execution_options={"synchronize_session": False},
        ).scalar_one_or_none()
        if claimed is None:
            raise AlreadyReversed("This inspection was already voided.")
        db.session.refresh(inspection)
        if inspection.journal_id is not None:
            reversal = reverse(
                inspection.journal_id,
                village_id=inspection.village_id,
                actor_id=actor.id,
                reason=reason,
            )
            inspection.void_journal_id = reversal.id
        db.session.flush()
        record(
            inspection.village_id,
            actor.id,
            INSPECTION_VOIDED,
            "inspection",
            inspection.id,
            {
                "household_id": inspection.household_id,
                "grade": inspection.grade,
                "points": inspection.points,
                "reversal_id": inspection.void_journal_id,
            },
            reason,
        )
    return inspection


def list_inspections(
    village_id: int,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
    grid_id: int | None = None,
    inspector_id: int | None = None,
    household_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Inspection], int]:
    """Return the village's inspections, newest first, filtered, and their total."""
    query = select(Inspection).where(Inspection.village_id == village_id)
    for column, value in (
        (Inspection.grid_id, grid_id),
        (Inspection.inspector_id, inspector_id),
        (Inspection.household_id, household_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if day_from is not None:
        query = query.where(Inspection.local_date >= day_from)
    if day_to is not None:
        query = query.where(Inspection.local_date <= day_to)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(Inspection.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def not_inspected_today(village_id: int, grid_id: int) -> list[Household]:
    """Return the grid's active households with no inspection today."""
    today = village_today(village_id)
    inspected = select(Inspection.household_id).where(
        Inspection.village_id == village_id,
        Inspection.local_date == today,
        Inspection.voided_at.is_(None),
    )
    return list(
        db.session.scalars(
            select(Household)
            .where(
                Household.village_id == village_id,
                Household.grid_id == grid_id,
                Household.status == "active",
                Household.id.not_in(inspected),
            )
            .order_by(Household.code)
        )
    )


def verify_inspections(village_id: int | None = None) -> list[Problem]:
    """Check each inspection's points against its journal, and voids against reversals."""
    from app.ledger.models import Journal, Transfer

    credited = (
        select(Transfer.journal_id, func.sum(Transfer.amount).label("total"))
        .group_by(Transfer.journal_id)
        .subquery()
    )
    query = (
        select(
            Inspection.id,
            Inspection.points,
            Inspection.journal_id,
            credited.c.total,
            Inspection.voided_at,
            Inspection.void_journal_id,
            Journal.reverses_id,
        )
        .outerjoin(credited, credited.c.journal_id == Inspection.journal_id)
        .outerjoin(Journal, Journal.id == Inspection.void_journal_id)
    )
    if village_id is not None:
        query = query.where(Inspection.village_id == village_id)
    problems: list[Problem] = []
    for (
        inspection_id,
        points,
        journal_id,
        total,
        voided_at,
        _void_journal_id,
        reverses_id,
    ) in db.session.execute(query):
        if (journal_id is None and points != 0) or (journal_id is not None and total != points):
            problems.append(
                Problem(
                    "inspection",
                    f"inspection {inspection_id}: {points} points, "
                    f"its journal credits {total or 0}",
                    {"inspection_id": inspection_id},
                    expected=points,
                    actual=total or 0,
                )
            )
        if journal_id is not None and voided_at is not None and reverses_id != journal_id:
            problems.append(
                Problem(
                    "inspection_void",
                    f"inspection {inspection_id} is voided but its "
                    f"journal {journal_id} is not reversed",
                    {"inspection_id": inspection_id},
                )
            )
    return problems
