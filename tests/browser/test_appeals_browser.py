"""Appeals in a real browser: a household appeals at phone size (360x780), an admin
decides at desktop size beside the evidence, and a second admin approves an adjustment."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from testsupport import PASSWORD, png_bytes

from app.auth.models import ADMIN, HOUSEHOLD
from app.db import db
from app.inspections.services import record_inspection
from app.ledger.approvals import request as request_adjustment
from app.ledger.services import household_balance
from app.photos import store_photo

pytestmark = pytest.mark.usefixtures("photo_folder")
SHOTS = Path("/tmp/shots")
NOTE = "厨余桶里有塑料袋"
REASON = "塑料袋是邻居放的，我家分好了"


@pytest.fixture
def graded(village, household, make_user):
    make_user(HOUSEHOLD, household=household, username="ma-home")
    inspector = make_user("inspector", username="li-inspect")
    poor = record_inspection(household, inspector, "C", note=NOTE)
    poor.photo = store_photo(png_bytes((1200, 900), (90, 140, 60)))
    db.session.commit()
    return household


def log_in(page, username: str, lands: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lands)


def test_a_household_appeals_on_its_phone_and_an_admin_decides_at_the_desk(page, graded, make_user):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 360, "height": 780})
    log_in(page, "ma-home", "**/my")
    line = page.locator("[data-grade-line]")
    expect(line).to_contain_text("中 · C")
    page.click("[data-appeal-open]")
    page.fill("textarea[name=reason]", REASON)
    picture = SHOTS / "issue30-appeal-upload.png"
    picture.write_bytes(png_bytes((800, 600), (30, 90, 200)))
    page.set_input_files("input[name=photo]", str(picture))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator("[data-my-grades]").screenshot(path=str(SHOTS / "issue30-appeal-form-360.png"))
    page.click("[data-appeal-send]")
    expect(page.locator("[data-appealed]")).to_be_visible()
    expect(page.locator("[data-appeal-state]")).to_contain_text("待处理")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SHOTS / "issue30-appeal-sent-360.png"), full_page=True)

    make_user(ADMIN, username="wang-admin")
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "wang-admin", "**/home")
    page.goto("/admin/dashboard")
    expect(page.locator("[data-figure=open-appeals]")).to_have_text("1")
    page.click("[data-open-appeals-link]")
    page.click("[data-open-appeals] a")
    expect(page.locator("[data-evidence-note]")).to_have_text(NOTE)
    expect(page.locator("[data-evidence-inspector]")).to_have_text("li-inspect")
    expect(page.locator("[data-appeal-reason]")).to_have_text(REASON)
    sent_photo = page.locator("[data-appeal-photo]")
    expect(sent_photo).to_have_js_property("complete", True)
    assert sent_photo.evaluate("img => img.naturalWidth") > 0
    photo = page.locator("[data-evidence-photo]")
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("img => img.naturalWidth") > 0
    page.check("input[name=decision][value=overturned]")
    page.select_option("#decide-grade", "A")
    page.fill("#decide-note", "复核照片后改判为优")
    page.screenshot(path=str(SHOTS / "issue30-appeal-desk-1280.png"), full_page=True)
    page.click("[data-decide]")
    expect(page.locator("[data-decided]")).to_be_visible()
    expect(page.locator("[data-decision] [data-appeal-state]")).to_contain_text("已改判")
    page.screenshot(path=str(SHOTS / "issue30-appeal-decided-1280.png"), full_page=True)
    db.session.rollback()
    assert household_balance(graded.id) == 3

    page.context.clear_cookies()
    page.set_viewport_size({"width": 360, "height": 780})
    log_in(page, "ma-home", "**/my")
    expect(page.locator("[data-appeal-note]")).to_have_text("复核照片后改判为优")
    expect(page.locator("[data-balance]")).to_have_text("3")
    page.locator("[data-my-grades]").screenshot(path=str(SHOTS / "issue30-appeal-answer-360.png"))


def test_a_second_admin_approves_a_large_adjustment_on_the_dashboard(
    page, village, household, make_user
):
    SHOTS.mkdir(exist_ok=True)
    maker = make_user(ADMIN, username="wang-admin")
    make_user(ADMIN, username="zhao-admin")
    request_adjustment(village.id, household.id, 500, reason="补录三月纸质记录", actor_id=maker.id)
    db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "zhao-admin", "**/home")
    page.goto("/admin/dashboard")
    pending = page.locator("[data-pending]")
    expect(pending).to_contain_text("补录三月纸质记录")
    pending.screenshot(path=str(SHOTS / "issue30-pending-1280.png"))
    page.click("[data-approve]")
    expect(page.locator("[data-adjustment-done]")).to_be_visible()
    expect(page.locator("[data-pending]")).to_have_count(0)
    page.locator("[data-fairness]").screenshot(path=str(SHOTS / "issue30-approved-1280.png"))
    db.session.rollback()
    assert household_balance(household.id) == 500
