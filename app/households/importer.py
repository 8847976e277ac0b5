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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from app.audit.services import HOUSEHOLDS_IMPORTED, record
from app.db import db
from app.households.models import Household
from app.households.roster_file import (
    ADDRESS,
    GRID,
    MAX_ROWS,
    MEMBERS,
    NAME,
    PHONE,
    TEMPLATE_HEADER,
    WORDS,
    Column,
    Message,
    RosterInvalid,
    cell_text,
    english,
    file_error,
    find_header,
    is_blank,
    loose_form,
    physical_rows,
    whole_number,
)
from app.households.services import ACTIVE, allocate_codes
from app.ledger.services import open_household_accounts
from app.villages.models import Grid, Village
from app.villages.services import list_grids

# The template's rows show how to fill it in; a name starting so is never imported.
EXAMPLE_MARK = "【示例】"
EXAMPLE_STARTS = ("[示例]", "(示例)", "示例:", "示例", "example")
TEMPLATE_ROWS = (
    # A phone written with dashes stays text when Excel opens and saves the CSV.
    (EXAMPLE_MARK + "马秀英", "马庄村1组 幸福路8号", "东一网格", "138-1234-5678", 3),
    (EXAMPLE_MARK + "王建国", "马庄村2组 和平路12号", "西一网格", "", 4),
)

MAX_LISTED_ERRORS = 200
MAX_LENGTHS = {NAME: 100, ADDRESS: 200, PHONE: 32}
MISSING = {
    NAME: _l("The name is missing."),
    ADDRESS: _l("The address is missing."),
    GRID: _l("The grid is missing."),
}

Report = Callable[[str, Message], None]  # (column key, message) of the row being checked

# Control, format (zero-width, bidi), surrogate and line/paragraph separators.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
PHONE_PATTERN = re.compile(r"[0-9+\- ]+")


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
    rows = physical_rows(data)
    try:
        columns, header_row = find_header(rows)
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
    return loose_form(name).lstrip("【").startswith(EXAMPLE_STARTS)


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
        if is_blank(row):
            continue
        count += 1
        if count > MAX_ROWS:
            raise file_error(
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
        named = cell_text(cell(NAME))
        if _is_example(named):
            skipped.append(Skipped(number, named, _l("An example row of the template.")))
            continue
        name = _required_text(cell(NAME), NAME, bad)
        address = _required_text(cell(ADDRESS), ADDRESS, bad)
        if name is not None and address is not None:
            key = (loose_form(name), loose_form(address))
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
        raise file_error(
            _l("The file has a header (row %(row)d) but no households.", row=header_row)
        )
    return checked, skipped


def _existing(village_id: int) -> dict[tuple[str, str], str]:
    """The village's households by name and address, so that they are skipped: importing
    the same file twice adds nobody, and the master roster with new families added
    imports just the new ones."""
    return {
        (loose_form(name), loose_form(address)): code
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
            loose[loose_form(grid.name)].append(grid)
        self.by_loose_name = {key: found[0] for key, found in loose.items() if len(found) == 1}
        self.by_number = {grid.number: grid for grid in grids}

    def find(self, value: Any) -> Grid | None:
        text = cell_text(value)
        found = self.by_name.get(text) or self.by_loose_name.get(loose_form(text))
        if found is not None:
            return found
        number = whole_number(value)
        return self.by_number.get(number) if number is not None else None


def _required_text(value: Any, key: str, bad: Report) -> str | None:
    text = cell_text(value)
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
    text = cell_text(value)
    if not text:
        bad(GRID, MISSING[GRID])
        return None
    grid = grids.find(value)
    if grid is None:
        bad(GRID, _l("No grid named or numbered '%(text)s' in this village.", text=text))
    return grid


def _phone(value: Any, bad: Report) -> str | None:
    text = cell_text(value)
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
    if not cell_text(value):
        return None
    number = whole_number(value)
    if number is None or not 1 <= number <= 99:
        bad(
            MEMBERS,
            _l(
                "The number of members is a whole number from 1 to 99, not '%(text)s'.",
                text=cell_text(value),
            ),
        )
        return None
    return number
