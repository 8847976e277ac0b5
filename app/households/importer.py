"""Import a village's roster of households from CSV or XLSX: all rows or none.

The file is read and every row checked before anything is written; one bad row
refuses the whole file, and the refusal names each bad row by the number the
spreadsheet shows (the header is row 1). A good file becomes its households in
the current transaction, with codes allocated once per grid, one bulk insert of
households and one of their points accounts. The caller commits.

Rows that are not errors but are not imported either are skipped and listed: a
household already in the village (the master roster uploaded again with new
families added), and the template's example rows (their name starts 【示例】).

Every message is a lazy gettext string: the API says it in English (its msgid
with its values), a page in the reader's language.
"""

import csv
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, TypeAlias

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from app.audit.services import HOUSEHOLDS_IMPORTED, record
from app.db import db
from app.errors import DomainError
from app.households.models import Household
from app.households.services import ACTIVE, allocate_codes
from app.ledger.services import open_household_accounts
from app.villages.models import Grid, Village
from app.villages.services import list_grids

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
# The template's rows show how to fill it in; a name starting so is never imported.
EXAMPLE_MARK = "【示例】"
EXAMPLE_STARTS = ("[示例]", "(示例)", "示例:", "示例", "example")
TEMPLATE_ROWS = (
    # A phone written with dashes stays text when Excel opens and saves the CSV.
    (EXAMPLE_MARK + "马秀英", "马庄村1组 幸福路8号", "东一网格", "138-1234-5678", 3),
    (EXAMPLE_MARK + "王建国", "马庄村2组 和平路12号", "西一网格", "", 4),
)

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
MAX_LISTED_ERRORS = 200
# A title row or two may stand above the header; look this far for it.
HEADER_SEARCH_ROWS = 10
MAX_LENGTHS = {NAME: 100, ADDRESS: 200, PHONE: 32}
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
MISSING = {
    NAME: _l("The name is missing."),
    ADDRESS: _l("The address is missing."),
    GRID: _l("The grid is missing."),
}

Message: TypeAlias = str | LazyString
Report = Callable[[str, Message], None]  # (column key, message) of the row being checked

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# How other documents people upload by mistake begin: PDF, RTF (Word), web pages, pictures.
OTHER_MAGIC = (b"%pdf", b"{\\rtf", b"<!doctype", b"<html", b"\xff\xd8\xff", b"gif8", b"\x89png")
NOT_A_SPREADSHEET = _l("The file is neither an Excel workbook (.xlsx) nor CSV text.")
# Control, format (zero-width, bidi), surrogate and line/paragraph separators.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
PHONE_PATTERN = re.compile(r"[0-9+\- ]+")
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
class Skipped:
    """A row left out without being an error: why, and the household it already is."""

    row: int
    name: str
    reason: Message
    code: str | None = None


class Imported(list[Household]):
    """The households an import created, with the rows it skipped."""

    def __init__(self, households: Iterable[Household], skipped: list[Skipped]):
        super().__init__(households)
        self.skipped = skipped


@dataclass(frozen=True)
class RosterRow:
    row: int
    name: str
    address: str
    grid: Grid
    phone: str | None
    members: int | None


@dataclass(frozen=True)
class Column:
    key: str
    index: int
    header: str


def import_roster(village: Village, data: bytes, *, actor_id: int | None = None) -> Imported:
    """Create every new household of a roster file, or none and raise RosterInvalid.

    Households already in the village, and example rows, are skipped and listed.
    Imports into one village queue on the village's row, so that the rule "a
    household already in the village is not imported again" holds when the same
    file is sent twice at once: the second import reads what the first wrote.
    """
    lock_village(village.id)
    rows, skipped = parse_roster(village, data)
    if not rows:
        return Imported([], skipped)
    by_grid: dict[int, list[RosterRow]] = defaultdict(list)
    for row in rows:
        by_grid[row.grid.id].append(row)
    codes: dict[int, Iterator[str]] = {
        grid_id: iter(allocate_codes(village, grid_rows[0].grid, len(grid_rows)))
        for grid_id, grid_rows in by_grid.items()
    }
    households = [
        Household(
            village_id=village.id,
            grid_id=row.grid.id,
            code=next(codes[row.grid.id]),
            name=row.name,
            address=row.address,
            phone=row.phone,
            members=row.members,
            status=ACTIVE,
            card_version=1,
        )
        for row in rows
    ]
    db.session.add_all(households)
    db.session.flush()
    open_household_accounts(village.id, [household.id for household in households])
    record(
        village.id,
        actor_id,
        HOUSEHOLDS_IMPORTED,
        "village",
        village.id,
        {"count": len(households)},
    )
    return Imported(households, skipped)


def lock_village(village_id: int) -> None:
    """Hold the village's row until the transaction ends; on SQLite, BEGIN IMMEDIATE does.

    FOR NO KEY UPDATE: rows that merely reference the village (an inspection, a
    journal) are still written meanwhile; only another import, or a change of the
    rules, waits.
    """
    db.session.execute(
        select(Village.id).where(Village.id == village_id).with_for_update(key_share=True)
    )


def parse_roster(village: Village, data: bytes) -> tuple[list[RosterRow], list[Skipped]]:
    """Read and check every row of a roster file: the rows to import and those skipped.

    Raise RosterInvalid on any problem.
    """
    rows = _physical_rows(data)
    try:
        columns, header_row = _find_header(rows)
        return _check_rows(village, rows, columns, header_row)
    finally:
        rows.close()  # an XLSX keeps its archive open until then


def roster_template_csv() -> bytes:
    """Return an example roster as CSV, with a BOM so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerows(TEMPLATE_ROWS)
    return buffer.getvalue().encode("utf-8-sig")


def roster_template_xlsx() -> bytes:
    """Return an example roster as an XLSX workbook with a bold header row."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "住户名单"
    sheet.append(TEMPLATE_HEADER)
    for row in TEMPLATE_ROWS:
        sheet.append(row)
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    for letter, width in zip("ABCDE", (14, 32, 14, 18, 8), strict=True):
        sheet.column_dimensions[letter].width = width
    # Text, so that Excel keeps a phone number's digits instead of 1.38123E+10.
    sheet.column_dimensions["D"].number_format = "@"
    for (cell,) in sheet.iter_rows(min_row=2, min_col=4, max_col=4):
        cell.number_format = "@"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _file_error(message: Message) -> RosterInvalid:
    text = english(message)
    return RosterInvalid(
        f"{text} Nothing was imported.",
        errors={"file": [text]},
        page_errors={"file": [message]},
    )


def _too_large() -> RosterInvalid:
    return _file_error(
        _l(
            "The workbook unpacks to more than %(mb)d MB, far more than a roster needs. "
            "Copy the roster's rows into a new workbook, or save them as CSV, and upload "
            "that.",
            mb=MAX_UNPACKED_BYTES // (1024 * 1024),
        ),
    )


def _too_wide(row: int) -> RosterInvalid:
    return _file_error(
        _l(
            "Row %(row)d has something in column %(column)d or beyond; a roster has at "
            "most %(most)d columns. Delete the columns after the roster's own.",
            row=row,
            column=MAX_COLUMNS + 1,
            most=MAX_COLUMNS,
        ),
    )


def _cell_too_long(row: int, index: int, length: int) -> RosterInvalid:
    return _file_error(
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


def _text(value: Any) -> str:
    """Return a cell's value as stripped text: 3.0 is "3", 13812345678 stays whole."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _whole(value: Any) -> int | None:
    """Return a cell's value as a whole number (3, 3.0, "3", "３"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e9 else None
    match = WHOLE_PATTERN.fullmatch(unicodedata.normalize("NFKC", _text(value)))
    return int(match[1]) if match else None


def _same(text: str) -> str:
    """Return the form two texts share when they differ only by spaces or letter case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


# Reading the file: (row number, cell values) for every physical row.


def _physical_rows(data: bytes) -> Generator[tuple[int, Sequence[Any]], None, None]:
    if not data or not data.strip():
        raise _file_error(_l("The file is empty."))
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower().startswith(OTHER_MAGIC):
        raise _file_error(NOT_A_SPREADSHEET)
    if data.startswith(ZIP_MAGIC):
        return _xlsx_rows(data)
    if data.startswith(OLE_MAGIC):
        raise _file_error(
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
        raise _file_error(not_xlsx) from None
    try:
        if not book.worksheets:
            raise _file_error(_l("The workbook has no worksheet."))
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
                raise _file_error(not_xlsx) from None
            number += 1
            if number > MAX_SHEET_ROWS:
                raise _file_error(
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
        raise _file_error(not_xlsx) from None
    if len(members) > MAX_MEMBERS:
        raise _file_error(not_xlsx)
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
    if any(_text(value) != "" for value in row[MAX_COLUMNS:]):
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
        raise _file_error(
            _l("The file is neither an Excel workbook (.xlsx) nor CSV text (UTF-8 or GB18030).")
        )
    sample = text[:4096]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\r\n")
    # A stray control character is a row error; many of them mean binary data.
    if "\x00" in text or controls > max(4, len(sample) // 100):
        raise _file_error(NOT_A_SPREADSHEET)
    return text


def _csv_rows(text: str) -> Generator[tuple[int, Sequence[Any]], None, None]:
    sample = "\n".join([line for line in text[:65536].splitlines() if line.strip()][:10])
    delimiter = max(",;\t", key=sample.count)
    if sample.count(delimiter) == 0:  # text with no columns at all: a letter, not a table
        raise _file_error(NOT_A_SPREADSHEET)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _file_error(
                _l("Row %(row)d of the CSV cannot be read (%(why)s).", row=number + 1, why=error)
            ) from None
        number += 1
        if number > MAX_SHEET_ROWS:
            raise _file_error(
                _l(
                    "The file runs past row %(last)d; a roster holds at most %(most)d households.",
                    last=MAX_SHEET_ROWS,
                    most=MAX_ROWS,
                )
            )
        yield number, _within_columns(number, row)


# The header: which column holds what.


def _normal_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", _text(value))
    return "".join(text.split()).replace("*", "").casefold()


ALIAS_KEYS = {
    _normal_header(alias): key for key, aliases in HEADER_ALIASES.items() for alias in aliases
}


def _is_blank(row: Sequence[Any]) -> bool:
    return all(_text(value) == "" for value in row)


def _find_header(
    rows: Iterable[tuple[int, Sequence[Any]]],
) -> tuple[dict[str, Column], int]:
    seen = 0
    for number, row in rows:
        if _is_blank(row):
            continue
        seen += 1
        columns: dict[str, Column] = {}
        for index, value in enumerate(row):
            key = ALIAS_KEYS.get(_normal_header(value))
            if key is None:
                continue
            header = _text(value)
            if key in columns:
                raise _file_error(
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
                raise _file_error(
                    _l(
                        "The header (row %(row)d) lacks the required column(s): %(names)s.",
                        row=number,
                        names=names,
                    )
                )
            return columns, number
        if seen >= HEADER_SEARCH_ROWS:
            break
    raise _file_error(
        _l(
            "No header row found. The first row names the columns: 户主姓名 "
            "(name), 地址 (address), 网格 (grid), and optionally 电话 (phone) "
            "and 人口 (members)."
        )
    )


# The rows.


class _Problems:
    """Row errors in row order, the first MAX_LISTED_ERRORS of them kept.

    listed says them in English for the API; shown holds them as lazy strings.
    """

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.shown: list[dict[str, Any]] = []
        self.total = 0
        self.rows: set[int] = set()

    def add(self, row: int, column: str, message: Message) -> None:
        self.total += 1
        self.rows.add(row)
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append({"row": row, "column": column, "message": english(message)})
            self.shown.append({"row": row, "column": column, "message": message})

    def refusal(self) -> RosterInvalid:
        listed = (
            ""
            if self.total <= MAX_LISTED_ERRORS
            else f" The first {MAX_LISTED_ERRORS} problems are listed."
        )
        return RosterInvalid(
            f"{len(self.rows)} row(s) have errors ({self.total} problem(s)); "
            f"nothing was imported.{listed}",
            errors={"rows": self.listed},
            page_errors={"rows": self.shown, "total": self.total},
        )


def _is_example(name: str) -> bool:
    """Whether a name marks one of the template's example rows."""
    return _same(name).lstrip("【").startswith(EXAMPLE_STARTS)


def _check_rows(
    village: Village,
    rows: Iterable[tuple[int, Sequence[Any]]],
    columns: dict[str, Column],
    header_row: int,
) -> tuple[list[RosterRow], list[Skipped]]:
    grids = _GridFinder(list_grids(village.id))
    problems = _Problems()
    checked: list[RosterRow] = []
    skipped: list[Skipped] = []
    first_seen: dict[tuple[str, str], int] = {}
    existing = _existing(village.id)
    count = 0
    for number, row in rows:
        if _is_blank(row):
            continue
        count += 1
        if count > MAX_ROWS:
            raise _file_error(
                _l(
                    "The file has more than %(most)d households; split it into files of "
                    "at most that many rows.",
                    most=MAX_ROWS,
                )
            )

        def cell(key: str, row: Sequence[Any] = row) -> Any:
            column = columns.get(key)
            if column is None or column.index >= len(row):
                return None
            return row[column.index]

        def bad(key: str, message: Message, number: int = number) -> None:
            problems.add(number, columns[key].header, message)

        if _too_long(columns, cell, bad):
            continue
        named = _text(cell(NAME))
        if _is_example(named):
            skipped.append(Skipped(number, named, _l("An example row of the template.")))
            continue
        name = _required_text(cell(NAME), NAME, bad)
        address = _required_text(cell(ADDRESS), ADDRESS, bad)
        if name is not None and address is not None:
            key = (_same(name), _same(address))
            if key in existing:
                code = existing[key]
                reason = _l("Already in the village as %(code)s.", code=code)
                skipped.append(Skipped(number, name, reason, code))
                continue
        grid = _grid(cell(GRID), grids, bad)
        phone = _phone(cell(PHONE), bad) if PHONE in columns else None
        members = _members(cell(MEMBERS), bad) if MEMBERS in columns else None
        if name is not None and address is not None:
            if key in first_seen:
                bad(
                    NAME,
                    _l(
                        "The same household (name and address) is already on row %(row)d.",
                        row=first_seen[key],
                    ),
                )
            else:
                first_seen[key] = number
        if number not in problems.rows and name and address and grid:
            checked.append(RosterRow(number, name, address, grid, phone, members))

    if problems.total:
        raise problems.refusal()
    if not checked and not skipped:
        raise _file_error(
            _l("The file has a header (row %(row)d) but no households.", row=header_row)
        )
    return checked, skipped


def _existing(village_id: int) -> dict[tuple[str, str], str]:
    """The village's households by name and address, so that they are skipped: importing
    the same file twice adds nobody, and the master roster with new families added
    imports just the new ones."""
    return {
        (_same(name), _same(address)): code
        for name, address, code in db.session.execute(
            select(Household.name, Household.address, Household.code).where(
                Household.village_id == village_id
            )
        )
    }


def _too_long(columns: dict[str, Column], cell: Callable[[str], Any], bad: Report) -> bool:
    """Report each text of the row longer than its column allows, by its length alone,
    before anything looks at its characters; say whether there was one."""
    found = False
    for key, limit in MAX_LENGTHS.items():
        value = cell(key) if key in columns else None
        if isinstance(value, str) and len(value) > limit and len(text := value.strip()) > limit:
            bad(key, _length_problem(key, len(text)))
            found = True
    return found


def _length_problem(key: str, length: int) -> Message:
    return _l(
        "The %(what)s has %(n)d characters; at most %(most)d are allowed.",
        what=WORDS[key],
        n=length,
        most=MAX_LENGTHS[key],
    )


class _GridFinder:
    """Find a grid of the village by its name or by its number."""

    def __init__(self, grids: list[Grid]):
        self.by_name = {grid.name.strip(): grid for grid in grids}
        loose: dict[str, list[Grid]] = defaultdict(list)
        for grid in grids:
            loose[_same(grid.name)].append(grid)
        self.by_loose_name = {key: found[0] for key, found in loose.items() if len(found) == 1}
        self.by_number = {grid.number: grid for grid in grids}

    def find(self, value: Any) -> Grid | None:
        text = _text(value)
        found = self.by_name.get(text) or self.by_loose_name.get(_same(text))
        if found is not None:
            return found
        number = _whole(value)
        return self.by_number.get(number) if number is not None else None


def _required_text(value: Any, key: str, bad: Report) -> str | None:
    text = _text(value)
    if not text:
        bad(key, MISSING[key])
        return None
    return _checked_text(text, key, bad)


def _checked_text(text: str, key: str, bad: Report) -> str | None:
    if len(text) > MAX_LENGTHS[key]:
        bad(key, _length_problem(key, len(text)))
        return None
    if not text.isprintable() and any(unicodedata.category(c) in REFUSED_CATEGORIES for c in text):
        bad(
            key,
            _l(
                "The %(what)s contains a control or invisible character (such as a line "
                "break or a zero-width space).",
                what=WORDS[key],
            ),
        )
        return None
    return text


def _grid(value: Any, grids: _GridFinder, bad: Report) -> Grid | None:
    text = _text(value)
    if not text:
        bad(GRID, MISSING[GRID])
        return None
    grid = grids.find(value)
    if grid is None:
        bad(GRID, _l("No grid named or numbered '%(text)s' in this village.", text=text))
    return grid


def _phone(value: Any, bad: Report) -> str | None:
    text = _text(value)
    if not text:
        return None
    if _checked_text(text, PHONE, bad) is None:
        return None
    phone = unicodedata.normalize("NFKC", text)
    if re.fullmatch(r"[0-9.]+[eE]\+?[0-9]+", phone):
        bad(
            PHONE,
            _l(
                "Excel turned this phone number into '%(text)s'; format the column as "
                "text and type the number again.",
                text=text,
            ),
        )
        return None
    if not PHONE_PATTERN.fullmatch(phone) or not any(c.isdigit() for c in phone):
        bad(PHONE, _l("A phone number has only digits, +, - and spaces."))
        return None
    return phone


def _members(value: Any, bad: Report) -> int | None:
    if not _text(value):
        return None
    number = _whole(value)
    if number is None or not 1 <= number <= 99:
        bad(
            MEMBERS,
            _l(
                "The number of members is a whole number from 1 to 99, not '%(text)s'.",
                text=_text(value),
            ),
        )
        return None
    return number
