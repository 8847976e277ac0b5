"""Households over time in a real browser at desktop size: split with its card, merge, move out."""

import os

from testsupport import PASSWORD, balance_of, log_in_browser

from app.db import db
from app.households.cards import make_token
from app.households.models import Household

SHOTS = "/tmp/shots"


def _shoot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/hhmove-{name}.png", full_page=True)


def test_split_then_print_the_new_card(page, admin, make_household):
    family = make_household(points=20, name="马秀英")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in_browser(page, "admin")
    page.goto(f"/admin/households/{family.id}")
    page.click("[data-split-form] summary")
    _shoot(page, "split-form")
    assert page.get_attribute("#split-points", "max") == "20"
    page.fill("#split-name", "马小军")
    page.fill("#split-points", "7")
    page.fill("#split-reason", "儿子结婚分户")
    page.click("[data-split]")
    page.wait_for_selector("[data-split-done]")
    _shoot(page, "split-done")
    assert page.inner_text("[data-balance]") == "13"
    href = page.get_attribute("[data-print-new-card]", "href")
    db.session.rollback()
    new = db.session.query(Household).filter_by(name="马小军").one()
    assert href.endswith(f"/admin/cards.pdf?id={new.id}")
    pdf = page.request.get(href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    page.click("[data-new-household]")
    assert page.inner_text("[data-balance]") == "7"
    assert "分户转入" in page.inner_text("table")


def test_merge_then_move_out_and_back(page, admin, make_household):
    parents = make_household(points=9, name="马老汉")
    children = make_household(points=2, name="马建设")
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in_browser(page, "admin")
    page.goto(f"/admin/households/{parents.id}")
    page.click("[data-merge-form] summary")
    page.fill("#merge-into", children.code)
    page.click("[data-merge]")
    page.wait_for_selector("[data-merge-done]")
    _shoot(page, "merged")
    assert "马建设" in page.inner_text("[data-merged-into]")
    page.click("[data-merged-into] a")
    assert page.inner_text("[data-balance]") == "11"
    assert "马老汉" in page.inner_text("[data-merged-here]")

    page.click("[data-move-out-form] summary")
    page.fill("#move-days", "14")
    page.click("[data-move-out]")
    page.wait_for_selector("[data-move-out-done]")
    _shoot(page, "moved-out")
    assert "14" in page.inner_text("[data-moved-out]")
    page.click("[data-move-back]")
    page.wait_for_selector("[data-move-back-done]")
    _shoot(page, "moved-back")
    assert balance_of(children, fresh=True) == 11


def test_a_moved_out_family_sees_how_long_is_left_on_its_phone(
    page, admin_client, household, resident, village
):
    from testsupport import page_post

    from app.scope import village_today

    moved = page_post(
        admin_client,
        f"/admin/households/{household.id}/move-out",
        {"on": village_today(village.id).isoformat(), "forfeit_after_days": "28"},
    )
    assert moved.status_code == 302
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"/q/{make_token(household)}")  # the door page says it too
    assert "还剩 28 天" in page.inner_text("[data-days-left]")
    page.goto("/login")
    page.fill("#username", "resident")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/my")
    notice = page.inner_text("[data-days-left]")
    assert "还剩 28 天" in notice
    _shoot(page, "my-moved-out")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
