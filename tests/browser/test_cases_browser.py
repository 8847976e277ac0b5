"""随手拍 on a phone (360x780, Chinese): a resident reports with a photo, the grid worker
accepts and resolves it with the after-photo, the resident confirms."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from testsupport import PASSWORD, png_bytes

from app.auth.models import HOUSEHOLD, INSPECTOR, UserGrid
from app.cases.models import Case, CasePhoto
from app.cases.stations import create_station, station_token
from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")
SHOTS = Path("/tmp/shots")
PHONE = {"width": 360, "height": 780}


@pytest.fixture
def people(village, grid, household, make_user, admin):
    make_user(HOUSEHOLD, household=household, username="ma-home")
    worker = make_user(INSPECTOR, username="wang-grid")
    db.session.add(UserGrid(user_id=worker.id, grid_id=grid.id))
    station = create_station(village.id, name="幸福路收集点", grid_id=grid.id)
    db.session.commit()
    return {"station_token": station_token(station)}


def log_in(page, username: str, lands_on: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{lands_on}")


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def shot(page, name: str) -> None:
    fits(page)
    page.screenshot(path=str(SHOTS / f"issue29-{name}-360.png"), full_page=True)


def test_a_resident_reports_the_worker_fixes_the_resident_confirms(
    page, browser, live_server, people, tmp_path
):
    SHOTS.mkdir(exist_ok=True)
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    before.write_bytes(png_bytes((800, 600), (120, 90, 40)))
    after.write_bytes(png_bytes((800, 600), (40, 160, 80)))

    # The resident: /my → 随手拍 → photo → one tap on the category sends it.
    page.set_viewport_size(PHONE)
    log_in(page, "ma-home", "/my")
    page.click("[data-report-links] a.primary")
    page.wait_for_url("**/report")
    shot(page, "report-zh")
    page.set_input_files("#photo", str(before))
    page.click("[data-category=overflow]")
    page.wait_for_url("**/my/reports?sent=*")
    expect(page.locator("[data-sent]")).to_be_visible()
    expect(page.locator("[data-state]").first).to_have_text("已派给网格员")
    expect(page.locator("[data-photo=before]")).to_have_count(1)
    shot(page, "my-reports-sent-zh")
    db.session.rollback()  # end the test's own read, to see what the server wrote
    case = db.session.scalars(select(Case)).one()

    # The grid worker, on another phone: 待办 1 → the case → accept → after-photo + resolve.
    worker_context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE)
    worker = worker_context.new_page()
    log_in(worker, "wang-grid", "/home")
    worker.goto("/inspect")
    expect(worker.locator("[data-cases-todo]")).to_contain_text("待办 1")
    worker.click("[data-cases-todo]")
    worker.wait_for_url("**/inspect/cases")
    expect(worker.locator("[data-countdown]")).to_contain_text("还剩")
    shot(worker, "todo-zh")
    worker.click(f"[data-case='{case.id}'] h3 a")
    worker.wait_for_url(f"**/inspect/cases/{case.id}")
    expect(worker.locator("img[data-photo=before]")).to_have_js_property("complete", True)
    worker.click("[data-form=accept] button")
    worker.wait_for_url("**?done=accept")
    worker.set_input_files("[data-after-photo]", str(after))
    worker.fill("#note-resolve", "已清运，桶已洗净")
    shot(worker, "case-accepted-zh")
    worker.click("[data-form=resolve] button")
    worker.wait_for_url("**?done=resolve")
    expect(worker.locator("[data-state]")).to_have_text("已处理，待确认")
    worker_context.close()

    # The resident sees the note and the after-photo, and confirms.
    page.goto("/my/reports")
    expect(page.locator("[data-events]")).to_contain_text("已清运，桶已洗净")
    expect(page.locator("img[data-photo=after]")).to_have_js_property("complete", True)
    assert page.locator("img[data-photo=after]").evaluate("img => img.naturalWidth") > 0
    shot(page, "my-reports-resolved-zh")
    page.click("[data-confirm]")
    page.wait_for_url("**/my/reports?done=confirm")
    expect(page.locator("[data-state]").first).to_have_text("已办结")
    db.session.rollback()
    assert db.session.get(Case, case.id).state == "closed"
    stages = db.session.scalars(select(CasePhoto.stage).where(CasePhoto.case_id == case.id))
    assert sorted(stages) == ["after", "before"]

    # The same pages in English.
    page.goto("/lang/en?next=/report")
    shot(page, "report-en")
    page.goto("/my/reports")
    shot(page, "my-reports-en")


def test_anyone_reports_at_a_collection_points_qr(page, people, tmp_path):
    SHOTS.mkdir(exist_ok=True)
    photo = tmp_path / "bin.png"
    photo.write_bytes(png_bytes((640, 480), (90, 90, 90)))
    page.set_viewport_size(PHONE)

    page.goto(f"/s/{people['station_token']}")
    expect(page.locator("[data-station]")).to_have_text("幸福路收集点")
    shot(page, "station-zh")
    page.set_input_files("#photo", str(photo))
    page.click("[data-category=mixed]")
    page.wait_for_url("**?sent=*")
    expect(page.locator("[data-sent]")).to_contain_text("已发给网格员")
    shot(page, "station-sent-zh")
    page.goto(f"/lang/en?next=/s/{people['station_token']}")
    shot(page, "station-en")
    db.session.rollback()  # end the test's own read, to see what the server wrote
    case = db.session.scalars(select(Case)).one()
    assert case.reporter_id is None and case.category == "mixed"


def test_the_admin_desk_at_phone_size(page, people, village, household):
    from app.auth.models import User
    from app.cases.services import report_case

    resident = db.session.scalars(select(User).where(User.username == "ma-home")).one()
    for category in ("overflow", "dumping", "broken_bin"):
        report_case(resident, village.id, category=category, description="东头第三个桶")
    db.session.commit()
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(PHONE)
    log_in(page, "admin", "/home")
    page.goto("/admin/cases")
    expect(page.locator("[data-rate=completion]")).to_have_text("0/0")
    shot(page, "desk-zh")
    page.click("[data-desk-cases] li:first-child h3 a")
    page.wait_for_url("**/admin/cases/*")
    shot(page, "desk-case-zh")
    page.goto("/admin/stations")
    shot(page, "stations-zh")
    page.goto("/lang/en?next=/admin/cases")
    shot(page, "desk-en")
    page.goto("/inspect/cases")
    shot(page, "todo-en")
