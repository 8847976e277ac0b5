"""Households: creating them with their points account, finding them."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update

from app.audit.services import (
    CARD_REISSUED,
    HOUSEHOLD_CREATED,
    HOUSEHOLD_MOVED,
    HOUSEHOLD_UPDATED,
    record,
    set_fields,
)
from app.db import ContainsText, db
from app.errors import ValidationFailed
from app.households.models import Household
from app.households.pinyin import query_key
from app.inspections.models import Inspection
from app.ledger.expiry import Expired, expiring
from app.ledger.reads import household_balance, household_balances
from app.ledger.services import open_household_account
from app.scope import in_village, village_today
from app.villages.models import Grid, Village

ACTIVE = "active"
MOVED = "moved"
MOVED_OUT = "moved_out"  # app/households/changes.py: move_out, move_back
MERGED = "merged"  # app/households/changes.py: merge
# The statuses a PATCH may set; the others come with their own actions.
EDITABLE_STATUSES = (ACTIVE, MOVED)
STATUSES = (ACTIVE, MOVED, MOVED_OUT, MERGED)


@dataclass(frozen=True)
class HouseholdResult:
    """A household as its answer shows it: with its balance and its card's payload."""

    household: Household
    balance: int
    # The household's next expiry within 60 days (GET /households/{id}, /me); else None.
    expiring: Expired | None = None

    @property
    def qr_payload(self) -> str:
        from app.households.cards import card_payload

        return card_payload(self.household)


def with_balance(household: Household) -> HouseholdResult:
    """A household read back with its balance now (for changes that move no points)."""
    today = village_today(household.village_id)
    return HouseholdResult(
        household, household_balance(household.id), expiring(household.id, today)
    )


def household_code(village: Village, grid: Grid, number: int) -> str:
    """Return the printed code of a household, like MZ-03-0127."""
    return f"{village.code}-{grid.number:02d}-{number:04d}"


def allocate_codes(village: Village, grid: Grid, count: int) -> list[str]:
    """Take the next count household numbers of a grid and return their codes.

    One atomic UPDATE of the grid's counter: concurrent writers queue on the
    grid's row and never pick the same number.
    """
    last = db.session.execute(
        update(Grid)
        .where(Grid.id == grid.id)
        .values(household_seq=Grid.household_seq + count)
        .returning(Grid.household_seq),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    return [household_code(village, grid, n) for n in range(last - count + 1, last + 1)]


def create_household(
    village: Village,
    grid: Grid,
    name: str,
    address: str,
    *,
    phone: str | None = None,
    members: int | None = None,
    actor_id: int | None = None,
) -> Household:
    """Create a household in a grid, with its code and its points account.

    actor_id is the admin who adds it; None means the command line.
    """
    if grid.village_id != village.id:
        raise ValidationFailed(
            "The grid belongs to another village.",
            errors={"grid_id": ["No such grid in this village."]},
        )
    household = Household(
        village_id=village.id,
        grid_id=grid.id,
        code=allocate_codes(village, grid, 1)[0],
        name=name,
        address=address,
        phone=phone,
        members=members,
        status=ACTIVE,
        card_version=1,
    )
    db.session.add(household)
    db.session.flush()
    open_household_account(village.id, household.id)
    record(
        village.id,
        actor_id,
        HOUSEHOLD_CREATED,
        "household",
        household.id,
        {"code": household.code, "name": name, "grid_id": grid.id},
    )
    return household


def add_household(village_id: int, details: dict, *, actor_id: int | None) -> HouseholdResult:
    """Add a household to one of the village's grids, from HouseholdIn's fields."""
    grid = db.session.get(Grid, details["grid_id"])
    if grid is None or grid.village_id != village_id:
        raise ValidationFailed(
            "No such grid in this village.", errors={"grid_id": ["No such grid in this village."]}
        )
    household = create_household(
        db.session.get_one(Village, village_id),
        grid,
        details["name"],
        details["address"],
        phone=details.get("phone"),
        members=details.get("members"),
        actor_id=actor_id,
    )
    return HouseholdResult(household, 0)  # its account was just opened, empty


def get_household(village_id: int, household_id: int) -> Household:
    """Return a household of the village, or NotFound (never another village's)."""
    return in_village(Household, village_id, household_id, "No such household.")


def households_by_id(household_ids: Iterable[int]) -> dict[int, Household]:
    """Return many households by id, with one query."""
    return {
        h.id: h
        for h in db.session.scalars(select(Household).where(Household.id.in_(list(household_ids))))
    }


def household_id_by_code(village_id: int, code: str) -> int | None:
    """The id of the village's household with this code (any case), or None."""
    return db.session.scalar(
        select(Household.id).where(
            Household.village_id == village_id, Household.code == code.strip().upper()
        )
    )


def codes_and_balances(household_ids: Iterable[int]) -> dict[int, tuple[str | None, int]]:
    """Each household's code and balance now, by id, for a list of its rows (two queries)."""
    ids = set(household_ids)
    households = households_by_id(ids)
    balances = household_balances(ids)
    return {i: (households[i].code if i in households else None, balances.get(i, 0)) for i in ids}


def update_household(
    household: Household, changes: dict, *, actor_id: int | None = None
) -> Household:
    """Change a household's details; its code and card stay as printed."""
    if "grid_id" in changes:
        grid = db.session.get(Grid, changes["grid_id"])
        if grid is None or grid.village_id != household.village_id:
            raise ValidationFailed(
                "No such grid in this village.",
                errors={"grid_id": ["No such grid in this village."]},
            )
    if "status" in changes and changes["status"] not in EDITABLE_STATUSES:
        raise ValidationFailed(
            "Unknown status.", errors={"status": [f"One of {EDITABLE_STATUSES}."]}
        )
    if "status" in changes and household.status in (MOVED_OUT, MERGED):
        raise ValidationFailed(
            "A merged or moved-out household changes status by its own action (move-back).",
            errors={"status": ["Use move-back."]},
        )
    fields = ("name", "address", "grid_id", "phone", "members", "status")
    changed = set_fields(household, fields, changes)
    if changed:
        moved = "status" in changed and household.status == MOVED
        record(
            household.village_id,
            actor_id,
            HOUSEHOLD_MOVED if moved else HOUSEHOLD_UPDATED,
            "household",
            household.id,
            {"code": household.code, "changes": changed},
        )
    return household


def matches(q: str) -> ColumnElement[bool]:
    """The condition a household meets when the counter's search text q finds it.

    The name, code, address or phone contain q, whatever the case of its Latin letters;
    or the name's pinyin, full or initials, contains it with its spaces and case dropped
    (zcs, Zhou Chang Shun).
    """
    text = q.strip()
    condition = (
        ContainsText(Household.name, text)
        | ContainsText(Household.code, text)
        | ContainsText(Household.address, text)
        | ContainsText(Household.phone, text)
    )
    key = query_key(q)
    if key and key.isascii() and any(c.isalpha() for c in key):
        condition = (
            condition
            | Household.name_pinyin.contains(key, autoescape=True)
            | Household.name_initials.contains(key, autoescape=True)
        )
    return condition


def search_households(
    village_id: int,
    *,
    grid_id: int | None = None,
    q: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[tuple[Household, int]], int]:
    """Return one page of the village's households with their balances, and the total.

    One query: the total comes with each row (a window count), so the households are
    read once however many there are.
    """
    from app.ledger.models import Account

    total_rows = func.count().over().label("total")
    query = (
        select(Household, Account.balance, total_rows)
        .join(Account, Account.household_id == Household.id)
        .where(Household.village_id == village_id)
    )
    if grid_id is not None:
        query = query.where(Household.grid_id == grid_id)
    if status:
        query = query.where(Household.status == status)
    else:  # a merged household has left the lists; its history is read from the survivor
        query = query.where(Household.status != MERGED)
    if q and q.strip():
        query = query.where(matches(q))
    rows = db.session.execute(
        query.order_by(Household.code).limit(per_page).offset((page - 1) * per_page)
    ).all()
    if rows:
        total = rows[0].total
    elif page > 1:  # past the last page: count them, the rare way
        count = select(func.count()).select_from(query.with_only_columns(Household.id).subquery())
        total = db.session.scalar(count) or 0
    else:
        total = 0
    return [(household, balance) for household, balance, _total in rows], total


def reissue_card(household: Household, *, actor_id: int | None, reason: str) -> Household:
    """Replace the household's card: older cards now answer revoked_qr."""
    from app.households.cards import MAX_CARD_VERSION
    from app.households.models import CardReissue

    if household.card_version >= MAX_CARD_VERSION:
        raise ValidationFailed("This household has had too many cards; ask for support.")
    # One atomic increment, so two reissues at once give two versions, not one.
    new = db.session.execute(
        update(Household)
        .where(Household.id == household.id)
        .values(card_version=Household.card_version + 1)
        .returning(Household.card_version),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    db.session.add(
        CardReissue(
            village_id=household.village_id,
            household_id=household.id,
            old_version=new - 1,
            new_version=new,
            reason=reason,
            actor_id=actor_id,
        )
    )
    db.session.flush()
    db.session.refresh(household)
    record(
        household.village_id,
        actor_id,
        CARD_REISSUED,
        "household",
        household.id,
        {"code": household.code, "old_version": new - 1, "new_version": new},
        reason,
    )
    return household


def grid_households(village_id: int, grid_id: int, *where: ColumnElement[bool]) -> list[Household]:
    """Return the active households of a grid (those that also meet where), in code order."""
    return list(
        db.session.scalars(
            select(Household)
            .where(
                Household.village_id == village_id,
                Household.grid_id == grid_id,
                Household.status == ACTIVE,
                *where,
            )
            .order_by(Household.code)
        )
    )


def count_today(household: Household) -> int:
    """Return how many of the household's inspections count today (the village's date)."""
    return (
        db.session.scalar(
            select(func.count(Inspection.id)).where(
                Inspection.household_id == household.id,
                Inspection.local_date == village_today(household.village_id),
                Inspection.voided_at.is_(None),
            )
        )
        or 0
    )


def inspected_today(household: Household) -> bool:
    """Tell whether the household was inspected today (the village's date)."""
    return count_today(household) > 0
