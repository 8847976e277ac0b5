"""A 0-point grade reaches the household, seen at phone size (360x780) in Chinese."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from testsupport import PASSWORD, png_bytes

from app.auth.models import HOUSEHOLD
from app.db import db, utcnow
from app.households.cards import make_token
from app.inspections.services import record_inspection
from app.photos import store_photo

pytestmark = pytest.mark.usefixtures("photo_folder")
SHOTS = Path("/tmp/shots")
NOTE = "厨余桶里有塑料袋和玻璃瓶，请分开投放"


@pytest.fixture
def graded(village, household, make_user):
    make_user(HOUSEHOLD, household=household, username="ma-home")
    inspector = make_user("inspector", username="li-inspect")
    poor = record_inspection(household, inspector, "D", note=NOTE, at=utcnow() - timedelta(days=1))
    poor.photo = store_photo(png_bytes((1200, 900), (90, 140, 60)))
    db.session.commit()
    return household


def test_the_household_sees_its_0_point_grade_at_home_and_at_the_door(page, graded):
    page.set_viewport_size({"width": 360, "height": 780})
    SHOTS.mkdir(exist_ok=True)
    page.goto(f"/q/{make_token(graded)}")
    expect(page.locator("[data-feedback-grade]")).to_have_text("差 (D)")
    # Whoever scans the card sees the grade; the note is for the household only.
    expect(page.locator("[data-feedback-note]")).to_have_count(0)
    expect(page.locator("[data-feedback]")).to_contain_text("只有本户登录后才能看到")
    expect(page.locator("img")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SHOTS / "issue17-feedback-door-360.png"), full_page=True)

    page.goto("/login")
    page.fill("#username", "ma-home")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/my")
    expect(page.locator("[data-feedback-note]")).to_have_text(NOTE)
    page.goto(f"/q/{make_token(graded)}")  # its own card, scanned by its own phone
    expect(page.locator("[data-feedback-note]")).to_have_text(NOTE)
    page.goto("/my")
    photo = page.locator("[data-feedback-photo]")
    photo.scroll_into_view_if_needed()
    # The picture really loaded, and fits the phone's width.
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("img => img.naturalWidth") > 0
    assert photo.evaluate("img => img.getBoundingClientRect().width") <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SHOTS / "issue17-feedback-my-360.png"), full_page=True)
