"""The inspector's phone at 360x780: undo a mis-tapped grade, a note after it, the day's
summary, the photo's thumbnail, and a search box whose hint is read whole (issue 33)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from testsupport import PASSWORD, balance_of, log_in_browser, png_bytes

from app.audit.models import AuditEvent
from app.auth.models import HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("photo_folder")]

PHONE = {"width": 360, "height": 780}
SHOTS = Path("/tmp/shots")


@pytest.fixture
def phone(page, make_user):
    """The inspector logged in on a 360x780 phone."""
    make_user(INSPECTOR, username="li-inspector")
    page.set_viewport_size(PHONE)
    log_in_browser(page, "li-inspector")
    return page


def grade(page, household, grade_name: str) -> None:
    page.goto(f"/inspect/household/{household.id}")
    page.click(f"button[name=grade][value={grade_name}]")
    page.wait_for_url("**/inspect/done/*")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def voids() -> int:
    db.session.rollback()  # see what the server committed
    return len(
        list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "inspection_voided")))
    )


def test_a_mis_tapped_grade_is_undone_once_and_the_day_is_summed_up(
    household, make_household, phone
):
    other = make_household()
    db.session.commit()  # the test's reads end before the browser writes (SQLite)
    grade(phone, household, "A")
    expect(phone.locator("[data-balance]")).to_have_text("3")

    phone.click("[data-undo] summary")
    expect(phone.locator("[data-undo-form] input[name=reason]")).to_have_value("误点")
    shot(phone, "undo-open")
    phone.locator("[data-undo-confirm]").dblclick()  # a double tap
    expect(phone.locator("[data-undone]")).to_contain_text("已撤销")
    expect(phone.locator("[data-undo]")).to_have_count(0)
    expect(phone.locator("[data-balance]")).to_have_text("0")
    shot(phone, "undo-done")
    assert voids() == 1
    assert balance_of(household.id) == 0

    grade(phone, other, "B")
    phone.goto("/inspect")
    expect(phone.locator("[data-summary]")).to_have_text("今日 1 户，A 0 · B 1 · C 0 · D 0")
    undone = phone.locator(f'[data-mine] li:has-text("{household.code}")')
    expect(undone.locator("[data-undone]")).to_have_text("已撤销")
    # Today's list offers the undo of the grade still within its minutes.
    graded = phone.locator(f'[data-mine] li:has-text("{other.code}")')
    graded.locator("[data-undo] summary").click()
    shot(phone, "inspect-summary")
    graded.locator("[data-undo-confirm]").click()
    phone.wait_for_url("**/inspect")
    expect(phone.locator("[data-summary]")).to_have_text("今日 0 户，A 0 · B 0 · C 0 · D 0")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert voids() == 2


def test_a_note_after_the_grade_reaches_the_household_on_my(
    household, make_user, browser, live_server, phone
):
    make_user(HOUSEHOLD, household=household, username="resident-1")
    db.session.commit()
    grade(phone, household, "C")
    phone.fill("#grade-note", "厨余桶里有塑料袋，下次请分开")
    phone.click("[data-note-form] button")
    expect(phone.locator("[data-noted]")).to_have_text("备注已保存。")
    expect(phone.locator("[data-note-shown]")).to_contain_text("厨余桶里有塑料袋")
    shot(phone, "note-saved")

    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE)
    try:
        mine = context.new_page()
        mine.goto("/login")
        mine.fill("#username", "resident-1")
        mine.fill("#password", PASSWORD)
        mine.click("button[type=submit]")
        mine.wait_for_url("**/my")
        expect(mine.locator("[data-movement-note]")).to_have_text(
            "督导员备注：厨余桶里有塑料袋，下次请分开"
        )
        shot(mine, "my-note")
    finally:
        context.close()


def test_a_photo_taken_shows_as_a_thumbnail(household, make_household, tmp_path, phone):
    second = make_household()
    db.session.commit()
    photo = tmp_path / "bin.png"
    photo.write_bytes(png_bytes((400, 300), (30, 140, 60, 255)))

    phone.goto(f"/inspect/household/{household.id}")
    phone.set_input_files("[data-grade-photo]", str(photo))
    thumb = phone.locator("[data-photo-thumb]")
    expect(thumb).to_be_visible()
    assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(phone.locator("[data-photo-name]")).to_have_text("已附照片")
    shot(phone, "grade-thumbnail")

    # The photo added on the done page, after the grade, shows its thumbnail too.
    grade(phone, second, "A")
    phone.set_input_files("#late-photo", str(photo))
    expect(phone.locator("[data-late-photo-status]")).to_have_text("已附照片")
    late = phone.locator("[data-late-photo] [data-photo-thumb]")
    expect(late).to_be_visible()
    assert late.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(phone, "late-thumbnail")


# The placeholder's text width, against the room its box gives it.
PLACEHOLDER_ROOM = """input => {
  const style = getComputedStyle(input);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [context.measureText(input.placeholder).width, room];
}"""


@pytest.mark.parametrize("role, path", [(INSPECTOR, "/inspect"), (STOREKEEPER, "/shop")])
def test_the_search_hint_is_read_whole_at_360(page, make_user, role, path):
    make_user(role, username="phone-user")
    page.set_viewport_size(PHONE)
    log_in_browser(page, "phone-user")
    page.goto(path)

    text_width, room = page.locator("#household-q").evaluate(PLACEHOLDER_ROOM)

    shot(page, f"search-{role}")
    assert text_width <= room, (text_width, room)
