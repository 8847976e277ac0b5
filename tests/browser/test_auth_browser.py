"""Logging in, in a real browser at phone size: a disabled user is told so after the password."""

from testsupport import (
    PASSWORD,
    SHOTS,
    SIZES,
    village_at_work,  # noqa: F401 (the office fixture)
)

from app.db import db


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
