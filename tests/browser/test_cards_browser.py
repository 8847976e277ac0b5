"""Door cards in a real browser: none printed or shown for an address a phone could not open."""

from playwright.sync_api import expect
from testsupport import (
    admin_page_at_a_size,  # noqa: F401 (the office fixture)
    contrast,
    shot,
)


def test_card_printing_is_refused_without_a_reachable_base_url(office, app):
    app.config["BASE_URL"] = "http://127.0.0.1:5000"
    office.goto("/admin/cards")

    refusal = office.locator("[data-card-address-refused]")
    expect(refusal).to_contain_text("不能打印积分卡")
    expect(refusal).to_contain_text("BASE_URL=http://192.168.1.10:5000")
    expect(office.locator("[data-print-cards]")).to_have_count(0)
    assert contrast(refusal.locator("p").first) >= 4.5
    shot(office, f"office-cards-refused-{office.size_name}")

    app.config["BASE_URL"] = "http://192.168.1.10:5000"
    office.goto("/admin/cards")
    expect(office.locator("[data-card-address-private]")).to_contain_text("只有连着村里网络")
    expect(office.locator("[data-print-cards]")).to_be_visible()
    shot(office, f"office-cards-private-{office.size_name}")


def test_the_household_page_shows_no_card_without_a_reachable_base_url(office, app, household):
    app.config["BASE_URL"] = None
    office.goto(f"/admin/households/{household.id}")

    refusal = office.locator("[data-card-address-refused]")
    expect(refusal).to_contain_text("还没有设置 BASE_URL")
    expect(office.locator("[data-card-qr]")).to_have_count(0)
    expect(office.locator("[data-print-card]")).to_have_count(0)
    refusal.scroll_into_view_if_needed()
    shot(office, f"office-household-card-refused-{office.size_name}")

    app.config["BASE_URL"] = "http://192.168.1.10:5000"
    office.goto(f"/admin/households/{household.id}")
    expect(office.locator("[data-card-address-private]")).to_contain_text("只有连着村里网络")
    expect(office.locator("[data-card-qr]")).to_be_visible()
