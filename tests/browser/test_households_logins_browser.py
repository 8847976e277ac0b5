"""A family member's own login on the phone (issue 31): the household's /my at 360x780,
in Chinese, and a new password that ends that login's other sessions only."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from testsupport import PASSWORD

from app.auth.models import HOUSEHOLD
from app.db import db
from app.ledger.services import adjust

SHOTS = Path("/tmp/shots")
NEW_PASSWORD = "家里的新密码-2026"
PHONE = {"width": 360, "height": 780}


@pytest.fixture
def family(village, household, make_user):
    """The household with two members' logins and 37 points."""
    make_user(HOUSEHOLD, household=household, username="ma-mother")
    make_user(HOUSEHOLD, household=household, username="ma-son")
    adjust(village.id, household.id, 37, reason="期初积分", actor_id=None)
    db.session.commit()
    return household


def log_in_phone(page, username: str, password: str = PASSWORD) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/my")


def test_a_family_member_sees_the_households_points_and_changes_the_password(
    page, browser, live_server, family
):
    SHOTS.mkdir(exist_ok=True)
    others = [browser.new_context(base_url=live_server, locale="zh-CN") for _ in range(2)]
    son_elsewhere, mother = (context.new_page() for context in others)
    try:
        log_in_phone(son_elsewhere, "ma-son")
        log_in_phone(mother, "ma-mother")

        log_in_phone(page, "ma-son")
        expect(page.locator("[data-balance]")).to_have_text("37")
        expect(page.locator("h1")).to_have_text(family.name)
        expect(page.locator("[data-statement]")).to_contain_text("期初积分")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(SHOTS / "issue31-member-my-360.png"), full_page=True)

        page.click("[data-password-link]")
        page.wait_for_url("**/my/password")
        expect(page.locator("h1")).to_have_text("修改密码")
        page.fill("#current-password", PASSWORD)
        page.fill("#new-password", NEW_PASSWORD)
        page.fill("#new-password-again", NEW_PASSWORD + "x")
        page.click("[data-change-password]")
        expect(page.locator("[data-password-error]")).to_have_text("两次输入的新密码不一致。")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(SHOTS / "issue31-member-password-refused-360.png"), full_page=True)

        page.fill("#current-password", PASSWORD)
        page.fill("#new-password", NEW_PASSWORD)
        page.fill("#new-password-again", NEW_PASSWORD)
        page.click("[data-change-password]")
        page.wait_for_url("**/my?password_changed=1")
        expect(page.locator("[data-password-changed]")).to_contain_text("密码已修改")
        expect(page.locator("[data-balance]")).to_have_text("37")
        page.screenshot(path=str(SHOTS / "issue31-member-password-changed-360.png"), full_page=True)

        # The same login on another phone is logged out; the mother's phone is not.
        son_elsewhere.goto("/my")
        son_elsewhere.wait_for_url("**/login**")
        mother.goto("/my")
        expect(mother.locator("[data-balance]")).to_have_text("37")
    finally:
        for context in others:
            context.close()

    fresh = browser.new_context(base_url=live_server, locale="zh-CN")
    try:
        again = fresh.new_page()
        log_in_phone(again, "ma-son", NEW_PASSWORD)
        expect(again.locator("[data-balance]")).to_have_text("37")
    finally:
        fresh.close()


def test_the_password_page_says_when_to_try_again_after_wrong_passwords(page, app, family):
    log_in_phone(page, "ma-son")
    page.goto("/my/password")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):
        page.fill("#current-password", "不是我的密码")
        page.fill("#new-password", NEW_PASSWORD)
        page.fill("#new-password-again", NEW_PASSWORD)
        page.click("[data-change-password]")

    expect(page.locator("[data-password-error]")).to_contain_text("登录失败次数过多")
    expect(page.locator("[data-password-error]")).to_contain_text("分钟后再试")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SHOTS / "member-password-wait-360.png"), full_page=True)


def test_the_admin_sees_and_adds_the_family_logins(page, family, admin):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")
    page.goto(f"/admin/households/{family.id}")
    section = page.locator("[data-household-logins]")
    expect(section.locator("h2")).to_have_text("家庭成员登录")
    expect(section.locator("[data-login]")).to_have_count(2)

    section.locator("#login-username").fill("ma-grandma")
    section.locator("#login-password").fill(PASSWORD)
    section.locator("button", has_text="创建").click()
    expect(page.locator("[data-login-created]")).to_contain_text("ma-grandma")
    expect(section.locator("[data-login]")).to_have_count(3)

    section.locator('[data-login="ma-mother"] [data-login-toggle]').click()
    expect(page.locator("[data-login-done]")).to_be_visible()
    expect(section.locator('[data-login="ma-mother"] [data-login-disabled]')).to_be_visible()
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "issue31-admin-logins-1280.png"), full_page=True)
