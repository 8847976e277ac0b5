"""The admin's pages in a real browser: on a phone no sideways scroll, on a desktop its width."""

import pytest
from testsupport import (
    SHOTS,
    SIZES,
    _no_sideways_scroll,
    log_in_browser,
    village_at_work,  # noqa: F401 (the office fixture)
)

PAGES = {
    "users": "/admin/users",
    "audit": "/admin/audit",
    "households": "/admin/households",
    "dashboard": "/admin/dashboard",
}


@pytest.mark.parametrize("size", SIZES)
def test_the_office_pages_read_well_on_a_phone_and_a_desktop(page, office, size):
    page.set_viewport_size(SIZES[size])
    log_in_browser(page, "admin")
    for name, path in PAGES.items():
        page.goto(path)
        assert page.locator("[data-admin-menu]").is_visible()
        _no_sideways_scroll(page)
        page.screenshot(path=f"{SHOTS}/office-{name}-{size}.png", full_page=True)
    # The audit log's labels never wrap a character a line: each one is one line tall.
    page.goto("/admin/audit")
    assert page.get_by_text("为 马秀英（").is_visible()
    heights = page.eval_on_selector_all(
        ".audit-details dt",
        "nodes => nodes.map(n => [n.textContent, n.getBoundingClientRect().height,"
        " parseFloat(getComputedStyle(n).lineHeight) || 24])",
    )
    assert heights and all(height <= line * 1.5 for _text, height, line in heights), heights


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_goods_and_grids_pages_fit_a_phone_in_both_languages(page, office, make_good, lang):
    soap = make_good("香皂", price=10, stock=20)
    page.set_viewport_size(SIZES["phone"])
    log_in_browser(page, "admin")
    page.goto(f"/lang/{lang}?next=/admin/grids")
    for name, path in {
        "grids": "/admin/grids",
        "goods": "/admin/goods",
        "good": f"/admin/goods/{soap.id}",
    }.items():
        page.goto(path)
        _no_sideways_scroll(page)
        page.screenshot(path=f"{SHOTS}/office-{name}-phone-{lang}.png", full_page=True)
    # The edit form saves a cost typed in yuan; the price history shows it.
    page.click("[data-edit-good] summary")
    page.fill("#e-cost", "2.5")
    page.click("[data-edit-good] button")
    page.wait_for_selector("[data-price-history] >> text=2.50")
    assert "2.50" in page.inner_text("[data-cost]")


def test_admin_pages_use_a_desktops_width_and_the_household_page_does_not(page, office):
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in_browser(page, "admin")
    for path in ("/admin/households", "/admin/grids", "/admin/goods"):
        page.goto(path)
        width = page.evaluate("document.querySelector('main').getBoundingClientRect().width")
        assert width >= 1200, (path, width)
        _no_sideways_scroll(page)
    page.screenshot(path=f"{SHOTS}/office-grids-desktop-1366.png", full_page=True)
    page.goto("/login")
    width = page.evaluate("document.querySelector('main').getBoundingClientRect().width")
    assert width <= 740
