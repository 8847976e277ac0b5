"""An export as a file: CSV streamed as it is read, XLSX written row by row, then sent.

The rows come from app/reports/exports.py (a header, then the records, in batches).
A cell that a spreadsheet would run as a formula stays text.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from app.reports.exports import MIMETYPES, PAGE_EXPORTS, Row, table

CSV_ROWS_PER_CHUNK = 500
BOM = "\ufeff"
# Text a spreadsheet would run as a formula; such a cell starts with a quote instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
