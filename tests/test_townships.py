"""Townships (issue 18): a township reads its villages' figures, never writes, never
sees a household's personal data."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select
from testsupport import PASSWORD, api_log_in, assert_problem, bearer, log_in, page_post

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER, User
from app.auth.services import issue_token
from app.catalogue.services import create_good
from app.db import db
from app.inspections.services import record_inspection, void_inspection
from app.redemptions.services import LineRequest, redeem_goods
from app.reports.settlement import shift
from app.scope import village_today
from app.townships.models import MonthFigures
from app.townships.services import create_township, create_township_user, move_village
from app.villages.models import Township, Village


@pytest.fixture
def towns(make_village, make_household, make_user):
    """Township 东湖 has villages A and B; township 西山 has C; village D is in none."""
    east, west = create_township("东湖街道", "DH"), create_township("西山镇", "XS")
    villages = {code: make_village(f"{code}村", code) for code in "ABCD"}
    move_village(villages["A"], east)
    move_village(villages["B"], east)
    move_village(villages["C"], west)
    town = create_township_user(east, "dh-staff", PASSWORD)
    db.session.commit()
    figures = {}
    for n, code in enumerate("ABCD", start=1):
        village = villages[code]
        household = make_household(
            of=village, name=f"{code}家{n}", phone=f"1391234000{n}", points=10 * n
        )
        inspector = make_user(INSPECTOR, of=village)
        storekeeper = make_user(STOREKEEPER, of=village)
        record_inspection(household, inspector, "A")
        good = create_good(village.id, name=f"{code}皂", unit="块", price_points=2, stock=9)
        good.cost_cents = 150
        redeem_goods(household, storekeeper, [LineRequest(good.id, 1)])
        db.session.commit()
        figures[code] = village.id
    return {"town": town, "villages": figures, "token": _token(town)}


def _token(user: User) -> dict[str, str]:
    token = issue_token(user).token
    db.session.commit()
    return bearer(token)


def test_a_township_user_logs_in_with_no_village(client, towns):
    response = api_log_in(client, "dh-staff")

    assert response.status_code == 201
    user = response.get_json()["user"]
    assert user["role"] == "township"
    assert user["village_id"] is None
    assert user["township_id"] == db.session.get_one(User, towns["town"].id).township_id


def test_a_township_lists_its_two_villages_and_nothing_else(client, towns):
    items = client.get("/api/v1/villages", headers=towns["token"]).get_json()["items"]

    assert [item["code"] for item in items] == ["A", "B"]
    assert items[0]["outstanding"] == 10 - 2 + 3


def test_a_township_reads_its_villages_summaries_and_no_other(client, towns):
    ids = towns["villages"]
    for code in "AB":
        response = client.get(
            f"/api/v1/reports/summary?village_id={ids[code]}", headers=towns["token"]
        )
        assert response.status_code == 200
        assert response.get_json()["village_id"] == ids[code]
    for code in "CD":
        response = client.get(
            f"/api/v1/reports/summary?village_id={ids[code]}", headers=towns["token"]
        )
        assert response.status_code in (403, 404)
        assert f"{code}村" not in response.text
    no_village = client.get("/api/v1/reports/summary", headers=towns["token"])
    assert no_village.status_code in (403, 404, 422)


def test_the_villages_report_equals_each_villages_own_summary(client, towns, make_user):
    rows = client.get("/api/v1/reports/villages", headers=towns["token"]).get_json()["items"]

    assert [row["code"] for row in rows] == ["A", "B"]
    for row in rows:
        admin = make_user(ADMIN, of=db.session.get_one(Village, row["village_id"]))
        own = client.get("/api/v1/reports/summary", headers=_token(admin)).get_json()
        for key in (
            "households",
            "participation_rate",
            "inspections",
            "points_issued",
            "points_redeemed",
            "outstanding",
        ):
            assert row[key] == own[key], key
        assert row["goods_cost_cents"] == 150
    assert sum(row["inspections"] for row in rows) == 2


def test_every_write_of_a_township_answers_read_only(client, towns):
    ids = towns["villages"]
    writes = [
        ("post", "/api/v1/grids", {"name": "新网格"}),
        ("post", "/api/v1/households", {"name": "某", "address": "某路1号", "grid_id": 1}),
        ("put", "/api/v1/rules", {"grades": {"A": 3}, "daily_limit": 1}),
        ("post", "/api/v1/goods", {"name": "毛巾", "unit": "条", "price_points": 3}),
        ("post", "/api/v1/adjustments", {"household_id": 1, "amount": 5, "reason": "x"}),
        ("post", "/api/v1/redemptions", {"household_id": 1, "lines": []}),
    ]
    for method, path, body in writes:
        response = getattr(client, method)(path, json=body, headers=towns["token"])
        assert_problem(response, 403, "read_only")
    assert client.get(f"/api/v1/reports/summary?village_id={ids['A']}", headers=towns["token"])
    log_in(client, "dh-staff")
    page = page_post(client, "/admin/goods", {"name": "毛巾"})
    assert page.status_code == 403


def test_a_township_logs_out(client, towns):
    token = api_log_in(client, "dh-staff").get_json()["token"]

    assert client.delete("/api/v1/auth/tokens/current", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/villages", headers=bearer(token)).status_code == 401


def test_a_township_sees_no_households_name_or_phone(client, towns):
    ids = towns["villages"]
    answers = [
        client.get("/api/v1/villages", headers=towns["token"]),
        client.get("/api/v1/reports/villages", headers=towns["token"]),
        client.get(f"/api/v1/reports/summary?village_id={ids['A']}", headers=towns["token"]),
        client.get(f"/api/v1/reports/settlement?village_id={ids['A']}", headers=towns["token"]),
        client.get("/api/v1/households", headers=towns["token"]),
        client.get("/api/v1/households/1/ledger", headers=towns["token"]),
    ]
    shown = "".join(answer.get_data(as_text=True) for answer in answers)
    assert answers[0].status_code == 200
    assert answers[4].status_code == 403
    assert answers[5].status_code == 403
    for n, code in enumerate("ABCD", start=1):
        assert f"{code}家{n}" not in shown
        assert f"1391234000{n}" not in shown


def test_the_cli_makes_a_township_its_villages_and_its_user(runner, app):
    assert runner.invoke(args=["townships", "create", "南湖街道", "--code", "nh"]).exit_code == 0
    made = runner.invoke(args=["villages", "create", "南村", "--code", "NC", "--township", "NH"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(args=["villages", "create", "北村", "--code", "BC"]).exit_code == 0
    moved = runner.invoke(args=["townships", "move-village", "BC", "--township", "NH"])
    assert moved.exit_code == 0, moved.output
    user = runner.invoke(
        args=["users", "create", "nh-staff", "--role", "township", "--township", "NH"],
        input=PASSWORD + "\n",
    )
    assert user.exit_code == 0, user.output
    wrong = runner.invoke(
        args=["users", "create", "nh-x", "--role", "township", "--village", "NC"],
        input=PASSWORD + "\n",
    )
    assert wrong.exit_code != 0

    township = db.session.query(Township).filter_by(code="NH").one()
    codes = {v.code for v in db.session.query(Village).filter_by(township_id=township.id)}
    assert codes == {"NC", "BC"}
    staff = db.session.query(User).filter_by(username="nh-staff").one()
    assert (staff.role, staff.village_id, staff.township_id) == ("township", None, township.id)


def test_a_village_admin_cannot_make_a_township_user(client, make_user):
    admin = make_user(ADMIN)

    response = client.post(
        "/api/v1/users",
        json={"username": "sneaky", "password": PASSWORD, "role": "township"},
        headers=_token(admin),
    )

    assert_problem(response, 422, "validation_error")


def test_the_townships_export_and_board_list_villages_and_no_household(client, towns):
    log_in(client, "dh-staff")

    sheet = client.get("/township/villages.xlsx")
    board = client.get("/township/board.pdf")

    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert [row[:2] for row in rows[1:]] == [("A", "A村"), ("B", "B村")]
    assert rows[1][9] == 1.5
    assert board.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(board.data)).pages)
    assert "东湖街道" in text
    assert "A村" in text
    assert "B村" in text
    assert "C村" not in text
    for n, code in enumerate("AB", start=1):
        assert f"{code}家{n}" not in text


def test_the_villages_sheet_heads_its_first_column_as_the_village_code(client, towns):
    log_in(client, "dh-staff")

    sheet = client.get("/township/villages.xlsx")

    header = next(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert header[:2] == ("村代码", "村")


def test_the_township_page_logs_out(client, towns):
    log_in(client, "dh-staff")
    page = client.get("/township")
    assert 'action="/logout"' in page.text and "退出登录" in page.text

    out = page_post(client, "/logout")

    assert out.status_code == 302
    assert client.get("/township").status_code in (302, 401)


def test_the_month_by_month_table_counts_the_villages_as_one(
    client, towns, make_household, make_user
):
    village_a = db.session.get_one(Village, towns["villages"]["A"])
    village_b = db.session.get_one(Village, towns["villages"]["B"])
    make_household(of=village_a, name="甲二", phone="13912340011")  # never inspected
    late = make_household(of=village_b, name="乙二", phone="13912340012")
    record_inspection(late, make_user(INSPECTOR, of=village_b), "D")  # no points
    db.session.commit()
    log_in(client, "dh-staff")

    page = client.get("/township")

    # This month, A and B together: 3 of 4 households inspected, 2 of 3 grades with points.
    rows = re.findall(
        r"<tr><td>(\d{4}-\d{2})</td><td class=\"num\">([^<]*)</td>"
        r"<td class=\"num\">([^<]*)</td></tr>",
        page.text,
    )
    assert len(rows) == 6
    assert rows[-1][1:] == ("75%", "67%")
    assert all(row[1:] == ("0%", "0%") for row in rows[:-1])


def _chart_rows(page) -> list[tuple[str, str, str]]:
    return re.findall(
        r"<tr><td>(\d{4}-\d{2})</td><td class=\"num\">([^<]*)</td>"
        r"<td class=\"num\">([^<]*)</td></tr>",
        page.text,
    )


@pytest.fixture
def graded_two_months_ago(towns, make_household, make_user):
    """In village A two months ago: an old household graded A, another graded D and
    merged since. Returns the month (YYYY-MM) and the first grade."""
    village = db.session.get_one(Village, towns["villages"]["A"])
    today = village_today(village.id)
    year, month = shift(today.year, today.month, -2)
    graded_at = datetime(year, month, 10, 4, tzinfo=UTC)
    inspector = make_user(INSPECTOR, of=village)
    old = make_household(of=village, name="甲老", phone="13912340021")
    gone = make_household(of=village, name="甲迁", phone="13912340022")
    for household in (old, gone):
        household.created_at = graded_at - timedelta(days=30)
    first = record_inspection(old, inspector, "A", at=graded_at)
    record_inspection(gone, inspector, "D", at=graded_at)
    gone.status = "merged"
    db.session.commit()
    return f"{year:04d}-{month:02d}", first, inspector


def test_the_month_by_month_table_counts_each_month_as_it_was(client, graded_two_months_ago):
    """A past month counts the households active and made before it ended, and those
    inspected in it (moved away since or not); a household made later counts only later."""
    label, _, _ = graded_two_months_ago
    log_in(client, "dh-staff")

    rows = _chart_rows(client.get("/township"))

    # Two months ago: both inspected of the two counted; one grade of two with points.
    assert rows[-3] == (label, "100%", "50%")
    # Last month: only the old household counted (the others were made this month), none seen.
    assert rows[-2][1:] == ("0%", "0%")
    # This month: A's and B's fixture households and the old one are active; two inspected.
    assert rows[-1][1:] == ("67%", "100%")


def test_counted_months_show_what_the_chart_counted_live(client, runner, graded_two_months_ago):
    log_in(client, "dh-staff")
    live = _chart_rows(client.get("/township"))

    counted = runner.invoke(args=["townships", "count-months"])

    assert counted.exit_code == 0, counted.output
    villages = db.session.scalar(select(func.count()).select_from(Village))
    assert f"Counted the 5 months before this one for {villages} villages" in counted.output
    assert db.session.scalar(select(func.count()).select_from(MonthFigures)) == villages * 5
    assert _chart_rows(client.get("/township")) == live


def test_the_chart_shows_a_past_month_as_last_counted(client, runner, graded_two_months_ago):
    """A change to an ended month (a void, a late grade) shows after the next count."""
    label, first, inspector = graded_two_months_ago
    assert runner.invoke(args=["townships", "count-months"]).exit_code == 0
    void_inspection(first, actor=inspector, reason="录错了")
    db.session.commit()
    log_in(client, "dh-staff")

    assert _chart_rows(client.get("/township"))[-3] == (label, "100%", "50%")
    assert runner.invoke(args=["townships", "count-months"]).exit_code == 0
    # Now one household of the two inspected (the other's grade is void), no grade with points.
    assert _chart_rows(client.get("/township"))[-3] == (label, "50%", "0%")


def test_a_village_counted_by_no_count_yet_has_its_months_counted_live(
    client, runner, towns, graded_two_months_ago, make_village, make_household, make_user
):
    label, _, _ = graded_two_months_ago
    assert runner.invoke(args=["townships", "count-months"]).exit_code == 0
    east = db.session.get_one(Township, towns["town"].township_id)
    newcomer = make_village("E村", "E")
    move_village(newcomer, east)
    household = make_household(of=newcomer, name="戊家", phone="13912340031")
    household.created_at -= timedelta(days=100)
    db.session.commit()
    log_in(client, "dh-staff")

    # Two months ago: E's household, never inspected, now counts: 2 of 3 inspected.
    assert _chart_rows(client.get("/township"))[-3] == (label, "67%", "50%")


def test_count_months_takes_one_to_24_months(runner):
    refused = runner.invoke(args=["townships", "count-months", "--months", "0"])

    assert refused.exit_code == 2
    assert "0 is not in the range 1<=x<=24" in refused.output
