"""The catalogue and its stock: every change of stock is a movement with a reason."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.models import AuditEvent
from app.audit.services import (
    GOOD_CREATED,
    GOOD_UPDATED,
    STOCK_COUNTED,
    STOCK_WRITTEN_OFF,
    record,
    set_fields,
)
from app.catalogue.models import (
    RESTOCK,
    STOCKTAKE,
    WRITEOFF,
    Good,
    StockMovement,
)
from app.db import JsonRows, adopt, db, insert_many, utcnow
from app.errors import OutOfStock, ValidationFailed
from app.ledger.verify import Problem
from app.scope import in_village

MAX_PRICE = 1_000_000
MAX_STOCK = 1_000_000
# A unit's cost in fen (分): at most 100,000 yuan.
MAX_COST_CENTS = 10_000_000


goods_table = cast(Table, Good.__table__)
stock_movements = cast(Table, StockMovement.__table__)
# Every change of stock, of one good or a basket's, is this one statement: the goods are
# locked in ascending id order (as the ledger locks accounts), so concurrent baskets
# never deadlock, and a good that would go below zero, or is not in the village, is
# left out of what it returns: the caller refuses.
_CHANGES = JsonRows("changes", id=Integer(), change=Integer())
_LOCKED = (
    select(goods_table.c.id)
    .where(goods_table.c.id.in_(select(_CHANGES.c.id)))
    .order_by(goods_table.c.id)
    .with_for_update(key_share=True)
    .subquery("locked")
)
_MOVE_STOCK = (
    update(goods_table)
    .where(
        goods_table.c.id == _LOCKED.c.id,
        goods_table.c.id == _CHANGES.c.id,
        goods_table.c.village_id == bindparam("village"),
        goods_table.c.stock + _CHANGES.c.change >= 0,
    )
    .values(stock=goods_table.c.stock + _CHANGES.c.change)
    .returning(goods_table.c.id, goods_table.c.stock)
)


def create_good(
    village_id: int,
    *,
    name: str,
    unit: str,
    price_points: int,
    stock: int = 0,
    category: str | None = None,
    low_stock: int = 5,
    actor_id: int | None = None,
    supplier: str | None = None,
    cost_cents: int = 0,
) -> Good:
    """Add a good to the catalogue; its opening stock is recorded as a restock."""
    _check_name_free(village_id, name)
    good = Good(
        village_id=village_id,
        name=name,
        unit=unit,
        price_points=price_points,
        cost_cents=cost_cents,
        category=category,
        low_stock=low_stock,
        stock=0,
        active=True,
    )
    db.session.add(good)
    db.session.flush()
    if stock:
        move_stock(
            good.id,
            village_id,
            stock,
            kind=RESTOCK,
            note="期初库存",
            supplier=supplier,
            actor_id=actor_id,
        )
    record(
        village_id,
        actor_id,
        GOOD_CREATED,
        "good",
        good.id,
        {
            "name": name,
            "unit": unit,
            "price_points": price_points,
            "cost_cents": cost_cents,
            "stock": good.stock,
        },
    )
    return good


def _check_name_free(village_id: int, name: str, *, other_than: int | None = None) -> None:
    query = select(Good.id).where(Good.village_id == village_id, Good.name == name)
    if other_than is not None:
        query = query.where(Good.id != other_than)
    if db.session.scalar(query) is not None:
        raise ValidationFailed(
            f"The catalogue already has {name!r}.", errors={"name": ["This name is taken."]}
        )


def get_good(village_id: int, good_id: int) -> Good:
    """Return a good of the village, or answer 404."""
    return in_village(Good, village_id, good_id, "No such good.")


def update_good(good: Good, changes: dict, *, actor_id: int | None = None) -> Good:
    """Change a good's name, unit, price, category, low-stock mark or active flag.

    Stock changes only through movements (restock, stocktake, write-off).
    """
    if "name" in changes:
        _check_name_free(good.village_id, changes["name"], other_than=good.id)
    fields = ("name", "unit", "price_points", "category", "low_stock", "active", "cost_cents")
    changed = set_fields(good, fields, changes)
    if changed:
        record(
            good.village_id,
            actor_id,
            GOOD_UPDATED,
            "good",
            good.id,
            {"name": good.name, "changes": changed},
        )
    return good


def list_goods(village_id: int, *, active_only: bool = True) -> list[Good]:
    """Return the catalogue, by category and name."""
    query = select(Good).where(Good.village_id == village_id)
    if active_only:
        query = query.where(Good.active.is_(True))
    return list(db.session.scalars(query.order_by(Good.category, Good.name)))


def move_stock(good_id: int, village_id: int, quantity: int, **why: Any) -> StockMovement:
    """Change a good's stock by quantity and record why (move_stocks()'s keywords)."""
    return move_stocks(village_id, {good_id: quantity}, **why)[0]


def move_stocks(
    village_id: int,
    changes: dict[int, int],
    *,
    kind: str,
    note: str | None = None,
    supplier: str | None = None,
    redemption_id: int | None = None,
    actor_id: int | None = None,
    unit_cost_cents: int | None = None,
) -> list[StockMovement]:
    """Change goods' stock (good id -> quantity) and record why, in two statements.

    The only writer of stock. One conditional UPDATE moves every good, locked in
    ascending id order: concurrent takers queue on a good's row and the last units go
    to exactly as many as there are units. A good that would go below zero refuses
    them all (OutOfStock, naming it); the caller rolls back. Returns the movements in
    ascending good order.
    """
    if not changes or 0 in changes.values():
        raise ValidationFailed("A stock movement changes the stock.")
    connection = db.session.connection()
    ids = sorted(changes)
    rows = [{"id": good_id, "change": changes[good_id]} for good_id in ids]
    after: dict[int, int] = {
        row.id: row.stock
        for row in connection.execute(
            _MOVE_STOCK, {"village": village_id, **_CHANGES.bind(connection, rows)}
        )
    }
    for good_id in ids:
        if good_id not in after:
            good = get_good(village_id, good_id)
            raise OutOfStock(
                f"Not enough {good.name} in stock ({good.stock} {good.unit} left).",
                good_id=good.id,
                available=good.stock,
            )
        if after[good_id] > MAX_STOCK:
            raise ValidationFailed(
                f"Stock is at most {MAX_STOCK}.",
                errors={"quantity": [f"Stock is at most {MAX_STOCK}."]},
            )
        # The session's copy of the good (if it holds one) shows the stock the UPDATE
        # left, so an answer dumps it without reading the row again.
        held = db.session.identity_map.get(db.session.identity_key(Good, good_id))
        if held is not None:
            set_committed_value(held, "stock", after[good_id])
    now = utcnow()
    values = [
        {
            "village_id": village_id,
            "good_id": good_id,
            "kind": kind,
            "quantity": changes[good_id],
            "stock_after": after[good_id],
            "note": note,
            "supplier": supplier,
            "redemption_id": redemption_id,
            "unit_cost_cents": unit_cost_cents,
            "actor_id": actor_id,
            "created_at": now,
        }
        for good_id in ids
    ]
    movement_ids = insert_many(stock_movements, values, ids=True)
    return [
        adopt(StockMovement, movement_id, row)
        for movement_id, row in zip(movement_ids, values, strict=True)
    ]


def restock(
    good: Good,
    quantity: int,
    *,
    note: str | None,
    supplier: str | None,
    actor_id: int | None,
    unit_cost_cents: int | None = None,
) -> StockMovement:
    """Add delivered units; a unit cost given becomes the good's cost from now on."""
    if quantity <= 0:
        raise ValidationFailed(
            "A restock adds at least one unit.", errors={"quantity": ["At least 1."]}
        )
    movement = move_stock(
        good.id,
        good.village_id,
        quantity,
        kind=RESTOCK,
        note=note,
        supplier=supplier,
        actor_id=actor_id,
        unit_cost_cents=unit_cost_cents,
    )
    if unit_cost_cents is not None:
        good.cost_cents = unit_cost_cents
        db.session.flush()
    return movement


def stocktake(
    good: Good, counted: int, *, reason: str, actor_id: int | None
) -> StockMovement | None:
    """Set the stock to what was counted on the shelf; the difference is recorded."""
    if counted < 0:
        raise ValidationFailed("A count is zero or more.", errors={"counted": ["At least 0."]})
    # Lock the row while counting, so a redemption cannot slip between read and write.
    current = db.session.scalar(select(Good.stock).where(Good.id == good.id).with_for_update())
    difference = counted - (current or 0)
    details = {"name": good.name, "before": current or 0, "counted": counted}
    if difference == 0:
        record(good.village_id, actor_id, STOCK_COUNTED, "good", good.id, details, reason)
        return None
    movement = move_stock(
        good.id, good.village_id, difference, kind=STOCKTAKE, note=reason, actor_id=actor_id
    )
    details["movement_id"] = movement.id
    record(good.village_id, actor_id, STOCK_COUNTED, "good", good.id, details, reason)
    return movement


def write_off(good: Good, quantity: int, *, reason: str, actor_id: int | None) -> StockMovement:
    """Take damaged or expired units off the shelf."""
    if quantity <= 0:
        raise ValidationFailed(
            "A write-off removes at least one unit.", errors={"quantity": ["At least 1."]}
        )
    movement = move_stock(
        good.id, good.village_id, -quantity, kind=WRITEOFF, note=reason, actor_id=actor_id
    )
    record(
        good.village_id,
        actor_id,
        STOCK_WRITTEN_OFF,
        "good",
        good.id,
        {"name": good.name, "quantity": quantity, "stock_after": movement.stock_after},
        reason,
    )
    return movement


def movements(good: Good, *, limit: int = 100) -> list[StockMovement]:
    """Return the good's stock movements, newest first."""
    return list(
        db.session.scalars(
            select(StockMovement)
            .where(StockMovement.good_id == good.id)
            .order_by(StockMovement.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class PriceChange:
    """A good's points price or unit cost as it was set at one moment, and by whom."""

    at: datetime
    actor_id: int | None
    source: str  # "created", "edited" or "restock"
    price_points: int | None  # None: the price did not change then
    cost_cents: int | None  # None: the cost did not change then (or was not recorded)


def price_history(good: Good, *, limit: int = 100) -> list[PriceChange]:
    """Return when the good's price and cost were set, newest first.

    Read from what is already kept: the audit log's "good added" and "good edited"
    events, and the restocks that gave a unit cost (which becomes the good's cost).
    """
    changes: list[PriceChange] = []
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.village_id == good.village_id,
            AuditEvent.target_type == "good",
            AuditEvent.target_id == good.id,
            AuditEvent.action.in_((GOOD_CREATED, GOOD_UPDATED)),
        )
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    for event in events:
        details = event.details or {}
        if event.action == GOOD_CREATED:
            price, cost = details.get("price_points"), details.get("cost_cents")
        else:
            edited = details.get("changes") or {}
            price = (edited.get("price_points") or {}).get("new")
            cost = (edited.get("cost_cents") or {}).get("new")
        if price is None and cost is None and event.action == GOOD_UPDATED:
            continue
        source = "created" if event.action == GOOD_CREATED else "edited"
        changes.append(PriceChange(event.created_at, event.actor_id, source, price, cost))
    restocks = db.session.execute(
        select(StockMovement.created_at, StockMovement.actor_id, StockMovement.unit_cost_cents)
        .where(
            StockMovement.good_id == good.id,
            StockMovement.kind == RESTOCK,
            StockMovement.unit_cost_cents.is_not(None),
        )
        .order_by(StockMovement.id.desc())
        .limit(limit)
    )
    changes.extend(PriceChange(at, actor, "restock", None, cost) for at, actor, cost in restocks)
    changes.sort(key=lambda change: change.at, reverse=True)
    return changes[:limit]


def low_stock(village_id: int) -> list[Good]:
    """Return the active goods at or below their low-stock mark."""
    return list(
        db.session.scalars(
            select(Good)
            .where(
                Good.village_id == village_id, Good.active.is_(True), Good.stock <= Good.low_stock
            )
            .order_by(Good.stock, Good.name)
        )
    )


def verify_stock(village_id: int | None = None) -> list[Problem]:
    """Check each good's stock equals the sum of its movements, and each chain adds up."""
    problems: list[Problem] = []
    movements = select(
        StockMovement.good_id, func.coalesce(func.sum(StockMovement.quantity), 0).label("total")
    )
    if village_id is not None:  # the village's movements only, not the county's (issue 32)
        movements = movements.where(StockMovement.village_id == village_id)
    sums = movements.group_by(StockMovement.good_id).subquery()
    query = select(Good.id, Good.name, Good.stock, func.coalesce(sums.c.total, 0)).outerjoin(
        sums, sums.c.good_id == Good.id
    )
    if village_id is not None:
        query = query.where(Good.village_id == village_id)
    for good_id, name, stock, total in db.session.execute(query):
        if stock != total:
            problems.append(
                Problem(
                    "stock",
                    f"good {good_id} ({name}): stock {stock}, movements sum to {total}",
                    {"good_id": good_id},
                    expected=total,
                    actual=stock,
                )
            )
    previous = func.lag(StockMovement.stock_after, 1, 0).over(
        partition_by=StockMovement.good_id, order_by=StockMovement.id
    )
    chain = select(
        StockMovement.good_id,
        StockMovement.id,
        StockMovement.quantity,
        StockMovement.stock_after,
        previous.label("previous"),
    )
    if village_id is not None:
        chain = chain.where(StockMovement.village_id == village_id)
    chain_sq = chain.subquery()
    for good_id, movement_id, quantity, after, before in db.session.execute(
        select(chain_sq).where(chain_sq.c.previous + chain_sq.c.quantity != chain_sq.c.stock_after)
    ):
        problems.append(
            Problem(
                "stock_chain",
                f"good {good_id}: movement {movement_id} goes from "
                f"{before} by {quantity} to {after}",
                {"good_id": good_id},
                expected=before + quantity,
                actual=after,
            )
        )
    return problems
