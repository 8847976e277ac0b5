"""Spot checks in a browser: the admin draws at a desk, a checker re-grades on a phone
(360x780, Chinese), and /admin/inspectors shows the agreement at the desk."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from testsupport import log_in_browser

from app.auth.models import ADMIN, INSPECTOR
from app.db import db
from app.fairness.models import SpotCheckItem
from app.inspections.services import record_inspection

SHOTS = Path("/tmp/shots")
PHONE = {"width": 360, "height": 780}
DESK = {"width": 1280, "height": 900}


@pytest.fixture
def day_of_grades(make_household, make_user):
    wang = make_user(INSPECTOR, username="wang-grid")
    make_user(INSPECTOR, username="li-check")
    make_user(ADMIN, username="zhang-admin")
    for n in range(6):
        record_inspection(make_household(name=f"户{n}", address=f"马庄村1组 {n}号"), wang, "A")
    db.session.commit()


def shot(page, name: str) -> None:
    if page.viewport_size == PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / f"issue30-{name}.png"), full_page=True)


def test_the_admin_draws_a_checker_regrades_on_a_phone_and_the_agreement_shows(
    page, live_server, day_of_grades
):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(DESK)
    log_in_browser(page, "zhang-admin")
    page.goto("/admin/spot-checks")
    page.fill("#size", "3")
    page.click("[data-draw]")
    page.wait_for_url("**/admin/spot-checks/*")
    expect(page.locator("[data-population]")).to_have_text("6")
    expect(page.locator("[data-drawn]")).to_have_text("3")
    expect(page.locator("[data-items] tr[data-item]")).to_have_count(3)
    seed = page.locator("[data-seed]").inner_text()
    assert len(seed) == 16
    shot(page, "draw-desk")
    check_path = page.url.split(live_server)[-1].replace("/admin/spot-checks/", "/check/")

    page.context.clear_cookies()
    page.set_viewport_size(PHONE)
    log_in_browser(page, "li-check")
    page.goto(check_path)
    expect(page.locator("[data-checker-list] a.button")).to_have_count(3)
    shot(page, "checker-list-360")
    page.locator("[data-checker-list] a.button").first.click()
    expect(page.locator("[data-check-form]")).to_be_visible()
    shot(page, "check-item-360")
    page.locator("[data-check-form] button[value=B]").click()
    expect(page.locator("[data-saved]")).to_be_visible()
    expect(page.locator("[data-checked]")).to_have_count(1)
    page.locator("[data-checker-list] a.button").first.click()
    page.locator("[data-check-form] button[value=A]").click()
    expect(page.locator("[data-checked]")).to_have_count(2)
    shot(page, "checker-done-360")
    assert sorted(i.grade or "" for i in db.session.query(SpotCheckItem)) == ["", "A", "B"]

    page.context.clear_cookies()
    page.set_viewport_size(DESK)
    log_in_browser(page, "zhang-admin")
    page.goto("/admin/inspectors")
    row = page.locator("[data-inspectors] tr[data-inspector='wang-grid']")
    expect(row.locator("[data-agreement]")).to_have_text("50% (1/2)")
    shot(page, "inspectors-desk")
    page.goto("/admin/dashboard")
    expect(page.locator("[data-spot-agreement]")).to_contain_text("50%")
