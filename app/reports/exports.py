"""Exports for the village's spreadsheets: a header row, then one row per record.

Rows come from the database in batches (yield_per: a server-side cursor on
PostgreSQL), so a year of a large village never sits in memory at once. Times are
the village's local time, without an offset, which is what a spreadsheet shows.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.catalogue.labels import movement_kind_label
from app.catalogue.models import Good, StockMovement
from app.db import db
from app.households.models import Household
from app.inspections.models import Inspection
from app.ledger.labels import journal_kind_label
from app.ledger.models import HOUSEHOLD, Account, Entry, Journal
from app.redemptions.models import Redemption, RedemptionLine
from app.scope import utc_bounds, village_zone
from app.villages.models import Grid

YIELD_PER = 1000

HOUSEHOLD_STATUSES = {"active": "在册", "moved": "已迁出", "moved_out": "迁出", "merged": "已合户"}

Row = tuple[Any, ...]
# How a column shows a value read from the database, given the village's time zone.
Show = Callable[[Any, ZoneInfo], Any]
# A query of a range: (the select of the columns, village_id, zone, day_from, day_to).
Query = Callable[[Select, int, ZoneInfo, date, date], Select]


@dataclass(frozen=True)
class Column:
    header: str
    # In characters, for the spreadsheet.
    width: int
    # What the export's query selects for the column.
    value: Any = None
    show: Show | None = None


@dataclass(frozen=True)
class Export:
    title: str
    columns: tuple[Column, ...]
    # Joins, filters and orders the select of the columns' values.
    query: Query | None = None
    # For an export that is not one query: its rows of a range, a value per column.
    computed: Callable[[int, ZoneInfo, date, date], Iterable[Row]] | None = None

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(column.header for column in self.columns)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(column.width for column in self.columns)

    def rows(self, village_id: int, zone: ZoneInfo, day_from: date, day_to: date) -> Iterator[Row]:
        """Yield the range's rows, each value as its column shows it."""
        if self.query is None:
            assert self.computed is not None
            rows: Iterable[Row] = self.computed(village_id, zone, day_from, day_to)
        else:
            statement = select(*(column.value for column in self.columns))
            rows = _stream(self.query(statement, village_id, zone, day_from, day_to))
        shows = [(n, column.show) for n, column in enumerate(self.columns) if column.show]
        for row in rows:
            values = list(row)
            for n, show in shows:
                values[n] = show(values[n], zone)
            yield tuple(values)


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def _local_day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    local = _local(moment, zone)
    return local.date() if local else None


def _whole(value: Any, _zone: ZoneInfo) -> int:
    return int(value)


def _state(undone: str) -> Show:
    """Show a voided or cancelled moment as undone, its absence as valid."""
    return lambda moment, _zone: undone if moment else "有效"


def _label(labels: Callable[[str], str]) -> Show:
    """Show a kind in the export's words: Chinese, like its headers, whatever the reader's."""
    return lambda value, _zone: _in_chinese(labels, value)


@cache  # a handful of kinds; the catalogues do not change while the app runs
def _in_chinese(labels: Callable[[str], str], value: str) -> str:
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return labels(value)


def _stream(statement: Select) -> Iterator[Any]:
    yield from db.session.execute(statement, execution_options={"yield_per": YIELD_PER})


def _inspections(
    statement: Select, village_id: int, zone: ZoneInfo, day_from: date, day_to: date
) -> Select:
    """Every inspection on the days day_from..day_to, voided ones marked."""
    return (
        statement.join(Household, Household.id == Inspection.household_id)
        .join(Grid, Grid.id == Inspection.grid_id)
        .join(User, User.id == Inspection.inspector_id)
        .where(
            Inspection.village_id == village_id,
            Inspection.local_date >= day_from,
            Inspection.local_date <= day_to,
        )
        .order_by(Inspection.local_date, Inspection.id)
    )


def _redemptions(
    statement: Select, village_id: int, zone: ZoneInfo, day_from: date, day_to: date
) -> Select:
    """One row per receipt line of the redemptions made on the days, cancelled ones marked."""
    start, end = utc_bounds(zone, day_from, day_to)
    return (
        statement.join(RedemptionLine, RedemptionLine.redemption_id == Redemption.id)
        .join(Household, Household.id == Redemption.household_id)
        .join(Grid, Grid.id == Household.grid_id)
        .join(User, User.id == Redemption.storekeeper_id)
        .where(
            Redemption.village_id == village_id,
            Redemption.created_at >= start,
            Redemption.created_at < end,
        )
        .order_by(Redemption.created_at, Redemption.id, RedemptionLine.good_id)
    )


# Who posted an entry or moved stock (none for the system).
ACTOR = aliased(User)


def _ledger(
    statement: Select, village_id: int, zone: ZoneInfo, day_from: date, day_to: date
) -> Select:
    """Every entry of a household account posted on the days, household by household in
    posting order (version: by time, a balance need not follow from the row before)."""
    start, end = utc_bounds(zone, day_from, day_to)
    return (
        # From the village's household accounts, so that entries are found through
        # the (account, created_at) index rather than by scanning every village's.
        statement.select_from(Account)
        .join(
            Entry,
            and_(Entry.account_id == Account.id, Entry.created_at >= start, Entry.created_at < end),
        )
        .join(Household, Household.id == Account.household_id)
        .join(Journal, Journal.id == Entry.journal_id)
        .outerjoin(ACTOR, ACTOR.id == Journal.actor_id)
        .where(Account.village_id == village_id, Account.kind == HOUSEHOLD)
        .order_by(Household.code, Entry.version)
    )


# A household's figures over the range, bound when the export runs.
# Looked up per household through the (household, day) and household indexes: a
# plan that stays fast also when the statistics lag behind a large import.
INSPECTED = (
    Inspection.household_id == Household.id,
    Inspection.local_date >= bindparam("day_from"),
    Inspection.local_date <= bindparam("day_to"),
    Inspection.voided_at.is_(None),
)
REDEEMED = (
    Redemption.household_id == Household.id,
    Redemption.cancelled_at.is_(None),
    Redemption.created_at >= bindparam("start"),
    Redemption.created_at < bindparam("end"),
)


def _figure(value, *where):
    return select(func.coalesce(value, 0)).where(*where).scalar_subquery()


def _households(
    statement: Select, village_id: int, zone: ZoneInfo, day_from: date, day_to: date
) -> Select:
    """Every household of the village, with its balance now and its figures over the days."""
    start, end = utc_bounds(zone, day_from, day_to)
    return (
        statement.join(Grid, Grid.id == Household.grid_id)
        .join(Account, Account.household_id == Household.id)
        .where(Household.village_id == village_id)
        .order_by(Grid.number, Household.code)
        .params(day_from=day_from, day_to=day_to, start=start, end=end)
    )


def _stock_movements(
    statement: Select, village_id: int, zone: ZoneInfo, day_from: date, day_to: date
) -> Select:
    """Every change of stock on the days, with why."""
    start, end = utc_bounds(zone, day_from, day_to)
    return (
        statement.join(Good, Good.id == StockMovement.good_id)
        .outerjoin(Redemption, Redemption.id == StockMovement.redemption_id)
        .outerjoin(ACTOR, ACTOR.id == StockMovement.actor_id)
        .where(
            StockMovement.village_id == village_id,
            StockMovement.created_at >= start,
            StockMovement.created_at < end,
        )
        .order_by(StockMovement.created_at, StockMovement.id)
    )


# The columns that name a household, the same in every export that has them.
HOUSEHOLD_CODE = Column("户号", 14, Household.code)
HOUSEHOLD_NAME = Column("户主", 10, Household.name)
GRID = Column("网格", 12, Grid.name)

EXPORTS: dict[str, Export] = {
    "inspections": Export(
        "检查记录",
        (
            Column("编号", 8, Inspection.id),
            Column("日期", 12, Inspection.local_date),
            Column("检查时间", 20, Inspection.created_at, _local),
            HOUSEHOLD_CODE,
            HOUSEHOLD_NAME,
            GRID,
            Column("等级", 6, Inspection.grade),
            Column("积分", 6, Inspection.points),
            Column("督导员", 12, User.username),
            Column("备注", 24, Inspection.note),
            Column("状态", 8, Inspection.voided_at, _state("已作废")),
            Column("作废原因", 20, Inspection.void_reason),
        ),
        _inspections,
    ),
    "redemptions": Export(
        "兑换明细",
        (
            Column("小票号", 18, Redemption.receipt_no),
            Column("兑换时间", 20, Redemption.created_at, _local),
            HOUSEHOLD_CODE,
            HOUSEHOLD_NAME,
            GRID,
            Column("商品", 16, RedemptionLine.name),
            Column("单位", 6, RedemptionLine.unit),
            Column("数量", 6, RedemptionLine.quantity),
            Column("单价", 6, RedemptionLine.price_points),
            Column("积分", 8, RedemptionLine.line_points),
            Column("小票合计", 10, Redemption.total_points),
            Column("经办人", 12, User.username),
            Column("状态", 8, Redemption.cancelled_at, _state("已撤销")),
            Column("撤销原因", 20, Redemption.cancel_reason),
        ),
        _redemptions,
    ),
    "ledger": Export(
        "积分流水",
        (
            Column("流水号", 8, Journal.id),
            Column("时间", 20, Entry.created_at, _local),
            HOUSEHOLD_CODE,
            HOUSEHOLD_NAME,
            Column("类型", 10, Journal.kind, _label(journal_kind_label)),
            Column("积分变动", 10, Entry.delta, _whole),
            Column("变动后余额", 10, Entry.balance_after, _whole),
            Column("摘要", 24, Journal.memo),
            Column("原因", 20, Journal.reason),
            Column("冲正流水号", 10, Journal.reverses_id),
            Column("操作人", 12, ACTOR.username),
        ),
        _ledger,
    ),
    "households": Export(
        "住户",
        (
            HOUSEHOLD_CODE,
            HOUSEHOLD_NAME,
            Column("地址", 28, Household.address),
            Column("电话", 14, Household.phone),
            Column("人口", 6, Household.members),
            GRID,
            Column(
                "状态",
                8,
                Household.status,
                _label(lambda status: HOUSEHOLD_STATUSES.get(status, status)),
            ),
            Column("当前积分", 10, Account.balance, _whole),
            Column("期间检查次数", 12, _figure(func.count(Inspection.id), *INSPECTED), _whole),
            Column("期间获得积分", 12, _figure(func.sum(Inspection.points), *INSPECTED), _whole),
            Column("期间兑换次数", 12, _figure(func.count(Redemption.id), *REDEEMED), _whole),
            Column(
                "期间兑换积分", 12, _figure(func.sum(Redemption.total_points), *REDEEMED), _whole
            ),
            Column("建档日期", 12, Household.created_at, _local_day),
        ),
        _households,
    ),
    "stock_movements": Export(
        "库存变动",
        (
            Column("编号", 8, StockMovement.id),
            Column("时间", 20, StockMovement.created_at, _local),
            Column("商品", 16, Good.name),
            Column("单位", 6, Good.unit),
            Column("类型", 10, StockMovement.kind, _label(movement_kind_label)),
            Column("数量", 8, StockMovement.quantity),
            Column("变动后库存", 10, StockMovement.stock_after),
            Column("小票号", 18, Redemption.receipt_no),
            Column("备注", 24, StockMovement.note),
            Column("供应商", 14, StockMovement.supplier),
            Column("经办人", 12, ACTOR.username),
        ),
        _stock_movements,
    ),
}


def summary_rows(village_id: int, zone: ZoneInfo, day_from: date, day_to: date) -> Iterator[Row]:
    """The range's figures: the whole village, then each grid (the monthly report's table)."""
    from app.reports.services import summary

    figures = summary(village_id, day_from, day_to)
    yield (
        "全村",
        figures["households"],
        figures["households_inspected"],
        figures["participation_rate"],
        figures["inspections"],
        figures["accuracy"],
        figures["points_issued"],
        figures["redemptions"],
        figures["points_redeemed"],
        figures["points_expired"],
        figures["outstanding"],
    )
    for grid in figures["per_grid"]:
        yield (
            grid["name"],
            grid["households"],
            grid["households_inspected"],
            grid["participation_rate"],
            grid["inspections"],
            grid["accuracy"],
            grid["points_issued"],
            None,
            None,
            None,
            None,
        )


# The summary is for the report pages only; the API gives it as JSON (/reports/summary).
PAGE_EXPORTS: dict[str, Export] = {
    "summary": Export(
        "汇总",
        (
            Column("范围", 14),
            Column("住户数", 10),
            Column("参与住户数", 12),
            Column("参与率", 10),
            Column("检查次数", 10),
            Column("分类准确率", 12),
            Column("发放积分", 10),
            Column("兑换次数", 10),
            Column("兑换积分", 10),
            Column("过期积分", 10),
            Column("未兑换积分", 12),
        ),
        computed=summary_rows,
    ),
    **EXPORTS,
}
FORMATS = ("csv", "xlsx")
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table(what: str, village_id: int, day_from: date, day_to: date) -> Iterator[Row]:
    """Yield an export's header row, then its rows, lazily."""
    export = PAGE_EXPORTS[what]
    yield export.header
    yield from export.rows(village_id, village_zone(village_id), day_from, day_to)
