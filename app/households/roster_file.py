"""Read a roster file, CSV or XLSX, into its rows: the header, the cells, the file's limits.

The importer (app/households/importer.py) checks each row; this module only reads
the file, refusing one that is not a spreadsheet, is too large once unpacked, too
wide, has a cell far longer than a roster's, or has no header row. Rows come as
(the number the spreadsheet shows, cell values).
"""

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, TypeAlias

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from app.errors import DomainError

NAME, ADDRESS, GRID, PHONE, MEMBERS = "name", "address", "grid", "phone", "members"
REQUIRED = (NAME, ADDRESS, GRID)
HEADER_ALIASES = {
    NAME: ("name", "户主", "户主姓名", "姓名"),
    ADDRESS: ("address", "地址", "住址"),
    GRID: ("grid", "网格"),
    PHONE: ("phone", "电话", "手机", "联系电话"),
    MEMBERS: ("members", "人口", "家庭人口", "人数"),
}
TEMPLATE_HEADER = ("户主姓名", "地址", "网格", "电话", "人口")
TEMPLATE_NAMES = dict(zip((NAME, ADDRESS, GRID, PHONE, MEMBERS), TEMPLATE_HEADER, strict=True))

MAX_ROWS = 20_000
# Physical rows read at most, blank ones included: bounds a decompression bomb.
MAX_SHEET_ROWS = 100_000
# A roster has five columns; a few more (notes) are ignored, hundreds are not a roster.
MAX_COLUMNS = 50
# An XLSX is a ZIP of XML. A roster of MAX_ROWS households unpacks to a few MB; a
# crafted file of 3 MB can unpack to gigabytes, which openpyxl would parse for minutes.
# Its sizes are read from the ZIP's directory before anything is unpacked (zipfile
# never unpacks past the size a member declares).
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 1_000
# Real sheets compress 5 to 30 times; a member packed far tighter is filler.
MAX_RATIO = 200
RATIO_FROM_BYTES = 1024 * 1024
# A title row or two may stand above the header; look this far for it.
HEADER_SEARCH_ROWS = 10
# Any cell, the ignored ones (notes) included. A longer one refuses the file as it is read,
# before anything looks at its characters: one shared string of a million characters can
# fill every cell of a 200 KB workbook, and checking it row by row took half a minute.
MAX_CELL_CHARS = 1_000
# What a message calls each column.
WORDS = {
    NAME: _l("name"),
    ADDRESS: _l("address"),
    GRID: _l("grid"),
    PHONE: _l("phone"),
    MEMBERS: _l("number of members"),
}
Message: TypeAlias = str | LazyString

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# How other documents people upload by mistake begin: PDF, RTF (Word), web pages, pictures.
OTHER_MAGIC = (b"%pdf", b"{\\rtf", b"<!doctype", b"<html", b"\xff\xd8\xff", b"gif8", b"\x89png")
NOT_A_SPREADSHEET = _l("The file is neither an Excel workbook (.xlsx) nor CSV text.")
WHOLE_PATTERN = re.compile(r"([0-9]{1,9})(?:\.0*)?")


def english(message: Message) -> str:
    """Return a message as the API says it: a lazy string's msgid with its values, untranslated."""
    if not isinstance(message, LazyString):
        return message
    msgid: str = message._args[0]
    values = {name: english(value) for name, value in message._kwargs.items()}
    return msgid % values if values else msgid


class RosterInvalid(DomainError):
    """The roster file, or some of its rows, cannot be imported; nothing was.

    errors say the problems in English (the API's answer); page_errors hold the
    same problems as lazy strings, which the import page shows in the reader's
    language.
    """

    status, code, title = 422, "validation_error", "The roster has errors"

    def __init__(self, detail: str, errors: dict[str, list], page_errors: dict[str, Any]):
        super().__init__(detail, errors=errors)
        self.errors = errors
        self.page_errors = page_errors


@dataclass(frozen=True)
class Column:
    key: str
    index: int
    header: str


def file_error(message: Message) -> RosterInvalid:
    text = english(message)
    return RosterInvalid(
        f"{text} Nothing was imported.",
        errors={"file": [text]},
        page_errors={"file": [message]},
    )


def _too_large() -> RosterInvalid:
    return file_error(
        _l(
            "The workbook unpacks to more than %(mb)d MB, far more than a roster needs. "
            "Copy the roster's rows into a new workbook, or save them as CSV, and upload "
            "that.",
            mb=MAX_UNPACKED_BYTES // (1024 * 1024),
        ),
    )


def _too_wide(row: int) -> RosterInvalid:
    return file_error(
        _l(
            "Row %(row)d has something in column %(column)d or beyond; a roster has at "
            "most %(most)d columns. Delete the columns after the roster's own.",
            row=row,
            column=MAX_COLUMNS + 1,
            most=MAX_COLUMNS,
        ),
    )


def _cell_too_long(row: int, index: int, length: int) -> RosterInvalid:
    return file_error(
        _l(
            "Row %(row)d, column %(column)s has %(n)d characters; a cell of a roster holds "
            "at most %(most)d. Check that cell, remove what does not belong there and "
            "upload the file again.",
            row=row,
            column=get_column_letter(index + 1),
            n=length,
            most=MAX_CELL_CHARS,
        ),
    )


# Cell values.


def cell_text(value: Any) -> str:
    """Return a cell's value as stripped text: 3.0 is "3", 13812345678 stays whole."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def whole_number(value: Any) -> int | None:
    """Return a cell's value as a whole number (3, 3.0, "3", "３"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e9 else None
    match = WHOLE_PATTERN.fullmatch(unicodedata.normalize("NFKC", cell_text(value)))
    return int(match[1]) if match else None


def loose_form(text: str) -> str:
    """Return the form two texts share when they differ only by spaces or letter case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


# Reading the file: (row number, cell values) for every physical row.


def physical_rows(data: bytes) -> Generator[tuple[int, Sequence[Any]], None, None]:
    if not data or not data.strip():
        raise file_error(_l("The file is empty."))
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower().startswith(OTHER_MAGIC):
        raise file_error(NOT_A_SPREADSHEET)
    if data.startswith(ZIP_MAGIC):
        return _xlsx_rows(data)
    if data.startswith(OLE_MAGIC):
        raise file_error(
            _l(
                "This is an old Excel .xls file. Save it as an Excel workbook "
                "(.xlsx) or as CSV and upload it again."
            )
        )
    return _csv_rows(_decode(data))


def _xlsx_rows(data: bytes) -> Generator[tuple[int, Sequence[Any]], None, None]:
    not_xlsx = _l(
        "The file is a ZIP archive but not an Excel workbook (.xlsx) that can be "
        "read. Save it as .xlsx or CSV and upload it again."
    )
    _check_archive(data, not_xlsx)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    # openpyxl fails on damaged or foreign ZIPs (.ods, .docx) with many kinds of error.
    except Exception:
        raise file_error(not_xlsx) from None
    try:
        if not book.worksheets:
            raise file_error(_l("The workbook has no worksheet."))
        sheet = book.worksheets[0]
        # The stored size may be wrong (some programs write A1:A1); read what is there.
        sheet.reset_dimensions()
        # One column past the limit, to notice it; openpyxl would otherwise pad each row
        # out to its last cell, column XFD (16,384) in a crafted file.
        values = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
        number = 0
        while True:
            try:
                row = next(values)
            except StopIteration:
                return
            except Exception:  # damaged sheet XML, again with many kinds of error
                raise file_error(not_xlsx) from None
            number += 1
            if number > MAX_SHEET_ROWS:
                raise file_error(
                    _l(
                        "The sheet runs past row %(last)d; a roster holds at most "
                        "%(most)d households.",
                        last=MAX_SHEET_ROWS,
                        most=MAX_ROWS,
                    )
                )
            yield number, _within_columns(number, row)
    finally:
        book.close()


def _check_archive(data: bytes, not_xlsx: Message) -> None:
    """Refuse a ZIP that unpacks to far more than a roster, from its directory alone."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise file_error(not_xlsx) from None
    if len(members) > MAX_MEMBERS:
        raise file_error(not_xlsx)
    total = 0
    for member in members:
        total += member.file_size
        packed_tight = member.file_size > MAX_RATIO * max(member.compress_size, 1)
        if total > MAX_UNPACKED_BYTES or (member.file_size > RATIO_FROM_BYTES and packed_tight):
            raise _too_large()


def _within_columns(number: int, row: Sequence[Any]) -> Sequence[Any]:
    """Return the row's first MAX_COLUMNS cells; refuse a row with more that are not blank,
    or with a cell longer than MAX_CELL_CHARS (its length only is looked at)."""
    for index, value in enumerate(row):
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            raise _cell_too_long(number, index, len(value))
    if len(row) <= MAX_COLUMNS:
        return row
    if any(cell_text(value) != "" for value in row[MAX_COLUMNS:]):
        raise _too_wide(number)
    return row[:MAX_COLUMNS]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # Chinese Excel saves "CSV" in GB18030 (GBK); UTF-8 is tried first.
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise file_error(
            _l("The file is neither an Excel workbook (.xlsx) nor CSV text (UTF-8 or GB18030).")
        )
    sample = text[:4096]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\r\n")
    # A stray control character is a row error; many of them mean binary data.
    if "\x00" in text or controls > max(4, len(sample) // 100):
        raise file_error(NOT_A_SPREADSHEET)
    return text


def _csv_rows(text: str) -> Generator[tuple[int, Sequence[Any]], None, None]:
    sample = "\n".join([line for line in text[:65536].splitlines() if line.strip()][:10])
    delimiter = max(",;\t", key=sample.count)
    if sample.count(delimiter) == 0:  # text with no columns at all: a letter, not a table
        raise file_error(NOT_A_SPREADSHEET)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise file_error(
                _l("Row %(row)d of the CSV cannot be read (%(why)s).", row=number + 1, why=error)
            ) from None
        number += 1
        if number > MAX_SHEET_ROWS:
            raise file_error(
                _l(
                    "The file runs past row %(last)d; a roster holds at most %(most)d households.",
                    last=MAX_SHEET_ROWS,
                    most=MAX_ROWS,
                )
            )
        yield number, _within_columns(number, row)


# The header: which column holds what.


def _normal_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", cell_text(value))
    return "".join(text.split()).replace("*", "").casefold()


ALIAS_KEYS = {
    _normal_header(alias): key for key, aliases in HEADER_ALIASES.items() for alias in aliases
}


def is_blank(row: Sequence[Any]) -> bool:
    return all(cell_text(value) == "" for value in row)


def find_header(
    rows: Iterable[tuple[int, Sequence[Any]]],
) -> tuple[dict[str, Column], int]:
    seen = 0
    for number, row in rows:
        if is_blank(row):
            continue
        seen += 1
        columns: dict[str, Column] = {}
        for index, value in enumerate(row):
            key = ALIAS_KEYS.get(_normal_header(value))
            if key is None:
                continue
            header = cell_text(value)
            if key in columns:
                raise file_error(
                    _l(
                        "Columns '%(first)s' and '%(second)s' both give the household's "
                        "%(what)s; keep one of them.",
                        first=columns[key].header,
                        second=header,
                        what=WORDS[key],
                    )
                )
            columns[key] = Column(key, index, header)
        if columns:
            missing = [key for key in REQUIRED if key not in columns]
            if missing:
                names = ", ".join(f"{key} ({TEMPLATE_NAMES[key]})" for key in missing)
                raise file_error(
                    _l(
                        "The header (row %(row)d) lacks the required column(s): %(names)s.",
                        row=number,
                        names=names,
                    )
                )
            return columns, number
        if seen >= HEADER_SEARCH_ROWS:
            break
    raise file_error(
        _l(
            "No header row found. The first row names the columns: 户主姓名 "
            "(name), 地址 (address), 网格 (grid), and optionally 电话 (phone) "
            "and 人口 (members)."
        )
    )
