"""The admin's dashboard and the monthly public board: figures, charts, ranking, PDF."""

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject
from testsupport import log_in, pdf_text

from app.auth.models import HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.catalogue import services as catalogue
from app.db import db
from app.inspections import services as inspections
from app.redemptions import services as shop
from app.reports import board as boards
from app.reports import charts, dashboard, services
from app.reports.board import shift_month
from app.reports.dashboard import GridFigures

ZONE = ZoneInfo("Asia/Shanghai")
POINTS = {"A": 3, "B": 2, "C": 1, "D": 0}
SVG = "{http://www.w3.org/2000/svg}"
# The charts; the grid table's small participation meters are SVG too.
SVG_BLOCK = re.compile(r'<svg\b[^>]*\bclass="chart".*?</svg>', re.S)


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


def at_village(day: date, hour: int = 10) -> datetime:
    """Return an aware moment on a village day."""
    return datetime.combine(day, time(hour), tzinfo=ZONE)


def figure(page: str, name: str) -> str:
    match = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', page)
    assert match, f"no figure {name} on the page"
    return match.group(1)


def section(page: str, name: str) -> str:
    match = re.search(rf'data-section="{name}">(.*?)</section>', page, re.S)
    assert match, f"no section {name} on the page"
    return match.group(1)


@dataclass
class Seeded:
    inspections: list  # (household, grade, moment, voided)
    redemptions: list  # (total, moment, cancelled)
    opening: int
    households: int


@pytest.fixture
def recent(
    village, grid, make_grid, make_household, inspector, storekeeper, admin, make_village, make_user
):
    """Inspections and redemptions over the last weeks, some voided or cancelled."""
    west = make_grid("西二网格")
    h1 = make_household(name="张伟明", points=50)
    h2 = make_household(name="李小红")
    h3 = make_household(name="王大山", in_grid=west)
    make_household(name="赵春花", in_grid=west)  # never inspected
    h5 = make_household(name="孙立国", in_grid=west)
    now = datetime.now(UTC)
    day = timedelta(days=1)
    plan = [
        (h1, "A", now),
        (h1, "A", now - day),
        (h1, "D", now - 2 * day),
        (h2, "B", now),
        (h5, "D", now),
        (h3, "C", now - 3 * day),
        (h3, "C", now - 40 * day),
        (h3, "B", now - 5 * day),
    ]
    seeded = Seeded([], [], 50, 5)
    for household, grade, moment in plan:
        inspection = inspections.record_inspection(household, inspector, grade, at=moment)
        voided = household is h3 and grade == "B"
        if voided:
            inspections.void_inspection(inspection, actor=admin, reason="wrong door")
        seeded.inspections.append((household, grade, moment, voided))
    powder = catalogue.create_good(
        village.id, name="洗衣粉", unit="袋", price_points=5, stock=10, low_stock=3
    )
    catalogue.create_good(
        village.id, name="食用油", unit="瓶", price_points=20, stock=2, low_stock=5
    )
    soap = catalogue.create_good(
        village.id, name="肥皂", unit="块", price_points=2, stock=4, low_stock=3
    )
    salt = catalogue.create_good(village.id, name="食盐", unit="包", price_points=1, stock=0)
    catalogue.update_good(salt, {"active": False})
    for line, moment, cancelled in [
        ((powder, 2), now, False),
        ((soap, 1), now - 2 * day, False),
        ((powder, 1), now, True),
    ]:
        good, quantity = line
        redemption = shop.redeem_goods(
            h1, storekeeper, [shop.LineRequest(good.id, quantity)], at=moment
        ).redemption
        if cancelled:
            shop.cancel(redemption, actor=admin, reason="changed their mind")
        seeded.redemptions.append((good.price_points * quantity, moment, cancelled))
    # Another village's work must not show.
    other = make_village("李庄村", "LZ")
    stranger = make_household(of=other, name="外村人")
    inspections.record_inspection(stranger, make_user(INSPECTOR, of=other), "A", at=now)
    db.session.commit()
    return seeded


def expected(seeded: Seeded, first: date, last: date) -> dict:
    standing = [
        (h, POINTS[g], local_day(m))
        for h, g, m, voided in seeded.inspections
        if not voided and first <= local_day(m) <= last
    ]
    return {
        "inspections": len(standing),
        "households_inspected": len({h.id for h, _, _ in standing}),
        "issued": sum(p for _, p, _ in standing),
        "redeemed": sum(
            t
            for t, m, cancelled in seeded.redemptions
            if not cancelled and first <= local_day(m) <= last
        ),
    }


# The queries ----------------------------------------------------------------------------


def test_figures_of_today_and_this_month(village, recent):
    today = inspections.village_today(village.id)
    for first in (today, today.replace(day=1)):
        want = expected(recent, first, today)

        got = dashboard.figures(village.id, first, today)

        assert got.inspections == want["inspections"]
        assert got.households_inspected == want["households_inspected"]
        assert got.households == recent.households
        assert got.points_issued == want["issued"]
        assert got.points_redeemed == want["redeemed"]


def test_outstanding_is_what_the_households_hold(village, recent):
    issued = sum(POINTS[g] for _, g, _, voided in recent.inspections if not voided)
    redeemed = sum(t for t, _, cancelled in recent.redemptions if not cancelled)

    assert services.outstanding(village.id) == recent.opening + issued - redeemed


def test_the_daily_series_covers_the_last_30_village_days(village, recent):
    today = inspections.village_today(village.id)

    series = dashboard.daily_series(village.id, today)

    assert [d.day for d in series] == [today - timedelta(days=n) for n in range(29, -1, -1)]
    for point in series:
        want = expected(recent, point.day, point.day)
        assert (point.inspections, point.points_issued, point.points_redeemed) == (
            want["inspections"],
            want["issued"],
            want["redeemed"],
        ), point.day
    # The inspection 40 days ago is outside the window.
    assert (
        sum(d.inspections for d in series)
        == expected(recent, series[0].day, today)["inspections"]
        == 6
    )


def test_low_stock_lists_active_goods_at_or_below_their_mark(village, recent):
    assert [g.name for g in dashboard.goods_running_low(village.id)] == ["食用油", "肥皂"]


# Charts ---------------------------------------------------------------------------------


def test_charts_are_well_formed_svg_with_an_escaped_title():
    labels = ["05-01", "05-02", "<&>"]

    for svg in (
        charts.bar_chart([1, 0, 7], labels, title='A <b>"title"</b> & more', desc="d", ident="c1"),
        charts.line_chart(
            [("issued <x>", [1, 2, 3]), ("redeemed & co", [0, 5, 1])],
            labels,
            title='A <b>"title"</b> & more',
            desc="d",
            ident="c2",
        ),
    ):
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg"
        assert root.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}"
        assert root.get("width") == "100%"
        assert root.find(f"{SVG}title").text == 'A <b>"title"</b> & more'
        assert "<&>" in [t.text for t in root.iter(f"{SVG}text")]


def test_an_empty_chart_still_draws():
    svg = charts.bar_chart([0] * 30, [str(n) for n in range(30)], title="t", desc="d", ident="c")

    assert len(ET.fromstring(svg).findall(f"{SVG}rect")) == 30


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (250, 500)]
)
def test_the_axis_top_is_a_round_number(value, ceiling):
    assert charts.nice_ceiling(value) == ceiling


# The dashboard page ---------------------------------------------------------------------


def test_the_dashboard_shows_the_figures(client, village, recent):
    today = inspections.village_today(village.id)
    log_in(client, "admin", english=True)

    response = client.get("/admin/dashboard")

    assert response.status_code == 200
    page = response.text
    for prefix, first in (("today", today), ("month", today.replace(day=1))):
        want = expected(recent, first, today)
        assert figure(page, f"{prefix}-inspections") == str(want["inspections"])
        assert figure(page, f"{prefix}-households-inspected") == str(want["households_inspected"])
        assert figure(page, f"{prefix}-households") == "5"
        # Five households: every share is a whole percentage.
        assert figure(page, f"{prefix}-participation") == (
            f"{want['households_inspected'] * 100 // 5}%"
        )
        assert figure(page, f"{prefix}-issued") == str(want["issued"])
        assert figure(page, f"{prefix}-redeemed") == str(want["redeemed"])
    issued = sum(POINTS[g] for _, g, _, voided in recent.inspections if not voided)
    redeemed = sum(t for t, _, cancelled in recent.redemptions if not cancelled)
    assert figure(page, "outstanding") == str(50 + issued - redeemed)


def test_the_dashboard_draws_its_charts_inline(client, village, recent):
    today = inspections.village_today(village.id)
    want = expected(recent, today, today)
    log_in(client, "admin", english=True)

    page = client.get("/admin/dashboard").text

    blocks = SVG_BLOCK.findall(page)
    assert len(blocks) == 2
    bars, lines = (ET.fromstring(block) for block in blocks)
    assert "Inspections per day" in bars.find(f"{SVG}title").text
    assert "Points issued and redeemed" in lines.find(f"{SVG}title").text
    rects = bars.findall(f"{SVG}rect")
    assert len(rects) == 30
    assert rects[-1].find(f"{SVG}title").text.endswith(f": {want['inspections']}")
    circles = lines.findall(f"{SVG}circle")
    assert len(circles) == 60
    assert circles[29].find(f"{SVG}title").text.endswith(f": {want['issued']}")
    assert circles[59].find(f"{SVG}title").text.endswith(f": {want['redeemed']}")
    assert "<script" not in page
    # The CSP (style-src 'self') refuses inline style attributes: presentation ones only.
    assert "style=" not in page


def test_the_dashboard_lists_grids_and_goods_running_low(client, recent):
    log_in(client, "admin", english=True)

    page = client.get("/admin/dashboard").text

    assert 'data-grid="东一网格"' in page and 'data-grid="西二网格"' in page
    low = re.search(r"data-low-stock>(.*?)</ul>", page, re.S).group(1)
    assert re.findall(r'data-good="([^"]+)"', low) == ["食用油", "肥皂"]
    assert "2 瓶 left" in low
    assert "洗衣粉" not in low and "食盐" not in low


def test_the_admin_home_links_to_the_dashboard(client, admin):
    log_in(client, "admin", english=True)

    assert 'href="/admin/dashboard"' in client.get("/home").text


def test_the_dashboard_shows_each_inspectors_figures(
    client, admin, admin_headers, inspector, make_user, grids, make_household
):
    from app.inspections.services import record_inspection

    east, west = grids
    first = make_household(name="东户甲", in_grid=east)
    make_household(name="东户丙", in_grid=east)
    make_household(name="西户乙", in_grid=west)
    other = make_user(INSPECTOR, username="lisi")
    client.patch(
        f"/api/v1/users/{inspector.id}", json={"grid_ids": [east.id]}, headers=admin_headers
    )
    record_inspection(first, inspector, "A")
    db.session.commit()
    log_in(client, "admin", english=True)
    page = client.get("/admin/dashboard").text
    assert "Inspectors this month" in page and "Inspections per day" in page
    mine = page.split('data-inspector="inspector"')[1].split("</tr>")[0]
    assert "东一网格" in mine and 'data-figure="inspections">1<' in mine
    assert "1 / 2" in mine  # one of the two households of 东一网格 visited
    theirs = page.split(f'data-inspector="{other.username}"')[1].split("</tr>")[0]
    assert "The whole village" in theirs and 'data-figure="inspections">0<' in theirs
    assert "1 / 3" in theirs


# The public board -----------------------------------------------------------------------


@pytest.fixture
def last_month(village):
    month = shift_month(inspections.village_today(village.id).strftime("%Y-%m"), -1)
    return month, date(int(month[:4]), int(month[5:]), 1)


@pytest.fixture
def board_month(village, grid, make_grid, make_household, inspector, admin, last_month):
    """Last month: the east grid sorts well but missed a household; the west the opposite."""
    month, first = last_month
    west = make_grid("西二网格")
    people = {
        "e1": make_household(name="张伟明"),
        "e2": make_household(name="李小红"),
        "e3": make_household(name="陈家豪"),
        "w1": make_household(name="王大山", in_grid=west),
        "w2": make_household(name="赵春花", in_grid=west),
    }
    for household in people.values():
        # They were on the roster before the month began.
        household.created_at = at_village(first - timedelta(days=10))
    plan = [
        ("e1", "A", 2),
        ("e1", "A", 3),
        ("e1", "A", 4),
        ("e2", "B", 2),
        ("w1", "D", 2),
        ("w1", "D", 3),
        ("w1", "D", 4),
        ("w2", "C", 2),
    ]
    for key, grade, day in plan:
        inspections.record_inspection(
            people[key], inspector, grade, at=at_village(first.replace(day=day))
        )
    # This month's inspection of e3 does not count for last month.
    inspections.record_inspection(people["e3"], inspector, "A")
    # Nor is a household that came after last month missing from it.
    make_household(name="周新来")
    db.session.commit()
    return month, people


def ranked_grids(page: str, name: str) -> list[tuple[str, str]]:
    return re.findall(r'data-grid="([^"]+)"><td class="num rank">([^<]+)</td>', section(page, name))


def test_the_board_ranks_the_grids(client, board_month):
    month, _people = board_month
    log_in(client, "admin", english=True)

    response = client.get(f"/admin/board?month={month}")

    assert response.status_code == 200
    page = response.text
    # West: 2 of 2 inspected; east: 2 of 3.
    assert ranked_grids(page, "participation") == [("西二网格", "1"), ("东一网格", "2")]
    assert "67%" in section(page, "participation")
    # East: 4 of 4 inspections earned points; west: 1 of 4.
    assert ranked_grids(page, "accuracy") == [("东一网格", "1"), ("西二网格", "2")]
    assert "25%" in section(page, "accuracy")


def test_the_board_lists_households_masked(client, board_month):
    month, people = board_month
    log_in(client, "admin", english=True)

    page = client.get(f"/admin/board?month={month}").text

    top = section(page, "top")
    assert re.findall(r'data-household="([^"]+)"', top) == [
        people["e1"].code,
        people["e2"].code,
        people["w2"].code,
    ]
    assert "张*明" in top and ">9<" in top
    never = section(page, "never-inspected")
    assert re.findall(r'data-household="([^"]+)"', never) == [people["e3"].code]
    assert "陈*豪" in never
    zero = section(page, "often-zero")
    assert re.findall(r'data-household="([^"]+)"', zero) == [people["w1"].code]
    assert "王*山" in zero
    for name in ("张伟明", "李小红", "陈家豪", "王大山", "赵春花", "周新来"):
        assert name not in page
    with client.get("/static/css/app.css") as css:
        assert "@media print" in css.text and ".board" in css.text


def test_the_board_pdf_has_the_board_in_the_embedded_font(client, board_month):
    month, people = board_month
    log_in(client, "admin", english=True)

    response = client.get(f"/admin/board.pdf?month={month}")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    assert month in reader.metadata.title
    text = pdf_text(response.data)
    for household in people.values():
        assert household.code not in text  # no door-card codes on a notice board
    for masked in ("张*明", "李*红", "陈*豪", "王*山", "赵*花"):
        assert masked in text
    for name in ("张伟明", "李小红", "陈家豪", "王大山", "赵春花"):
        assert name not in text
    assert "西二网格" in text and "Most points earned" in text
    assert "\ufffd" not in text
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for leaf in (f.get_object() for f in font.get("/DescendantFonts", [font])):
                descriptor = leaf["/FontDescriptor"].get_object()
                assert isinstance(descriptor, DictionaryObject)
                assert "/FontFile2" in descriptor
                assert "NotoSansSC" in leaf["/BaseFont"]


def test_the_board_defaults_to_this_month(client, village, admin):
    log_in(client, "admin", english=True)

    response = client.get("/admin/board")

    assert response.status_code == 200
    assert inspections.village_today(village.id).strftime("%Y-%m") in response.text


@pytest.mark.parametrize(
    "month",
    [
        "2026-13",
        "2026-00",
        "26-01",
        "2026-5",
        "abc",
        "1999-12",
        "2999-01",
        "２０２６-０１",
        "'; DROP TABLE x; --",
    ],
)
@pytest.mark.parametrize("path", ["/admin/board", "/admin/board.pdf"])
def test_a_bad_month_gets_a_friendly_page(client, admin, path, month):
    log_in(client, "admin", english=True)

    response = client.get(path, query_string={"month": month})

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "There is no board for that month." in response.text
    assert 'type="month"' in response.text


def test_equal_grids_share_a_place_and_empty_grids_come_last():
    grids = [
        GridFigures(1, 1, "一", 4, 2, 0, 0),
        GridFigures(2, 2, "二", 2, 1, 0, 0),
        GridFigures(3, 3, "三", 0, 0, 0, 0),
        GridFigures(4, 4, "四", 4, 4, 0, 0),
    ]

    ranked = boards._rank(grids, lambda g: g.participation)

    assert [(r.rank, r.grid.name) for r in ranked] == [
        (1, "四"),
        (2, "一"),
        (2, "二"),
        (None, "三"),
    ]


def test_an_empty_village_has_a_dashboard_and_a_board(client, admin):
    log_in(client, "admin", english=True)

    page = client.get("/admin/dashboard")
    board = client.get("/admin/board")
    pdf = client.get("/admin/board.pdf")

    assert page.status_code == board.status_code == pdf.status_code == 200
    assert figure(page.text, "month-inspections") == "0"
    assert figure(page.text, "month-participation") == "—"
    assert figure(page.text, "outstanding") == "0"
    assert all(ET.fromstring(block) is not None for block in SVG_BLOCK.findall(page.text))
    assert "Every good is well stocked." in page.text
    assert "No points were earned this month." in pdf_text(pdf.data)


def test_a_long_board_runs_over_pages(app, village):
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    missed = [boards.Listed(f"MZ-01-{n:04d}", "马*英", "东一网格", 0) for n in range(1, 151)]
    board = boards.Board(
        "马庄村",
        "2026-03",
        first,
        last,
        dashboard.Figures(first, last, 0, 0, 150, 0, 0),
        [],
        [],
        [],
        missed,
        [],
    )

    with app.test_request_context("/admin/board.pdf"):
        pdf = boards.render_board_pdf(board)

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    text = pdf_text(pdf)
    assert text.count("马*英") == len(missed)


def test_the_board_shows_no_door_card_codes_and_skips_households_too_new(
    client, admin, inspector, make_household, grids
):
    from app.inspections.services import record_inspection

    east, _west = grids
    seen = make_household(name="张伟明", in_grid=east)
    missed = make_household(name="李小红", in_grid=east)
    record_inspection(seen, inspector, "A")
    db.session.commit()
    too_new = make_household(name="王大山", in_grid=east)  # registered after the round
    log_in(client, "admin", english=True)
    page = client.get("/admin/board").text
    never = page.split('data-section="never-inspected"')[1].split("</section>")[0]
    assert f'data-household="{missed.code}"' in never
    assert f'data-household="{too_new.code}"' not in never
    visible = never.replace(f'data-household="{missed.code}"', "")
    assert missed.code not in visible and "李*红" in visible
    top = page.split('data-section="top"')[1].split("</section>")[0]
    assert seen.code not in top.replace(f'data-household="{seen.code}"', "")


def test_a_long_board_list_leaves_no_lonely_row_on_its_last_page(app):
    from app.reports.pdf import LongList

    rows = LongList("title", ["name"], [("x",)] * 10, [100], ())
    room = rows.TITLE_H + rows.HEAD_H + rows.ROW_H * 9 + 1  # nine rows fit, one is over
    first, rest = rows.split(100, room)
    assert rest.stop - rest.start >= 2
    assert first.stop - first.start + rest.stop - rest.start == 10


# Who may look ---------------------------------------------------------------------------

PATHS = ["/admin/dashboard", "/admin/board", "/admin/board.pdf"]


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, HOUSEHOLD])
def test_other_roles_may_not_see_the_reports(client, make_user, household, role):
    make_user(role, username="someone", household=household if role == HOUSEHOLD else None)
    log_in(client, "someone", english=True)

    for path in PATHS:
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_users_go_to_the_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
