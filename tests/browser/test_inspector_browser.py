"""The inspector's morning in a real browser: log in, scan the door card, grade it."""

import pytest
from playwright.sync_api import expect
from testsupport import log_in_browser

pytestmark = pytest.mark.browser


@pytest.fixture
def canonical_card(village, household, make_user):
    """The household the fake camera's card belongs to (ids 1)."""
    assert (village.id, household.id, household.card_version) == (1, 1, 1)
    make_user("inspector", username="li-inspector")
    return household


def test_an_inspector_scans_grades_and_sees_the_new_balance(page, canonical_card):
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.click("[data-start]")
    page.wait_for_url("**/inspect/household/1")
    expect(page.locator("[data-household-name]")).to_have_text(canonical_card.name)
    expect(page.locator("[data-balance]")).to_have_text("0")
    expect(page.locator("[data-inspected-today]")).to_have_count(0)

    page.click("button[name=grade][value=A]")
    page.wait_for_url("**/inspect/done/*")
    expect(page.locator("[data-balance]")).to_have_text("3")

    # Back to scanning in one tap; the same card now shows it was inspected today.
    page.click("[data-next]")
    page.click("[data-start]")
    page.wait_for_url("**/inspect/household/1")
    expect(page.locator("[data-inspected-today]")).to_be_visible()
    expect(page.locator("button[name=grade]")).to_have_count(0)
    expect(page.locator("[data-balance]")).to_have_text("3")


def test_a_photo_of_the_card_works_when_the_camera_does_not(page, canonical_card, card_png):
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.set_input_files("[data-photo]", str(card_png))
    page.wait_for_url("**/inspect/household/1")
    expect(page.locator("[data-household-name]")).to_have_text(canonical_card.name)


def test_a_double_tap_on_a_grade_credits_once(page, canonical_card):
    log_in_browser(page, "li-inspector")
    page.goto("/inspect/household/1")
    page.locator("button[name=grade][value=B]").dblclick()
    page.wait_for_url("**/inspect/done/*")
    expect(page.locator("[data-balance]")).to_have_text("2")
