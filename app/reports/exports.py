"""Exports for the village's spreadsheets: a header row, then one row per record.

Rows come from the database in batches (yield_per: a server-side cursor on
PostgreSQL), so a year of a large village never sits in memory at once. Times are
the village's local time, without an offset, which is what a spreadsheet shows.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from tempfile import SpooledTemporaryFile
from typing import IO, Any
from zoneinfo import ZoneInfo

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import aliased

from app.auth.models import User
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
CSV_ROWS_PER_CHUNK = 500
BOM = "\ufeff"
# Text a spreadsheet would run as a formula; such a cell starts with a quote instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

MOVEMENT_KINDS = {
    "restock": "入库",
    "redemption": "兑换出库",
    "cancel": "撤销退回",
    "stocktake": "盘点",
    "writeoff": "报损",
}
HOUSEHOLD_STATUSES = {"active": "在册", "moved": "已迁出"}

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Export:
    title: str
    header: tuple[str, ...]
    rows: Callable[[int, ZoneInfo, date, date], Iterator[Row]]
    widths: tuple[int, ...] = ()


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def _stream(statement: Select) -> Iterator[Any]:
    yield from db.session.execute(statement, execution_options={"yield_per": YIELD_PER})


def inspection_rows(village_id: int, zone: ZoneInfo, day_from: date, day_to: date) -> Iterator[Row]:
    """Every inspection on the days day_from..day_to, voided ones marked."""
    for row in _stream(
        select(
            Inspection.id,
            Inspection.local_date,
            Inspection.created_at,
            Household.code,
            Household.name,
            Grid.name.label("grid"),
            Inspection.grade,
            Inspection.points,
            User.username,
            Inspection.note,
            Inspection.voided_at,
            Inspection.void_reason,
        )
        .join(Household, Household.id == Inspection.household_id)
        .join(Grid, Grid.id == Inspection.grid_id)
        .join(User, User.id == Inspection.inspector_id)
        .where(
            Inspection.village_id == village_id,
            Inspection.local_date >= day_from,
            Inspection.local_date <= day_to,
        )
        .order_by(Inspection.local_date, Inspection.id)
    ):
        yield (
            row.id,
            row.local_date,
            _local(row.created_at, zone),
            row.code,
            row.name,
            row.grid,
            row.grade,
            row.points,
            row.username,
            row.note,
            "已作废" if row.voided_at else "有效",
            row.void_reason,
        )


def redemption_rows(village_id: int, zone: ZoneInfo, day_from: date, day_to: date) -> Iterator[Row]:
    """One row per receipt line of the redemptions made on the days, cancelled ones marked."""
    start, end = utc_bounds(zone, day_from, day_to)
    for row in _stream(
        select(
            Redemption.receipt_no,
            Redemption.created_at,
            Household.code,
            Household.name,
            Grid.name.label("grid"),
            RedemptionLine.name.label("good"),
            RedemptionLine.unit,
            RedemptionLine.quantity,
            RedemptionLine.price_points,
            RedemptionLine.line_points,
            Redemption.total_points,
            User.username,
            Redemption.cancelled_at,
            Redemption.cancel_reason,
        )
        .join(RedemptionLine, RedemptionLine.redemption_id == Redemption.id)
        .join(Household, Household.id == Redemption.household_id)
        .join(Grid, Grid.id == Household.grid_id)
        .join(User, User.id == Redemption.storekeeper_id)
        .where(
            Redemption.village_id == village_id,
            Redemption.created_at >= start,
            Redemption.created_at < end,
        )
        .order_by(Redemption.created_at, Redemption.id, RedemptionLine.good_id)
    ):
        yield (
            row.receipt_no,
            _local(row.created_at, zone),
            row.code,
            row.name,
            row.grid,
            row.good,
            row.unit,
            row.quantity,
            row.price_points,
            row.line_points,
            row.total_points,
            row.username,
            "已撤销" if row.cancelled_at else "有效",
            row.cancel_reason,
        )


def ledger_rows(village_id: int, zone: ZoneInfo, day_from: date, day_to: date) -> Iterator[Row]:
    """Every entry of a household account posted on the days, oldest first."""
    start, end = utc_bounds(zone, day_from, day_to)
    actor = aliased(User)
    for row in _stream(
        select(
            Journal.id,
            Entry.created_at,
            Household.code,
            Household.name,
            Journal.kind,
            Entry.delta,
            Entry.balance_after,
            Journal.memo,
            Journal.reason,
            Journal.reverses_id,
            actor.username,
        )
        # From the village's household accounts, so that entries are found through
        # the (account, created_at) index rather than by scanning every village's.
        .select_from(Account)
        .join(
            Entry,
            and_(Entry.account_id == Account.id, Entry.created_at >= start, Entry.created_at < end),
        )
        .join(Household, Household.id == Account.household_id)
        .join(Journal, Journal.id == Entry.journal_id)
        .outerjoin(actor, actor.id == Journal.actor_id)
        .where(Account.village_id == village_id, Account.kind == HOUSEHOLD)
        .order_by(Entry.created_at, Entry.journal_id, Entry.transfer_id)
    ):
        yield (
            row.id,
            _local(row.created_at, zone),
            row.code,
            row.name,
            journal_kind_label(row.kind),
            int(row.delta),
            int(row.balance_after),
            row.memo,
            row.reason,
            row.reverses_id,
            row.username,
        )


def household_rows(village_id: int, zone: ZoneInfo, day_from: date, day_to: date) -> Iterator[Row]:
    """Every household of the village, with its balance now and its figures over the days."""
    start, end = utc_bounds(zone, day_from, day_to)
    # Looked up per household through the (household, day) and household indexes: a
    # plan that stays fast also when the statistics lag behind a large import.
    inspected = (
        Inspection.household_id == Household.id,
        Inspection.local_date >= day_from,
        Inspection.local_date <= day_to,
        Inspection.voided_at.is_(None),
    )
    redeemed = (
        Redemption.household_id == Household.id,
        Redemption.cancelled_at.is_(None),
        Redemption.created_at >= start,
        Redemption.created_at < end,
    )

    def figure(value, *where):
        return select(func.coalesce(value, 0)).where(*where).scalar_subquery()

    for row in _stream(
        select(
            Household.code,
            Household.name,
            Household.address,
            Household.phone,
            Household.members,
            Grid.name.label("grid"),
            Household.status,
            Account.balance,
            figure(func.count(Inspection.id), *inspected).label("inspections"),
            figure(func.sum(Inspection.points), *inspected).label("earned"),
            figure(func.count(Redemption.id), *redeemed).label("redemptions"),
            figure(func.sum(Redemption.total_points), *redeemed).label("spent"),
            Household.created_at,
        )
        .join(Grid, Grid.id == Household.grid_id)
        .join(Account, Account.household_id == Household.id)
        .where(Household.village_id == village_id)
        .order_by(Grid.number, Household.code)
    ):
        registered = _local(row.created_at, zone)
        yield (
            row.code,
            row.name,
            row.address,
            row.phone,
            row.members,
            row.grid,
            HOUSEHOLD_STATUSES.get(row.status, row.status),
            int(row.balance),
            int(row.inspections),
            int(row.earned),
            int(row.redemptions),
            int(row.spent),
            registered.date() if registered else None,
        )


def stock_movement_rows(
    village_id: int, zone: ZoneInfo, day_from: date, day_to: date
) -> Iterator[Row]:
    """Every change of stock on the days, with why."""
    start, end = utc_bounds(zone, day_from, day_to)
    actor = aliased(User)
    for row in _stream(
        select(
            StockMovement.id,
            StockMovement.created_at,
            Good.name,
            Good.unit,
            StockMovement.kind,
            StockMovement.quantity,
            StockMovement.stock_after,
            Redemption.receipt_no,
            StockMovement.note,
            StockMovement.supplier,
            actor.username,
        )
        .join(Good, Good.id == StockMovement.good_id)
        .outerjoin(Redemption, Redemption.id == StockMovement.redemption_id)
        .outerjoin(actor, actor.id == StockMovement.actor_id)
        .where(
            StockMovement.village_id == village_id,
            StockMovement.created_at >= start,
            StockMovement.created_at < end,
        )
        .order_by(StockMovement.created_at, StockMovement.id)
    ):
        yield (
            row.id,
            _local(row.created_at, zone),
            row.name,
            row.unit,
            MOVEMENT_KINDS.get(row.kind, row.kind),
            row.quantity,
            row.stock_after,
            row.receipt_no,
            row.note,
            row.supplier,
            row.username,
        )


EXPORTS: dict[str, Export] = {
    "inspections": Export(
        "检查记录",
        (
            "编号",
            "日期",
            "检查时间",
            "户号",
            "户主",
            "网格",
            "等级",
            "积分",
            "督导员",
            "备注",
            "状态",
            "作废原因",
        ),
        inspection_rows,
        (8, 12, 20, 14, 10, 12, 6, 6, 12, 24, 8, 20),
    ),
    "redemptions": Export(
        "兑换明细",
        (
            "小票号",
            "兑换时间",
            "户号",
            "户主",
            "网格",
            "商品",
            "单位",
            "数量",
            "单价",
            "积分",
            "小票合计",
            "经办人",
            "状态",
            "撤销原因",
        ),
        redemption_rows,
        (18, 20, 14, 10, 12, 16, 6, 6, 6, 8, 10, 12, 8, 20),
    ),
    "ledger": Export(
        "积分流水",
        (
            "流水号",
            "时间",
            "户号",
            "户主",
            "类型",
            "积分变动",
            "变动后余额",
            "摘要",
            "原因",
            "冲正流水号",
            "操作人",
        ),
        ledger_rows,
        (8, 20, 14, 10, 10, 10, 10, 24, 20, 10, 12),
    ),
    "households": Export(
        "住户",
        (
            "户号",
            "户主",
            "地址",
            "电话",
            "人口",
            "网格",
            "状态",
            "当前积分",
            "期间检查次数",
            "期间获得积分",
            "期间兑换次数",
            "期间兑换积分",
            "建档日期",
        ),
        household_rows,
        (14, 10, 28, 14, 6, 12, 8, 10, 12, 12, 12, 12, 12),
    ),
    "stock_movements": Export(
        "库存变动",
        (
            "编号",
            "时间",
            "商品",
            "单位",
            "类型",
            "数量",
            "变动后库存",
            "小票号",
            "备注",
            "供应商",
            "经办人",
        ),
        stock_movement_rows,
        (8, 20, 16, 6, 10, 8, 10, 18, 24, 14, 12),
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
            "范围",
            "住户数",
            "参与住户数",
            "参与率",
            "检查次数",
            "分类准确率",
            "发放积分",
            "兑换次数",
            "兑换积分",
            "过期积分",
            "未兑换积分",
        ),
        summary_rows,
        (14, 10, 12, 10, 10, 12, 10, 10, 10, 10, 12),
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


def file_name(what: str, village_code: str, day_from: date, day_to: date, fmt: str) -> str:
    """Return a download's name, like inspections-MZ-2026-11-01-2026-11-30.csv."""
    return f"{what}-{village_code}-{day_from.isoformat()}-{day_to.isoformat()}.{fmt}"


def _csv_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(rows: Iterable[Row]) -> Iterator[bytes]:
    """Yield rows as UTF-8 CSV with a byte order mark (so Excel reads it), a batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(value) for value in row])
        if n % CSV_ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def write_xlsx(what: str, rows: Iterable[Row], target: IO[bytes]) -> None:
    """Write rows (the first is the header) to target as one XLSX sheet, row by row.

    The write-only workbook keeps its rows in a temporary file, not in memory.
    """
    export = PAGE_EXPORTS[what]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(export.title)
    for index, width in enumerate(export.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    iterator = iter(rows)
    header = []
    for name in next(iterator):
        cell = WriteOnlyCell(sheet, name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in iterator:
        sheet.append([_xlsx_value(sheet, value) for value in row])
    workbook.save(target)


def _xlsx_value(sheet, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # XML cannot hold control characters: openpyxl would refuse the whole file.
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):
        # openpyxl writes a string that starts with "=" as a formula: keep it text.
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


def chunks(source: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield a file's bytes from the start, size at a time, then close it."""
    try:
        source.seek(0)
        while block := source.read(size):
            yield block
    finally:
        source.close()


# Past this size the XLSX being built moves from memory to a file on disk.
XLSX_SPOOL_BYTES = 4 * 1024 * 1024


def download(what: str, fmt: str, village_id: int, village_code: str, day_from: date, day_to: date):
    """Answer an export as an attachment: CSV streamed as it is read, XLSX spooled then sent.

    CSV starts at once, whatever the size: its first bytes leave after the first
    batch of rows. An XLSX is a ZIP, written whole before its first byte can go.
    """
    name = file_name(what, village_code, day_from, day_to, fmt)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    rows = table(what, village_id, day_from, day_to)
    if fmt == "csv":
        return Response(
            stream_with_context(csv_chunks(rows)), mimetype=MIMETYPES["csv"], headers=headers
        )
    spool = SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)
    try:
        write_xlsx(what, rows, spool)
        headers["Content-Length"] = str(spool.tell())
    except BaseException:
        spool.close()
        raise
    response = Response(chunks(spool), mimetype=MIMETYPES["xlsx"], headers=headers)
    # The client may leave before the body is read: close (and delete) the file anyway.
    response.call_on_close(spool.close)
    return response
