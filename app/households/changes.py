"""Households over time: split (分户), merge (合户), move out (迁出) and move back.

Each is one audited action in one write transaction. Points move only through the
ledger's one posting path (post_journals): a split or a merge in one journal of kind
`transfer`, what a moved-out household has left on its forfeit date in one journal of
kind `forfeit`, posted by the nightly `flask ledger expire` (forfeit_due()).

Locks, so that a grade, a redemption or the forfeit run racing these never strands
or overdraws a point: the household rows first (FOR UPDATE, in id order; the
inspection credit path locks its household rows too), then their points accounts in
id order (lock_balances, as the ledger takes them). A balance is read only under
these locks.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from sqlalchemy import select

from app.audit.services import (
    HOUSEHOLD_MERGED,
    HOUSEHOLD_MOVED_BACK,
    HOUSEHOLD_MOVED_OUT,
    HOUSEHOLD_SPLIT,
    record,
)
from app.db import db, run_write
from app.errors import ForfeitPassed, HouseholdInactive, NotFound, ValidationFailed
from app.households.models import Household
from app.households.services import (
    ACTIVE,
    MERGED,
    MOVED_OUT,
    HouseholdResult,
    add_household,
    get_household,
    reissue_card,
    with_balance,
)
from app.ledger.models import EXPIRY, Journal, JournalKind
from app.ledger.services import (
    Leg,
    NewJournal,
    household_account,
    lock_balances,
    post_journals,
    system_account_id,
)
from app.scope import village_today

DEFAULT_FORFEIT_DAYS = 28


def forfeit_key(household_id: int, on: date) -> str:
    """The unique business key of a household's forfeit on its forfeit date."""
    return f"forfeit:{household_id}:{on.isoformat()}"


def _lock_households(village_id: int, household_ids: list[int]) -> dict[int, Household]:
    """Lock the village's households (FOR UPDATE, id order) and read them afresh."""
    rows = db.session.scalars(
        select(Household)
        .where(Household.village_id == village_id, Household.id.in_(household_ids))
        .order_by(Household.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}


def _locked(village_id: int, household_id: int) -> Household:
    household = get_household(village_id, household_id)  # 404 for another village's
    return _lock_households(village_id, [household.id])[household.id]


def _require_active(household: Household) -> None:
    if household.status != ACTIVE:
        raise HouseholdInactive(f"The household {household.code} is {household.status}.")


def split(
    village_id: int, household_id: int, data: dict, *, actor_id: int | None
) -> HouseholdResult:
    """Split a new household off one: its card and account, and `points` moved in one journal."""
    old = _locked(village_id, household_id)
    _require_active(old)
    points = data["points"]
    new = add_household(village_id, data, actor_id=actor_id).household
    old_account = household_account(old.id).id
    new_account = household_account(new.id).id
    reason = data.get("reason") or "分户"
    memo = f"分户转出 → {new.code}|分户转入 ← {old.code}"
    transaction_id = _transfer(village_id, old_account, new_account, points, memo, actor_id, reason)
    record(
        village_id,
        actor_id,
        HOUSEHOLD_SPLIT,
        "household",
        old.id,
        {
            "code": old.code,
            "new_code": new.code,
            "points": points,
            "transaction_id": transaction_id,
        },
        reason,
    )
    return with_balance(new)


def _transfer(
    village_id: int,
    giver: int,
    taker: int,
    points: int,
    memo: str,
    actor_id: int | None,
    reason: str,
) -> int | None:
    """Move points between two households' accounts in one journal of kind transfer.

    The memo holds what each side's statement says, "giver's words|taker's words".
    Return the journal's id, or None when there is nothing to move.
    """
    if points <= 0:
        return None
    journal = NewJournal([Leg(giver, taker, points)], memo, actor_id=actor_id, reason=reason)
    return post_journals(village_id, JournalKind.TRANSFER, [journal])[0].id


def merge(
    village_id: int, household_id: int, data: dict, *, actor_id: int | None
) -> HouseholdResult:
    """Merge a household into another: its whole balance moves, its card is revoked, it closes."""
    if data["into"] == household_id:
        raise ValidationFailed(
            "A household cannot merge into itself.", errors={"into": ["Choose another household."]}
        )
    get_household(village_id, household_id)
    try:
        get_household(village_id, data["into"])
    except NotFound:
        raise ValidationFailed(
            "No such household in this village.", errors={"into": ["No such household."]}
        ) from None
    locked = _lock_households(village_id, [household_id, data["into"]])
    merged, into = locked[household_id], locked[data["into"]]
    _require_active(merged)
    _require_active(into)
    reason = data.get("reason") or "合户"
    from_account = household_account(merged.id).id
    into_account = household_account(into.id).id
    balances = lock_balances(village_id, [from_account, into_account])
    points = balances[from_account]
    memo = f"合户转出 → {into.code}|合户转入 ← {merged.code}"
    transaction_id = _transfer(
        village_id, from_account, into_account, points, memo, actor_id, reason
    )
    reissue_card(merged, actor_id=actor_id, reason=reason)  # the old card answers revoked_qr
    merged.status = MERGED
    merged.merged_into_id = into.id
    db.session.flush()
    record(
        village_id,
        actor_id,
        HOUSEHOLD_MERGED,
        "household",
        merged.id,
        {
            "code": merged.code,
            "into_code": into.code,
            "points": points,
            "transaction_id": transaction_id,
        },
        reason,
    )
    return with_balance(merged)


def move_out(
    village_id: int, household_id: int, data: dict, *, actor_id: int | None
) -> HouseholdResult:
    """Record that a household moved out on a day; what it has left is forfeited later."""
    household = _locked(village_id, household_id)
    _require_active(household)
    on: date = data["on"]
    if on > village_today(village_id):
        raise ValidationFailed(
            "The day it moved out may not be after today.",
            errors={"on": ["May not be after today."]},
        )
    days = data.get("forfeit_after_days", DEFAULT_FORFEIT_DAYS)
    reason = data.get("reason") or "迁出"
    household.status = MOVED_OUT
    household.moved_out_on = on
    household.forfeit_on = on + timedelta(days=days)
    db.session.flush()
    record(
        village_id,
        actor_id,
        HOUSEHOLD_MOVED_OUT,
        "household",
        household.id,
        {
            "code": household.code,
            "moved_out_on": on.isoformat(),
            "forfeit_on": household.forfeit_on.isoformat(),
        },
        reason,
    )
    return with_balance(household)


def move_back(
    village_id: int, household_id: int, data: dict, *, actor_id: int | None
) -> HouseholdResult:
    """Undo a move out before its forfeit date: the household is active again."""
    household = _locked(village_id, household_id)
    if household.status != MOVED_OUT:
        raise HouseholdInactive(f"The household {household.code} has not moved out.")
    assert household.forfeit_on is not None
    if village_today(village_id) >= household.forfeit_on or _forfeited(village_id, household):
        raise ForfeitPassed("The forfeit date has passed; the household cannot move back.")
    reason = data.get("reason") or "迁回"
    before = {
        "moved_out_on": household.moved_out_on.isoformat() if household.moved_out_on else None,
        "forfeit_on": household.forfeit_on.isoformat(),
    }
    household.status = ACTIVE
    household.moved_out_on = None
    household.forfeit_on = None
    db.session.flush()
    record(
        village_id,
        actor_id,
        HOUSEHOLD_MOVED_BACK,
        "household",
        household.id,
        {"code": household.code, **before},
        reason,
    )
    return with_balance(household)


def _forfeited(village_id: int, household: Household) -> bool:
    """Whether the household's forfeit was posted (a run told to act on a later day)."""
    assert household.forfeit_on is not None
    key = forfeit_key(household.id, household.forfeit_on)
    return (
        db.session.scalar(
            select(Journal.id).where(Journal.village_id == village_id, Journal.business_key == key)
        )
        is not None
    )


def days_left(household: Household, today: date) -> int | None:
    """Days a moved-out household may still redeem (0 on the forfeit date); None otherwise."""
    if household.status != MOVED_OUT or household.forfeit_on is None:
        return None
    return max(0, (household.forfeit_on - today).days)


@dataclass(frozen=True)
class Forfeited:
    household_id: int
    on: date
    points: int


def _forfeit_one(village_id: int, household_id: int, at: date) -> Forfeited | None:
    """Forfeit what one moved-out household has left, if its date has come and not yet done."""
    locked = _lock_households(village_id, [household_id])
    household = locked.get(household_id)
    if (
        household is None
        or household.status != MOVED_OUT
        or household.forfeit_on is None
        or household.forfeit_on > at
    ):
        return None  # moved back meanwhile, or not yet due
    if _forfeited(village_id, household):
        return None
    key = forfeit_key(household.id, household.forfeit_on)
    account = household_account(household.id).id
    expiry = system_account_id(village_id, EXPIRY)
    points = lock_balances(village_id, [expiry, account])[account]
    if points <= 0:
        return None
    post_journals(
        village_id,
        JournalKind.FORFEIT,
        [
            NewJournal(
                [Leg(account, expiry, points)],
                f"迁出后积分清零 {household.forfeit_on.isoformat()}",
                business_key=key,
            )
        ],
    )
    return Forfeited(household.id, household.forfeit_on, points)


def forfeit_due(village_id: int, at: date) -> list[Forfeited]:
    """Forfeit every moved-out household's points due on or before a day; once each.

    One short transaction per household (it locks the household, then its account
    and the expiry account, and reads the balance under the locks), so a redemption
    racing it is either seen or refused, and a second run finds nothing to do.
    """
    due_ids = list(
        db.session.scalars(
            select(Household.id)
            .where(
                Household.village_id == village_id,
                Household.status == MOVED_OUT,
                Household.forfeit_on <= at,
            )
            .order_by(Household.id)
        )
    )
    db.session.rollback()
    done: list[Forfeited] = []
    for household_id in due_ids:
        result = run_write(partial(_forfeit_one, village_id, household_id, at))
        if result is not None:
            done.append(result)
    return done
