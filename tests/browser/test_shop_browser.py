"""The storekeeper at the counter in a real browser: scan, pick goods, confirm, receipt."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from testsupport import log_in_browser

from app.catalogue.services import create_good
from app.db import db

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


@pytest.fixture
def counter(village, make_household, make_user):
    """The canonical card's household with 50 points, a storekeeper, three goods."""
    household = make_household(points=50)
    assert (village.id, household.id) == (1, 1)
    make_user("storekeeper", username="wang-shop")
    goods = {
        name: create_good(village.id, name=name, unit=unit, price_points=price, stock=stock)
        for name, unit, price, stock in (
            ("香皂", "块", 10, 20),
            ("食盐", "袋", 8, 20),
            ("食用油", "桶", 120, 5),
        )
    }
    db.session.commit()
    return goods


def test_a_storekeeper_scans_adds_two_goods_and_prints_the_receipt(page, counter):
    log_in_browser(page, "wang-shop")
    page.goto("/shop")
    page.click("[data-start]")
    page.wait_for_url("**/shop/household/1")
    expect(page.locator("[data-balance]")).to_have_text("50")
    # Cooking oil costs more than the balance: greyed, and its + does nothing.
    oil = page.locator("[data-good]", has_text="食用油")
    expect(oil).to_have_class("good unaffordable")
    expect(oil.locator("[data-plus]")).to_be_disabled()

    soap = page.locator("[data-good]", has_text="香皂")
    salt = page.locator("[data-good]", has_text="食盐")
    soap.locator("[data-plus]").click()
    soap.locator("[data-plus]").click()
    salt.locator("[data-plus]").click()
    expect(page.locator("[data-total]")).to_have_text("28")
    expect(page.locator("[data-left]")).to_have_text("22")

    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")
    expect(page.locator("[data-receipt-no]")).to_have_text(f"MZ-{_year(village=1)}-000001")
    expect(page.locator("[data-total]")).to_have_text("28")
    expect(page.locator("[data-balance-after]")).to_have_text("22")
    expect(page.locator("[data-receipt]")).to_contain_text("香皂")
    expect(page.locator("[data-receipt]")).to_contain_text("食盐")

    # The soap's stock page names the sale as the export does.
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"/admin/goods/{counter['香皂'].id}")
    expect(page.locator("body")).to_contain_text("兑换出库")
    expect(page.locator("body")).to_contain_text("入库")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "stock-page-360.png"), full_page=True)


def _year(village: int) -> int:
    from app.inspections.services import village_today

    return village_today(village).year
