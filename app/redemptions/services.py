"""Redeeming goods for points at the counter, receipts, and cancelling."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    Row,
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from app.audit.services import REDEMPTION_CANCELLED, record
from app.auth.models import User
from app.catalogue.models import CANCEL, REDEMPTION, Good
from app.catalogue.services import move_stocks
from app.db import OneOf, adopt, db, insert_many, utcnow
from app.errors import (
    AlreadyReversed,
    HouseholdInactive,
    InsufficientPoints,
    NotFound,
    OutOfStock,
    ValidationFailed,
)
from app.households.models import Household
from app.ledger.models import REDEMPTION as REDEMPTION_ACCOUNT
from app.ledger.models import Account, village_system_account
from app.ledger.services import Leg, Posted, household_balance, post, reverse
from app.ledger.verify import Problem, journal_totals
from app.redemptions.models import ReceiptCounter, Redemption, RedemptionLine
from app.scope import zone
from app.villages.models import Village

MAX_LINES = 50

receipt_counters = cast(Table, ReceiptCounter.__table__)
redemptions = cast(Table, Redemption.__table__)
redemption_lines = cast(Table, RedemptionLine.__table__)
accounts = cast(Table, Account.__table__)
goods = cast(Table, Good.__table__)
villages = cast(Table, Village.__table__)
_NEXT_RECEIPT = (
    update(receipt_counters)
    .where(
        receipt_counters.c.village_id == bindparam("village"),
        receipt_counters.c.year == bindparam("in_year"),
    )
    .values(last=receipt_counters.c.last + 1)
    .returning(receipt_counters.c.last)
)
# The goods of a basket with their village's code and time zone and the two accounts
# a redemption posts to: plain rows, not ORM objects (loading a Good and a Village for
# each redemption cost more app CPU than the read itself). The goods are named as one
# list (OneOf): one statement text for any basket.
_household_account = accounts.alias("household_account")
_BASKET = (
    select(
        goods.c.id,
        goods.c.name,
        goods.c.unit,
        goods.c.price_points,
        goods.c.cost_cents,
        goods.c.active,
        villages.c.code.label("village_code"),
        villages.c.timezone.label("village_timezone"),
        select(_household_account.c.id)
        .where(
            _household_account.c.village_id == bindparam("village_id"),
            _household_account.c.household_id == bindparam("household_id"),
        )
        .scalar_subquery()
        .label("account_id"),
        village_system_account(REDEMPTION_ACCOUNT, "shop_id"),
    )
    .join(villages, villages.c.id == goods.c.village_id)
    .where(goods.c.village_id == bindparam("village_id"), OneOf(goods.c.id, "good_ids"))
)
MAX_QUANTITY = 1000
# How the counter found the household: its card scanned, or a search by name (issue 15).
FOUND_BY = ("card", "search")


@dataclass(frozen=True)
class LineRequest:
    good_id: int
    quantity: int


def next_receipt_no(village_id: int, village_code: str, year: int) -> str:
    """Take the village's next receipt number of the year, like MZ-2026-000123.

    One atomic UPDATE of the year's counter (made on first use): concurrent
    redemptions queue on its row and never share a number.
    """
    for _ in range(2):
        last = (
            db.session.connection()
            .execute(_NEXT_RECEIPT, {"village": village_id, "in_year": year})
            .scalar_one_or_none()
        )
        if last is not None:
            return f"{village_code}-{year}-{last:06d}"
        _make_receipt_counter(village_id, year)
    raise AssertionError("the receipt counter could not be made")


def _make_receipt_counter(village_id: int, year: int) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(ReceiptCounter(village_id=village_id, year=year, last=0))
            db.session.flush()
    except IntegrityError:
        pass  # another redemption made this year's counter first: use it


@dataclass(frozen=True)
class RedemptionResult:
    """A redemption as its answer shows it: with its lines and the household's balance."""

    redemption: Redemption
    household_code: str | None
    current_balance: int
    lines: Sequence[RedemptionLine | dict]

    @property
    def cancelled(self) -> bool:
        return self.redemption.cancelled_at is not None


def redeem_goods(
    household: Household,
    storekeeper: User,
    lines: Sequence[LineRequest],
    *,
    at: datetime | None = None,
    found_by: str = "card",
) -> RedemptionResult:
    """Trade points for goods: points, stock and receipt commit together or not at all.

    Prices are the catalogue's at this moment and are kept on the lines. Points
    are taken first, then the basket's stock in one move (goods locked in ascending
    order, as a cancellation takes them), so concurrent redemptions and
    cancellations never deadlock.
    """
    if household.village_id != storekeeper.village_id:
        raise NotFound("No such household.")
    # A household that moved out may still spend what it has until its forfeit date.
    if household.status not in ("active", "moved_out"):
        raise HouseholdInactive("This household has moved away.")
    quantities = _quantities(lines)
    goods, account, shop = _basket(household, quantities)
    total = sum(goods[good_id].price_points * quantity for good_id, quantity in quantities.items())
    now = at or utcnow()
    journal = _take_points(household, storekeeper, account, shop, total, goods, quantities, now)
    balance_after = journal.balances[account]
    some = next(iter(goods.values()))
    year = now.astimezone(zone(some.village_timezone)).year
    values = {
        "village_id": household.village_id,
        "household_id": household.id,
        "storekeeper_id": storekeeper.id,
        "receipt_no": next_receipt_no(household.village_id, some.village_code, year),
        "total_points": total,
        "balance_before": balance_after + total,
        "balance_after": balance_after,
        "journal_id": journal.id,
        "created_at": now,
        "found_by": found_by if found_by in FOUND_BY else "card",
    }
    redemption = adopt(Redemption, insert_many(redemptions, [values], ids=True)[0], values)
    kept = [
        {
            "redemption_id": redemption.id,
            "good_id": good_id,
            "name": goods[good_id].name,
            "unit": goods[good_id].unit,
            "quantity": quantities[good_id],
            "price_points": goods[good_id].price_points,
            "line_points": goods[good_id].price_points * quantities[good_id],
            # Kept like the price: the settlement pays what the unit cost then.
            "cost_cents": goods[good_id].cost_cents,
        }
        for good_id in sorted(quantities)
    ]
    insert_many(redemption_lines, kept)
    _take_stock(redemption, goods, quantities)
    return RedemptionResult(redemption, household.code, balance_after, kept)


def _quantities(lines: Sequence[LineRequest]) -> dict[int, int]:
    """Return the basket's quantity of each good, refusing an empty or outsized basket."""
    if not lines or len(lines) > MAX_LINES:
        raise ValidationFailed(
            f"A redemption has 1 to {MAX_LINES} lines.",
            errors={"lines": [f"1 to {MAX_LINES} lines."]},
        )
    quantities: dict[int, int] = {}
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise ValidationFailed(
                f"A quantity is 1 to {MAX_QUANTITY}.",
                errors={"lines": [f"Quantities are 1 to {MAX_QUANTITY}."]},
            )
        quantities[line.good_id] = quantities.get(line.good_id, 0) + line.quantity
    return quantities


def _take_points(
    household: Household,
    storekeeper: User,
    account: int,
    shop: int,
    total: int,
    goods: dict[int, Row],
    quantities: dict[int, int],
    now: datetime,
) -> Posted:
    """Post the basket's points from the household to the shop; say by how much it is short."""
    try:
        return post(
            household.village_id,
            "redemption",
            [Leg(account, shop, total)],
            memo="、".join(f"{goods[g].name}×{q}" for g, q in quantities.items()),
            actor_id=storekeeper.id,
            at=now,
        )
    except InsufficientPoints:
        # Say by how much, so the counter can take off just enough (the basket is kept).
        balance = household_balance(household.id)
        raise InsufficientPoints(
            f"The basket costs {total} points; the household has {balance}.",
            required=total,
            balance=balance,
            shortfall=max(total - balance, 0),
        ) from None


def _take_stock(redemption: Redemption, goods: dict[int, Row], quantities: dict[int, int]) -> None:
    """Take the basket's goods from stock in one move; OutOfStock names the good short."""
    try:
        move_stocks(
            redemption.village_id,
            {good_id: -quantity for good_id, quantity in quantities.items()},
            kind=REDEMPTION,
            note=redemption.receipt_no,
            redemption_id=redemption.id,
            actor_id=redemption.storekeeper_id,
        )
    except OutOfStock as short:
        good_id = short.extra["good_id"]
        good = goods[good_id]
        raise OutOfStock(
            short.detail,
            good_id=good_id,
            name=good.name,
            unit=good.unit,
            available=short.extra.get("available", 0),
            requested=quantities[good_id],
        ) from None


def _basket(household: Household, quantities: dict[int, int]) -> tuple[dict[int, Row], int, int]:
    """Return the basket's goods (with the village's code and zone) and the two accounts
    to post to, in one read.

    Refuses goods that are not in the village's catalogue or not on sale.
    """
    rows = db.session.execute(
        _BASKET,
        {
            "village_id": household.village_id,
            "household_id": household.id,
            "good_ids": list(quantities),
        },
    ).all()
    goods = {row.id: row for row in rows}
    unknown = sorted(set(quantities) - {g.id for g in goods.values() if g.active})
    if unknown:
        raise ValidationFailed(
            f"Not in the catalogue: goods {unknown}.",
            errors={"lines": [f"Unknown or inactive goods: {unknown}."]},
        )
    account, shop = rows[0].account_id, rows[0].shop_id
    if account is None:
        raise NotFound("No such household.")
    if shop is None:
        raise NotFound(f"The village has no {REDEMPTION_ACCOUNT} account.")
    return goods, account, shop


def get_redemption(village_id: int, redemption_id: int) -> Redemption:
    """Return a redemption of the village."""
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None or redemption.village_id != village_id:
        raise NotFound("No such redemption.")
    return redemption


def lines_of(redemption: Redemption) -> list[RedemptionLine]:
    """Return a redemption's lines in good order."""
    return lines_for([redemption.id]).get(redemption.id, [])


def lines_for(redemption_ids: Iterable[int]) -> dict[int, list[RedemptionLine]]:
    """Return the lines of many redemptions, in good order, with one query."""
    lines: dict[int, list[RedemptionLine]] = {}
    for line in db.session.scalars(
        select(RedemptionLine)
        .where(RedemptionLine.redemption_id.in_(list(redemption_ids)))
        .order_by(RedemptionLine.redemption_id, RedemptionLine.good_id)
    ):
        lines.setdefault(line.redemption_id, []).append(line)
    return lines


def cancel(redemption: Redemption, *, actor: User, reason: str) -> Redemption:
    """Undo a redemption: points back, stock back, once."""
    # Claim the cancellation first: a second cancel waits on this row, then finds it done.
    claimed = db.session.execute(  # type: ignore[attr-defined]
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.cancelled_at.is_(None))
        .values(cancelled_at=utcnow(), cancel_reason=reason, cancelled_by=actor.id),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not claimed:
        raise AlreadyReversed("This redemption was already cancelled.")
    reversal = reverse(
        redemption.journal_id, village_id=redemption.village_id, actor_id=actor.id, reason=reason
    )
    move_stocks(
        redemption.village_id,
        {line.good_id: line.quantity for line in lines_of(redemption)},
        kind=CANCEL,
        note=f"{redemption.receipt_no}: {reason}",
        redemption_id=redemption.id,
        actor_id=actor.id,
    )
    db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id)
        .values(cancel_journal_id=reversal.id),
        execution_options={"synchronize_session": False},
    )
    db.session.flush()
    db.session.refresh(redemption)
    record(
        redemption.village_id,
        actor.id,
        REDEMPTION_CANCELLED,
        "redemption",
        redemption.id,
        {
            "receipt_no": redemption.receipt_no,
            "household_id": redemption.household_id,
            "total_points": redemption.total_points,
            "reversal_id": reversal.id,
        },
        reason,
    )
    return redemption


def list_redemptions(
    village_id: int, *, household_id: int | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[Redemption], int]:
    """Return the village's redemptions, newest first, and their total."""
    query = select(Redemption).where(Redemption.village_id == village_id)
    if household_id is not None:
        query = query.where(Redemption.household_id == household_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(
        db.session.scalars(query.order_by(Redemption.id.desc()).limit(limit).offset(offset))
    ), total


def verify_redemptions(village_id: int | None = None) -> list[Problem]:
    """Check each redemption's total equals its lines and its journal."""
    lines = select(
        RedemptionLine.redemption_id, func.sum(RedemptionLine.line_points).label("total")
    )
    if village_id is not None:  # the village's rows only, not the county's (issue 32)
        lines = lines.join(Redemption, Redemption.id == RedemptionLine.redemption_id).where(
            Redemption.village_id == village_id
        )
    line_sums = lines.group_by(RedemptionLine.redemption_id).subquery()
    journal_sums = journal_totals(village_id)
    query = (
        select(
            Redemption.id,
            Redemption.receipt_no,
            Redemption.total_points,
            line_sums.c.total,
            journal_sums.c.total,
        )
        .outerjoin(line_sums, line_sums.c.redemption_id == Redemption.id)
        .outerjoin(journal_sums, journal_sums.c.journal_id == Redemption.journal_id)
    )
    if village_id is not None:
        query = query.where(Redemption.village_id == village_id)
    problems = []
    for redemption_id, receipt, total, lines_total, journal_total in db.session.execute(query):
        if not total == lines_total == journal_total:
            problems.append(
                Problem(
                    "redemption",
                    f"receipt {receipt}: total {total}, lines "
                    f"{lines_total}, journal {journal_total}",
                    {"redemption_id": redemption_id},
                    expected=total,
                    actual=lines_total,
                )
            )
    return problems
