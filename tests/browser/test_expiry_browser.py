"""Expiring points in a real browser (issue 19): the rules, the warnings, the notice."""

import os

import pytest
from testsupport import PASSWORD, log_in_browser

from app.auth.models import HOUSEHOLD, STOREKEEPER
from app.db import db, run_write
from app.households.cards import make_token
from app.ledger import services as ledger
from app.ledger.expiry import add_months
from app.rules.expiry import IDLE_MONTHS, ExpiryPolicy
from app.rules.services import current_rules, set_rules
from app.scope import day_start, village_today, zone

SHOTS = "/tmp/shots"


@pytest.fixture
def expiring(app, admin, village, make_household, make_user):
    """A household whose 11 points expire today under a 3-month idle policy."""
    household = make_household(name="马秀英")
    make_user(HOUSEHOLD, household=household, username="ma-home")
    moment = day_start(zone(village.timezone), add_months(village_today(village.id), -3))
    run_write(
        lambda: ledger.adjust(
            village.id, household.id, 11, reason="earned", actor_id=None, at=moment
        )
    )
    rules = current_rules(village.id)
    set_rules(
        village.id,
        list(rules.grades),
        rules.daily_limit,
        actor_id=None,
        expiry=ExpiryPolicy(IDLE_MONTHS, 3),
    )
    db.session.commit()
    return household


def _shoot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/expiry-{name}.png", full_page=True)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{name} scrolls sideways by {overflow}px"


def test_the_admin_sets_the_policy_and_prints_the_notice(page, expiring):
    page.set_viewport_size({"width": 360, "height": 780})
    log_in_browser(page, "admin")
    page.goto("/admin/rules")
    assert "2026 年获得的积分在 2027 年 12 月 31 日后清零" in page.inner_text("[data-expiry]")
    page.screenshot(path=f"{SHOTS}/expiry-rules.png", full_page=True)  # its grades table is wider
    page.check("input[name=expiry_policy][value=end_of_next_year]")
    page.click("text=保存")
    page.wait_for_url("**/admin/rules?saved=1")
    assert page.is_checked("input[name=expiry_policy][value=end_of_next_year]")
    page.goto("/admin/dashboard")
    assert page.inner_text("[data-figure=expiring]") == "0"  # the new policy: not this month
    page.go_back()
    page.check("input[name=expiry_policy][value=idle_months]")
    page.fill("#expiry_months", "3")
    page.click("text=保存")
    page.wait_for_url("**/admin/rules?saved=1")
    page.goto("/admin/dashboard")
    assert page.inner_text("[data-figure=expiring]") == "11"
    page.locator("[data-expiring-month]").screenshot(path=f"{SHOTS}/expiry-dashboard.png")
    page.click("text=打印名单张贴到公告栏")
    page.wait_for_url("**/admin/expiring")
    assert "马*英" in page.inner_text("[data-expiring-list]")
    _shoot(page, "notice")


def test_the_household_is_warned_on_its_page_and_at_the_door(page, expiring):
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"/q/{make_token(expiring)}")
    assert "11 积分将于" in page.inner_text("[data-expiring]")
    _shoot(page, "door")
    page.goto("/login")
    page.fill("#username", "ma-home")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/my")
    assert "11 积分将于" in page.inner_text("[data-expiring]")
    _shoot(page, "my")


def test_the_storekeeper_sees_what_expires_on_the_basket(page, expiring, make_user):
    make_user(STOREKEEPER, username="dianzhang")
    page.set_viewport_size({"width": 360, "height": 780})
    log_in_browser(page, "dianzhang")
    page.goto(f"/shop/household/{expiring.id}")
    assert "11 积分将于" in page.inner_text("[data-expiring]")
    assert page.locator("[data-expiring]").is_visible()
    _shoot(page, "basket")
