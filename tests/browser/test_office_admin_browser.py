"""The village office in a real browser (issue 16): users, audit log, households, dashboard."""

import re

import pytest
from testsupport import PASSWORD, api_log_in, log_in_browser

from app.auth.models import INSPECTOR
from app.db import db
from app.households.services import reissue_card
from app.inspections.services import record_inspection

SHOTS = "/tmp/shots"
SIZES = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 900}}
PAGES = {
    "users": "/admin/users",
    "audit": "/admin/audit",
    "households": "/admin/households",
    "dashboard": "/admin/dashboard",
}


@pytest.fixture
def office(app, admin, make_user, grids, make_household):
    """A village with inspectors, households, an inspection and a few audit events."""
    inspector = make_user(INSPECTOR, username="wanggang")
    east, west = grids
    first = make_household(name="马秀英", in_grid=east, phone="13812345678", points=20)
    make_household(name="周长顺", in_grid=west, phone="13987654321")
    record_inspection(first, inspector, "A")
    reissue_card(first, reason="门牌卡丢了", actor_id=admin.id)
    db.session.commit()
    return inspector


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"


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


def test_the_admin_unlocks_a_login_and_resets_a_password(app, page, office):
    api = app.test_client()
    while api_log_in(api, "wanggang", "wrong-password").status_code != 429:
        pass
    page.set_viewport_size(SIZES["phone"])
    log_in_browser(page, "admin")
    page.goto("/admin/users")
    row = page.locator('tr[data-user="wanggang"]')
    assert re.fullmatch(r"已锁定，\d+ 分钟后解锁", row.locator("[data-locked]").inner_text())
    row.scroll_into_view_if_needed()
    page.screenshot(path=f"{SHOTS}/office-users-locked-phone.png")
    row.get_by_role("button", name="解除登录锁定").click()
    assert page.get_by_text("登录已解锁").is_visible()
    assert api_log_in(api, "wanggang").status_code == 201
    row = page.locator('tr[data-user="wanggang"]')
    row.get_by_text("重设密码").click()
    row.get_by_label("新密码（至少 8 个字符）").fill("brand-new-secret")
    row.get_by_role("button", name="设置新密码").click()
    assert page.get_by_text("新密码已设置").is_visible()
    page.screenshot(path=f"{SHOTS}/office-users-password-phone.png", full_page=True)
    assert api_log_in(api, "wanggang", "brand-new-secret").status_code == 201


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


def test_a_refused_rules_form_shows_only_the_error_and_what_was_typed(page, office):
    page.set_viewport_size(SIZES["phone"])
    log_in_browser(page, "admin")
    page.goto("/admin/rules")
    page.fill("input[name=points-A]", "5")
    page.click("text=保存")
    page.wait_for_url("**/admin/rules?saved=1")

    page.fill("input[name=points-A]", "6")
    page.fill("input[name=points-B]", "")
    page.click("text=保存")

    error = page.locator("[data-rules-error]")
    assert "B 等级的积分" in error.inner_text()
    assert page.locator(".notice").count() == 0
    assert page.input_value("input[name=points-A]") == "6"
    assert page.get_attribute("input[name=points-B]", "aria-invalid") == "true"
    assert page.locator("input[name=points-B]").bounding_box()["x"] + 40 < SIZES["phone"]["width"]
    _no_sideways_scroll(page)
    page.screenshot(path=f"{SHOTS}/office-rules-refused-phone.png", full_page=False)


def test_a_disabled_user_is_told_so_once_the_password_is_right(page, office):
    office.active = False
    db.session.commit()
    page.set_viewport_size(SIZES["phone"])
    page.goto("/login")
    page.fill("#username", "wanggang")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("main")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert "此账号已停用" in page.inner_text("main")
    page.screenshot(path=f"{SHOTS}/login-disabled-phone.png")
