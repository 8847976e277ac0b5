"""The users page in a real browser at phone size: the admin unlocks a login, sets a password."""

import re

from testsupport import (
    SHOTS,
    SIZES,
    api_log_in,
    log_in_browser,
    village_at_work,  # noqa: F401 (the office fixture)
)


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
