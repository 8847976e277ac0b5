"""Spreadsheet exports through the API and the reports page: Chinese headers, the range's rows."""

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import event, select
from testsupport import (
    admin_client_in_chinese,  # noqa: F401 (the office fixture)
    log_in,
)

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.catalogue import services as catalogue
from app.catalogue.models import Good
from app.db import db
from app.inspections import services as inspections
from app.ledger import services as ledger
from app.redemptions import services as redemptions
from app.redemptions.services import LineRequest
from app.reports import export_files, exports

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
WHATS = ("inspections", "redemptions", "ledger", "households", "stock_movements")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def read_table(response, fmt: str) -> list[list]:
    """Open a downloaded export the way a user's spreadsheet program would."""
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_data()
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        return [row for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))]
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


@pytest.fixture
def download(client, admin_headers):
    def get(what: str, fmt: str = "csv", *, headers=None, **query):
        return client.get(
            f"/api/v1/reports/exports/{what}.{fmt}",
            query_string=query or OCTOBER,
            headers=headers or admin_headers,
        )

    return get


@pytest.fixture
def seeded(app, village, grid, make_grid, make_household, make_user, admin):
    """October in a village: what falls inside the month and what falls just outside it."""
    inspector = make_user(INSPECTOR, username="wang_inspects")
    storekeeper = make_user(STOREKEEPER, username="zhao_sells")
    west = make_grid("西二网格")
    h1 = make_household(name="张三", address="幸福路1号")
    h2 = make_household(name="李四", address="幸福路2号", phone="13800000000", members=4)
    h3 = make_household(name="王五", address="光明路3号", in_grid=west)

    inspections.record_inspection(h1, inspector, "A", at=at(10, 5))
    voided = inspections.record_inspection(h2, inspector, "B", at=at(10, 6))
    inspections.record_inspection(h1, inspector, "C", at=at(10, 31, 23, 30))
    inspections.record_inspection(h2, inspector, "A", at=at(11, 1, 0, 10))
    inspections.record_inspection(h1, inspector, "A", at=at(9, 30, 23, 30))
    inspections.void_inspection(voided, actor=admin, reason="录错了")
    ledger.adjust(village.id, h2.id, 20, reason="补录纸质积分", actor_id=admin.id, at=at(10, 7))
    ledger.adjust(village.id, h3.id, 10, reason="期初", actor_id=admin.id, at=at(9, 1))

    soap = catalogue.create_good(village.id, name="肥皂", unit="块", price_points=2, stock=100)
    oil = catalogue.create_good(village.id, name="食用油", unit="瓶", price_points=5, stock=50)
    redemptions.redeem_goods(
        h2, storekeeper, [LineRequest(soap.id, 1), LineRequest(oil.id, 1)], at=at(10, 10)
    )
    redemptions.redeem_goods(h2, storekeeper, [LineRequest(soap.id, 2)], at=at(10, 31, 23))
    redemptions.redeem_goods(h3, storekeeper, [LineRequest(soap.id, 1)], at=at(11, 1, 0, 30))
    cancelled = redemptions.redeem_goods(
        h2, storekeeper, [LineRequest(soap.id, 1)], at=at(10, 15)
    ).redemption
    redemptions.cancel(cancelled, actor=storekeeper, reason="退货")
    catalogue.restock(soap, 10, note="进货", supplier="供销社", actor_id=storekeeper.id)
    db.session.commit()
    return {"h1": h1, "h2": h2, "h3": h3, "inspector": inspector}


def today_range(village) -> dict:
    today = inspections.village_today(village.id).isoformat()
    return {"from": today, "to": today}


# How many records each export holds for October, counted from the seeding above:
# inspections: Oct 5, Oct 6 (voided, marked) and Oct 31 23:30; not Sep 30 or Nov 1.
# redemptions: receipt lines of Oct 10 (2), Oct 31 (1), Oct 15 (cancelled, marked, 1).
# ledger: household entries posted in October: 2 inspection credits (a C and an A:
#   the voided B's credit too, 3), 1 adjustment, 3 redemptions; the void's and the
#   cancellation's reversals are posted today, outside October.
# households: every household. stock_movements: all made today, none in October.
OCTOBER_ROWS = {
    "inspections": 3,
    "redemptions": 4,
    "ledger": 7,
    "households": 3,
    "stock_movements": 0,
}


# Opening the files ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("what", WHATS)
def test_each_export_opens_with_its_header_and_one_row_per_record(seeded, download, what, fmt):
    rows = read_table(download(what, fmt), fmt)

    assert tuple(rows[0]) == exports.EXPORTS[what].header
    assert len(rows) - 1 == OCTOBER_ROWS[what]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_stock_movements_of_today(seeded, village, download, fmt):
    rows = read_table(download("stock_movements", fmt, **today_range(village)), fmt)

    # Two opening stocks, five receipt lines, one cancellation, one restock.
    assert len(rows) - 1 == 9
    kinds = [row[4] for row in rows[1:]]
    assert (kinds.count("入库"), kinds.count("兑换出库"), kinds.count("撤销退回")) == (3, 5, 1)
    restock = rows[-1]
    assert [str(restock[i]) for i in (2, 5, 6, 9)] == ["肥皂", "10", "106", "供销社"]


def test_the_stock_page_names_movements_as_the_export_does(seeded, client):
    soap = db.session.scalars(select(Good).where(Good.name == "肥皂")).one()
    log_in(client, "admin")

    page = client.get(f"/admin/goods/{soap.id}").text

    assert all(word in page for word in ("入库", "兑换出库", "撤销退回"))


def test_headers_are_chinese(seeded, download):
    header = read_table(download("inspections"), "csv")[0]

    assert {"户号", "户主", "网格", "日期", "等级", "积分"} <= set(header)


def test_kinds_are_chinese_like_the_headers_for_a_reader_in_english(seeded, village, download):
    movements = read_table(download("stock_movements", **today_range(village), lang="en"), "csv")
    ledger_rows = read_table(download("ledger", lang="en", **OCTOBER), "csv")

    assert "入库" in [row[4] for row in movements[1:]]
    assert "兑换" in "".join(row[4] for row in ledger_rows[1:])


@pytest.mark.parametrize(("fmt", "mimetype"), [("csv", "text/csv"), ("xlsx", XLSX)])
def test_download_names_the_file_for_the_village_and_range(village, download, fmt, mimetype):
    response = download("inspections", fmt, **{"from": "2026-11-01", "to": "2026-11-30"})

    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="inspections-MZ-2026-11-01-2026-11-30.{fmt}"'
    )
    assert "no-store" in response.headers["Cache-Control"]


def test_csv_is_streamed(seeded, download):
    response = download("ledger")

    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.mimetype_params.get("charset") == "utf-8"


def test_small_batches_give_the_same_file(seeded, download, monkeypatch):
    """Rows come in database batches and leave in CSV chunks: none lost at the seams."""
    whole = {what: download(what).get_data() for what in WHATS}
    monkeypatch.setattr(exports, "YIELD_PER", 2)
    monkeypatch.setattr(export_files, "CSV_ROWS_PER_CHUNK", 2)

    for what in WHATS:
        assert download(what).get_data() == whole[what], what


def test_rows_come_from_a_server_side_cursor(app, seeded, download):
    """A year of a large village is never loaded at once: the database hands out batches."""
    reads = []

    def record(_connection, cursor, statement, _parameters, context, _executemany):
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY" in statement:
            reads.append((context.execution_options.get("stream_results"), type(cursor).__name__))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for what in WHATS:
            download(what, "xlsx").get_data()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert len(reads) == len(WHATS)
    assert all(streamed for streamed, _ in reads)
    if app.config["TEST_BACKEND"] == "postgresql":
        assert {cursor for _, cursor in reads} == {"ServerCursor"}


# What the rows say ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_inspection_rows_carry_the_village_day_and_time(seeded, download, fmt):
    rows = read_table(download("inspections", fmt), fmt)[1:]

    by_status = {row[10]: row for row in rows}
    late = rows[-1]
    if fmt == "csv":
        assert late[1:3] == ["2026-10-31", "2026-10-31 23:30:00"]
        assert late[7] == "1"
    else:
        assert late[1].date() == date(2026, 10, 31)
        assert late[2] == datetime(2026, 10, 31, 23, 30)
        assert late[7] == 1
    assert (late[3], late[4], late[5], late[6]) == (seeded["h1"].code, "张三", "东一网格", "C")
    assert late[8] == "wang_inspects"
    assert by_status["已作废"][11] == "录错了"


def test_redemption_rows_are_receipt_lines(seeded, download):
    rows = read_table(download("redemptions"), "csv")[1:]

    goods = [(row[5], row[7], row[9], row[12]) for row in rows]
    assert goods == [
        ("肥皂", "1", "2", "有效"),
        ("食用油", "1", "5", "有效"),
        ("肥皂", "1", "2", "已撤销"),
        ("肥皂", "2", "4", "有效"),
    ]
    assert rows[0][0] == rows[1][0] and rows[0][10] == "7"


def test_ledger_rows_are_signed_with_the_balance_after(seeded, village, download):
    october = read_table(download("ledger"), "csv")[1:]
    today = read_table(download("ledger", **today_range(village)), "csv")[1:]

    # Household by household, each in the order it was posted (backdated or not).
    assert [(row[2], row[4], row[5]) for row in october] == [
        (seeded["h1"].code, "垃圾分类检查", "3"),
        (seeded["h1"].code, "垃圾分类检查", "1"),
        (seeded["h2"].code, "垃圾分类检查", "2"),
        (seeded["h2"].code, "积分调整", "20"),
        (seeded["h2"].code, "积分超市兑换", "-7"),
        (seeded["h2"].code, "积分超市兑换", "-4"),
        (seeded["h2"].code, "积分超市兑换", "-2"),
    ]
    assert all(row[2] in (seeded["h1"].code, seeded["h2"].code) for row in october)
    # The void and the cancellation are reversals posted today, each with its reason.
    assert sorted((row[4], row[5], row[8]) for row in today) == [
        ("冲正", "-2", "录错了"),
        ("冲正", "2", "退货"),
    ]


def test_household_rows_carry_the_range_figures(seeded, download):
    rows = {row[0]: row for row in read_table(download("households"), "csv")[1:]}

    h1, h2 = rows[seeded["h1"].code], rows[seeded["h2"].code]
    assert h1[1:3] == ["张三", "幸福路1号"]
    # h1: an A on September 30th (outside), then an A and a C in October.
    assert (h1[6], h1[7], h1[8], h1[9]) == ("在册", "7", "2", "4")
    # h2: its October B was voided; 20 adjusted; 7 and 4 redeemed, 2 cancelled.
    assert (h2[3], h2[4], h2[7], h2[8], h2[9]) == ("13800000000", "4", "12", "0", "0")
    assert (h2[10], h2[11]) == ("2", "11")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_text_that_looks_like_a_formula_stays_text(
    village, make_household, make_user, download, fmt
):
    household = make_household(name='=HYPERLINK("http://evil.example","点")', address="@SUM(1)")
    inspections.record_inspection(household, make_user(INSPECTOR), "A", at=at(10, 3))
    db.session.commit()

    response = download("inspections", fmt)

    if fmt == "csv":
        row = read_table(response, fmt)[1]
        assert row[4] == '\'=HYPERLINK("http://evil.example","点")'
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
        cell = sheet.cell(row=2, column=5)
        assert cell.data_type == "s"
        assert cell.value == '=HYPERLINK("http://evil.example","点")'


# Who may download, and what ---------------------------------------------------------------


@pytest.mark.parametrize("role", [HOUSEHOLD, INSPECTOR, STOREKEEPER])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_only_the_admin_downloads(seeded, make_user, token_for, download, role, fmt):
    user = make_user(role, household=seeded["h1"] if role == HOUSEHOLD else None)

    response = download("households", fmt, headers=token_for(user))

    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "forbidden"


def test_no_token_is_401(client):
    response = client.get("/api/v1/reports/exports/ledger.csv")

    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_another_villages_admin_sees_none_of_this_villages_rows(
    seeded, village, make_village, make_grid, make_household, make_user, token_for, download, fmt
):
    other = make_village("李庄村", "LZ")
    theirs = make_household(of=other, in_grid=make_grid("一组", of=other), name="赵六")
    inspections.record_inspection(theirs, make_user(INSPECTOR, of=other), "B", at=at(10, 9))
    db.session.commit()
    headers = token_for(make_user(ADMIN, of=other))
    ours = {seeded[key].code for key in ("h1", "h2", "h3")}

    for what in WHATS:
        for query in (OCTOBER, today_range(village)):
            rows = read_table(download(what, fmt, headers=headers, **query), fmt)[1:]
            cells = {str(value) for row in rows for value in row}
            assert not cells & ours, what
            assert not cells & {"张三", "李四", "王五", "肥皂", "食用油"}, what
    inspected = read_table(download("inspections", fmt, headers=headers), fmt)[1:]
    assert [row[4] for row in inspected] == ["赵六"]
    response = download("ledger", fmt, headers=headers)
    assert "-LZ-" in response.headers["Content-Disposition"]


# Bad requests -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-10-31", "to": "2026-10-01"},
        {"from": "2025-01-01", "to": "2026-10-01"},
        {"to": "not-a-day"},
    ],
)
def test_bad_ranges_are_422(village, download, query):
    response = download("inspections", "xlsx", **query)

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


@pytest.mark.parametrize(
    "path", ["payroll.csv", "inspections.pdf", "inspections", "inspections.csv.xlsx"]
)
def test_unknown_exports_are_404(village, client, admin_headers, path):
    response = client.get(f"/api/v1/reports/exports/{path}", headers=admin_headers)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


# The reports page -------------------------------------------------------------------------


def test_the_reports_page_offers_excel_and_csv_of_every_report(office, roster):
    page = office.get("/admin/reports", query_string={"from": "2026-01-01", "to": "2026-01-31"})

    assert page.status_code == 200
    for what in (
        "summary",
        "inspections",
        "redemptions",
        "ledger",
        "households",
        "stock_movements",
    ):
        for fmt in ("xlsx", "csv"):
            assert (
                f"/admin/reports/export/{what}.{fmt}?from=2026-01-01&amp;to=2026-01-31" in page.text
            )
    assert "导出 Excel" in page.text and "导出 CSV" in page.text


def test_an_export_from_the_page_downloads_the_chosen_range(office, roster):
    response = office.get(
        "/admin/reports/export/households.csv",
        query_string={"from": "2026-01-01", "to": "2026-01-31"},
    )

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="households-MZ-2026-01-01-2026-01-31.csv"'
    )
    assert response.is_streamed
    text = response.get_data().decode("utf-8-sig")
    assert all(h.code in text for h in roster)


def test_the_summary_exports_the_village_and_each_grid(office, roster, grids):
    response = office.get("/admin/reports/export/summary.csv")

    lines = response.get_data().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("范围,住户数,参与住户数")
    assert [line.split(",")[0] for line in lines[1:]] == ["全村", "东一网格", "西一网格"]
    assert lines[1].split(",")[1] == "5"
    xlsx = office.get("/admin/reports/export/summary.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")


def test_a_wrong_range_is_said_on_the_page(office, roster):
    page = office.get("/admin/reports", query_string={"from": "2026-02-01", "to": "2026-01-01"})

    assert page.status_code == 422
    assert "请选择起始日期不晚于结束日期" in page.text
    assert "data-export-csv" not in page.text
